//! Resident memory per labeled series, nanometrics and the peer crates,
//! each measurement in a process of its own.
//!
//! ```text
//! cargo run --release -p nanometrics-benches --bin memory            # every case, the table, the budgets
//! cargo run --release -p nanometrics-benches --bin memory -- --series 1900 --threads 1,2,8,32
//! ```
//!
//! A case is (implementation, kind, recording threads T). Its process starts
//! the T threads (parked), reads its resident set size (`VmRSS`), declares one
//! family with N label values (`series="0"` … and a second, constant label),
//! lets every thread record into every series (20 values each: a histogram's
//! bucket spread, more than one nanometrics stage), reads `VmRSS` again while
//! the threads are still alive, and prints the difference. The driver runs
//! every case as a child process, one after another, and reports bytes per
//! series, and the cost of each recording thread past the first: (bytes at
//! T = 8 − bytes at T = 1) / 7 per series.
//!
//! Kinds: counter, gauge, histogram (the 14 default bounds in every crate)
//! and summary. `prometheus` and `prometheus-client` have no summary; the
//! `metrics` crate's summary is metrics-exporter-prometheus's rendering of a
//! histogram without buckets (its default). The `metrics` recorder is
//! metrics-exporter-prometheus's `PrometheusRecorder`, which keeps the
//! histogram's values in a bucket until a render drains them; nothing
//! renders here, so its figure includes the 20 × T values per series.
//!
//! Budgets (issue 11), checked as same-run ratios against `prometheus`:
//! histogram at 8 threads ≤ 4× its bytes per series; each extra recording
//! thread ≤ 512 B per histogram series; counter at 8 threads ≤ 1.0×.
//! Exit status 1 when one is missed, 2 when a case fails to run.

use std::process::{Command, ExitCode};
use std::sync::{Arc, Barrier};

use nanometrics_benches::BOUNDS;

const IMPLS: [&str; 4] = ["nanometrics", "prometheus", "prometheus-client", "metrics"];
const KINDS: [&str; 4] = ["counter", "gauge", "histogram", "summary"];
const VALUES_PER_SERIES: usize = 20;
/// Every family's label names: one value per series, one constant.
const LABELS: [&str; 2] = ["series", "model"];

/// This process' resident set size in bytes (`VmRSS` of `/proc/self/status`).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

/// One series' recorder, whatever the crate: called from every thread.
type Record = Box<dyn Fn(usize, f64) + Send + Sync>;

/// One recorder over `names.len()` series: `get` makes series `i` from
/// `owner` (a registry or family), `update` records into it. The owner
/// lives as long as the recorder: what it holds per series (label values,
/// its table) is part of each series' cost.
fn series<O, H>(
    owner: O,
    names: &[String],
    get: impl Fn(&O, &str) -> H,
    update: impl Fn(&H, f64) + Send + Sync + 'static,
) -> Record
where
    O: Send + Sync + 'static,
    H: Send + Sync + 'static,
{
    let handles: Vec<H> = names.iter().map(|s| get(&owner, s)).collect();
    Box::new(move |i, v| {
        let _owner = &owner;
        update(&handles[i], v)
    })
}

/// A nanometrics family of `M` over `names`, `series="<name>",model="llama"`.
fn nanometrics_series<M: nanometrics::Metric>(
    names: &[String],
    update: impl Fn(&M, f64) + Send + Sync + 'static,
) -> Record {
    let registry = nanometrics::Registry::new();
    let family = registry
        .metric("memory_bench", "Memory bench.")
        .cardinality_limit(names.len())
        .family::<M>(&LABELS)
        .unwrap();
    series(
        (registry, family),
        names,
        |(_, f), s| f.with_labels(&[s, "llama"]).unwrap(),
        update,
    )
}

/// A prometheus-client family of `M` over `names`, registered.
fn prometheus_client_series<M, C>(
    family: prometheus_client::metrics::family::Family<Vec<(String, String)>, M, C>,
    names: &[String],
    update: impl Fn(&M, f64) + Send + Sync + 'static,
) -> Record
where
    M: prometheus_client::metrics::TypedMetric
        + prometheus_client::encoding::EncodeMetric
        + Clone
        + Send
        + Sync
        + std::fmt::Debug
        + 'static,
    C: prometheus_client::metrics::family::MetricConstructor<M>
        + Clone
        + Send
        + Sync
        + std::fmt::Debug
        + 'static,
{
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register("memory_bench", "M.", family.clone());
    let key = |s: &str| {
        vec![
            ("series".to_string(), s.to_string()),
            ("model".to_string(), "llama".to_string()),
        ]
    };
    series(
        (registry, family),
        names,
        |(_, f), s| f.get_or_create(&key(s)).clone(),
        update,
    )
}

