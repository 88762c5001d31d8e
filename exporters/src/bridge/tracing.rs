//! [`MetricsLayer`]: a `tracing_subscriber` layer (feature `tracing`) that
//! turns spans and events into nanometrics metrics: each selected span's
//! duration into one histogram family labelled by span name (and an
//! allow-list of the span's fields), each event into a counter by level.
//!
//! ```
//! use nanometrics_exporters::bridge::tracing::MetricsLayer;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let registry = nanometrics::Registry::new();
//! let layer = MetricsLayer::builder(registry.clone())
//!     .spans(["generate"])            // only these spans are timed (default: all)
//!     .fields(["model"])              // span fields that become labels
//!     .build()?;
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("generate", model = "llama");
//!     let _in = span.enter();
//!     tracing::warn!("slow prefill");
//! });
//! let snap = registry.snapshot();
//! let spans = snap.family("span_duration_seconds").unwrap();
//! assert_eq!(spans.series[0].labels.iter().collect::<Vec<_>>(), [("span", "generate"), ("model", "llama")]);
//! assert_eq!(spans.series[0].value.as_histogram().unwrap().count, 1);
//! let events = snap.family("tracing_events_total").unwrap();
//! assert!(events.series.iter().any(|s| s.labels.get("level") == Some("warn") && s.value.as_counter() == Some(1)));
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! - **Timing.** A span is timed from its first enter to its close (idle
//!   time between enters included), with the monotonic clock read once
//!   at each end. Spans not selected are never timed: no clock read,
//!   nothing stored. Several layers may time one span (each its own
//!   fields).
//! - **Labels.** `span` (the span's name), then the allowed fields in the
//!   order given, from the span's attributes or a later `record` (a field
//!   never given is the empty string). The family's cardinality limit
//!   (default 1,000 series) sends the rest to its overflow series.
//! - **Exemplars.** A timed span's duration carries the span's trace as
//!   its bucket's exemplar (`trace_id`, `span_id`; OpenMetrics and OTLP
//!   export it): with the feature `tracing-opentelemetry`, the ids
//!   `tracing-opentelemetry`'s layer (in the same subscriber) gave the
//!   span, read at its first enter when that trace is sampled (which
//!   starts the OpenTelemetry span then, as that layer's own context
//!   activation does: after it, `set_parent` no longer applies);
//!   otherwise a W3C `traceparent` field (`00-<trace id>-<parent id>-01`,
//!   sampled; given at creation or recorded later) of the span or of its
//!   nearest ancestor that has one: its trace id, and its parent id (the
//!   caller's span) as the span id. `.no_exemplars()` turns them off.
//! - **Events.** `tracing_events_total{level}`, counted on a handle
//!   resolved once per level (no lookup per event), for events at
//!   `.event_level(..)` or more severe (default `INFO`); `.no_events()`
//!   turns it off.
//! - **Cost elsewhere.** The layer filters no callsite for the stack (a
//!   layer that did would turn it off for every other layer too). Where
//!   nothing else wants `trace!` or `debug!`, give it a per-layer filter
//!   so that they stay off: `layer.with_filter(LevelFilter::INFO)`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::{Event, Level, Subscriber};
use nanometrics::{Buckets, Counter, Error, Exemplar, Family, Histogram, Registry};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Builds a [`MetricsLayer`].
#[derive(Debug)]
#[must_use = "a builder does nothing until .build()"]
pub struct MetricsLayerBuilder {
    registry: Registry,
    name: String,
    help: String,
    buckets: Buckets,
    spans: Option<Vec<String>>,
    fields: Vec<String>,
    limit: usize,
    events: Option<String>,
    event_level: Level,
    exemplars: bool,
}

impl MetricsLayerBuilder {
    /// No exemplars on span durations (see the [module](self)).
    pub fn no_exemplars(mut self) -> Self {
        self.exemplars = false;
        self
    }

    /// Counts events at `level` or more severe (default `INFO`).
    pub fn event_level(mut self, level: Level) -> Self {
        self.event_level = level;
        self
    }

    /// Times only the spans named so (default: every span).
    pub fn spans<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.spans = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The span fields that become labels, in this order.
    pub fn fields<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.fields = names.into_iter().map(Into::into).collect();
        self
    }

    /// The histogram family's name and HELP (default
    /// `span_duration_seconds`, "Span durations, from first enter to close.");
    /// its unit is `seconds`, so the name ends in `_seconds`.
    pub fn histogram(mut self, name: &str, help: &str) -> Self {
        self.name = name.into();
        self.help = help.into();
        self
    }

    /// The histogram's buckets (default `Buckets::default()`).
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = buckets;
        self
    }

    /// The most series the histogram family holds (default 1,000).
    pub fn cardinality_limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// The events counter's name (default `tracing_events_total`).
    pub fn events(mut self, name: &str) -> Self {
        self.events = Some(name.into());
        self
    }

    /// No events counter.
    pub fn no_events(mut self) -> Self {
        self.events = None;
        self
    }

    /// Declares the families.
    ///
    /// # Errors
    ///
    /// What the registry refuses: a bad name or label name (a field named
    /// `span`, twice, or not a valid label name), bad buckets, a conflict.
    pub fn build(self) -> Result<MetricsLayer, Error> {
        let mut labels: Vec<&str> = vec!["span"];
        labels.extend(self.fields.iter().map(String::as_str));
        let spans = self
            .registry
            .metric(&self.name, &self.help)
            .unit("seconds")
            .buckets(self.buckets)
            .cardinality_limit(self.limit)
            .family::<Histogram>(&labels)?;
        let events = match &self.events {
            Some(name) => {
                let family =
                    self.registry
                        .counter_family(name, "tracing events, by level.", &["level"])?;
                let by_level = [
                    Level::TRACE,
                    Level::DEBUG,
                    Level::INFO,
                    Level::WARN,
                    Level::ERROR,
                ]
                .map(|l| family.with_labels(&[level_name(&l)]));
                let [t, d, i, w, e] = by_level;
                Some([t?, d?, i?, w?, e?])
            }
            None => None,
        };
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Ok(MetricsLayer {
            // Relaxed: only uniqueness matters.
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            event_level: self.event_level,
            spans,
            selected: self.spans,
            fields: self.fields,
            events,
            exemplars: self.exemplars,
            #[cfg(feature = "tracing-opentelemetry")]
            dispatch: std::sync::OnceLock::new(),
        })
    }
}

