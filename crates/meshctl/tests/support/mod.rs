//! Running the real `meshctl` binary from a test, in a clean environment: no control plane,
//! telemetry source, kubeconfig or log filter from the machine running the tests.

#![allow(dead_code, unreachable_pub)] // Shared by several test binaries; each uses a part.

/// Every variable meshctl reads that the machine may have set.
const CLEARED: [&str; 11] = [
    "CONSUL_HTTP_ADDR",
    "CONSUL_HTTP_TOKEN",
    "PROMETHEUS_URL",
    "TRACING_URL",
    "TRACING_KIND",
    "KIALI_URL",
    "KIALI_TOKEN",
    "KUBECONFIG",
    "RUST_LOG",
    "NO_COLOR",
    "MESH_SKIP_LIVE",
];

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `meshctl args` with `env` set over a cleared environment (and a `HOME` without a
/// kubeconfig), for at most a minute.
pub fn meshctl(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("meshctl").unwrap();
    for v in CLEARED {
        cmd.env_remove(v);
    }
    cmd.env("HOME", "/nonexistent-home-for-meshctl-tests");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Feeds `rendered` to `meshctl validate -`; the validator's report when it fails.
pub fn validate(rendered: &str) -> Result<(), String> {
    let out = assert_cmd::Command::cargo_bin("meshctl")
        .unwrap()
        .args(["validate", "-"])
        .write_stdin(rendered.to_owned())
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
