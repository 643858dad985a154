//! `cargo xtask ci`: formatting, lints, tests, docs, per-crate builds, dependency boundaries,
//! packaging, cargo-deny and the static meshctl, in that order.

use std::{path::Path, process::Command};

use anyhow::{Context, bail};

/// Crates that must never depend on an async runtime, HTTP or Kubernetes.
const PURE_CRATES: &[&str] = &["mesh-core", "mesh-patterns", "mesh-observe"];
/// Workspace members with `publish = false`: never packaged.
pub(crate) const UNPUBLISHED: &[&str] = &["mesh-testkit", "mesh-tests", "xtask"];
/// Crates the pure crates must not pull in.
const FORBIDDEN_IN_PURE: &[&str] = &["tokio", "reqwest", "hyper", "kube"];

pub(crate) fn run() -> anyhow::Result<()> {
    let root = crate::workspace_root()?;
    step(&root, "fmt", &["fmt", "--all", "--", "--check"], &[])?;
    step(
        &root,
        "clippy (all features)",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    step(
        &root,
        "clippy (default features)",
        &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        &[],
    )?;
    step(
        &root,
        "test (all features)",
        &["test", "--workspace", "--all-features"],
        &[],
    )?;
    live_suites(&root)?;
    step(
        &root,
        "test mesh (no backend)",
        &["test", "-p", "mesh", "--no-default-features"],
        &[],
    )?;
    step(
        &root,
        "doc",
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    for krate in workspace_crates(&root)? {
        step(&root, &format!("check -p {krate}"), &["check", "-p", &krate], &[])?;
    }
    for feature in ["istio", "linkerd", "consul", "full", "rollout", "testing"] {
        step(
            &root,
            &format!("check mesh --features {feature}"),
            &[
                "check",
                "-p",
                "mesh",
                "--no-default-features",
                "--features",
                feature,
            ],
            &[],
        )?;
    }
    if root.join("../shared/upstream/crds").is_dir() {
        println!("==> schemas --check");
        crate::schemas::run(true)?;
        println!("==> codegen --check");
        crate::codegen::run(true)?;
    } else {
        println!("==> schemas --check: skipped (../shared/upstream/crds is not beside the checkout)");
    }
    dependency_boundaries(&root)?;
    crate::boundaries::check(&root)?;
    no_ignored_doctests(&root)?;
    crate::package_metadata::check(&root)?;
    package(&root)?;
    deny(&root)?;
    crate::static_binary::run(&root)?;
    println!("==> ci: all steps passed");
    Ok(())
}

/// The `#[ignore]`d live suites, against the real servers `testenv up` starts. In CI they always
/// run; locally `MESH_SKIP_LIVE=1` skips them, and the run says so.
fn live_suites(root: &Path) -> anyhow::Result<()> {
    let skip = std::env::var("MESH_SKIP_LIVE").is_ok_and(|v| v == "1");
    if skip {
        if std::env::var_os("CI").is_some() {
            bail!("MESH_SKIP_LIVE=1 is refused in CI: the live suites must run against real servers");
        }
        println!("==> live suites: SKIPPED (MESH_SKIP_LIVE=1); CI runs them against real servers");
        return Ok(());
    }
    println!(
        "==> testenv up (kube-apiserver + etcd, istiod as its webhook, Consul, istioctl, Zipkin; built once per version)"
    );
    let vars = crate::testenv::up(root)?;
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let result = step(
        root,
        "live suites (real servers)",
        &[
            "test",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
            "--",
            "--ignored",
            // A helper the watchdog test runs in a child process, not a live test.
            "--skip",
            "leaked_server_helper",
        ],
        &env,
    );
    if std::env::var_os("MESH_KEEP_TESTENV").is_none() {
        crate::testenv::run("down")?;
    }
    result
}

/// `cargo xtask bench-math [--reps N] [--window W] [--batch-ms MS] [--cold] [--no-check] [--native]`: runs `xtask/bench_math.py`
/// (numpy/scipy against mesh-observe, interleaved), passing the arguments on.
pub(crate) fn bench_math() -> anyhow::Result<()> {
    let root = crate::workspace_root()?;
    let script = root.join("xtask/bench_math.py");
    if !script.exists() {
        bail!("{} is missing", script.display());
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args(["-c", "import numpy, scipy.signal"])
        .stderr(std::process::Stdio::null())
        .status()
        .with_context(|| format!("running {python}: bench-math needs Python 3 with numpy and scipy"))?;
    if !found.success() {
        bail!(
            "bench-math needs numpy and scipy for {python}: install them with `{python} -m pip install numpy scipy`"
        );
    }
    // Everything after `bench-math` goes to the script.
    let args: Vec<String> = std::env::args().skip(2).collect();
    println!("==> bench-math: {python} xtask/bench_math.py {}", args.join(" "));
    let status = Command::new(&python)
        .arg(&script)
        .args(&args)
        .current_dir(&root)
        .status()
        .with_context(|| format!("running {python}"))?;
    if !status.success() {
        bail!("bench_math.py failed ({status})");
    }
    Ok(())
}

pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn step(root: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    println!("==> {name}: cargo {}", args.join(" "));
    let mut cmd = Command::new(cargo());
    cmd.args(args).current_dir(root);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().with_context(|| format!("starting {name}"))?;
    if !status.success() {
        bail!("step `{name}` failed ({status})");
    }
    Ok(())
}

fn workspace_crates(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let path = entry?.path();
        if path.join("Cargo.toml").exists() {
            out.push(
                path.file_name()
                    .context("crate dir name")?
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    out.sort();
    Ok(out)
}

fn dependency_boundaries(root: &Path) -> anyhow::Result<()> {
    for krate in PURE_CRATES {
        println!("==> dependency boundary: {krate}");
        let output = Command::new(cargo())
            .args([
                "tree",
                "-p",
                krate,
                "-e",
                "normal",
                "--prefix",
                "none",
                "--all-features",
            ])
            .current_dir(root)
            .output()?;
        if !output.status.success() {
            bail!("cargo tree -p {krate} failed");
        }
        let tree = String::from_utf8_lossy(&output.stdout);
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if FORBIDDEN_IN_PURE.contains(&name) {
                bail!(
                    "{krate} depends on {name}; pure crates must stay free of runtimes, HTTP and Kubernetes"
                );
            }
        }
    }
    Ok(())
}

fn no_ignored_doctests(root: &Path) -> anyhow::Result<()> {
    println!("==> tidy: no `ignore` doctests");
    let mut bad = Vec::new();
    visit(&root.join("crates"), &mut |path| {
        if path.extension().is_some_and(|e| e == "rs")
            && let Ok(text) = std::fs::read_to_string(path)
        {
            for (i, line) in text.lines().enumerate() {
                let t = line.trim_start();
                if (t.starts_with("///") || t.starts_with("//!")) && t.contains("```ignore") {
                    bad.push(format!("{}:{}", path.display(), i + 1));
                }
            }
        }
    })?;
    if !bad.is_empty() {
        bail!("`ignore` doctests are banned (use no_run): {}", bad.join(", "));
    }
    Ok(())
}

fn visit(dir: &Path, f: &mut dyn FnMut(&Path)) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                visit(&path, f)?;
            }
        } else {
            f(&path);
        }
    }
    Ok(())
}

