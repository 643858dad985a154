//! Operators' commands on a rollout in progress, through the real binary and the Consul double:
//! `rollout status|pause|resume|abort`, and Ctrl-C on a running `rollout canary`, which holds the
//! weights, releases the rollout (exit 130) and lets an operator end it.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use mesh_consul::{ConsulVersion, testing::FakeConsul};

use crate::support;

use support::{Run, Runner};

fn meshctl(addr: &str, args: &[&str]) -> Run {
    let mut all = vec!["--mesh", "consul", "-n", "default"];
    all.extend(args);
    support::meshctl(&all, &[("CONSUL_HTTP_ADDR", addr)])
}

fn state(addr: &str) -> serde_json::Value {
    let r = meshctl(addr, &["rollout", "status", "api", "-o", "json"]);
    // 0 while running or promoted, 3 once rolled back, 4 held: as the rollout itself exits.
    assert!([0, 3, 4].contains(&r.code), "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// Asserts that `rollout status api` (the human summary) shows every one of `parts`.
fn status_shows(addr: &str, parts: &[&str]) {
    let status = meshctl(addr, &["rollout", "status", "api"]);
    for part in parts {
        assert!(status.stdout.contains(part), "no {part:?} in:\n{}", status.stdout);
    }
}

/// A `rollout canary api` runner on the double at `addr`, once its first stage has landed (it
/// then waits out its 30-minute interval).
fn runner_at_first_stage(addr: &str) -> Runner {
    let runner = Runner(
        Command::new(assert_cmd::cargo::cargo_bin("meshctl"))
            .env("CONSUL_HTTP_ADDR", addr)
            .env_remove("CONSUL_HTTP_TOKEN")
            .env("PROMETHEUS_URL", "http://127.0.0.1:9")
            .args(["--mesh", "consul", "-n", "default", "--target", "apply"])
            .args(["rollout", "canary", "api", "--stable", "v1", "--canary", "v2"])
            .args(["--steps", "10,50", "--interval", "30m", "--runner", "ci"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = meshctl(addr, &["rollout", "status", "api", "-o", "json"]);
        if r.code == 0
            && serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["stage_applied"] == true
        {
            return runner;
        }
        assert!(
            Instant::now() < deadline,
            "the first stage never landed: {}",
            r.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `abort --force` under a live runner ends the rollout at once; Ctrl-C on that runner then says
/// it had ended and exits 130 (it exited 1 with "running rollout not found").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_after_a_forced_abort_reports_the_end() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 18, 0)).await;
    let addr = fake.url().to_string().trim_end_matches('/').to_owned();
    tokio::task::spawn_blocking(move || {
        let mut runner = runner_at_first_stage(&addr);
        let abort = meshctl(&addr, &["rollout", "abort", "api", "--force"]);
        assert_eq!(abort.code, 3, "{}", abort.stderr);
        let stderr = runner.interrupt();
        assert!(stderr.contains("had already ended (rolledback)"), "{stderr}");
        assert_eq!(state(&addr)["outcome"], "rolled_back");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_holds_and_releases_and_operators_pause_resume_and_abort() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 18, 0)).await;
    let addr = fake.url().to_string().trim_end_matches('/').to_owned();
    let addr2 = addr.clone();
    tokio::task::spawn_blocking(move || {
        let addr = addr2;
        let mut runner = runner_at_first_stage(&addr);
        status_shows(&addr, &["running", "1 of 2", "v1=90 v2=10"]);

        // Pause and resume, from another process.
        assert_eq!(meshctl(&addr, &["rollout", "pause", "api"]).code, 0);
        assert_eq!(state(&addr)["paused"], true);
        assert_eq!(meshctl(&addr, &["rollout", "resume", "api"]).code, 0);
        assert!(state(&addr).get("paused").is_none());

        // A promotion requested of the runner, which Ctrl-C then stops before its next step.
        let requested = meshctl(&addr, &["rollout", "promote", "api"]);
        assert_eq!(requested.code, 0, "{}", requested.stderr);
        assert_eq!(state(&addr)["requested"], "promote");

        // Ctrl-C: traffic held at stage 1, the rollout released, exit 130; the pending request
        // is said to be left undone, and status shows no runner.
        let stderr = runner.interrupt();
        assert!(stderr.contains("released"), "{stderr}");
        assert!(
            stderr.contains("promote requested before") && stderr.contains("--force"),
            "{stderr}"
        );
        let held = state(&addr);
        assert_eq!(
            (held["released"].clone(), held["stage"].clone()),
            (true.into(), 0.into())
        );
        assert!(held["outcome"].is_null());
        status_shows(
            &addr,
            &[
                "released (no runner), promote requested",
                "none (ci let go)",
                "v1=90 v2=10",
            ],
        );

        // No runner holds it: abort acts on the spot, all traffic to v1, exit 3 (rolled back).
        let abort = meshctl(&addr, &["rollout", "abort", "api"]);
        assert_eq!(abort.code, 3, "{}", abort.stderr);
        let ended = state(&addr);
        assert_eq!(ended["outcome"], "rolled_back");
        assert!(
            ended["events"].as_array().unwrap().last().unwrap()["reason"]
                .as_str()
                .unwrap()
                .starts_with("aborted by"),
            "{ended}"
        );
        // Status shows the weights the abort left, not the stage's.
        status_shows(&addr, &["v1=100 v2=0"]);
        // Ending it again is refused; strategy flags on a command are refused.
        assert_eq!(meshctl(&addr, &["rollout", "abort", "api"]).code, 1);
        let mixed = meshctl(&addr, &["rollout", "status", "api", "--stable", "v1"]);
        assert_eq!(mixed.code, 2, "{}", mixed.stderr);
    })
    .await
    .unwrap();
    // The splitter sends everything to v1.
    let splitter = fake.entry("service-splitter", "api").expect("the splitter");
    assert_eq!(
        splitter["Splits"],
        serde_json::json!([{"Weight": 100, "ServiceSubset": "v1"}]),
        "{splitter}"
    );
}
