//! Rollout decisions as Kubernetes Events, through the real binary on the real API server: where
//! `kubectl describe` finds them (core/v1 Events selected by the object's kind, name, namespace
//! and uid), and what they cost (writes to `events` counted in the API server's audit log).
//! `rollout run` records them about the rollout's state ConfigMap, the controller about the
//! declaration's ConfigMap; `MESHCTL_ROLLOUT_EVENTS=off` records none.

use std::{
    io::{BufRead, BufReader, Seek, SeekFrom},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use mesh_testkit::HostileServer;
use serde_json::{Value, json};

use crate::support::{Runner, meshctl};

/// No series at all: every analysis is inconclusive, and the spec below holds after two.
const EMPTY_VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;

fn spec(ns: &str, service: &str) -> String {
    format!(
        "service: {ns}/{service}\nstable: v1\ncanary: v2\nstrategy: {{type: canary, steps: [10, 50]}}\ninterval: 1s\nfailure_threshold: 1\nmax_inconclusive: 2\n"
    )
}

async fn api(client: &kube::Client, method: http::Method, path: &str, body: Option<Value>) -> Value {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.map_or_else(Vec::new, |b| serde_json::to_vec(&b).unwrap()))
        .unwrap();
    client
        .request::<Value>(request)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A namespace of the test's own with the Services `services`.
async fn namespace(client: &kube::Client, tag: &str, services: &[&str]) -> String {
    let ns = format!("events-{tag}-{}", std::process::id());
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    api(client, http::Method::POST, "/api/v1/namespaces", Some(body)).await;
    for name in services {
        let service = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}
        });
        api(
            client,
            http::Method::POST,
            &format!("/api/v1/namespaces/{ns}/services"),
            Some(service),
        )
        .await;
    }
    ns
}

/// The flags that point meshctl at the real API server's namespace `ns`, on Istio, applying.
fn on_istio<'a>(kubeconfig: &'a str, ns: &'a str) -> [&'a str; 8] {
    [
        "--mesh",
        "istio",
        "--kubeconfig",
        kubeconfig,
        "-n",
        ns,
        "--target",
        "apply",
    ]
}

