//! `cargo xtask`: the workspace's developer tasks.
//!
//! - `cargo xtask codegen [--check]`: generate `kafka-protocol/src/messages/` from the JSON
//!   specs in `../shared/kafka-message-spec/` (or `$KAFKA_MESSAGE_SPEC_DIR`); `--check` fails
//!   when the committed output is stale.
//! - `cargo xtask test`: everything CI runs (see `test_cmd.rs`).

mod codegen;
mod golden;
mod install;
mod test_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR for the process too; prefer it over the compile-time
    // value, which is stale when one target dir is shared by two checkouts (cargo may reuse a
    // binary built in the other one, which would then test the wrong tree).
    let here = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("codegen") => codegen::run(&args[1..]),
        Some("test") => test_cmd::run(&args[1..]),
        Some("golden-capture") => golden::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <codegen [--check] | test [--no-install] [--skip-clippy] [--skip-conformance]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