/// The layer; see the [module](self).
pub struct MetricsLayer {
    /// Tells this layer's timings from another's on one span.
    id: u64,
    /// Events at this level or more severe are counted.
    event_level: Level,
    spans: Family<Histogram>,
    selected: Option<Vec<String>>,
    fields: Vec<String>,
    /// One handle per level, TRACE to ERROR.
    events: Option<[Counter; 5]>,
    /// Span durations carry the span's trace as their exemplar.
    exemplars: bool,
    /// The subscriber this layer is part of (not the thread's default:
    /// a span is entered through its own), for `tracing-opentelemetry`.
    #[cfg(feature = "tracing-opentelemetry")]
    dispatch: std::sync::OnceLock<::tracing::dispatcher::WeakDispatch>,
}

impl fmt::Debug for MetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("spans", &self.selected)
            .field("fields", &self.fields)
            .finish()
    }
}

impl MetricsLayer {
    /// A builder recording into `registry`.
    pub fn builder(registry: Registry) -> MetricsLayerBuilder {
        MetricsLayerBuilder {
            registry,
            name: "span_duration_seconds".into(),
            help: "Span durations, from first enter to close.".into(),
            buckets: Buckets::default(),
            spans: None,
            fields: Vec::new(),
            limit: 1000,
            events: Some("tracing_events_total".into()),
            event_level: Level::INFO,
            exemplars: true,
        }
    }

    fn selected(&self, name: &str) -> bool {
        self.selected
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        _ => "error",
    }
}

fn level_index(l: &Level) -> usize {
    match *l {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        _ => 4,
    }
}

/// What a timed span carries for one layer: its label values, its first
/// enter, and its trace as an exemplar (when known).
struct Timed {
    values: Vec<String>,
    start: Option<Instant>,
    trace: Option<Exemplar>,
}