/// `(type, reason, count, message)` of the Events `kubectl describe configmap NAME` shows, in the
/// order they were first seen.
async fn described(client: &kube::Client, ns: &str, name: &str) -> Vec<(String, String, u64, String)> {
    let object = api(
        client,
        http::Method::GET,
        &format!("/api/v1/namespaces/{ns}/configmaps/{name}"),
        None,
    )
    .await;
    let uid = object["metadata"]["uid"].as_str().unwrap();
    let selector = format!(
        "involvedObject.kind%3DConfigMap%2CinvolvedObject.name%3D{name}%2CinvolvedObject.namespace%3D{ns}%2CinvolvedObject.uid%3D{uid}"
    );
    let list = api(
        client,
        http::Method::GET,
        &format!("/api/v1/namespaces/{ns}/events?fieldSelector={selector}"),
        None,
    )
    .await;
    let mut events: Vec<Value> = list["items"].as_array().unwrap().clone();
    events.sort_by_key(|e| e["eventTime"].as_str().unwrap_or_default().to_owned());
    for e in &events {
        assert_eq!(e["reportingComponent"], "meshctl.dev/rollout", "{e:#}");
    }
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
                e["series"]["count"].as_u64().or(e["count"].as_u64()).unwrap_or(1),
                e["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Writes to `events` in `ns` the API server's audit log holds after byte `from`.
fn event_writes(from: u64, ns: &str) -> usize {
    let path = std::env::var("MESH_TESTENV_AUDIT_LOG").expect("MESH_TESTENV_AUDIT_LOG");
    let mut file = std::fs::File::open(path).unwrap();
    file.seek(SeekFrom::Start(from)).unwrap();
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
        .filter(|e| {
            e["stage"] == "ResponseComplete"
                && e["objectRef"]["resource"] == "events"
                && e["objectRef"]["namespace"] == ns
        })
        .count()
}

fn audit_end() -> u64 {
    let path = std::env::var("MESH_TESTENV_AUDIT_LOG").expect("MESH_TESTENV_AUDIT_LOG");
    std::fs::metadata(path).map(|m| m.len()).unwrap()
}

/// Reads until two reads agree: the API server logs a request after it answers.
fn settled(count: impl Fn() -> usize) -> usize {
    let mut last = count();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = count();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The Events of a held rollout: the first stage applied, two inconclusive analyses counted into
/// one Event, the hold as a Warning.
fn assert_held(events: &[(String, String, u64, String)]) {
    let seen: Vec<(&str, &str, u64)> = events
        .iter()
        .map(|(t, r, c, _)| (t.as_str(), r.as_str(), *c))
        .collect();
    assert_eq!(
        seen,
        [
            ("Normal", "StageApplied", 1),
            ("Normal", "AnalysisInconclusive", 2),
            ("Warning", "Held", 1)
        ],
        "{events:#?}"
    );
    assert_eq!(events[0].3, "stage 1 (10 % to the canary): applied");
    assert!(
        events[1]
            .3
            .starts_with("stage 1 (10 % to the canary): Inconclusive; canary 0 requests, stable 0"),
        "{}",
        events[1].3
    );
    assert_eq!(
        events[2].3,
        "held: 2 inconclusive analyses in a row; traffic left as is"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG (cargo xtask testenv up)"]
async fn live_a_rollout_run_records_its_decisions_about_its_state_configmap() {
    let client = mesh_kube::testing::live_client().await;
    let kubeconfig = std::env::var("MESH_E2E_KUBECONFIG").unwrap();
    let ns = namespace(&client, "run", &["api", "web"]).await;
    let prometheus = HostileServer::canned(EMPTY_VECTOR);
    let dir = std::env::temp_dir().join(format!("meshctl-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |service: &str, env: &[(&str, &str)]| {
        let file = dir.join(format!("{service}.yaml"));
        std::fs::write(&file, spec(&ns, service)).unwrap();
        let mut all_env = vec![("PROMETHEUS_URL", prometheus.url())];
        all_env.extend(env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let env: Vec<(&str, &str)> = all_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut all = on_istio(&kubeconfig, &ns).to_vec();
        all.extend(["rollout", "run", "--file", file.to_str().unwrap()]);
        meshctl(&all, &env)
    };

    let from = audit_end();
    let held = run("api", &[]);
    assert_eq!(held.code, 4, "held: {}", held.stderr);
    assert!(!held.stderr.contains("not recorded"), "{}", held.stderr);
    assert_held(&described(&client, &ns, "mesh-state-api-rollout").await);
    // One request per decision: four decisions' POSTs and the repeat's PATCH.
    assert_eq!(settled(|| event_writes(from, &ns)), 4);

    // Opted out: the same rollout of another service records nothing.
    let from = audit_end();
    let quiet = run("web", &[("MESHCTL_ROLLOUT_EVENTS", "off")]);
    assert_eq!(quiet.code, 4, "held: {}", quiet.stderr);
    assert_eq!(settled(|| event_writes(from, &ns)), 0);
    assert!(described(&client, &ns, "mesh-state-web-rollout").await.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MESH_E2E_KUBECONFIG (cargo xtask testenv up)"]
async fn live_the_controller_records_each_rollouts_decisions_about_its_declaration() {
    let client = mesh_kube::testing::live_client().await;
    let kubeconfig = std::env::var("MESH_E2E_KUBECONFIG").unwrap();
    let ns = namespace(&client, "controller", &["api"]).await;
    let declaration = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "api-canary", "namespace": ns, "labels": {"meshctl.dev/rollout": "true"}},
        "data": {"rollout.yaml": spec(&ns, "api")}
    });
    api(
        &client,
        http::Method::POST,
        &format!("/api/v1/namespaces/{ns}/configmaps"),
        Some(declaration),
    )
    .await;
    let prometheus = HostileServer::canned(EMPTY_VECTOR);
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("meshctl"));
    command.env("PROMETHEUS_URL", prometheus.url());
    command.env("HOME", "/nonexistent-home-for-meshctl-tests");
    command.args(on_istio(&kubeconfig, &ns));
    command.args(["rollout", "controller", "--runner", "ctl-events"]);
    let spawned = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn();
    let mut controller = Runner(spawned.unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = described(&client, &ns, "api-canary").await;
        if events.iter().any(|(_, reason, ..)| reason == "Held") {
            assert_held(&events);
            break;
        }
        if Instant::now() > deadline {
            panic!("no Held Event: {events:#?}\n{}", controller.interrupt());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stderr = controller.interrupt();
    assert!(stderr.contains(&format!("{ns}/api-canary: held")), "{stderr}");
}
