//! # `inference_loop`: nanometrics inside a (simulated) inference server
//!
//! ```text
//! cargo run --release --example inference_loop -p nanometrics
//! cargo run --release --example inference_loop -p nanometrics -- --workers 2 --seconds 5
//! ```
//!
//! Several worker threads (default 4) each play an LLM engine doing
//! continuous batching: up to 16 requests share a forward pass ("step"), every
//! step emits one token per request, new requests join the batch while the
//! KV cache has room. A step "computes" by sleeping a few hundred
//! microseconds, so each thread emits many thousands of tokens per second
//! while the machine stays mostly idle. Requests (model, prompt and output
//! length, whether and where they fail) come from a xorshift PRNG seeded per
//! worker, so every run draws the same sequence; the times are measured.
//!
//! What it shows:
//!
//! - **Declaring** metrics once, on [`nanometrics::global()`] (so an exporter
//!   can serve them) and on a sub-registry that adds the `dynamo_component_`
//!   prefix and the constant label `dynamo_namespace="demo"`.
//! - **The fast path**: each worker resolves its label handles
//!   (`requests_total{model,status}`, `tokens_total{model,kind}`) once and
//!   keeps them; every per-token update after that is a handle update with no
//!   lookup, lock or allocation.
//! - **Exemplars**: each request carries a trace id; its TTFT, duration
//!   and outcome are recorded with it, so `/metrics` in OpenMetrics links
//!   each bucket to its latest request's trace.
//! - **Live reads** from another thread that never slow the workers down: the
//!   main thread prints a one-screen table every second (counter totals and
//!   rates, in-flight requests, KV-cache usage, and histogram count, mean, p50,
//!   p90, p99 and max from [`Histogram::stats`]).
//! - **Real time**: a planner-like consumer watches TTFT p90 over the last
//!   10 s ([`Registry::watch`] with a threshold) and reports when it goes
//!   above the SLO (`--ttft-slo`); `/metrics/stream` serves the same frames
//!   to `curl -N`.
//! - **Backends chosen by the environment**: with
//!   `OTEL_METRICS_EXPORTER=otlp` (and `OTEL_EXPORTER_OTLP_ENDPOINT`, …) it
//!   also pushes OTLP while it runs, and once more after the drain.
//! - **The exporter's view**: at the end, [`Registry::snapshot`] is walked
//!   family by family, series by series, and checked against what the workers
//!   counted themselves ("consistency check: OK", or exit status 1).
//!
//! ## Files
//!
//! - `main.rs`: the metrics (first, below), then `main` and `run`: declare,
//!   serve `/metrics`, start the workers, print the table every second,
//!   summarize.
//! - `args.rs`: the command line.
//! - `workload.rs`: the fake models, and how often requests fail.
//! - `rng.rs`: the xorshift PRNG the requests are drawn from.
//! - `planner.rs`: the watch on TTFT p90, and its lines under the table.
//! - `engine.rs`: one worker: continuous batching, the KV-cache accounting
//!   and the per-token metric updates.
//! - `table.rs`: the live table, and its number formatting.
//! - `summary.rs`: the final summary, read from the registry snapshot, and
//!   the consistency check.

/// Every metric the demo declares, declared once: each field's doc comment
/// is its HELP text. Handles are cheap to clone (an `Arc`).
#[derive(Clone, Debug, Metrics)]
struct EngineMetrics {
    /// Requests finished, by model and status.
    #[metric(name = "requests_total", labels = ["model", "status"])]
    requests: Family<Counter>,
    /// Tokens processed: prompt (prefill) and output (decode).
    #[metric(name = "tokens_total", labels = ["model", "kind"])]
    tokens: Family<Counter>,
    /// Requests admitted to an engine batch and not finished yet.
    #[metric(name = "inflight_requests")]
    inflight: UpDownCounter,
    /// Fraction of KV-cache blocks in use, 0 to 1.
    #[metric(name = "kv_cache_usage_ratio")]
    kv_usage: Gauge,
    /// Time from a request's arrival to its first output token.
    // 0.5 ms .. 16 s
    #[metric(name = "time_to_first_token_seconds", buckets = exponential(0.0005, 2.0, 16))]
    ttft: Histogram,
    /// Time between consecutive output tokens of one request.
    #[metric(name = "inter_token_latency_seconds", buckets = exponential(0.0005, 2.0, 16))]
    itl: Histogram,
    /// Time from a request's arrival to its last token or error.
    #[metric(name = "request_duration_seconds", buckets = Buckets::default())]
    duration: Histogram,
}

/// The label handles of one model: resolved once, then only updated.
#[derive(Clone, Debug)]
struct ModelHandles {
    ok: Counter,
    error: Counter,
    prompt: Counter,
    output: Counter,
}

impl ModelHandles {
    fn resolve(m: &EngineMetrics, model: &str) -> Result<ModelHandles, nanometrics::Error> {
        Ok(ModelHandles {
            ok: m.requests.with_labels(&[model, "ok"])?,
            error: m.requests.with_labels(&[model, "error"])?,
            prompt: m.tokens.with_labels(&[model, "prompt"])?,
            output: m.tokens.with_labels(&[model, "output"])?,
        })
    }

