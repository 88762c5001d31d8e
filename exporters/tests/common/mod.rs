//! Shared by the exporter tests: a registry with every kind of hostile input,
//! and the external checkers (Python's prometheus_client, the OpenMetrics
//! ABNF, promtool) run on what the encoders write.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use nanometrics::{Buckets, Exemplar, Registry, Snapshot, Value};

/// A loopback port nothing listens on (just now): for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Repository root (the workspace).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Python with prometheus_client and abnf: `NANOMETRICS_PYTHON`, else
/// the `.venv` that `ci/setup.sh` creates. Missing is a failure with
/// instructions, never a silent skip.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("NANOMETRICS_PYTHON") {
        return p.into();
    }
    let venv = repo().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} not found: run ci/setup.sh (it creates the venv with prometheus_client and abnf) \
         or set NANOMETRICS_PYTHON",
        venv.display()
    );
    venv
}

/// The project's conformance checker, `tools/conformance/check_exposition.py`.
pub fn checker() -> PathBuf {
    let p = repo().join("tools/conformance/check_exposition.py");
    assert!(p.exists(), "{} not found", p.display());
    p
}

fn temp_file(name: &str, body: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nanometrics-exporters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

/// Runs check_exposition.py on `body` (`--openmetrics` or `--text`) and
/// panics with its report unless every check passed. promtool must be
/// installed for the text check (ci/setup.sh installs Debian's prometheus).
pub fn check_exposition(kind: &str, body: &[u8], tag: &str) {
    check_exposition_with(kind, body, tag, false);
}

/// [`check_exposition`], optionally treating promtool lint findings (such as
/// an empty HELP) as notes.
pub fn check_exposition_with(kind: &str, body: &[u8], tag: &str, allow_lint: bool) -> String {
    let flags: &[&str] = if allow_lint { &["--allow-lint"] } else { &[] };
    check_exposition_flags(kind, body, tag, flags)
}

/// [`check_exposition`] with the checker's `flags` (`--allow-lint`,
/// `--le-as-note` for another library's output); returns the report.
pub fn check_exposition_flags(kind: &str, body: &[u8], tag: &str, flags: &[&str]) -> String {
    let path = temp_file(&format!("{tag}{kind}.txt"), body);
    let mut cmd = Command::new(python());
    cmd.arg(checker()).arg(kind).args(flags);
    let out = cmd.arg(&path).output().unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && report.contains("all checks passed"),
        "check_exposition.py {kind} failed on {}:\n{report}",
        path.display()
    );
    if kind == "--text" {
        assert!(
            !report.contains("promtool not found"),
            "promtool is missing (apt-get install prometheus, or run ci/setup.sh)"
        );
    }
    report
}

/// The samples prometheus_client parses out of `body`, one line each (see
/// `parse_exposition.py`), sorted.
pub fn parsed_samples(kind: &str, body: &[u8], tag: &str) -> Vec<String> {
    let path = temp_file(&format!("{tag}{kind}.parse.txt"), body);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse_exposition.py");
    let out = Command::new(python())
        .arg(script)
        .arg(kind)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "parser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

pub fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

pub fn value_bits(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        format!("{:016x}", v.to_bits())
    }
}

/// The sample lines a parser must find for `snap`, in the same shape as
/// `parsed_samples`. `openmetrics` selects the format's naming and `_sum` rules.
pub fn expected_samples(snap: &Snapshot, openmetrics: bool) -> Vec<String> {
    expected_samples_with(snap, openmetrics, false)
}

