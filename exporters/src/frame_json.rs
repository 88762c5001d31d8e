//! A [`Frame`] as one line of JSON: what the `/metrics/stream` endpoint
//! sends as each event's data, and what frame sinks (NATS) publish.
//!
//! ```json
//! {"seq":42,"time":1764412345.25,"family":"ttft_seconds","type":"histogram",
//!  "window":10.0,"span":10.0,
//!  "series":[{"labels":{"model":"llama"},
//!             "value":{"count":1200,"sum":96.5},
//!             "window":{"count":120,"rate":12.0,"sum":9.5,"mean":0.079,
//!                       "min":0.0625,"max":0.25,"quantiles":{"0.5":0.078,"0.9":0.12,"0.99":0.24}}}],
//!  "alerts":[]}
//! ```
//!
//! - `seq`: the frame's sequence number (consecutive per watch period: a
//!   gap is a frame the receiver missed); `time`: Unix seconds of the tick;
//!   `window`: the window asked, `span`: the longest interval a series'
//!   window covers, both in seconds.
//! - Per series, `labels` (constant labels first) and, by `type`:
//!   - `counter`, `up_down_counter`: `"value": 105`, `"window":
//!     {"delta", "rate", "span"}`;
//!   - `gauge`, `info`, `stateset`: `"value": 0.5`, `"window": {"last",
//!     "min", "max", "mean", "samples", "span"}`;
//!   - `histogram`, `summary`: `"value": {"count", "sum"}`, `"window":
//!     {"count", "rate", "sum", "mean", "min", "max", "span", "quantiles"}`
//!     (the quantiles the watch asked for, keyed by `q`).
//! - `alerts`: `{"labels", "state": "fired" | "resolved", "value"}` for each
//!   series whose threshold alert changed at this tick.
//! - Numbers that are not finite (an empty window's mean, a NaN gauge) are
//!   `null`.

use std::time::{Duration, UNIX_EPOCH};

use nanometrics::realtime::{Frame, Transition, WindowValue};
use nanometrics::{LabelSet, Value};

use crate::format::{write_f64, write_i64, write_u64};

/// The JSON of `frame`, appended to `out` (no trailing newline).
///
/// ```
/// use std::time::Duration;
/// use nanometrics::{realtime::Ticker, Registry};
/// let r = Registry::new();
/// r.counter("jobs_total", "Jobs.")?.inc_by(3);
/// let t = Ticker::manual(Duration::from_secs(1));
/// let sub = r.watch("jobs_total")?.ticker(&t).subscribe()?;
/// t.advance(1);
/// let mut out = Vec::new();
/// nanometrics_exporters::frame_json::write_frame(&mut out, &sub.try_recv().unwrap());
/// let json = String::from_utf8(out).unwrap();
/// assert!(json.starts_with(r#"{"seq":1,"time":"#));
/// assert!(json.contains(r#""series":[{"labels":{},"value":3,"window":{"delta":0.0,"rate":0.0,"span":1.0}}]"#));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn write_frame(out: &mut Vec<u8>, frame: &Frame) {
    out.extend_from_slice(b"{\"seq\":");
    write_u64(out, frame.seq);
    out.extend_from_slice(b",\"time\":");
    let unix = frame
        .time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    write_number(out, unix.as_secs_f64());
    out.extend_from_slice(b",\"family\":");
    write_string(out, &frame.family);
    out.extend_from_slice(b",\"type\":");
    write_string(out, frame.kind.as_str());
    out.extend_from_slice(b",\"window\":");
    write_number(out, frame.window.as_secs_f64());
    out.extend_from_slice(b",\"span\":");
    write_number(out, frame.span.as_secs_f64());
    out.extend_from_slice(b",\"series\":[");
    for (i, s) in frame.series.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"labels\":");
        write_labels(out, &s.labels);
        out.extend_from_slice(b",\"value\":");
        write_value(out, &s.value);
        out.extend_from_slice(b",\"window\":");
        write_window(out, &s.window, &frame.quantiles);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"alerts\":[");
    for (i, a) in frame.alerts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"labels\":");
        write_labels(out, &a.labels);
        out.extend_from_slice(match a.transition {
            Transition::Fired => b",\"state\":\"fired\",\"value\":",
            Transition::Resolved => b",\"state\":\"resolved\",\"value\":",
        });
        write_number(out, a.value);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// A JSON number, or `null` for NaN and infinities.
///
/// ```
/// use nanometrics_exporters::frame_json::write_number;
/// let s = |x: f64| { let mut b = Vec::new(); write_number(&mut b, x); String::from_utf8(b).unwrap() };
/// assert_eq!((s(0.25), s(1e-5), s(f64::NAN), s(f64::INFINITY)), ("0.25".into(), "1e-05".into(), "null".into(), "null".into()));
/// ```
pub fn write_number(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        write_f64(out, x);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// A JSON string: `"`, `\` and control characters escaped.
///
/// ```
/// use nanometrics_exporters::frame_json::write_string;
/// let mut b = Vec::new();
/// write_string(&mut b, "a\"b\\c\nd\u{1}é");
/// assert_eq!(String::from_utf8(b).unwrap(), r#""a\"b\\c\nd\u0001é""#);
/// ```
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn write_labels(out: &mut Vec<u8>, labels: &LabelSet) {
    out.push(b'{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, k);
        out.push(b':');
        write_string(out, v);
    }
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Counter(c) => write_u64(out, *c),
        Value::UpDownCounter(c) => write_i64(out, *c),
        Value::FloatCounter(x) | Value::Gauge(x) => write_number(out, *x),
        Value::Histogram(h) | Value::Summary(h) => {
            out.extend_from_slice(b"{\"count\":");
            write_u64(out, h.count);
            out.extend_from_slice(b",\"sum\":");
            write_number(out, h.sum);
            out.push(b'}');
        }
    }
}

fn write_window(out: &mut Vec<u8>, w: &WindowValue, quantiles: &[f64]) {
    let field = |out: &mut Vec<u8>, name: &str, x: f64| {
        out.push(b',');
        write_string(out, name);
        out.push(b':');
        write_number(out, x);
    };
    match w {
        WindowValue::Counter(c) => {
            out.extend_from_slice(b"{\"delta\":");
            write_number(out, c.delta);
            field(out, "rate", c.rate_per_sec);
            field(out, "span", c.span.as_secs_f64());
        }
        WindowValue::Gauge(g) => {
            out.extend_from_slice(b"{\"last\":");
            write_number(out, g.last);
            field(out, "min", g.min);
            field(out, "max", g.max);
            field(out, "mean", g.mean);
            out.extend_from_slice(b",\"samples\":");
            write_u64(out, g.samples as u64);
            field(out, "span", g.span.as_secs_f64());
        }
        WindowValue::Histogram(h) => {
            out.extend_from_slice(b"{\"count\":");
            write_u64(out, h.count);
            field(out, "rate", h.rate_per_sec);
            field(out, "sum", h.sum);
            field(out, "mean", h.mean);
            field(out, "min", h.min);
            field(out, "max", h.max);
            field(out, "span", h.span.as_secs_f64());
            out.extend_from_slice(b",\"quantiles\":{");
            for (i, q) in quantiles.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let mut key = Vec::new();
                write_f64(&mut key, *q);
                write_string(out, &String::from_utf8_lossy(&key));
                out.push(b':');
                write_number(out, h.quantile(*q));
            }
            out.push(b'}');
        }
    }
    out.push(b'}');
}
