//! The summary at the end: every total read back from the registry snapshot
//! (what an exporter sees) and checked against the workers' own tallies.

use std::error::Error as StdError;
use std::fmt::Write as _;

use nanometrics::{Snapshot, Value};

use crate::engine::Tally;
use crate::table::{group, ms};
use crate::workload::MODELS;
use crate::{NAMESPACE, PREFIX};

/// Prints the totals read from `snap` and checks them against the workers'
/// tallies; returns whether every check passed.
pub fn summarize(
    out: &mut String,
    snap: &Snapshot,
    tallies: &[Tally],
    wall: f64,
    drain: f64,
) -> Result<bool, Box<dyn StdError>> {
    let name = |metric: &str| format!("{PREFIX}_{metric}");
    writeln!(
        out,
        "\n=== summary: {wall:.2} s, of which {drain:.2} s draining in-flight requests ==="
    )?;
    writeln!(out, "registry snapshot: {} families", snap.families.len())?;
    for f in &snap.families {
        writeln!(
            out,
            "  {:<48}{:<16}{} series",
            f.name,
            f.kind.as_str(),
            f.series.len()
        )?;
    }

    // Walk the two counter families and add their series up by label.
    let mut seen = vec![Tally::default(); MODELS.len()];
    let mut problems: Vec<String> = Vec::new();
    for (family, label, ok_value, err_value) in [
        ("requests_total", "status", "ok", "error"),
        ("tokens_total", "kind", "output", "prompt"),
    ] {
        let fam = snap
            .family(&name(family))
            .ok_or_else(|| format!("{} missing from the snapshot", name(family)))?;
        for s in &fam.series {
            let Value::Counter(n) = s.value else {
                return Err(format!("{} holds a {:?}, not a counter", fam.name, s.value).into());
            };
            if s.labels.get(NAMESPACE.0) != Some(NAMESPACE.1) {
                problems.push(format!(
                    "{} series without {}=\"{}\"",
                    fam.name, NAMESPACE.0, NAMESPACE.1
                ));
            }
            let model = s.labels.get("model").unwrap_or_default();
            let Some(i) = MODELS.iter().position(|md| md.name == model) else {
                problems.push(format!("{} has an unexpected model {model:?}", fam.name));
                continue;
            };
            let t = &mut seen[i];
            match (family, s.labels.get(label)) {
                ("requests_total", Some(v)) if v == ok_value => t.ok += n,
                ("requests_total", Some(v)) if v == err_value => t.error += n,
                ("tokens_total", Some(v)) if v == ok_value => t.output_tokens += n,
                ("tokens_total", Some(v)) if v == err_value => t.prompt_tokens += n,
                (_, v) => problems.push(format!("{} has an unexpected {label} {v:?}", fam.name)),
            }
        }
    }

    writeln!(
        out,
        "\nfrom the snapshot: {} and {}",
        name("requests_total"),
        name("tokens_total")
    )?;
    writeln!(
        out,
        "{:<24}{:>11}{:>8}{:>9}{:>15}{:>14}",
        "model", "ok", "error", "error %", "prompt tok", "output tok"
    )?;
    let mut all = Tally::default();
    for t in &seen {
        all.add(t);
    }
    let rows = MODELS.iter().map(|md| md.name).zip(seen.iter().copied());
    for (model, t) in rows.chain(std::iter::once(("all models", all))) {
        let pct = if t.requests() == 0 {
            0.0
        } else {
            100.0 * t.error as f64 / t.requests() as f64
        };
        writeln!(
            out,
            "{model:<24}{:>11}{:>8}{:>8.2}%{:>15}{:>14}",
            group(t.ok),
            group(t.error),
            pct,
            group(t.prompt_tokens),
            group(t.output_tokens)
        )?;
    }

    // The other families, read through `Value` too.
    writeln!(out)?;
    let mut hist_count = |metric: &str| -> Result<u64, Box<dyn StdError>> {
        let fam = snap
            .family(&name(metric))
            .ok_or_else(|| format!("{} missing", name(metric)))?;
        match fam.series.first().map(|s| &s.value) {
            Some(Value::Histogram(h)) => {
                writeln!(
                    out,
                    "{:<48} count {:>11}  mean {:>8} ms  max {:>8} ms",
                    fam.name,
                    group(h.count),
                    ms(if h.count == 0 {
                        f64::NAN
                    } else {
                        h.sum / h.count as f64
                    }),
                    ms(h.max)
                )?;
                Ok(h.count)
            }
            other => Err(format!("{} is not one histogram series: {other:?}", fam.name).into()),
        }
    };
    let ttft_count = hist_count("time_to_first_token_seconds")?;
    let itl_count = hist_count("inter_token_latency_seconds")?;
    let duration_count = hist_count("request_duration_seconds")?;
    let first_value = |metric: &str| {
        snap.family(&name(metric))
            .and_then(|f| f.series.first())
            .map(|s| &s.value)
            .ok_or_else(|| format!("{metric} missing"))
    };
    let inflight = first_value("inflight_requests")?
        .as_up_down_counter()
        .ok_or("inflight_requests is not an up-down counter")?;
    let kv = first_value("kv_cache_usage_ratio")?
        .as_gauge()
        .ok_or("kv_cache_usage_ratio is not a gauge")?;
    writeln!(
        out,
        "{:<48} {inflight}  (after the drain)",
        name("inflight_requests")
    )?;
    writeln!(
        out,
        "{:<48} {kv}  (after the drain)",
        name("kv_cache_usage_ratio")
    )?;

    // The checks: the snapshot must say exactly what the workers did.
    let mut workers_all = Tally::default();
    for t in tallies {
        workers_all.add(t);
    }
    let mut check = |what: &str, got: u64, want: u64| {
        if got != want {
            problems.push(format!(
                "{what}: the registry says {got}, the workers counted {want}"
            ));
        }
    };
    for ((md, s), w) in MODELS.iter().zip(&seen).zip(tallies) {
        check(
            &format!("requests_total{{model={:?},status=\"ok\"}}", md.name),
            s.ok,
            w.ok,
        );
        check(
            &format!("requests_total{{model={:?},status=\"error\"}}", md.name),
            s.error,
            w.error,
        );
        check(
            &format!("tokens_total{{model={:?},kind=\"prompt\"}}", md.name),
            s.prompt_tokens,
            w.prompt_tokens,
        );
        check(
            &format!("tokens_total{{model={:?},kind=\"output\"}}", md.name),
            s.output_tokens,
            w.output_tokens,
        );
    }
    check(
        "sum of requests_total",
        all.requests(),
        workers_all.requests(),
    );
    check(
        "sum of tokens_total",
        all.prompt_tokens + all.output_tokens,
        workers_all.prompt_tokens + workers_all.output_tokens,
    );
    check(
        "request_duration_seconds count",
        duration_count,
        workers_all.requests(),
    );
    check(
        "time_to_first_token_seconds count",
        ttft_count,
        workers_all.first_tokens,
    );
    check(
        "inter_token_latency_seconds count",
        itl_count,
        workers_all.output_tokens - workers_all.first_tokens,
    );
    if inflight != 0 {
        problems.push(format!(
            "inflight_requests is {inflight} after every worker drained"
        ));
    }
    if kv != 0.0 {
        problems.push(format!(
            "kv_cache_usage_ratio is {kv} after every worker drained"
        ));
    }

    writeln!(
        out,
        "\nworkers made {} requests ({} ok, {} error); requests_total sums to {}",
        group(workers_all.requests()),
        group(workers_all.ok),
        group(workers_all.error),
        group(all.requests())
    )?;
    if problems.is_empty() {
        writeln!(out, "consistency check: OK")?;
        Ok(true)
    } else {
        writeln!(out, "consistency check: FAILED")?;
        for p in &problems {
            writeln!(out, "  - {p}")?;
        }
        Ok(false)
    }
}
