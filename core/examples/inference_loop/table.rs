//! The live table the main thread prints every second, read through its own
//! label handles while the workers run.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::args::Args;
use crate::workload::MODELS;
use crate::{EngineMetrics, ModelHandles, NAMESPACE, PREFIX};

/// Counter totals per model, read through the main thread's own handles.
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    ok: u64,
    error: u64,
    prompt: u64,
    output: u64,
}

impl Totals {
    pub fn read(handles: &[ModelHandles]) -> Vec<Totals> {
        handles
            .iter()
            .map(|h| Totals {
                ok: h.ok.get(),
                error: h.error.get(),
                prompt: h.prompt.get(),
                output: h.output.get(),
            })
            .collect()
    }

    fn sum(all: &[Totals]) -> Totals {
        all.iter().fold(Totals::default(), |a, t| Totals {
            ok: a.ok + t.ok,
            error: a.error + t.error,
            prompt: a.prompt + t.prompt,
            output: a.output + t.output,
        })
    }
}

pub fn render_table(
    out: &mut String,
    args: &Args,
    elapsed: f64,
    dt: f64,
    cur: &[Totals],
    prev: &[Totals],
    m: &EngineMetrics,
) -> std::fmt::Result {
    let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / dt;
    writeln!(
        out,
        "nanometrics inference_loop: {} workers, elapsed {elapsed:.1} s of {:.1} s",
        args.workers, args.seconds
    )?;
    writeln!(
        out,
        "{PREFIX}_* {{{}=\"{}\"}}   inflight_requests {}   kv_cache_usage_ratio {:.3}",
        NAMESPACE.0,
        NAMESPACE.1,
        m.inflight.get(),
        m.kv_usage.get()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<24}{:>11}{:>8}{:>9}{:>14}{:>13}{:>12}",
        "model", "ok", "error", "req/s", "prompt tok", "output tok", "out tok/s"
    )?;
    let rows = MODELS.iter().map(|md| md.name).zip(cur.iter().zip(prev));
    let (all_cur, all_prev) = (Totals::sum(cur), Totals::sum(prev));
    for (name, (c, p)) in rows.chain(std::iter::once(("all models", (&all_cur, &all_prev)))) {
        writeln!(
            out,
            "{name:<24}{:>11}{:>8}{:>9}{:>14}{:>13}{:>12}",
            group(c.ok),
            group(c.error),
            group(rate(c.ok + c.error, p.ok + p.error) as u64),
            group(c.prompt),
            group(c.output),
            group(rate(c.output, p.output) as u64),
        )?;
    }
    writeln!(
        out,
        "tokens/s (prompt + output): {}   output tokens/s per worker: {}",
        group(rate(
            all_cur.prompt + all_cur.output,
            all_prev.prompt + all_prev.output
        ) as u64),
        group((rate(all_cur.output, all_prev.output) / args.workers as f64) as u64),
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<30}{:>11}{:>9}{:>9}{:>9}{:>9}{:>9}",
        "histogram (ms)", "count", "mean", "p50", "p90", "p99", "max"
    )?;
    for (name, h) in [
        ("time_to_first_token_seconds", &m.ttft),
        ("inter_token_latency_seconds", &m.itl),
        ("request_duration_seconds", &m.duration),
    ] {
        let st = h.stats();
        writeln!(
            out,
            "{name:<30}{:>11}{:>9}{:>9}{:>9}{:>9}{:>9}",
            group(st.count),
            ms(st.mean),
            ms(st.quantile(0.5)),
            ms(st.quantile(0.9)),
            ms(st.quantile(0.99)),
            ms(st.max),
        )?;
    }
    Ok(())
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds shown as milliseconds with about three significant digits.
pub fn ms(seconds: f64) -> String {
    let v = seconds * 1000.0;
    match v {
        v if v.is_nan() => "-".to_string(),
        v if v < 10.0 => format!("{v:.3}"),
        v if v < 100.0 => format!("{v:.2}"),
        v => format!("{v:.1}"),
    }
}

pub fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}
