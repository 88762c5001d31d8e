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
//! - **Live reads** from another thread that never slow the workers down: the
//!   main thread prints a one-screen table every second (counter totals and
//!   rates, in-flight requests, KV-cache usage, and histogram count, mean, p50,
//!   p90, p99 and max from [`Histogram::stats`]).
//! - **The exporter's view**: at the end, [`Registry::snapshot`] is walked
//!   family by family, series by series, and checked against what the workers
//!   counted themselves ("consistency check: OK", or exit status 1).

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nanometrics_exporters::http::MetricsServer;

use nanometrics::{
    Buckets, Counter, Family, Gauge, Histogram, Registry, Snapshot, UpDownCounter, Value,
};

const USAGE: &str = "\
Simulated inference-serving loop instrumented with nanometrics.

Usage: cargo run --release --example inference_loop -p nanometrics -- [OPTIONS]

Options:
  --workers N    worker threads, each one simulated engine (1 to 1024; default 4)
  --seconds S    how long to run, in seconds, > 0; decimals allowed (default 10)
  --port P       serve /metrics, /health and /live on 127.0.0.1:P while running
                 (default 9464, or a free port if 9464 is taken; 0 = a free port)
  -h, --help     print this help
";

/// Sub-registry prefix and constant label, as the serving runtime names them.
const PREFIX: &str = "dynamo_component";
const NAMESPACE: (&str, &str) = ("dynamo_namespace", "demo");

/// A fake model: how often it is asked for and how long its requests are.
#[derive(Debug)]
struct Model {
    name: &'static str,
    /// Relative share of requests.
    weight: u64,
    prompt_mean: f64,
    output_mean: f64,
}

const MODELS: [Model; 3] = [
    Model {
        name: "llama-3.1-8b-instruct",
        weight: 6,
        prompt_mean: 512.0,
        output_mean: 160.0,
    },
    Model {
        name: "qwen2.5-coder-7b",
        weight: 3,
        prompt_mean: 1536.0,
        output_mean: 256.0,
    },
    Model {
        name: "mistral-7b-instruct",
        weight: 1,
        prompt_mean: 256.0,
        output_mean: 96.0,
    },
];

/// Requests that fail part-way, per thousand.
const ERRORS_PER_MILLE: u64 = 20;
/// Closed loop: each worker always has this many requests running or waiting.
const CLIENTS_PER_WORKER: usize = 20;
/// Largest batch one step runs.
const MAX_BATCH: usize = 16;
/// Tokens per KV-cache block, and blocks per worker.
const KV_BLOCK_TOKENS: u32 = 16;
const KV_BLOCKS_PER_WORKER: u32 = 1024;
/// Cost model of one step: fixed + per running request + per prompt token
/// prefilled in this step, plus jitter and a rare hiccup.
const STEP_BASE_US: u64 = 400;
const STEP_PER_SEQ_US: u64 = 20;
const PREFILL_NS_PER_TOKEN: u64 = 500;
const STEP_JITTER_US: u64 = 100;
const HICCUP_PER_MILLE: u64 = 2;

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

// === command line ===

#[derive(Debug)]
struct Args {
    workers: usize,
    seconds: f64,
    /// `None`: the default port, falling back to a free one.
    port: Option<u16>,
}

/// `Ok(None)` means `--help`.
fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        workers: 4,
        seconds: 10.0,
        port: None,
    };
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" if inline.is_none() => return Ok(None),
            "--workers" | "--seconds" | "--port" => {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().ok_or_else(|| format!("{flag} needs a value"))?,
                };
                if flag == "--port" {
                    args.port = Some(value.parse::<u16>().map_err(|_| {
                        format!("--port must be a port number from 0 to 65535, got {value:?}")
                    })?);
                } else if flag == "--workers" {
                    args.workers = match value.parse::<usize>() {
                        Ok(n) if (1..=1024).contains(&n) => n,
                        _ => {
                            return Err(format!(
                                "--workers must be a whole number from 1 to 1024, got {value:?}"
                            ))
                        }
                    };
                } else {
                    args.seconds = match value.parse::<f64>() {
                        Ok(s) if s > 0.0 && s <= 86_400.0 => s,
                        _ => {
                            return Err(format!(
                                "--seconds must be a number of seconds greater than 0 (at most 86400), got {value:?}"
                            ))
                        }
                    };
                }
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(Some(args))
}

// === metrics ===

/// Every metric the demo declares. Handles are cheap to clone (an `Arc`).
#[derive(Clone, Debug)]
struct Metrics {
    requests: Family<Counter>,
    tokens: Family<Counter>,
    inflight: UpDownCounter,
    kv_usage: Gauge,
    ttft: Histogram,
    itl: Histogram,
    duration: Histogram,
}

