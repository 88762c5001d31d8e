//! [`OtlpConfig`]: where and how the OTLP exporter sends, from a builder or
//! from the environment variables of the OTLP exporter specification.

use std::fmt;
use std::time::Duration;

use crate::percent;

/// Which temporality sums and histograms are sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporality {
    /// Totals since each series' start (the default; a missed export loses
    /// nothing).
    Cumulative,
    /// The change since the previous export (counters, histograms; gauges
    /// and up-down counters stay as they are, as the spec's "delta"
    /// preference says).
    Delta,
}

/// How requests travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/HTTP with a protobuf body, `POST …/v1/metrics` (the default).
    HttpProtobuf,
    /// OTLP/gRPC, `MetricsService/Export` (feature `otlp-grpc`).
    Grpc,
}

/// A configuration value that cannot be used: the variable (or builder
/// setting), the value and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The OTLP exporter's settings; see [`OtlpConfig::from_env`].
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpConfig {
    /// HTTP/protobuf (default) or gRPC.
    pub protocol: Protocol,
    /// Where requests go: for HTTP the full URL they are POSTed to
    /// (`http://…/v1/metrics`), for gRPC the server's `http://host:port`.
    pub endpoint: String,
    /// Extra request headers (authentication).
    pub headers: Vec<(String, String)>,
    /// How long one export may take, retries included.
    pub timeout: Duration,
    /// gzip the request bodies.
    pub gzip: bool,
    /// How often to export.
    pub interval: Duration,
    /// Resource attributes (`service.name` always among them).
    pub resource: Vec<(String, String)>,
    /// Cumulative (default) or delta.
    pub temporality: Temporality,
}

/// The OTLP/HTTP default: a collector on this host.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318/v1/metrics";

/// The OTLP/gRPC default: a collector on this host.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            protocol: Protocol::HttpProtobuf,
            endpoint: DEFAULT_ENDPOINT.into(),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            gzip: false,
            interval: Duration::from_secs(60),
            resource: vec![("service.name".into(), "unknown_service".into())],
            temporality: Temporality::Cumulative,
        }
    }
}