/// Declares `n` series of `kind` with `imp`; `None` if the crate has no such
/// kind. The returned closure records value `v` into series `i`.
fn declare(imp: &str, kind: &str, n: usize) -> Option<Record> {
    use prometheus_client::metrics::{counter::Counter, gauge::Gauge, histogram::Histogram};
    let names: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let names = &names[..];
    Some(match (imp, kind) {
        ("nanometrics", "counter") => {
            nanometrics_series(names, |h: &nanometrics::Counter, _| h.inc())
        }
        ("nanometrics", "gauge") => nanometrics_series(names, |h: &nanometrics::Gauge, v| h.set(v)),
        ("nanometrics", "histogram") => {
            nanometrics_series(names, |h: &nanometrics::Histogram, v| h.observe(v))
        }
        ("nanometrics", _) => nanometrics_series(names, |h: &nanometrics::Summary, v| h.observe(v)),
        ("prometheus", "counter") => series(
            prometheus::IntCounterVec::new(prometheus::Opts::new("memory_bench", "M."), &LABELS)
                .unwrap(),
            names,
            |f, s| f.with_label_values(&[s, "llama"]),
            |h, _| h.inc(),
        ),
        ("prometheus", "gauge") => series(
            prometheus::GaugeVec::new(prometheus::Opts::new("memory_bench", "M."), &LABELS)
                .unwrap(),
            names,
            |f, s| f.with_label_values(&[s, "llama"]),
            |h, v| h.set(v),
        ),
        ("prometheus", "histogram") => series(
            prometheus::HistogramVec::new(
                prometheus::HistogramOpts::new("memory_bench", "M.").buckets(BOUNDS.to_vec()),
                &LABELS,
            )
            .unwrap(),
            names,
            |f, s| f.with_label_values(&[s, "llama"]),
            |h, v| h.observe(v),
        ),
        ("prometheus-client", "counter") => {
            prometheus_client_series(Default::default(), names, |h: &Counter, _| {
                h.inc();
            })
        }
        ("prometheus-client", "gauge") => prometheus_client_series(
            Default::default(),
            names,
            |h: &Gauge<f64, std::sync::atomic::AtomicU64>, v| {
                h.set(v);
            },
        ),
        ("prometheus-client", "histogram") => {
            fn new_histogram() -> Histogram {
                Histogram::new(BOUNDS)
            }
            let family = prometheus_client::metrics::family::Family::<
                Vec<(String, String)>,
                Histogram,
                fn() -> Histogram,
            >::new_with_constructor(new_histogram);
            prometheus_client_series(family, names, |h: &Histogram, v| h.observe(v))
        }
        ("metrics", _) => {
            let mut builder = metrics_exporter_prometheus::PrometheusBuilder::new();
            if kind == "histogram" {
                builder = builder.set_buckets(&BOUNDS).unwrap();
            }
            // The global recorder lives for the process.
            metrics::set_global_recorder(builder.build_recorder()).unwrap();
            let labels = |s: &str| [("series", s.to_string()), ("model", "llama".to_string())];
            match kind {
                "counter" => series(
                    (),
                    names,
                    |_, s| metrics::counter!("memory_bench", &labels(s)),
                    |h, _| h.increment(1),
                ),
                "gauge" => series(
                    (),
                    names,
                    |_, s| metrics::gauge!("memory_bench", &labels(s)),
                    |h, v| h.set(v),
                ),
                _ => series(
                    (),
                    names,
                    |_, s| metrics::histogram!("memory_bench", &labels(s)),
                    |h, v| h.record(v),
                ),
            }
        }
        _ => return None,
    })
}

/// Runs one case in this process and prints the bytes it took, or `-`.
fn child(imp: &str, kind: &str, threads: usize, n: usize) {
    let start = Arc::new(Barrier::new(threads + 1));
    let done = Arc::new(Barrier::new(threads + 1));
    let exit = Arc::new(Barrier::new(threads + 1));
    let record: Arc<std::sync::OnceLock<Record>> = Arc::new(std::sync::OnceLock::new());
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (start, done, exit, record) =
                (start.clone(), done.clone(), exit.clone(), record.clone());
            std::thread::spawn(move || {
                start.wait();
                let record = record.get().expect("declared before the start");
                for k in 0..VALUES_PER_SERIES {
                    for i in 0..n {
                        // 1e-4 .. ~5 s, spread over the buckets.
                        let v = 1e-4 * 1.7f64.powi(((i + k * 7 + t) % 21) as i32);
                        record(i, v);
                    }
                }
                done.wait();
                exit.wait(); // alive while the driver's reading is taken
            })
        })
        .collect();
    let before = rss();
    let Some(r) = declare(imp, kind, n) else {
        println!("-");
        std::process::exit(0);
    };
    if record.set(r).is_err() {
        unreachable!("set once");
    }
    start.wait();
    done.wait();
    let after = rss();
    exit.wait();
    for w in workers {
        w.join().unwrap();
    }
    println!("{}", after.saturating_sub(before));
}

