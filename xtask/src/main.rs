//! Project automation, run as `cargo xtask <task>`.
//!
//! - `ci`: everything CI checks, in order (see [`ci::run`]).
//! - `schemas [--check]`: refreshes (or checks) the in-project copies of the upstream CRD schemas.
//! - `codegen [--check]`: regenerates (or checks) the kopium types of the CRDs the backends write.
//! - `bench-math`: mesh-observe's math against numpy/scipy, side by side.
//! - `bench-rollouts [--rollouts N] [--interval-ms MS] [--fake]`: concurrent rollouts through
//!   one controller, on the test environment's API server (or in memory with `--fake`): peak RSS, cores,
//!   requests per stage, time.
//! - `testenv up|down|status|build`: real control planes on loopback for the live suites.
//! - `core-schemas OPENAPI_V3_JSON`: the core kinds' schemas, from the API server's OpenAPI.
//! - `man`: rewrites meshctl's man page from its clap definition (see [`man`]).
//! - `package`: `cargo package` of every publishable crate, verified (see [`ci::package`]).
//! - `static-meshctl`: the Dockerfile's static meshctl, built and checked (see [`static_binary`]).
#![allow(clippy::print_stdout)] // A command-line tool reports on stdout.

mod bench_rollouts;
mod boundaries;
mod ci;
mod codegen;
mod core_schemas;
mod man;
mod package_metadata;
mod schemas;
mod static_binary;
mod testenv;

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;

/// The workspace root: the parent of the folder this xtask was built from.
pub(crate) fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(manifest
        .parent()
        .context("xtask has no parent directory")?
        .to_path_buf())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("schemas") => schemas::run(check),
        Some("codegen") => codegen::run(check),
        Some("bench-math") => ci::bench_math(),
        Some("bench-rollouts") => bench_rollouts::run(&args[1..]),
        Some("man") => man::run(),
        Some("package") => workspace_root().and_then(|root| ci::package(&root)),
        Some("static-meshctl") => workspace_root().and_then(|root| static_binary::run(&root)),
        Some("core-schemas") => match args.get(1) {
            Some(path) => core_schemas::run(std::path::Path::new(path)),
            None => {
                eprintln!("usage: cargo xtask core-schemas OPENAPI_V3_JSON (see xtask/src/core_schemas.rs)");
                return ExitCode::from(2);
            }
        },
        Some("testenv") => match args.get(1).map(String::as_str) {
            Some(action @ ("up" | "down" | "status" | "build")) => testenv::run(action),
            _ => {
                eprintln!("usage: cargo xtask testenv <up|down|status|build>");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|schemas [--check]|codegen [--check]|man|package|static-meshctl|bench-math|bench-rollouts|testenv up|down|status>"
            );
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
