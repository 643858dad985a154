//! Project automation, run as `cargo xtask <task>`.
#![allow(clippy::print_stdout)] // A command-line tool reports on stdout.
//!
//! - `ci`: everything CI checks, in order (see [`ci::run`]).
//! - `bench-math`: mesh-observe's math against numpy/scipy, side by side.

mod ci;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("bench-math") => ci::bench_math(),
        _ => {
            eprintln!("usage: cargo xtask <ci|bench-math>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
