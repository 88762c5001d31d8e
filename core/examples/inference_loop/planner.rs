//! A planner-like consumer: it watches TTFT p90 over the last 10 s, checked
//! every second, and notes when it rises above the SLO (and when it is
//! back under 90 % of it): what a planner scaling workers on latency
//! would react to, told by the watch instead of polling Prometheus.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nanometrics::realtime::{Stat, Threshold, Transition, Watch};
use nanometrics::Registry;

/// The watch and what it has reported.
pub struct Planner {
    slo: f64,
    events: Arc<Mutex<Vec<String>>>,
    _watch: Watch,
}

impl Planner {
    /// Watches `family` (a histogram of seconds) in `registry`.
    pub fn start(
        registry: &Registry,
        family: &str,
        slo: f64,
    ) -> Result<Planner, nanometrics::Error> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let log = events.clone();
        let watch = registry
            .watch(family)?
            .every(Duration::from_secs(1))
            .window(Duration::from_secs(10))
            .threshold(Threshold::above(Stat::Quantile(0.9), slo).exit(slo * 0.9))
            .call(move |frame| {
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                for a in &frame.alerts {
                    log.push(match a.transition {
                        Transition::Fired => format!(
                            "TTFT p90 over 10 s is {:.0} ms, above the {:.0} ms SLO: would add a worker",
                            a.value * 1e3,
                            slo * 1e3
                        ),
                        Transition::Resolved => format!(
                            "TTFT p90 over 10 s is back to {:.0} ms: no action",
                            a.value * 1e3
                        ),
                    });
                }
            })?;
        Ok(Planner {
            slo,
            events,
            _watch: watch,
        })
    }

    /// Appends the planner's state and its last events to `out`.
    pub fn render(&self, out: &mut String) -> std::fmt::Result {
        let log = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let trips = log.iter().filter(|e| e.contains("above")).count();
        writeln!(
            out,
            "\nplanner (watch: TTFT p90 over 10 s vs a {:.0} ms SLO): {trips} trip(s)",
            self.slo * 1e3
        )?;
        for e in log.iter().rev().take(3).rev() {
            writeln!(out, "  {e}")?;
        }
        Ok(())
    }
}
