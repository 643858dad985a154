//! `cargo xtask bench-rollouts [--rollouts N] [--interval-ms MS] [--fake] [--watch-cache]`: many
//! concurrent canary rollouts through one controller (mesh-rollout's `bench_rollouts` example,
//! built with `--release`), on the test environment's API server (`eval "$(cargo xtask testenv
//! up)"` first), there once reading the server and once reading watched copies (only the latter
//! with `--watch-cache`), or with `--fake` on the in-memory mesh; with the machine's load before
//! and after each, since the machine is shared. The example's last line is machine-readable.

use std::process::Command;

use anyhow::bail;

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let root = crate::workspace_root()?;
    // On the real server: reads from the server, then reads from watched copies, in this one run.
    let real = !args.iter().any(|a| a == "--fake");
    if real && std::env::var_os("MESH_E2E_KUBECONFIG").is_none() {
        bail!(
            "bench-rollouts runs on the test environment's API server: eval \"$(cargo xtask testenv up)\" first, or pass --fake for the in-memory mesh"
        );
    }
    let watched = args.iter().any(|a| a == "--watch-cache");
    let variants: Vec<Vec<String>> = if real && !watched {
        vec![args.to_vec(), [args, &["--watch-cache".to_owned()]].concat()]
    } else {
        vec![args.to_vec()]
    };
    for variant in variants {
        println!("==> load average before: {}", load());
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "mesh-rollout",
                "--example",
                "bench_rollouts",
                "--",
            ])
            .args(&variant)
            .status()?;
        println!("==> load average after: {}", load());
        if !status.success() {
            bail!("bench_rollouts failed: {status}");
        }
    }
    Ok(())
}
