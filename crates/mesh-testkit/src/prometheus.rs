//! A real Prometheus over a TSDB backfilled by `promtool`, on a free loopback port.

use std::{
    io::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use crate::http;

/// Set to `1` to skip tests that need a real Prometheus when the binaries are not installed.
pub const SKIP_ENV: &str = "MESH_SKIP_PROMETHEUS";

/// True when [`SKIP_ENV`] is `1`.
pub fn skip_requested() -> bool {
    std::env::var(SKIP_ENV).is_ok_and(|v| v == "1")
}

/// How long Prometheus may take to answer `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Prometheus serving backfilled data only (no scrape jobs, 100 years of retention so
/// that old synthetic data is kept).
///
/// Dropping it kills the process by its PID and removes its data. A small `sh` watchdog holding
/// the read end of a pipe stops it too when the test process ends without dropping it.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    watchdog: Option<(Child, ChildStdin)>,
    dir: PathBuf,
    port: u16,
    url: String,
}

fn binary(env: &str, name: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| name.to_owned())
}

impl Prometheus {
    /// Backfills `openmetrics` with `promtool tsdb create-blocks-from openmetrics` and starts
    /// Prometheus on it, waiting until `/-/ready` answers.
    ///
    /// The binaries are `prometheus` and `promtool` from `PATH`, or `PROMETHEUS_BIN` and
    /// `PROMTOOL_BIN`. Returns `None` when `MESH_SKIP_PROMETHEUS=1`.
    ///
    /// ```no_run
    /// use mesh_testkit::{Kind, OpenMetrics, Prometheus, Timeline};
    /// let mut om = OpenMetrics::new(Timeline::new(1_704_067_200, 15, 20));
    /// om.family("up", Kind::Gauge).series("up", &[("job", "x")], |_| 1.0);
    /// let Some(prom) = Prometheus::start(&om.finish()) else { return };
    /// let (status, body) = prom.query("up", 1_704_067_500).unwrap();
    /// assert_eq!(status, 200);
    /// assert!(body.contains(r#""job":"x""#));
    /// ```
    ///
    /// # Panics
    /// When the binaries are missing (saying what to install), when `promtool` rejects the text,
    /// or when Prometheus exits or is not ready within 30 s (with its log).
    pub fn start(openmetrics: &str) -> Option<Self> {
        if skip_requested() {
            eprintln!("{SKIP_ENV}=1: skipping the real-Prometheus test");
            return None;
        }
        let prometheus = binary("PROMETHEUS_BIN", "prometheus");
        let promtool = binary("PROMTOOL_BIN", "promtool");
        for bin in [&prometheus, &promtool] {
            if Command::new(bin).arg("--version").output().is_err() {
                panic!(
                    "`{bin}` was not found. Install Prometheus (Debian/Ubuntu: `apt-get install -y prometheus`, \
                     which also provides promtool), point PROMETHEUS_BIN/PROMTOOL_BIN at the binaries, or set \
                     {SKIP_ENV}=1 to skip this test."
                );
            }
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("mesh-testkit-prom-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch folder");
        let data = dir.join("data");
        backfill(&promtool, &dir, openmetrics, &data);
        // No scrape jobs: the TSDB holds only the backfilled data (no wall-clock block that would
        // make retention delete it).
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 15s\nscrape_configs: []\n")
            .expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("create the log");
        let child = Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=100y")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{prometheus}`: {e}"));
        let watchdog = watchdog(child.id(), &dir);
        let mut server = Self {
            child,
            watchdog,
            dir,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready();
        Some(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path_and_query` on the server (see [`crate::get`]).
    ///
    /// # Errors
    /// Connection or I/O errors.
    pub fn get(&self, path_and_query: &str) -> std::io::Result<(u16, String)> {
        http::get(self.port, path_and_query)
    }

    /// An instant query evaluated at `time` (Unix seconds): the status and the JSON body.
    ///
    /// # Errors
    /// Connection or I/O errors.
    pub fn query(&self, promql: &str, time: u64) -> std::io::Result<(u16, String)> {
        self.get(&format!(
            "/api/v1/query?query={}&time={time}",
            http::url_encode(promql)
        ))
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
                panic!("prometheus exited with {status} before it was ready:\n{log}");
            }
            if matches!(self.get("/-/ready"), Ok((200, _))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready on port {} after {READY_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // The watchdog first, so it never signals a PID that may have been reused.
        if let Some((mut dog, stdin)) = self.watchdog.take() {
            let _ = dog.kill();
            let _ = dog.wait();
            drop(stdin);
        }
        // Child::kill sends SIGKILL to this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes `openmetrics` next to the data and turns it into TSDB blocks in `data`.
fn backfill(promtool: &str, dir: &Path, openmetrics: &str, data: &Path) {
    let om = dir.join("data.om");
    std::fs::write(&om, openmetrics).expect("write the OpenMetrics file");
    let out = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(data)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{promtool}`: {e}"));
    assert!(
        out.status.success(),
        "promtool failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local address").port()
}

/// `sh` blocked reading a pipe whose write end only this process holds: when the process ends
/// (even without running destructors, as for a server kept in a `static`), the read returns, and
/// the watchdog kills Prometheus by its PID and removes the scratch folder. `None` without `sh`.
fn watchdog(pid: u32, dir: &Path) -> Option<(Child, ChildStdin)> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"read -r _ ; kill -9 "$1" 2>/dev/null ; sleep 1 ; rm -rf -- "$2""#)
        .arg("mesh-testkit-watchdog")
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    // Nothing is written until the end; a flush makes sure the pipe is open.
    let _ = stdin.flush();
    Some((child, stdin))
}
