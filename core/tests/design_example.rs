//! The design's own example: a struct of metrics built from a container (a
//! sub-registry with a prefix and constant labels), updated, and read back as
//! Prometheus text.

use nanometrics::{Counter, Gauge, Registry};

/// The metrics of one service, all under `myapp_` with
/// `service="api",version="v1"`.
#[derive(Clone, Debug)]
struct ExampleServiceMetrics {
    requests_total: Counter,
    response_time_seconds: Gauge,
}

impl ExampleServiceMetrics {
    fn new(container: &Registry) -> Result<ExampleServiceMetrics, nanometrics::Error> {
        Ok(ExampleServiceMetrics {
            requests_total: container.counter("requests_total", "Requests served.")?,
            response_time_seconds: container
                .gauge("response_time_seconds", "Latest response time.")?,
        })
    }
}

#[test]
fn design_example_encodes_as_prometheus_text() -> Result<(), nanometrics::Error> {
    let registry = Registry::new();
    let container = registry.sub_registry("myapp", &[("service", "api"), ("version", "v1")])?;
    let metrics = ExampleServiceMetrics::new(&container)?;

    metrics.requests_total.inc();
    metrics.requests_total.inc_by(5);
    metrics.response_time_seconds.set(0.15);
    metrics.response_time_seconds.add(0.05);

    let text = nanometrics_exporters::prometheus::encode_to_string(&registry.snapshot());
    let lines: Vec<&str> = text.lines().collect();
    for want in [
        r#"myapp_requests_total{service="api",version="v1"} 6"#,
        r#"myapp_response_time_seconds{service="api",version="v1"} 0.2"#,
    ] {
        assert!(
            lines.contains(&want),
            "no line {want:?} in the exposition:\n{text}"
        );
    }
    Ok(())
}