impl Metrics {
    fn register(engine: &Registry) -> Result<Metrics, nanometrics::Error> {
        let latency = || Buckets::exponential(0.0005, 2.0, 16); // 0.5 ms .. 16 s
        Ok(Metrics {
            requests: engine.counter_family(
                "requests_total",
                "Requests finished, by model and status.",
                &["model", "status"],
            )?,
            tokens: engine.counter_family(
                "tokens_total",
                "Tokens processed: prompt (prefill) and output (decode).",
                &["model", "kind"],
            )?,
            inflight: engine.up_down_counter(
                "inflight_requests",
                "Requests admitted to an engine batch and not finished yet.",
            )?,
            kv_usage: engine.gauge(
                "kv_cache_usage_ratio",
                "Fraction of KV-cache blocks in use, 0 to 1.",
            )?,
            ttft: engine.histogram(
                "time_to_first_token_seconds",
                "Time from a request's arrival to its first output token.",
                latency(),
            )?,
            itl: engine.histogram(
                "inter_token_latency_seconds",
                "Time between consecutive output tokens of one request.",
                latency(),
            )?,
            duration: engine.histogram(
                "request_duration_seconds",
                "Time from a request's arrival to its last token or error.",
                Buckets::default(),
            )?,
        })
    }
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
    fn resolve(m: &Metrics, model: &str) -> Result<ModelHandles, nanometrics::Error> {
        Ok(ModelHandles {
            ok: m.requests.with_labels(&[model, "ok"])?,
            error: m.requests.with_labels(&[model, "error"])?,
            prompt: m.tokens.with_labels(&[model, "prompt"])?,
            output: m.tokens.with_labels(&[model, "output"])?,
        })
    }

    fn resolve_all(m: &Metrics) -> Result<Vec<ModelHandles>, nanometrics::Error> {
        MODELS
            .iter()
            .map(|md| ModelHandles::resolve(m, md.name))
            .collect()
    }
}

// === the simulated engine ===

/// xorshift64*: fast, deterministic, good enough for a workload.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 spreads small seeds over the state space.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Exponentially distributed with this mean.
    fn exp(&mut self, mean: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        -mean * (1.0 - u).ln()
    }
}

/// One request in an engine.
#[derive(Debug)]
struct Seq {
    model: usize,
    prompt: u32,
    output: u32,
    /// Fails instead of producing output token number `fail_at`.
    fail_at: Option<u32>,
    generated: u32,
    blocks: u32,
    arrived: Instant,
    last_token: Option<Instant>,
}

impl Seq {
    fn arrive(rng: &mut Rng, now: Instant) -> Seq {
        let mut pick = rng.below(MODELS.iter().map(|m| m.weight).sum());
        let mut model = 0;
        while pick >= MODELS[model].weight {
            pick -= MODELS[model].weight;
            model += 1;
        }
        let md = &MODELS[model];
        let prompt = (rng.exp(md.prompt_mean) as u32).clamp(8, 8192);
        let output = (rng.exp(md.output_mean) as u32).clamp(1, 1024);
        let fail_at =
            (rng.below(1000) < ERRORS_PER_MILLE).then(|| rng.below(u64::from(output)) as u32);
        Seq {
            model,
            prompt,
            output,
            fail_at,
            generated: 0,
            blocks: (prompt + output).div_ceil(KV_BLOCK_TOKENS),
            arrived: now,
            last_token: None,
        }
    }
}

/// What one worker says it did, counted without nanometrics: the summary
/// checks the registry against it.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    ok: u64,
    error: u64,
    prompt_tokens: u64,
    output_tokens: u64,
    first_tokens: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.ok += o.ok;
        self.error += o.error;
        self.prompt_tokens += o.prompt_tokens;
        self.output_tokens += o.output_tokens;
        self.first_tokens += o.first_tokens;
    }

    fn requests(&self) -> u64 {
        self.ok + self.error
    }
}