impl OtlpConfig {
    /// The defaults, overridden by the environment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `OTEL_EXPORTER_OTLP[_METRICS]_PROTOCOL` | `http/protobuf` (default) or `grpc` (with the `otlp-grpc` feature; else an error) |
    /// | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | the URL, as is |
    /// | `OTEL_EXPORTER_OTLP_ENDPOINT` | a base URL; for HTTP `/v1/metrics` is appended (gRPC: as is) |
    /// | `OTEL_EXPORTER_OTLP[_METRICS]_HEADERS` | `key=value,key2=value2`, percent-decoded |
    /// | `OTEL_EXPORTER_OTLP[_METRICS]_TIMEOUT` | milliseconds |
    /// | `OTEL_EXPORTER_OTLP[_METRICS]_COMPRESSION` | `gzip` or `none` |
    /// | `OTEL_METRIC_EXPORT_INTERVAL` | milliseconds |
    /// | `OTEL_METRIC_EXPORT_TIMEOUT` | milliseconds (the timeout, unless set above) |
    /// | `OTEL_SERVICE_NAME` | `service.name` (wins over the attributes') |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…`, percent-decoded |
    /// | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` | `cumulative`, `delta` (or `lowmemory`: delta) |
    ///
    /// A value that cannot be used is an error naming the variable, never
    /// a panic and never silently ignored.
    ///
    /// ```
    /// use nanometrics_exporters::otlp::OtlpConfig;
    /// let env = |k: &str| match k {
    ///     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318/".to_string()),
    ///     "OTEL_EXPORTER_OTLP_HEADERS" => Some("authorization=Bearer%20t0k,x-tenant=a".to_string()),
    ///     "OTEL_SERVICE_NAME" => Some("worker".to_string()),
    ///     _ => None,
    /// };
    /// let c = OtlpConfig::from_vars(env)?;
    /// assert_eq!(c.endpoint, "http://collector:4318/v1/metrics");
    /// assert_eq!(c.headers[0], ("authorization".to_string(), "Bearer t0k".to_string()));
    /// assert!(c.resource.contains(&("service.name".to_string(), "worker".to_string())));
    /// assert!(OtlpConfig::from_vars(|k| (k == "OTEL_METRIC_EXPORT_INTERVAL").then(|| "soon".to_string())).is_err());
    /// # Ok::<(), nanometrics_exporters::otlp::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<OtlpConfig, ConfigError> {
        OtlpConfig::from_vars(|k| std::env::var(k).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read from `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<OtlpConfig, ConfigError> {
        let mut c = OtlpConfig::default();
        // The signal-specific variable wins over the general one.
        // (An empty value counts as unset, so it never hides the other.)
        let either = |name: &str| {
            let specific = name.replace("OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_METRICS_");
            let set = |n: &str| var(n).filter(|v| !v.trim().is_empty());
            set(&specific)
                .map(|v| (specific.clone(), v))
                .or_else(|| set(name).map(|v| (name.to_string(), v)))
        };
        if let Some((name, v)) = either("OTEL_EXPORTER_OTLP_PROTOCOL") {
            match v.trim() {
                "http/protobuf" => {}
                "grpc" if cfg!(feature = "otlp-grpc") => {
                    c.protocol = Protocol::Grpc;
                    c.endpoint = DEFAULT_GRPC_ENDPOINT.into();
                }
                "grpc" => {
                    return Err(ConfigError(format!(
                        "{name}=\"grpc\": this build has no gRPC (the otlp-grpc feature); use http/protobuf"
                    )))
                }
                other => {
                    return Err(ConfigError(format!(
                        "{name}={other:?}: one of http/protobuf, grpc (http/json is not built in)"
                    )))
                }
            }
        }
        if let Some(v) = var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").filter(|v| !v.trim().is_empty())
        {
            c.endpoint = check_url("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", v.trim())?;
        } else if let Some(v) = var("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|v| !v.trim().is_empty())
        {
            let base = check_url("OTEL_EXPORTER_OTLP_ENDPOINT", v.trim())?;
            c.endpoint = match c.protocol {
                Protocol::HttpProtobuf => format!("{}/v1/metrics", base.trim_end_matches('/')),
                Protocol::Grpc => base,
            };
        }
        if let Some((name, v)) = either("OTEL_EXPORTER_OTLP_HEADERS") {
            c.headers = pairs(&name, &v)?;
        }
        if let Some(v) = var("OTEL_METRIC_EXPORT_TIMEOUT").filter(|v| !v.trim().is_empty()) {
            c.timeout = millis("OTEL_METRIC_EXPORT_TIMEOUT", &v)?;
        }
        if let Some((name, v)) = either("OTEL_EXPORTER_OTLP_TIMEOUT") {
            c.timeout = millis(&name, &v)?;
        }
        if let Some((name, v)) = either("OTEL_EXPORTER_OTLP_COMPRESSION") {
            c.gzip = match v.trim() {
                "gzip" => true,
                "none" => false,
                other => {
                    return Err(ConfigError(format!(
                        "{name}={other:?}: the compression is gzip or none"
                    )))
                }
            };
        }
        if let Some(v) = var("OTEL_METRIC_EXPORT_INTERVAL").filter(|v| !v.trim().is_empty()) {
            c.interval = millis("OTEL_METRIC_EXPORT_INTERVAL", &v)?;
        }
        if let Some(v) = var("OTEL_RESOURCE_ATTRIBUTES").filter(|v| !v.trim().is_empty()) {
            for (k, v) in pairs("OTEL_RESOURCE_ATTRIBUTES", &v)? {
                c.resource.retain(|(key, _)| *key != k);
                c.resource.push((k, v));
            }
        }
        if let Some(v) = var("OTEL_SERVICE_NAME").filter(|v| !v.trim().is_empty()) {
            c.resource.retain(|(key, _)| key != "service.name");
            c.resource
                .push(("service.name".into(), v.trim().to_string()));
        }
        let name = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
        if let Some(v) = var(name).filter(|v| !v.trim().is_empty()) {
            c.temporality = match v.trim().to_ascii_lowercase().as_str() {
                "cumulative" => Temporality::Cumulative,
                "delta" | "lowmemory" => Temporality::Delta,
                other => {
                    return Err(ConfigError(format!(
                        "{name}={other:?}: one of cumulative, delta, lowmemory"
                    )))
                }
            };
        }
        Ok(c)
    }
}

/// An `http://host[:port][/path]` URL (https is not built in; no user,
/// query or fragment).
pub(crate) fn check_url(name: &str, v: &str) -> Result<String, ConfigError> {
    if !v.starts_with("http://") {
        return Err(ConfigError(format!(
            "{name}={v:?}: an http:// URL (https is not built in: put a collector or proxy in front)"
        )));
    }
    let uri: hyper::Uri = v
        .parse()
        .map_err(|e| ConfigError(format!("{name}={v:?}: not a URL ({e})")))?;
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    // A port that is not a number (`http://h:abc`) parses, unread.
    let after_host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(_, rest)| rest),
        None => authority.find(':').map_or("", |i| &authority[i..]),
    };
    let bad_port = match after_host.strip_prefix(':') {
        Some(p) => p.parse::<u16>().is_err(),
        None => !after_host.is_empty(),
    };
    if uri.host().is_none_or(str::is_empty) || authority.contains('@') || bad_port {
        return Err(ConfigError(format!(
            "{name}={v:?}: the URL has no usable host"
        )));
    }
    if uri.query().is_some() || v.contains('#') {
        return Err(ConfigError(format!(
            "{name}={v:?}: a query or fragment is not supported here"
        )));
    }
    Ok(v.to_string())
}