/// The field a span gives its W3C trace context in.
const TRACEPARENT: &str = "traceparent";

/// A span's `traceparent` field, as an exemplar (`None` when the value
/// given is not a sampled trace context); kept on every span that was
/// given one, timed or not, for its descendants, whose search it ends.
struct TraceParent(Option<Exemplar>);

/// The trace and parent ids of a W3C `traceparent`
/// (`<version>-<32 hex>-<16 hex>-<2 hex>`, lower-case; a version other
/// than `00` may add fields), as an exemplar; `None` when it is not one,
/// its ids are all zeros (invalid), or its flags say the trace is not
/// sampled.
fn parse_traceparent(v: &str) -> Option<Exemplar> {
    let parts: Vec<&str> = v.trim().split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let (version, trace, parent, flags) = match parts[..] {
        [version @ "00", trace, parent, flags] => (version, trace, parent, flags),
        [version, trace, parent, flags, ..] if version != "00" => (version, trace, parent, flags),
        _ => return None,
    };
    if !(hex(version, 2) && version != "ff" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)) {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || parent.bytes().all(|b| b == b'0') {
        return None;
    }
    // Only a sampled trace: one that was not is nowhere to be found.
    if u8::from_str_radix(flags, 16).ok()? & 1 == 0 {
        return None;
    }
    Exemplar::new([("span_id", parent), ("trace_id", trace)]).ok()
}

/// A span's `traceparent` field, visited: `Some` once a value was given.
struct TraceParentField(Option<Option<Exemplar>>);

impl Visit for TraceParentField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == TRACEPARENT {
            self.0 = Some(parse_traceparent(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == TRACEPARENT {
            // `?value` of a `String` comes quoted.
            let text = format!("{value:?}");
            self.0 = Some(parse_traceparent(text.trim_matches('"')));
        }
    }
}

/// Keeps the `traceparent` that `values` (a span's attributes or a
/// record) give span `id`, if they give one.
fn keep_traceparent<S>(values: &Record<'_>, span: &tracing_subscriber::registry::SpanRef<'_, S>)
where
    S: for<'a> LookupSpan<'a>,
{
    let mut tp = TraceParentField(None);
    values.record(&mut tp);
    if let Some(given) = tp.0 {
        span.extensions_mut().replace(TraceParent(given));
    }
}

/// The trace `tracing-opentelemetry` gave span `id` of the subscriber
/// `dispatch` (the one this layer is part of), when it is sampled.
#[cfg(feature = "tracing-opentelemetry")]
fn otel_trace(dispatch: &::tracing::Dispatch, id: &Id) -> Option<Exemplar> {
    use opentelemetry::trace::TraceContextExt;
    let cx = tracing_opentelemetry::get_otel_context(id, dispatch)?;
    let span = cx.span();
    let sc = span.span_context();
    (sc.is_valid() && sc.is_sampled())
        .then(|| Exemplar::for_trace(sc.trace_id().to_bytes(), sc.span_id().to_bytes()))
}

/// A span's timings, one per `MetricsLayer` that times it (a subscriber
/// may stack several: each with its own fields).
#[derive(Default)]
struct Timings(Vec<(u64, Timed)>);

impl Timings {
    fn get_mut(&mut self, layer: u64) -> Option<&mut Timed> {
        self.0
            .iter_mut()
            .find(|(id, _)| *id == layer)
            .map(|(_, t)| t)
    }

    fn remove(&mut self, layer: u64) -> Option<Timed> {
        let i = self.0.iter().position(|(id, _)| *id == layer)?;
        Some(self.0.swap_remove(i).1)
    }
}

/// Copies the allowed fields' values into their label slots, noting which
/// fields were given.
struct Fields<'a> {
    names: &'a [String],
    values: &'a mut [String],
    given: &'a mut [bool],
}

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: impl FnOnce() -> String) {
        if let Some(i) = self.names.iter().position(|n| n == field.name()) {
            self.values[i] = value();
            self.given[i] = true;
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, || value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, || format!("{value:?}"));
    }
}