    fn resolve_all(m: &EngineMetrics) -> Result<Vec<ModelHandles>, nanometrics::Error> {
        MODELS
            .iter()
            .map(|md| ModelHandles::resolve(m, md.name))
            .collect()
    }
}

// === the rest: modules, `main`, `run` (the metrics above come first on purpose) ===

mod args;
mod engine;
mod planner;
mod rng;
mod summary;
mod table;
mod workload;

use std::error::Error as StdError;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nanometrics_exporters::http::MetricsServer;
use nanometrics_exporters::otlp::OtlpExporter;

use nanometrics::{Buckets, Counter, Family, Gauge, Histogram, Metrics, UpDownCounter};

use args::{parse_args, Args, USAGE};
use engine::{worker, Tally, KV_BLOCKS_PER_WORKER};
use planner::Planner;
use summary::summarize;
use table::{emit, render_table, Totals};
use workload::MODELS;

/// Sub-registry prefix and constant label, as the serving runtime names them.
const PREFIX: &str = "dynamo_component";
const NAMESPACE: (&str, &str) = ("dynamo_namespace", "demo");

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("inference_loop: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("inference_loop: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<bool, Box<dyn StdError>> {
    let registry = nanometrics::global();
    let engine = registry.sub_registry(PREFIX, &[NAMESPACE])?;
    let m = EngineMetrics::register(&engine)?;
    // One metric on the root registry itself, next to the engine's.
    registry
        .gauge("demo_workers", "Worker threads of the inference_loop demo.")?
        .set(args.workers as f64);
    let view = ModelHandles::resolve_all(&m)?; // the reporter's own handles

    // `/metrics` (Prometheus text or OpenMetrics), `/health`, `/live`.
    let serve = |port: u16| {
        MetricsServer::builder()
            .bind(format!("127.0.0.1:{port}"))
            .registry(registry.clone())
            .start()
    };
    let server = match args.port {
        Some(p) => serve(p)?,
        None => match serve(9464) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => serve(0)?,
            other => other?,
        },
    };
    let ttft_family = format!("{PREFIX}_time_to_first_token_seconds");
    eprintln!(
        "serving http://{0}/metrics (and /health, /live) while the demo runs: curl {0}/metrics\n\
         live frames of a watch: curl -N '{0}/metrics/stream?family={ttft_family}&every=1s&window=10s'",
        server.local_addr()
    );
    let planner = Planner::start(registry, &ttft_family, args.ttft_slo)?;
    // OTLP push besides the pull server when the environment asks for it
    // (OTEL_METRICS_EXPORTER=otlp, OTEL_EXPORTER_OTLP_ENDPOINT=…).
    let otlp = OtlpExporter::from_env(registry).map_err(|e| e as Box<dyn StdError>)?;
    if otlp.is_some() {
        eprintln!("exporting OTLP as the OTEL_* environment says");
    }

    let kv_capacity = KV_BLOCKS_PER_WORKER * args.workers as u32;
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::with_capacity(args.workers);
    for id in 0..args.workers {
        let (m, stop) = (m.clone(), stop.clone());
        let handle = thread::Builder::new()
            .name(format!("engine-{id}"))
            .spawn(move || worker(id, m, stop, kv_capacity))?;
        workers.push(handle);
    }

    let tty = std::io::stdout().is_terminal();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.seconds);
    let (mut prev, mut prev_at) = (Totals::read(&view), start);
    let mut text = String::new();
    for tick in 1u32.. {
        let next = (start + Duration::from_secs(u64::from(tick))).min(deadline);
        thread::sleep(next.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        let cur = Totals::read(&view);
        text.clear();
        text.push_str(if tty {
            "\x1b[2J\x1b[H"
        } else if tick > 1 {
            "\n"
        } else {
            ""
        });
        let (elapsed, dt) = ((now - start).as_secs_f64(), (now - prev_at).as_secs_f64());
        render_table(&mut text, args, elapsed, dt, &cur, &prev, &m)?;
        planner.render(&mut text)?;
        emit(&text)?;
        (prev, prev_at) = (cur, now);
        if now >= deadline {
            break;
        }
    }

    // Stop, let every engine drain its batch, collect what they counted.
    stop.store(true, Ordering::Relaxed);
    let drain_start = Instant::now();
    let mut per_model = vec![Tally::default(); MODELS.len()];
    for (id, w) in workers.into_iter().enumerate() {
        let tallies = w.join().map_err(|_| format!("worker {id} panicked"))??;
        for (acc, t) in per_model.iter_mut().zip(&tallies) {
            acc.add(t);
        }
    }
    let drain = drain_start.elapsed().as_secs_f64();

    // The final OTLP export: the totals after the drain.
    if let Some(otlp) = otlp {
        otlp.shutdown().map_err(|e| e as Box<dyn StdError>)?;
    }
    let snap = registry.snapshot();
    text.clear();
    let ok = summarize(
        &mut text,
        &snap,
        &per_model,
        start.elapsed().as_secs_f64(),
        drain,
    )?;
    emit(&text)?;
    if !ok {
        eprintln!("inference_loop: consistency check failed: the registry disagrees with the workers (see above)");
    }
    Ok(ok)
}