/// One engine: runs until `stop`, then drains its batch so that nothing is
/// left in flight. Returns its per-model tallies.
fn worker(
    id: usize,
    m: Metrics,
    stop: Arc<AtomicBool>,
    kv_capacity: u32,
) -> Result<Vec<Tally>, nanometrics::Error> {
    // The slow path, once: find (or create) this worker's series.
    let handles = ModelHandles::resolve_all(&m)?;
    let mut rng = Rng::new(id as u64);
    let mut tally = vec![Tally::default(); MODELS.len()];
    let mut running: Vec<Seq> = Vec::with_capacity(MAX_BATCH);
    let mut waiting: VecDeque<Seq> = VecDeque::with_capacity(CLIENTS_PER_WORKER);
    let mut kv_used = 0u32;
    // The gauge is one f64 that every worker moves with `add`. Each worker
    // adds the change of its own share, rounded to a multiple of 2^-20: such
    // sums are exact in an f64, so the gauge is back at exactly 0 once every
    // worker has drained (no rounding drift, whatever the capacity).
    let share =
        |blocks: u32| (f64::from(blocks) / f64::from(kv_capacity) * 1048576.0).round() / 1048576.0;
    let mut kv_share = 0.0;

    loop {
        if stop.load(Ordering::Relaxed) {
            waiting.clear(); // never admitted: not counted anywhere
            if running.is_empty() {
                break;
            }
        } else {
            let now = Instant::now();
            while running.len() + waiting.len() < CLIENTS_PER_WORKER {
                waiting.push_back(Seq::arrive(&mut rng, now));
            }
        }

        // Admit waiting requests while the batch and the KV cache have room.
        let mut prefill_tokens = 0u64;
        while running.len() < MAX_BATCH
            && waiting
                .front()
                .is_some_and(|s| kv_used + s.blocks <= KV_BLOCKS_PER_WORKER)
        {
            let Some(seq) = waiting.pop_front() else {
                break;
            };
            kv_used += seq.blocks;
            prefill_tokens += u64::from(seq.prompt);
            handles[seq.model].prompt.inc_by(u64::from(seq.prompt));
            tally[seq.model].prompt_tokens += u64::from(seq.prompt);
            m.inflight.inc();
            running.push(seq);
        }
        publish_share(&m.kv_usage, &mut kv_share, share(kv_used));

        // The forward pass: prefill of the new requests plus one decode
        // token for every request in the batch.
        let mut step_us =
            STEP_BASE_US + STEP_PER_SEQ_US * running.len() as u64 + rng.below(STEP_JITTER_US);
        if rng.below(1000) < HICCUP_PER_MILLE {
            step_us += 2_000 + rng.below(3_000);
        }
        thread::sleep(
            Duration::from_micros(step_us)
                + Duration::from_nanos(PREFILL_NS_PER_TOKEN * prefill_tokens),
        );
        let now = Instant::now();

        // One token per request; finished and failed requests leave.
        let mut i = 0;
        while i < running.len() {
            let s = &mut running[i];
            let h = &handles[s.model];
            let t = &mut tally[s.model];
            let failed = s.fail_at == Some(s.generated);
            if !failed {
                match s.last_token {
                    None => {
                        m.ttft.record_duration(now - s.arrived);
                        t.first_tokens += 1;
                    }
                    Some(prev) => m.itl.record_duration(now - prev),
                }
                s.last_token = Some(now);
                s.generated += 1;
                h.output.inc();
                t.output_tokens += 1;
            }
            if failed || s.generated == s.output {
                if failed {
                    h.error.inc();
                    t.error += 1;
                } else {
                    h.ok.inc();
                    t.ok += 1;
                }
                m.duration.record_duration(now - s.arrived);
                m.inflight.dec();
                kv_used -= s.blocks;
                running.swap_remove(i);
            } else {
                i += 1;
            }
        }
        publish_share(&m.kv_usage, &mut kv_share, share(kv_used));
    }
    Ok(tally)
}

/// Moves a shared gauge by the change of one worker's share of it.
fn publish_share(gauge: &Gauge, published: &mut f64, now: f64) {
    if now != *published {
        gauge.add(now - *published);
        *published = now;
    }
}

// === the live table ===

/// Counter totals per model, read through the main thread's own handles.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    ok: u64,
    error: u64,
    prompt: u64,
    output: u64,
}

impl Totals {
    fn read(handles: &[ModelHandles]) -> Vec<Totals> {
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

fn render_table(
    out: &mut String,
    args: &Args,
    elapsed: f64,
    dt: f64,
    cur: &[Totals],
    prev: &[Totals],
    m: &Metrics,
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
fn group(n: u64) -> String {
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
fn ms(seconds: f64) -> String {
    let v = seconds * 1000.0;
    match v {
        v if v.is_nan() => "-".to_string(),
        v if v < 10.0 => format!("{v:.3}"),
        v if v < 100.0 => format!("{v:.2}"),
        v => format!("{v:.1}"),
    }
}

fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

// === run ===

fn run(args: &Args) -> Result<bool, Box<dyn StdError>> {
    let registry = nanometrics::global();
    let engine = registry.sub_registry(PREFIX, &[NAMESPACE])?;
    let m = Metrics::register(&engine)?;
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
    eprintln!(
        "serving http://{0}/metrics (and /health, /live) while the demo runs: curl {0}/metrics",
        server.local_addr()
    );

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

// === the summary, from the registry snapshot ===

/// Prints the totals read from `snap` and checks them against the workers'
/// tallies; returns whether every check passed.
fn summarize(
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