/// [`expected_samples`], with each counter's, histogram's and summary's
/// `_created` sample when `created`.
pub fn expected_samples_with(snap: &Snapshot, openmetrics: bool, created: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for f in &snap.families {
        for s in &f.series {
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            // OpenMetrics carries exemplars (counters: one; histograms: one
            // per bucket); the text format has none.
            let exemplar = |i: usize| {
                let e = s.exemplars.get(i)?.as_ref()?;
                openmetrics.then(|| exemplar_fields(e))
            };
            let mut push = |name: String,
                            extra: Option<(String, String)>,
                            v: f64,
                            labels: &Vec<(String, String)>,
                            ex: Option<String>| {
                let mut l = labels.clone();
                l.extend(extra);
                l.sort();
                let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={}", hex(v))).collect();
                let mut line = format!("{name}\t{}\t{}", l.join(","), value_bits(v));
                if let Some(ex) = ex {
                    line.push('\t');
                    line.push_str(&ex);
                }
                lines.push(line);
            };
            labels.sort();
            // A collected family's series have no `_created`.
            if created
                && !s.labels.is_collected()
                && matches!(
                    s.value,
                    Value::Counter(_)
                        | Value::FloatCounter(_)
                        | Value::Histogram(_)
                        | Value::Summary(_)
                )
            {
                let secs = s
                    .created
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs_f64();
                let family = nanometrics::names::family_name(&f.name, f.kind);
                push(format!("{family}_created"), None, secs, &labels, None);
            }
            match &s.value {
                Value::Counter(v) => {
                    let name = if f.name.ends_with("_total") {
                        f.name.clone()
                    } else {
                        format!("{}_total", f.name)
                    };
                    push(name, None, *v as f64, &labels, exemplar(0))
                }
                Value::FloatCounter(v) => {
                    let name = if f.name.ends_with("_total") {
                        f.name.clone()
                    } else {
                        format!("{}_total", f.name)
                    };
                    push(name, None, *v, &labels, exemplar(0))
                }
                Value::Summary(d) => {
                    push(
                        format!("{}_count", f.name),
                        None,
                        d.count as f64,
                        &labels,
                        None,
                    );
                    if !openmetrics || d.sum >= 0.0 {
                        push(format!("{}_sum", f.name), None, d.sum, &labels, None);
                    }
                }
                Value::Gauge(v) => push(f.name.clone(), None, *v, &labels, None),
                Value::UpDownCounter(v) => push(f.name.clone(), None, *v as f64, &labels, None),
                Value::Histogram(h) => {
                    for (i, (b, c)) in h.buckets.iter().enumerate() {
                        push(
                            format!("{}_bucket", f.name),
                            Some(("le".into(), le(*b))),
                            *c as f64,
                            &labels,
                            exemplar(i),
                        );
                    }
                    let negative = h.buckets.first().is_some_and(|(b, _)| *b < 0.0);
                    if !openmetrics || (!negative && h.sum >= 0.0) {
                        push(
                            format!("{}_count", f.name),
                            None,
                            h.count as f64,
                            &labels,
                            None,
                        );
                        push(format!("{}_sum", f.name), None, h.sum, &labels, None);
                    }
                }
            }
        }
    }
    lines.sort();
    lines
}

/// An exemplar as `parse_exposition.py` prints it: labels, value bits,
/// and the timestamp as the encoder writes it (seconds, shortest
/// round-trip decimal), split into seconds and nanoseconds as the parser
/// reads it.
fn exemplar_fields(e: &nanometrics::ExemplarSnapshot) -> String {
    let l: Vec<String> = e
        .exemplar
        .labels()
        .map(|(k, v)| format!("{k}={}", hex(v)))
        .collect();
    let secs = e
        .timestamp
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut written = Vec::new();
    nanometrics_exporters::format::write_f64(&mut written, secs);
    let written = String::from_utf8(written).unwrap();
    let (whole, frac) = written.split_once('.').unwrap();
    let stamp = format!("{whole}.{frac:0<9}");
    format!("{}\t{}\t{stamp}", l.join(","), value_bits(e.value))
}

/// How prometheus_client reports an `le` label: the text as written (the
/// parsers keep label values as strings).
fn le(b: f64) -> String {
    let mut out = Vec::new();
    nanometrics_exporters::format::write_le(&mut out, b);
    String::from_utf8(out).unwrap()
}

/// `snap` without the families named with `:` (promtool's linter flags
/// them in the text format).
pub fn without_colon_names(snap: &Snapshot) -> Snapshot {
    Snapshot {
        families: snap
            .families
            .iter()
            .filter(|f| !f.name.contains(':'))
            .cloned()
            .collect(),
    }
}