/// Milliseconds, positive.
fn millis(name: &str, v: &str) -> Result<Duration, ConfigError> {
    match v.trim().parse::<u64>() {
        Ok(ms) if ms > 0 && ms <= 86_400_000 => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError(format!(
            "{name}={v:?}: a whole number of milliseconds, 1 to 86400000"
        ))),
    }
}

/// `key=value,key2=value2`, each part percent-decoded and trimmed.
fn pairs(name: &str, v: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for part in v.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, val) = part.split_once('=').ok_or_else(|| {
            ConfigError(format!(
                "{name}: {part:?} is not key=value (entries are comma-separated)"
            ))
        })?;
        let k =
            percent::decode(k.trim(), false).map_err(|e| ConfigError(format!("{name}: {e}")))?;
        let val =
            percent::decode(val.trim(), false).map_err(|e| ConfigError(format!("{name}: {e}")))?;
        if k.is_empty() {
            return Err(ConfigError(format!("{name}: {part:?} has an empty key")));
        }
        out.push((k, val));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vars::vars;

    #[test]
    fn the_specific_variable_wins_and_values_are_decoded() {
        let c = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://b:9/custom"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=x,deployment.environment=prod%2Ceu",
            ),
            ("OTEL_SERVICE_NAME", "worker"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
        ]))
        .unwrap();
        assert_eq!(c.endpoint, "http://b:9/custom");
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert!(c.gzip);
        assert_eq!(c.interval, Duration::from_secs(1));
        assert_eq!(
            c.resource,
            [
                ("deployment.environment".to_string(), "prod,eu".to_string()),
                ("service.name".to_string(), "worker".to_string())
            ]
        );
        assert_eq!(c.temporality, Temporality::Delta);
    }

    #[test]
    fn grpc_takes_the_base_endpoint_as_is_or_is_an_error_without_the_feature() {
        let c = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ]));
        if cfg!(feature = "otlp-grpc") {
            let c = c.unwrap();
            assert_eq!(c.protocol, Protocol::Grpc);
            assert_eq!(c.endpoint, "http://collector:4317");
            let d = OtlpConfig::from_vars(vars(&[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")]))
                .unwrap();
            assert_eq!(d.endpoint, DEFAULT_GRPC_ENDPOINT);
        } else {
            let e = c.unwrap_err();
            assert!(e.0.contains("otlp-grpc"), "{e}");
        }
    }

    #[test]
    fn an_empty_specific_variable_does_not_hide_the_general_one() {
        let c = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", ""),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1500"),
        ]))
        .unwrap();
        assert_eq!(c.timeout, Duration::from_millis(1500));
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        for (k, v) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://x"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "x:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=%zz"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=%+f"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:abc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h/base?x=1"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
            ("OTEL_RESOURCE_ATTRIBUTES", "=x"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "sometimes",
            ),
        ] {
            let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(k, v)]));
            let e = OtlpConfig::from_vars(vars(pairs)).unwrap_err().0;
            assert!(e.contains(k), "{k}={v}: {e}");
        }
    }
}
