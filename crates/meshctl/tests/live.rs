//! The real binary against the Consul double: `diff` and `events` read a live control plane.

use assert_cmd::Command;
use mesh_consul::{ConsulVersion, testing::FakeConsul};
use mesh_core::{StateKey, StateStore};

async fn meshctl(fake: &FakeConsul, args: &[&str]) -> std::process::Output {
    let url = fake.url().to_string();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("meshctl")
            .unwrap()
            .env("CONSUL_HTTP_ADDR", url.trim_end_matches('/'))
            .env_remove("CONSUL_HTTP_TOKEN")
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_what_a_split_changes_on_consul_and_writes_nothing() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 18, 0)).await;
    fake.seed_entry(serde_json::json!({"Kind": "service-defaults", "Name": "api", "Protocol": "http"}));
    let out = meshctl(
        &fake,
        &["--mesh", "consul", "diff", "split", "api", "v1=90", "v2=10"],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("create service-resolver api"), "{text}");
    assert!(
        text.contains("+Splits:") || text.contains("+  Splits") || text.contains("+Splits"),
        "{text}"
    );
    assert!(
        fake.landed_writes().is_empty(),
        "diff wrote {:?}",
        fake.landed_writes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_streams_a_recorded_rollout_as_json_lines() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 18, 0)).await;
    let key = StateKey::new("default/api".parse().unwrap(), "rollout").unwrap();
    let state = serde_json::json!({
        "runner": "ci", "stage": 1, "stage_applied": false, "failed_checks": 0, "inconclusive": 0,
        "outcome": "promoted", "traffic_changes": 2,
        "spec": {"service": "default/api", "stable": "v1", "canary": "v2",
                 "strategy": {"type": "canary", "steps": [50]}, "interval": "1m",
                 "failure_threshold": 1, "max_inconclusive": 10},
        "events": [
            {"event": "stage_applied", "index": 0, "stage": {"weight": 50}},
            {"event": "finished", "outcome": "promoted", "reason": "every stage passed"}
        ]
    });
    fake.backend(None)
        .write_state(&key, &state.to_string(), None)
        .await
        .unwrap();
    let out = meshctl(
        &fake,
        &[
            "--mesh", "consul", "-o", "json", "events", "api", "--poll", "10ms",
        ],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["outcome"], "promoted");
}
