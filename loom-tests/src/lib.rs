//! loom models of every concurrent primitive in nanometrics.
//!
//! The models live in `tests/`, one file per primitive, and only compile
//! with `RUSTFLAGS="--cfg nanometrics_loom"`; run them with `ci/loom.sh`.
//! Without that cfg this crate is empty, so `cargo test --workspace` skips it.
//!
//! Models never update a sharded metric from the model's main thread (see
//! `run_model`). They create their registry and metrics on the model's main thread
//! before spawning: the registry's own bookkeeping (a `std` mutex, `arc-swap`)
//! is not what is being modelled, the shard protocol is.

/// Runs `f` as a loom model named `name` (printed on failure), with the
/// preemption bound taken from `LOOM_MAX_PREEMPTIONS` (default 2).
///
/// A handle dropped on a thread parks its series reference there until the
/// thread drops another series' handle, exits or calls
/// `nanometrics::diagnostics::release_parked_handles()`. Loom runs a thread's exit after
/// `join` returns, and this harness waits only for threads that updated a
/// metric: a model that needs a series freed at some point, or a spawned
/// thread that never updates but drops handles, calls that function on the
/// thread first.
#[cfg(nanometrics_loom)]
pub fn run_model(name: &'static str, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    eprintln!("loom model: {name}");
    builder.check(move || {
        f();
        // Handles dropped on the main thread parked their references there;
        // its thread-locals outlive loom's statics (below).
        nanometrics::diagnostics::release_parked_handles();
        // loom's `join` returns before the joined thread's thread-locals are
        // destroyed (std's waits), and loom drops its statics before the
        // main thread's thread-locals. Wait here until every spawned thread
        // has folded and unlinked its block, so no destructor outlives the
        // shard state. (Models never write from the main thread for the same
        // reason: its block would only be dropped after the statics.)
        while nanometrics::diagnostics::live_shard_threads() > 0 {
            loom::thread::yield_now();
        }
    });
}
