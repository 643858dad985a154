//! A real Prometheus (Debian's 2.42 `prometheus` + `promtool`) over a TSDB backfilled from an
//! OpenMetrics text, on a free loopback port, stopped by PID when dropped.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// A running Prometheus. Dropping it kills the process (by its PID) and removes the data.
pub(crate) struct PromServer {
    child: Child,
    dir: PathBuf,
    pub(crate) url: String,
}

fn binary(env: &str, name: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| name.to_owned())
}

impl PromServer {
    /// Backfills `openmetrics` with promtool and starts Prometheus on it. `None` when
    /// `MESH_SKIP_PROMETHEUS=1`; panics with what to install when the binaries are missing.
    pub(crate) fn start(openmetrics: &str) -> Option<Self> {
        if std::env::var("MESH_SKIP_PROMETHEUS").is_ok_and(|v| v == "1") {
            eprintln!("MESH_SKIP_PROMETHEUS=1: skipping the real-Prometheus test");
            return None;
        }
        let prometheus = binary("PROMETHEUS_BIN", "prometheus");
        let promtool = binary("PROMTOOL_BIN", "promtool");
        for bin in [&prometheus, &promtool] {
            if Command::new(bin).arg("--version").output().is_err() {
                panic!(
                    "`{bin}` was not found. Install Prometheus (Debian/Ubuntu: `apt-get install -y prometheus`, \
                     which also provides promtool), point PROMETHEUS_BIN/PROMTOOL_BIN at the binaries, or set \
                     MESH_SKIP_PROMETHEUS=1 to skip this test."
                );
            }
        }
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("mesh-telemetry-prom-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let om = dir.join("data.om");
        std::fs::write(&om, openmetrics).unwrap();
        let data = dir.join("data");
        let out = Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&om)
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // No scrape jobs: the TSDB holds only the backfilled data (no wall-clock block that would
        // make retention delete it).
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 15s\nscrape_configs: []\n").unwrap();
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=100y")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = PromServer {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready(port);
        Some(server)
    }

    fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
                panic!("prometheus exited with {status} before it was ready:\n{log}");
            }
            if ready(port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready on port {port} after 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `GET /-/ready` answered 200 (plain std HTTP/1.0, no async runtime needed).
fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /-/ready HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200")
}

impl Drop for PromServer {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
