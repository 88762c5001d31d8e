//! Shared by core's tests that run the examples as a reader would.

use std::process::Command;

/// `cargo run --quiet --example <name> -p nanometrics --`, from this
/// package's directory; append the example's own arguments.
pub fn cargo_example(name: &str) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "run",
        "--quiet",
        "--example",
        name,
        "-p",
        "nanometrics",
        "--",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}
