//! [`OtelBridge`]: a nanometrics [`Registry`] observed by the OpenTelemetry
//! metrics API (0.33), so that an `SdkMeterProvider`'s own readers and
//! exporters see nanometrics values beside the SDK's instruments.
//!
//! ```
//! use nanometrics_exporters::bridge::otel::OtelBridge;
//! use opentelemetry::metrics::MeterProvider as _;
//! # fn provider() -> opentelemetry::metrics::Meter { opentelemetry::global::meter("doc") }
//! let registry = nanometrics::Registry::new();
//! registry.counter("requests_total", "Requests.")?.inc_by(3);
//! let meter = provider(); // e.g. SdkMeterProvider::builder()...build().meter("nanometrics")
//! let bridge = OtelBridge::register(&registry, &meter);
//! assert_eq!(bridge.observed(), ["requests_total"]);
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! Each family becomes one observable instrument, named as the OTLP
//! exporter names it (`requests_total` → `requests`), with the family's
//! HELP as description and its unit; each series is one observation whose
//! attributes are the series' labels (constant labels first):
//!
//! | nanometrics | OpenTelemetry |
//! |---|---|
//! | counter, float counter | `f64_observable_counter` (a `u64` above 2^53 rounds to the nearest `f64`) |
//! | up-down counter | `i64_observable_up_down_counter` |
//! | gauge, info, state set | `f64_observable_gauge` |
//! | histogram, summary | not bridged: the API has no observable histogram ([`OtelBridge::skipped`]) |
//!
//! Histograms cannot enter the SDK from outside it: export them with the
//! OTLP exporter (`otlp`) or scrape them.
//!
//! The SDK runs the callbacks of one collection in the order the
//! instruments were made; the first instrument's callback takes one
//! snapshot of the registry and the others read it, so a collection costs
//! one snapshot and every value in it is from the same instant (a
//! follower whose snapshot is older than a second takes its own, in case
//! the SDK's views dropped the first instrument). Families declared after
//! [`OtelBridge::register`] are observed from the next
//! [`refresh`](OtelBridge::refresh).

use std::any::Any;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nanometrics::names::family_name;
use nanometrics::{FamilySnapshot, LabelSet, MetricKind, Registry, Snapshot, Value};
use opentelemetry::metrics::{AsyncInstrument, Meter};
use opentelemetry::KeyValue;

use crate::sync::lock;

/// A follower's snapshot older than this is taken again.
const FOLLOWER_MAX_AGE: Duration = Duration::from_secs(1);

/// The observable instruments of one registry on one meter; see the
/// [module](self). Dropping it keeps the instruments (the SDK owns their
/// callbacks until the provider shuts down) but their callbacks observe
/// nothing more.
pub struct OtelBridge {
    registry: Registry,
    meter: Meter,
    shared: Arc<Shared>,
    observed: Vec<String>,
    skipped: Vec<String>,
    /// Kept for as long as the bridge lives.
    instruments: Vec<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for OtelBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelBridge")
            .field("observed", &self.observed)
            .field("skipped", &self.skipped)
            .finish()
    }
}

struct Shared {
    registry: Registry,
    last: Mutex<Option<(Instant, Arc<Snapshot>)>>,
    live: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// The snapshot of this collection: a new one for the leader (or a
    /// follower whose one is stale), else the leader's.
    fn snapshot(&self, leader: bool) -> Option<Arc<Snapshot>> {
        if !self.live.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let mut last = lock(&self.last);
        match &*last {
            Some((at, snap)) if !leader && at.elapsed() < FOLLOWER_MAX_AGE => Some(snap.clone()),
            _ => {
                let snap = Arc::new(self.registry.snapshot());
                *last = Some((Instant::now(), snap.clone()));
                Some(snap)
            }
        }
    }
}

impl OtelBridge {
    /// Makes one observable instrument on `meter` for each family of
    /// `registry` that the API can observe.
    pub fn register(registry: &Registry, meter: &Meter) -> OtelBridge {
        let mut bridge = OtelBridge {
            registry: registry.clone(),
            meter: meter.clone(),
            shared: Arc::new(Shared {
                registry: registry.clone(),
                last: Mutex::new(None),
                live: std::sync::atomic::AtomicBool::new(true),
            }),
            observed: Vec::new(),
            skipped: Vec::new(),
            instruments: Vec::new(),
        };
        bridge.refresh();
        bridge
    }

    /// Makes instruments for the families declared since the last call
    /// (or [`register`](Self::register)); returns how many it made.
    pub fn refresh(&mut self) -> usize {
        let snap = self.registry.snapshot();
        let mut made = 0;
        for f in &snap.families {
            if self.observed.contains(&f.name) || self.skipped.contains(&f.name) {
                continue;
            }
            if matches!(f.kind, MetricKind::Histogram | MetricKind::Summary) {
                self.skipped.push(f.name.clone());
                continue;
            }
            let leader = self.instruments.is_empty();
            self.instruments.push(self.instrument(f, leader));
            self.observed.push(f.name.clone());
            made += 1;
        }
        made
    }

    fn instrument(&self, f: &FamilySnapshot, leader: bool) -> Box<dyn Any + Send + Sync> {
        let name: Cow<'static, str> = family_name(&f.name, f.kind).to_string().into();
        let help = f.help.clone();
        let unit = f.unit.clone().unwrap_or_default();
        let (shared, family) = (self.shared.clone(), f.name.clone());
        let each = move |observe: &mut dyn FnMut(&Value, &[KeyValue])| {
            let Some(snap) = shared.snapshot(leader) else {
                return;
            };
            if let Some(f) = snap.family(&family) {
                for s in &f.series {
                    observe(&s.value, &attributes(&s.labels));
                }
            }
        };
        match f.kind {
            MetricKind::Counter => Box::new(
                self.meter
                    .f64_observable_counter(name)
                    .with_description(help)
                    .with_unit(unit)
                    .with_callback(move |o: &dyn AsyncInstrument<f64>| {
                        each(&mut |v, attrs| {
                            if let Some(x) = v.as_f64() {
                                o.observe(x, attrs);
                            }
                        })
                    })
                    .build(),
            ),
            MetricKind::UpDownCounter => Box::new(
                self.meter
                    .i64_observable_up_down_counter(name)
                    .with_description(help)
                    .with_unit(unit)
                    .with_callback(move |o: &dyn AsyncInstrument<i64>| {
                        each(&mut |v, attrs| {
                            if let Some(n) = v.as_up_down_counter() {
                                o.observe(n, attrs);
                            }
                        })
                    })
                    .build(),
            ),
            _ => Box::new(
                self.meter
                    .f64_observable_gauge(name)
                    .with_description(help)
                    .with_unit(unit)
                    .with_callback(move |o: &dyn AsyncInstrument<f64>| {
                        each(&mut |v, attrs| {
                            if let Some(x) = v.as_gauge() {
                                o.observe(x, attrs);
                            }
                        })
                    })
                    .build(),
            ),
        }
    }

    /// The families observed, by name.
    pub fn observed(&self) -> &[String] {
        &self.observed
    }

    /// The families the API cannot observe (histograms, summaries), by
    /// name.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

impl Drop for OtelBridge {
    fn drop(&mut self) {
        self.shared
            .live
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

fn attributes(labels: &LabelSet) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string()))
        .collect()
}
