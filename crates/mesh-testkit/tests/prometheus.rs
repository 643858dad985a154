//! The harness against the real binaries: backfilled data is served and exact, a dropped server
//! is gone, and a server the process never drops is stopped by the watchdog when the process ends.
//! Without the binaries the tests fail with what to install, unless `MESH_SKIP_PROMETHEUS=1`.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use mesh_testkit::{Kind, OpenMetrics, Prometheus, Timeline, accumulate};

const T0: u64 = 1_704_067_200;

fn data() -> String {
    let mut om = OpenMetrics::new(Timeline::new(T0, 15, 40));
    om.family("requests", Kind::Counter)
        // 30 per step for 20 steps, then 60 per step.
        .series(
            "requests_total",
            &[("code", "200")],
            accumulate(|i| if i <= 20 { 30.0 } else { 60.0 }),
        );
    om.finish()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// Waits (up to 10 s) for `pid` to be gone or a zombie.
fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn serves_backfilled_rates_and_stops_on_drop() {
    let Some(prom) = Prometheus::start(&data()) else {
        return;
    };
    // A closed 60 s window on the 15 s grid: exact per-phase rates (2 and 4 per second).
    for (at, rate) in [(T0 + 300, "2"), (T0 + 600, "4")] {
        let (status, body) = prom.query("sum(rate(requests_total[60s]))", at).unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(&format!(",\"{rate}\"]")), "at {at}: {body}");
    }
    let (pid, port) = (prom.pid(), prom.port());
    drop(prom);
    assert!(gone(pid), "prometheus {pid} still running after drop");
    assert!(mesh_testkit::get(port, "/-/ready").is_err());
}

/// Run by [`a_server_never_dropped_is_stopped_when_the_process_exits`] in a child process.
#[test]
#[ignore = "helper: run in a child process by the watchdog test"]
fn leaked_server_helper() {
    let Some(prom) = Prometheus::start(&data()) else {
        return;
    };
    eprintln!("LEAKED_PID={}", prom.pid());
    std::mem::forget(prom);
    std::process::exit(0);
}

#[test]
fn a_server_never_dropped_is_stopped_when_the_process_exits() {
    if mesh_testkit::skip_requested() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "leaked_server_helper", "--nocapture"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pid: u32 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("LEAKED_PID="))
        .unwrap_or_else(|| panic!("helper printed no PID:\n{stderr}"))
        .parse()
        .unwrap();
    assert!(gone(pid), "the watchdog did not stop prometheus {pid}");
}