/// Bytes of one case, from a child process.
fn measure(imp: &str, kind: &str, threads: usize, n: usize) -> Result<Option<u64>, String> {
    let out = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(["--one", imp, kind, &threads.to_string(), &n.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{imp} {kind} T={threads}: exit {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    match text.trim() {
        "-" => Ok(None),
        b => b
            .parse()
            .map(Some)
            .map_err(|e| format!("{imp} {kind} T={threads}: {b:?}: {e}")),
    }
}

fn per_series(b: Option<u64>, n: usize) -> Option<f64> {
    b.map(|b| b as f64 / n as f64)
}

fn cell(x: Option<f64>) -> String {
    match x {
        Some(x) if x >= 10_000.0 => format!("{:.1} KB", x / 1000.0),
        Some(x) => format!("{x:.0} B"),
        None => "–".into(),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        let [imp, kind, t, n] = &args[1..] else {
            eprintln!("usage: memory --one IMPL KIND THREADS SERIES");
            return ExitCode::from(2);
        };
        child(
            imp,
            kind,
            t.parse().expect("threads"),
            n.parse().expect("series"),
        );
        return ExitCode::SUCCESS;
    }
    let mut n = 1900usize;
    let mut threads = vec![1usize, 2, 8, 32];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--series", Some(v)) => n = v.parse().expect("--series N"),
            ("--threads", Some(v)) => {
                threads = v
                    .split(',')
                    .map(|t| t.parse().expect("--threads 1,2,8"))
                    .collect()
            }
            _ => {
                eprintln!("usage: memory [--series N] [--threads 1,2,8,32]");
                return ExitCode::from(2);
            }
        }
    }
    for needed in [1, 8] {
        if !threads.contains(&needed) {
            threads.push(needed);
        }
    }
    threads.sort_unstable();
    threads.dedup();

    // bytes[(imp, kind, T)] per series
    let mut table = std::collections::BTreeMap::new();
    for kind in KINDS {
        for imp in IMPLS {
            for &t in &threads {
                match measure(imp, kind, t, n) {
                    Ok(b) => {
                        table.insert((imp, kind, t), per_series(b, n));
                    }
                    Err(e) => {
                        eprintln!("memory: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
        }
    }

    println!(
        "Resident memory per labeled series ({n} series, {VALUES_PER_SERIES} values per series per thread), \
         `cargo run --release -p nanometrics-benches --bin memory`; each case in its own process.\n"
    );
    print!("| kind | implementation |");
    for t in &threads {
        print!(" T = {t} |");
    }
    println!(" per extra thread (T 1 → 8) |");
    print!("|---|---|");
    for _ in &threads {
        print!("---:|");
    }
    println!("---:|");
    let extra = |imp: &str, kind: &str| -> Option<f64> {
        let (a, b) = (table[&(imp, kind, 1)]?, table[&(imp, kind, 8)]?);
        Some((b - a) / 7.0)
    };
    for kind in KINDS {
        for imp in IMPLS {
            if table[&(imp, kind, 1)].is_none() {
                continue;
            }
            print!("| {kind} | {imp} |");
            for &t in &threads {
                print!(" {} |", cell(table[&(imp, kind, t)]));
            }
            println!(" {} |", cell(extra(imp, kind)));
        }
    }

    // Budgets, as ratios to prometheus in this run.
    let ratio = |kind: &str| -> Option<f64> {
        Some(table[&("nanometrics", kind, 8)]? / table[&("prometheus", kind, 8)]?)
    };
    let mut failed = 0;
    println!("\n== memory budgets (same run) ==");
    let mut check = |what: &str, got: Option<f64>, limit: f64, unit: &str| {
        let ok = got.is_some_and(|g| g <= limit);
        failed += usize::from(!ok);
        println!(
            "{what:<52} {:>10}  budget <= {limit}{unit}  {}",
            got.map_or("-".into(), |g| format!("{g:.2}{unit}")),
            if ok { "PASS" } else { "FAIL" }
        );
    };
    check(
        "histogram, 8 threads: bytes per series / prometheus",
        ratio("histogram"),
        4.0,
        "x",
    );
    check(
        "histogram: bytes per series per extra thread",
        extra("nanometrics", "histogram"),
        512.0,
        " B",
    );
    check(
        "counter, 8 threads: bytes per series / prometheus",
        ratio("counter"),
        1.0,
        "x",
    );
    if failed > 0 {
        println!("{failed} memory budget(s) failed");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
