//! The static `meshctl` the Dockerfile packs into a `FROM scratch` image, built here with the same
//! target and flags, then checked: `file` must call it statically linked, `ldd` must find no
//! shared library, and it must run (`--version`) with an empty environment.
//!
//! No image is built (that needs a registry to pull the builder from); the binary is what matters.

use std::{path::Path, process::Command};

use anyhow::{Context as _, bail};

/// The target the Dockerfile builds for. Only the glibc target is installed on the CI machine, so
/// the C runtime is linked statically into it rather than using musl.
pub(crate) const TARGET: &str = "x86_64-unknown-linux-gnu";
/// The `RUSTFLAGS` of that build (with `--target`, they do not reach build scripts or proc macros).
pub(crate) const RUSTFLAGS: &str = "-C target-feature=+crt-static";

/// Builds the binary and checks it.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let args = [
        "build",
        "--locked",
        "--release",
        "-p",
        "meshctl",
        "--target",
        TARGET,
    ];
    println!(
        "==> static meshctl: RUSTFLAGS=\"{RUSTFLAGS}\" cargo {}",
        args.join(" ")
    );
    let status = Command::new(crate::ci::cargo())
        .args(args)
        .env("RUSTFLAGS", RUSTFLAGS)
        .current_dir(root)
        .status()
        .context("starting cargo build")?;
    if !status.success() {
        bail!("the static meshctl build failed ({status})");
    }
    // Where cargo put it: CARGO_TARGET_DIR (relative to the root, where cargo ran) or `target`.
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir));
    check(&target_dir.join(TARGET).join("release/meshctl"))
}

/// `binary` is statically linked and runs with nothing from the environment.
fn check(binary: &Path) -> anyhow::Result<()> {
    let file = output("file", &[binary.as_os_str()])?;
    if !is_static_per_file(&file) {
        bail!("{} is not statically linked: {file}", binary.display());
    }
    let ldd = Command::new("ldd").arg(binary).output().context("running ldd")?;
    let ldd_text = String::from_utf8_lossy(&[ldd.stdout, ldd.stderr].concat()).into_owned();
    if ldd.status.success() && !ldd_text.contains("statically linked") {
        bail!("ldd finds shared libraries in {}: {ldd_text}", binary.display());
    }
    let version = Command::new(binary)
        .arg("--version")
        .env_clear()
        .output()
        .context("running the static meshctl")?;
    let version_text = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    if !version.status.success() || !version_text.starts_with("meshctl ") {
        bail!("the static meshctl does not run: {version:?}");
    }
    println!(
        "==> static meshctl: {file}; ldd: {}; {version_text}",
        ldd_text.trim()
    );
    Ok(())
}

/// What `file` says of a static executable ("static-pie linked" or "statically linked").
fn is_static_per_file(description: &str) -> bool {
    description.contains("statically linked") || description.contains("static-pie linked")
}

fn output(program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!("{program} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dockerfile_builds_with_the_target_and_flags_ci_checks() {
        let dockerfile =
            std::fs::read_to_string(crate::workspace_root().unwrap().join("Dockerfile")).unwrap();
        assert!(
            dockerfile.contains(&format!("ENV RUSTFLAGS=\"{RUSTFLAGS}\"")),
            "RUSTFLAGS drifted"
        );
        assert!(
            dockerfile.contains(&format!(
                "cargo build --locked --release -p meshctl --target {TARGET}"
            )),
            "the build command drifted"
        );
        assert!(dockerfile.contains(&format!("target/{TARGET}/release/meshctl")));
        assert!(
            dockerfile.contains("FROM scratch"),
            "the image holds only the binary"
        );
    }

    #[test]
    fn file_descriptions_of_static_and_dynamic_executables() {
        assert!(is_static_per_file(
            "meshctl: ELF 64-bit LSB pie executable, x86-64, version 1 (GNU/Linux), static-pie linked, stripped"
        ));
        assert!(is_static_per_file(
            "meshctl: ELF 64-bit LSB executable, x86-64, statically linked"
        ));
        assert!(!is_static_per_file(
            "meshctl: ELF 64-bit LSB pie executable, x86-64, dynamically linked, interpreter /lib64/ld-linux-x86-64.so.2"
        ));
    }
}