/// Every metric type, labeled and unlabeled, hostile label values and HELP
/// texts, NaN and infinite gauges, counters above 2^53, histograms with
/// labels and with negative bounds, names with `:`, constant labels, units.
pub fn hostile_registry() -> Registry {
    let r = Registry::new();
    let hostile = [
        "",
        "\"quoted\"",
        "back\\slash",
        "new\nline",
        "emoji 🦀✨",
        "tab\there",
        "{}=,",
        "\\\"\n",
    ];
    let c = r.counter("plain_total", "A plain counter.").unwrap();
    c.inc_by(u64::MAX - 7); // far above 2^53: must stay exact
    r.counter("no_suffix", "Counter named without _total.")
        .unwrap()
        .inc();
    let f = r
        .counter_family(
            "requests_total",
            "Help with \"quotes\", back\\slash and\nnewline.",
            &["path", "code"],
        )
        .unwrap();
    for (i, v) in hostile.iter().enumerate() {
        f.with_labels(&[*v, &format!("{}", 200 + i)])
            .unwrap()
            .inc_by(i as u64 + 1);
    }
    // Exemplars: hostile label values, an empty label set, exactly the
    // 128-character limit, a trace context. (No `"`: prometheus_client's
    // parser toggles quoting on every `"` of an exemplar, escaped or not;
    // `body.rs`'s unit test checks how one is escaped.)
    let ex = |pairs: &[(&str, &str)]| Exemplar::new(pairs.iter().copied()).unwrap();
    let c200 = f.with_labels(&[hostile[0], "200"]).unwrap();
    c200.inc_by_with_exemplar(
        5,
        &ex(&[
            ("trace_id", "back\\slash new\nline"),
            ("user", "emoji 🦀✨ {}=, #"),
        ]),
    );
    f.with_labels(&[hostile[1], "201"])
        .unwrap()
        .inc_by_with_exemplar(1, &ex(&[]));
    let long = "v".repeat(128 - "k".len());
    f.with_labels(&[hostile[2], "202"])
        .unwrap()
        .inc_by_with_exemplar(u64::MAX / 2, &ex(&[("k", &long)]));
    let g = r
        .gauge_family(
            "vllm:gpu_cache_usage_perc",
            "Gauge with a colon name.",
            &["engine"],
        )
        .unwrap();
    for (e, v) in [
        ("nan", f64::NAN),
        ("pinf", f64::INFINITY),
        ("ninf", f64::NEG_INFINITY),
        ("neg0", -0.0),
        ("tiny", 5e-324),
        ("max", f64::MAX),
        ("third", 1.0 / 3.0),
    ] {
        g.with_labels(&[e]).unwrap().set(v);
    }
    r.gauge("small_value", "A tiny value.").unwrap().set(1e-7);
    r.up_down_counter("inflight", "Up-down counter, exposed as a gauge.")
        .unwrap()
        .add(-42);
    let h = r
        .metric("request_duration_seconds", "Latency; HELP with emoji ⏱.")
        .unit("seconds")
        .buckets(Buckets::exponential(0.001, 2.0, 12))
        .family::<nanometrics::Histogram>(&["model"])
        .unwrap();
    for (i, m) in hostile.iter().take(4).enumerate() {
        let hm = h.with_labels(&[*m]).unwrap();
        for k in 0..50 {
            hm.record(0.0003 * (k as f64 + 1.0) * (i as f64 + 1.0));
        }
        // Exemplars in the first bucket, on a bound, in the middle and in
        // +Inf; two into one bucket (the later one stays).
        for v in [0.0001, 0.004, 0.0041, 0.5, 1e9] {
            hm.observe_with_exemplar(v, &Exemplar::for_trace([i as u8 + 1; 16], [0xa5; 8]));
        }
    }
    let big = r
        .histogram(
            "big_le",
            "Bounds at and above 1e6.",
            Buckets::explicit(vec![1.0, 1e6, 2.5e7, 1e12]),
        )
        .unwrap();
    big.record(3e6);
    big.observe_with_exemplar(1e6, &ex(&[("trace_id", "on the bound")]));
    let neg = r
        .histogram(
            "temperature_delta",
            "Negative bounds.",
            Buckets::linear(-10.0, 5.0, 5),
        )
        .unwrap();
    for v in [-12.0, -3.0, 0.0, 4.0, 100.0] {
        neg.record(v);
    }
    neg.observe_with_exemplar(-11.5, &ex(&[("trace_id", "cold")]));
    // Bounds of magnitude 1e6 and more below zero: `le` as Go's %g.
    let far = r
        .histogram(
            "altitude_delta_meters",
            "Large negative bounds.",
            Buckets::explicit(vec![-2.5e7, -1e6, -250000.0, 0.0]),
        )
        .unwrap();
    for v in [-3e7, -2e6, -1e6, 5.0] {
        far.observe(v);
    }
    r.histogram("empty_hist", "No observations.", Buckets::default())
        .unwrap();
    r.counter_family("unused_total", "A family with no series.", &["x"])
        .unwrap();
    let sub = r
        .sub_registry("dynamo_component", &[("dynamo_namespace", "ns \"q\"\n")])
        .unwrap();
    sub.counter("requests_total", "Per component.")
        .unwrap()
        .inc_by(9);
    sub.metric("bytes_sent_bytes_total", "Bytes.")
        .unit("bytes")
        .build::<nanometrics::Counter>()
        .unwrap()
        .inc_by(1024);
    let cpu = r
        .float_counter_family("cpu_seconds_total", "A float counter.", &["mode"])
        .unwrap();
    cpu.with_labels(&["user"]).unwrap().inc_by(0.1);
    cpu.with_labels(&["user"])
        .unwrap()
        .inc_by_with_exemplar(0.2, &ex(&[("span_id", "00f067aa0ba902b7")]));
    cpu.with_labels(&["sys \"k\""]).unwrap().inc_by(1e300);
    r.float_counter("float_whole_total", "Whole steps.")
        .unwrap()
        .inc();
    let sizes = r
        .metric("prompt_size_bytes", "A summary.")
        .unit("bytes")
        .family::<nanometrics::Summary>(&["model"])
        .unwrap();
    for v in [1.0, 2.5, 1e7] {
        sizes.with_labels(&["new\nline"]).unwrap().observe(v);
    }
    r.summary("idle_wait_seconds", "No observations.").unwrap();
    r.summary("temperature_change", "Negative observations.")
        .unwrap()
        .observe(-3.5);
    r.metric("build_info", "Build information.")
        .info_family(&["version", "commit"])
        .unwrap()
        .with_labels(&["1.0 \"rc\"", ""])
        .unwrap()
        .set(1.0);
    let state = r
        .metric("engine_state", "A state set.")
        .state_set_family(&["engine", "engine_state"])
        .unwrap();
    for (s, v) in [("running", 1.0), ("stopped", 0.0), ("draining", 0.0)] {
        state.with_labels(&["e0", s]).unwrap().set(v);
    }
    // A state set named with `:` (engines name metrics `vllm:*`): no label
    // can be named like it, so OpenMetrics gets its gauges.
    let colon = r
        .metric("vllm:engine_state", "A state set with a colon.")
        .state_set_family(&["vllm_engine_state"])
        .unwrap();
    colon.with_labels(&["idle"]).unwrap().set(0.0);
    colon.with_labels(&["busy"]).unwrap().set(1.0);
    collected_families(&r);
    r
}

