//! `cargo xtask bench-rollouts [--rollouts N] [--interval-ms MS] [--fake] [--watch-cache]
//! [--steps W,W,..] [--steady]`: many concurrent canary rollouts through one controller
//! (mesh-rollout's `bench_rollouts` example, built with `--release`), on the test environment's
//! API server (`eval "$(cargo xtask testenv up)"` first), there once reading the server and once
//! reading watched copies (only the latter with `--watch-cache`), or with `--fake` on the
//! in-memory mesh; with the machine's load before and after each, since the machine is shared.
//! The example's last line is machine-readable.
//!
//! `--steady` measures what one more steady stage costs: it runs the same rollouts twice, with
//! steps 10,50 and with steps 10,20,30,40,50, and divides the difference of the requests by the
//! three stages more per rollout (`steady_requests_per_stage=`).

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
    if args.iter().any(|a| a == "--steady") {
        return steady(&root, args);
    }
    let variants: Vec<Vec<String>> = if real && !watched {
        vec![args.to_vec(), [args, &["--watch-cache".to_owned()]].concat()]
    } else {
        vec![args.to_vec()]
    };
    for variant in variants {
        example(&root, &variant)?;
    }
    Ok(())
}

/// Runs the example once with `args`, its output shown as it comes; its last line.
fn example(root: &std::path::Path, args: &[String]) -> anyhow::Result<String> {
    println!("==> load average before: {}", load());
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
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
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{stdout}");
    println!("==> load average after: {}", load());
    if !output.status.success() {
        bail!("bench_rollouts failed: {}", output.status);
    }
    Ok(stdout.lines().last().unwrap_or_default().to_owned())
}

/// A `key=value` field of the example's last line.
fn field(line: &str, key: &str) -> anyhow::Result<f64> {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {key}= in {line:?}"))
}

/// `--steady`: the same rollouts with two and with five steps; the difference of the requests
/// over the three stages more per rollout is what a steady stage costs.
fn steady(root: &std::path::Path, args: &[String]) -> anyhow::Result<()> {
    let base: Vec<String> = args.iter().filter(|a| *a != "--steady").cloned().collect();
    let with = |steps: &str| [base.clone(), vec!["--steps".to_owned(), steps.to_owned()]].concat();
    let short = example(root, &with("10,50"))?;
    let long = example(root, &with("10,20,30,40,50"))?;
    let rollouts = field(&short, "rollouts")?;
    let extra = field(&long, "requests")? - field(&short, "requests")?;
    let stages = (field(&long, "stages_per_rollout")? - field(&short, "stages_per_rollout")?) * rollouts;
    println!(
        "steady_requests_per_stage={:.2} (({} - {}) requests / {stages} more stages)",
        extra / stages,
        field(&long, "requests")?,
        field(&short, "requests")?
    );
    Ok(())
}
