//! The quickstart example runs and prints what it says it does: it is
//! built and run with `cargo run --example quickstart`, as a reader would.

mod common;

#[test]
fn quickstart_runs_and_prints_its_metrics() {
    let out = common::cargo_example("quickstart")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "quickstart failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    for want in [
        "requests_total{model=\"llama\",status=\"ok\"} 8",
        "requests_total{model=\"llama\",status=\"error\"} 2",
        "request_duration_seconds_count 10",
        "queue_depth 1.0",
    ] {
        assert!(lines.contains(&want), "{want:?} missing from:\n{stdout}");
    }
}
