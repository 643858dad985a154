//! meshctl as the kubectl plugin: `kubectl mesh …` runs it once it is on `PATH` as `kubectl-mesh`,
//! and its help then speaks of `kubectl mesh`. Runs the real kubectl (Debian's `kubectl`).

#![cfg(unix)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::atomic::{AtomicUsize, Ordering},
};

/// A directory holding only `kubectl-mesh`, a link to the meshctl binary under test.
struct PluginDir(PathBuf);

impl PluginDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("meshctl-kubectl-plugin-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_meshctl"), dir.join("kubectl-mesh")).unwrap();
        Self(dir)
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where kubectl is, or `None` (then the test is skipped, except in CI where it must be there).
fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("kubectl"))
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl is not installed; CI installs it (Debian package `kubectl`)"
        );
        eprintln!("skipped: kubectl is not installed");
    }
    found
}

/// `kubectl <args>` with only the plugin directory and the system directories on `PATH`, no
/// kubeconfig and no `HOME`: plugins need neither.
fn kubectl_with_plugin(kubectl: &Path, args: &[&str]) -> Output {
    let plugins = PluginDir::new();
    let path = std::env::join_paths([plugins.0.as_path(), Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
    Command::new(kubectl)
        .args(args)
        .env_clear()
        .env("PATH", path)
        .output()
        .unwrap()
}

#[test]
fn kubectl_mesh_help_runs_meshctl_as_kubectl_mesh() {
    let Some(kubectl) = kubectl() else { return };
    let out = kubectl_with_plugin(&kubectl, &["mesh", "--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("One command line for Istio, Linkerd and Consul Connect"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Usage: kubectl mesh [OPTIONS] <COMMAND>"),
        "{stdout}"
    );
    assert!(!stdout.contains("meshctl [OPTIONS]"), "{stdout}");
}

#[test]
fn kubectl_mesh_runs_subcommands_and_reports_usage_errors_as_kubectl_mesh() {
    let Some(kubectl) = kubectl() else { return };
    let out = kubectl_with_plugin(
        &kubectl,
        &["mesh", "--mesh", "istio", "split", "api", "v1=90", "v2=10"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: VirtualService"));

    let out = kubectl_with_plugin(&kubectl, &["mesh", "split"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Usage: kubectl mesh split"), "{stderr}");
}

#[test]
fn the_version_line_names_the_plugin() {
    let Some(kubectl) = kubectl() else { return };
    let out = kubectl_with_plugin(&kubectl, &["mesh", "--version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("kubectl-mesh {}", env!("CARGO_PKG_VERSION"))
    );
}
