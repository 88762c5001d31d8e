//! One simulated engine (a worker thread): continuous batching over a KV
//! cache, and every per-token update of the metrics.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nanometrics::{Exemplar, Gauge};

use crate::rng::Rng;
use crate::workload::{CLIENTS_PER_WORKER, ERRORS_PER_MILLE, MODELS};
use crate::{EngineMetrics, ModelHandles};

/// Largest batch one step runs.
const MAX_BATCH: usize = 16;
/// Tokens per KV-cache block, and blocks per worker.
const KV_BLOCK_TOKENS: u32 = 16;
pub const KV_BLOCKS_PER_WORKER: u32 = 1024;
/// Cost model of one step: fixed + per running request + per prompt token
/// prefilled in this step, plus jitter and a rare hiccup.
const STEP_BASE_US: u64 = 400;
const STEP_PER_SEQ_US: u64 = 20;
const PREFILL_NS_PER_TOKEN: u64 = 500;
const STEP_JITTER_US: u64 = 100;
const HICCUP_PER_MILLE: u64 = 2;

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
    /// The request's trace, as a tracing system would hand it over: its
    /// TTFT, duration and outcome are recorded with it as their exemplar.
    trace: Exemplar,
}

/// The trace of a worker's `n`th request: trace id = worker + 1, then `n`
/// (big-endian); span id = `n + 1` (W3C ids are never all zeros). Made
/// up, but a real trace context (16 and 8 bytes), and one a reader can
/// check against the demo.
fn trace_of(worker: usize, n: u64) -> Exemplar {
    let mut trace = [0u8; 16];
    trace[..8].copy_from_slice(&(worker as u64 + 1).to_be_bytes());
    trace[8..].copy_from_slice(&n.to_be_bytes());
    Exemplar::for_trace(trace, (n + 1).to_be_bytes())
}

impl Seq {
    fn arrive(rng: &mut Rng, now: Instant, trace: Exemplar) -> Seq {
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
            trace,
        }
    }
}

/// What one worker says it did, counted without nanometrics: the summary
/// checks the registry against it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub ok: u64,
    pub error: u64,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    pub first_tokens: u64,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.ok += o.ok;
        self.error += o.error;
        self.prompt_tokens += o.prompt_tokens;
        self.output_tokens += o.output_tokens;
        self.first_tokens += o.first_tokens;
    }

    pub fn requests(&self) -> u64 {
        self.ok + self.error
    }
}

/// One engine: runs until `stop`, then drains its batch so that nothing is
/// left in flight. Returns its per-model tallies.
pub fn worker(
    id: usize,
    m: EngineMetrics,
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
    let mut arrivals = 0u64;

    loop {
        if stop.load(Ordering::Relaxed) {
            waiting.clear(); // never admitted: not counted anywhere
            if running.is_empty() {
                break;
            }
        } else {
            let now = Instant::now();
            while running.len() + waiting.len() < CLIENTS_PER_WORKER {
                waiting.push_back(Seq::arrive(&mut rng, now, trace_of(id, arrivals)));
                arrivals += 1;
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
                        let ttft = (now - s.arrived).as_secs_f64();
                        m.ttft.observe_with_exemplar(ttft, &s.trace);
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
                    h.error.inc_by_with_exemplar(1, &s.trace);
                    t.error += 1;
                } else {
                    h.ok.inc_by_with_exemplar(1, &s.trace);
                    t.ok += 1;
                }
                m.duration
                    .observe_with_exemplar((now - s.arrived).as_secs_f64(), &s.trace);
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