/// Collected families of every kind (another library's values), with
/// hostile label values, beside the native ones.
fn collected_families(r: &Registry) {
    use nanometrics::{CollectedValue as V, MetricKind as K};
    let set = |name: &str, kind: K, labels: &[&str], series: Vec<(Vec<String>, V)>| {
        r.metric(name, "Collected \\ \"help\".")
            .collected(kind, labels)
            .unwrap()
            .set(series)
            .unwrap();
    };
    let l = |v: &str| vec![v.to_string()];
    set(
        "legacy_requests_total",
        K::Counter,
        &["code"],
        vec![
            (l("2\"00\n"), V::FloatCounter(12.0)),
            (l(""), V::Counter(u64::MAX)),
        ],
    );
    set(
        "legacy_depth",
        K::Gauge,
        &["q"],
        vec![(l("a\\b"), V::Gauge(-0.0))],
    );
    set(
        "legacy_inflight",
        K::UpDownCounter,
        &[],
        vec![(vec![], V::UpDownCounter(-7))],
    );
    set(
        "legacy_latency_seconds",
        K::Histogram,
        &["route"],
        vec![
            (
                l("/x"),
                V::Histogram {
                    buckets: vec![(0.01, 1), (1.0, 1), (1e6, 3), (f64::INFINITY, 4)],
                    sum: 2e6,
                },
            ),
            (
                l("/y"),
                V::Histogram {
                    buckets: vec![(f64::INFINITY, 0)],
                    sum: 0.0,
                },
            ),
        ],
    );
    set(
        "legacy_rpc_seconds",
        K::Summary,
        &[],
        vec![(vec![], V::Summary { count: 3, sum: 1.5 })],
    );
    set(
        "legacy_info",
        K::Info,
        &["v"],
        vec![(l("1.0"), V::Gauge(1.0))],
    );
    set(
        "legacy_mode",
        K::StateSet,
        &["legacy_mode"],
        vec![(l("on"), V::Gauge(1.0)), (l("off"), V::Gauge(0.0))],
    );
}