/// `cargo xtask package`: every publishable crate packs and builds from its packed copy.
pub(crate) fn package(root: &Path) -> anyhow::Result<()> {
    forget_packed_sources(root)?;
    step(root, "package", &package_args(), &[])
}

/// `cargo package` of every publishable crate: each packs, and its packed copy builds against the
/// other packed copies (not against crates.io, where `mesh` and `mesh-core` are other projects).
/// `--allow-dirty`: CI checks the working tree it is given, as every other step does.
fn package_args() -> Vec<&'static str> {
    let mut args = vec![
        "package",
        "--workspace",
        "--locked",
        "--allow-dirty",
        "--target-dir",
        PACKAGE_TARGET_DIR,
    ];
    for krate in UNPUBLISHED {
        args.extend(["--exclude", krate]);
    }
    args
}

/// The target directory of `cargo package`: its own, so that clearing this workspace's packed crates
/// from it (below) never touches the builds in `target`.
const PACKAGE_TARGET_DIR: &str = "target/package-check";

/// Forgets this workspace's crates from earlier `cargo package` runs. Verification unpacks each
/// packed crate from a local registry into `$CARGO_HOME/registry/src/-<hash>/<name>-<version>`
/// and builds it in [`PACKAGE_TARGET_DIR`]; cargo treats registry crates as immutable, so while
/// the version is unchanged it would reuse both and verify stale code. Local registries are the
/// `src` directories whose name starts with `-` (crates.io's is named after its host). Only
/// entries named after this workspace's crates (`mesh…`, `libmesh…`) are removed; the
/// dependencies stay built.
fn forget_packed_sources(root: &Path) -> anyhow::Result<()> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let mut dirs = Vec::new();
    if let Ok(registries) = std::fs::read_dir(cargo_home.join("registry/src")) {
        for registry in registries {
            let registry = registry?.path();
            if registry
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('-'))
            {
                dirs.push(registry);
            }
        }
    }
    let built = root.join(PACKAGE_TARGET_DIR).join("debug");
    dirs.extend(["deps", ".fingerprint", "build", "incremental"].map(|d| built.join(d)));
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !(name.starts_with("mesh") || name.starts_with("libmesh")) {
                continue;
            }
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// cargo-deny's offline checks. `.ci/run` installs cargo-deny, so CI fails without it; elsewhere a
/// missing cargo-deny is skipped with a message.
fn deny(root: &Path) -> anyhow::Result<()> {
    if !has_cargo_subcommand("deny") {
        if std::env::var_os("CI").is_some() {
            bail!("cargo-deny is not installed (`.ci/run` installs it)");
        }
        println!("==> cargo deny: skipped (not installed; `cargo install cargo-deny --locked`)");
        return Ok(());
    }
    step(
        root,
        "cargo deny",
        &["deny", "check", "bans", "licenses", "sources"],
        &[],
    )?;
    println!(
        "==> cargo deny advisories: not run (they fetch the RustSec advisory database, and CI has no \\
         network beyond the package registries; run `cargo deny check advisories` where it is reachable)"
    );
    Ok(())
}

fn has_cargo_subcommand(name: &str) -> bool {
    Command::new(cargo())
        .args([name, "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}