impl<S> Layer<S> for MetricsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    #[cfg(feature = "tracing-opentelemetry")]
    fn on_register_dispatch(&self, subscriber: &::tracing::Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // A span with a `traceparent` field keeps it for its descendants,
        // selected or not (a look at the callsite's field names costs the
        // others nothing more).
        if self.exemplars && attrs.metadata().fields().field(TRACEPARENT).is_some() {
            if let Some(span) = ctx.span(id) {
                keep_traceparent(&Record::new(attrs.values()), &span);
            }
        }
        if !self.selected(attrs.metadata().name()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut values = vec![String::new(); self.fields.len()];
        attrs.record(&mut Fields {
            names: &self.fields,
            values: &mut values,
            given: &mut vec![false; self.fields.len()],
        });
        let timed = Timed {
            values,
            start: None,
            trace: None,
        };
        let mut ext = span.extensions_mut();
        match ext.get_mut::<Timings>() {
            Some(t) => t.0.push((self.id, timed)),
            None => ext.insert(Timings(vec![(self.id, timed)])),
        }
    }

    fn on_record(&self, id: &Id, record: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if self.exemplars {
            let field = span.metadata().fields().field(TRACEPARENT);
            if field.is_some_and(|f| record.contains(&f)) {
                keep_traceparent(record, &span);
            }
        }
        if !self.selected(span.name()) {
            return;
        }
        // The values are formatted before the span's extensions are
        // locked: a `Debug` that logs must not find them locked.
        let mut values = vec![String::new(); self.fields.len()];
        let mut given = vec![false; self.fields.len()];
        record.record(&mut Fields {
            names: &self.fields,
            values: &mut values,
            given: &mut given,
        });
        if !given.contains(&true) {
            return;
        }
        let mut ext = span.extensions_mut();
        if let Some(t) = ext.get_mut::<Timings>().and_then(|t| t.get_mut(self.id)) {
            for ((slot, v), g) in t.values.iter_mut().zip(values).zip(given) {
                if g {
                    *slot = v;
                }
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let first = {
            let mut ext = span.extensions_mut();
            match ext.get_mut::<Timings>().and_then(|t| t.get_mut(self.id)) {
                Some(t) if t.start.is_none() => {
                    t.start = Some(Instant::now());
                    true
                }
                _ => false,
            }
        };
        // The OpenTelemetry ids, once, with the extensions unlocked (the
        // OpenTelemetry layer locks them).
        #[cfg(feature = "tracing-opentelemetry")]
        if first && self.exemplars {
            let dispatch = self.dispatch.get().and_then(|d| d.upgrade());
            if let Some(trace) = dispatch.and_then(|d| otel_trace(&d, id)) {
                let mut ext = span.extensions_mut();
                if let Some(t) = ext.get_mut::<Timings>().and_then(|t| t.get_mut(self.id)) {
                    t.trace = Some(trace);
                }
            }
        }
        #[cfg(not(feature = "tracing-opentelemetry"))]
        let _ = first;
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let timed = span
            .extensions_mut()
            .get_mut::<Timings>()
            .and_then(|t| t.remove(self.id));
        let Some(Timed {
            values,
            start: Some(start),
            trace,
        }) = timed
        else {
            return;
        };
        let secs = start.elapsed().as_secs_f64();
        // Its own OpenTelemetry trace, else the nearest `traceparent`.
        let trace = trace.filter(|_| self.exemplars).or_else(|| {
            self.exemplars
                .then(|| {
                    span.scope()
                        .find_map(|s| s.extensions().get::<TraceParent>().map(|t| t.0.clone()))
                })
                .flatten()
                .flatten()
        });
        let mut labels: Vec<&str> = Vec::with_capacity(1 + values.len());
        labels.push(span.name());
        labels.extend(values.iter().map(String::as_str));
        // A label value the registry refuses (a carriage return) loses
        // this one observation; nothing else.
        if let Ok(h) = self.spans.with_labels(&labels) {
            match trace {
                Some(e) => h.observe_with_exemplar(secs, &e),
                None => h.observe(secs),
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = event.metadata().level();
        if let Some(by_level) = self.events.as_ref().filter(|_| *level <= self.event_level) {
            by_level[level_index(level)].inc();
        }
    }
}
