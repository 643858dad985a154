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

/// A loopback HTTP server that answers every request with `body` (JSON), for as long as the test
/// process runs; its `http://127.0.0.1:PORT` address.
pub fn canned_json_server(body: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            // One request per connection: read its head, answer, close.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// Subcommands that render a change with no cluster, as a user types them.
pub fn change_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["register", "reviews", "--port", "9080"],
        vec![
            "register",
            "ratings",
            "--port",
            "9080",
            "--endpoint",
            "10.0.0.12:9080",
        ],
        vec![
            "route",
            "reviews",
            "--to",
            "v2",
            "--default",
            "v1",
            "--path-prefix",
            "/api",
        ],
        vec!["destination", "reviews", "--subset", "v1", "--subset", "v2"],
        vec!["split", "reviews", "v1=90", "v2=10"],
        // Versions as people write them: label values, mapped to subset names.
        vec!["split", "reviews", "1.2.0=90", "1.3.0=10"],
        vec![
            "circuit-breaker",
            "reviews",
            "--consecutive-errors",
            "5",
            "--interval",
            "30s",
        ],
        vec!["retry", "reviews", "--attempts", "3", "--per-try-timeout", "2s"],
        vec!["mtls"],
        vec![
            "authz",
            "api-auth",
            "--service",
            "reviews",
            "--from-principal",
            "prod/frontend",
            "--method",
            "GET",
        ],
        vec!["fault", "inject", "reviews", "--delay", "3s", "--percent", "10"],
        vec!["fault", "inject", "reviews", "--abort", "503", "--percent", "10"],
        vec!["quickstart"],
        vec![
            "rollout", "canary", "reviews", "--stable", "v1", "--canary", "v2", "--steps", "10,50",
        ],
    ]
}

/// Renders a change subcommand on Consul as consul-k8s resources (`--consul-crds`), in the
/// `default` namespace, with breakers set on a `frontend` caller.
pub fn render_consul_crds(args: &[&str]) -> Run {
    let mut all = vec![
        "--mesh",
        "consul",
        "-n",
        "default",
        "--consul-crds",
        "--consul-lua-faults",
    ];
    all.extend(args);
    if args[0] == "circuit-breaker" {
        all.extend(["--caller", "frontend"]);
    }
    meshctl(&all, &[])
}

/// The running rollout's process, killed if the test fails before it ends.
pub struct Runner(pub std::process::Child);

impl Runner {
    /// Sends SIGINT (Ctrl-C), waits, checks the exit code is 130 and returns stderr.
    pub fn interrupt(&mut self) -> String {
        let killed = std::process::Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = self.wait();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        stderr
    }

    pub fn wait(&mut self) -> std::process::Output {
        let status = self.0.wait().unwrap();
        let mut stderr = Vec::new();
        if let Some(mut e) = self.0.stderr.take() {
            std::io::Read::read_to_end(&mut e, &mut stderr).unwrap();
        }
        std::process::Output {
            status,
            stdout: Vec::new(),
            stderr,
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}
