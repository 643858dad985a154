//! `meshctl rollout controller` through the real binary, on the Consul double: it runs every
//! rollout declared under `meshctl/rollouts/`, each once, refuses a declaration for another
//! namespace, stops on SIGINT with exit 130, and a restarted controller writes nothing again.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use mesh_consul::{ConsulVersion, testing::FakeConsul};
use mesh_core::{StateKey, StateStore};
use mesh_testkit::HostileServer;

use crate::support::Runner;

/// A Prometheus with no series at all: every analysis sees no traffic, so it is inconclusive, and
/// with `max_inconclusive: 1` each rollout ends held at its first stage.
const EMPTY_VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;

fn spec(service: &str) -> String {
    spec_every(service, "1s")
}

/// A two-stage canary of `service` analysed every `interval`.
fn spec_every(service: &str, interval: &str) -> String {
    format!(
        "service: {service}\nstable: v1\ncanary: v2\nstrategy: {{type: canary, steps: [10, 50]}}\ninterval: {interval}\nfailure_threshold: 1\nmax_inconclusive: 1\n"
    )
}

fn controller(addr: &str, prometheus: &str) -> Runner {
    Runner(
        Command::new(assert_cmd::cargo::cargo_bin("meshctl"))
            .env("CONSUL_HTTP_ADDR", addr)
            .env_remove("CONSUL_HTTP_TOKEN")
            .env("PROMETHEUS_URL", prometheus)
            .env("HOME", "/nonexistent-home-for-meshctl-tests")
            .args(["--mesh", "consul", "-n", "default", "--target", "apply"])
            .args(["rollout", "controller", "--runner", "ctl-1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_runs_each_declared_rollout_once_and_refuses_another_namespaces() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 18, 0)).await;
    let backend = fake.backend(None);
    for service in ["api", "web"] {
        fake.seed_entry(serde_json::json!({"Kind": "service-defaults", "Name": service, "Protocol": "http"}));
        let key = format!("meshctl/rollouts/{service}");
        let declared = spec(&format!("default/{service}"));
        assert!(
            backend
                .client()
                .kv_put(&key, declared.as_bytes(), None)
                .await
                .unwrap()
        );
    }
    let elsewhere = spec("prod/api");
    assert!(
        backend
            .client()
            .kv_put("meshctl/rollouts/elsewhere", elsewhere.as_bytes(), None)
            .await
            .unwrap()
    );
    let prometheus = HostileServer::canned(EMPTY_VECTOR);
    let addr = fake.url().to_string().trim_end_matches('/').to_owned();

    let mut first = controller(&addr, &prometheus.url());
    let held = |service: &str| {
        let key = StateKey::new(format!("default/{service}").parse().unwrap(), "rollout").unwrap();
        let backend = fake.backend(None);
        async move {
            let stored = backend.read_state(&key).await.unwrap()?;
            let state: serde_json::Value = serde_json::from_str(&stored.value).unwrap();
            (state["outcome"] == "held").then_some(state)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while held("api").await.is_none() || held("web").await.is_none() {
        if Instant::now() > deadline {
            panic!("the declared rollouts never ended: {}", first.interrupt());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stderr = first.interrupt();
    assert!(stderr.contains("meshctl/rollouts/api: held"), "{stderr}");
    assert!(stderr.contains("meshctl/rollouts/web: held"), "{stderr}");
    assert!(
        stderr.contains("meshctl/rollouts/elsewhere: failed") && stderr.contains("not in namespace default"),
        "{stderr}"
    );
    // Each held at its first stage: 10 % on the canary.
    for service in ["api", "web"] {
        let splitter = fake.entry("service-splitter", service).expect("the splitter");
        assert_eq!(
            splitter["Splits"],
            serde_json::json!([
                {"ServiceSubset": "v1", "Weight": 90},
                {"ServiceSubset": "v2", "Weight": 10}
            ]),
            "{service}"
        );
    }
    // Per service its defaults (seeded), resolver and splitter: nothing for the refused one.
    assert_eq!(fake.entry_count(), 6, "{:?}", fake.landed_writes());

    // A restarted controller meets the same declarations: each ended rollout is reported as it
    // ended, and nothing is written.
    let writes = fake.landed_writes().len();
    let mut second = controller(&addr, &prometheus.url());
    // Its first read of the declarations is at once; a few seconds leave it time to report.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stderr = second.interrupt();
    assert!(stderr.contains("meshctl/rollouts/api: held"), "{stderr}");
    assert!(stderr.contains("meshctl/rollouts/web: held"), "{stderr}");
    assert_eq!(
        fake.landed_writes().len(),
        writes,
        "the restart wrote {:?}",
        &fake.landed_writes()[writes..]
    );
}

/// Sends one request to the real API server; a 409 (already there) is fine.
async fn send(client: &kube::Client, method: http::Method, path: &str, body: Option<&serde_json::Value>) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.map_or_else(Vec::new, |b| serde_json::to_vec(b).unwrap()))
        .unwrap();
    match client.request_text(request).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("{path}: {e}"),
    }
}

async fn delete_namespace(client: &kube::Client, ns: &str) {
    send(
        client,
        http::Method::DELETE,
        &format!("/api/v1/namespaces/{ns}"),
        None,
    )
    .await;
}

/// Namespace `ns` and a Service per name in it (Linkerd derives its per-version Services from
/// them).
async fn seed_services(client: &kube::Client, ns: &str, names: &[&str]) {
    let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    send(client, http::Method::POST, "/api/v1/namespaces", Some(&namespace)).await;
    let services = format!("/api/v1/namespaces/{ns}/services");
    for name in names {
        let service = serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}
        });
        send(client, http::Method::POST, &services, Some(&service)).await;
    }
}

fn declaration(namespace: &str, name: &str, service: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"meshctl.dev/rollout": "true"}
        },
        "data": {"rollout.yaml": spec(service)}
    })
}

/// The same through the real binary on the real API server for `mesh`, declarations in
/// ConfigMaps: the watch finds them, each runs once, and one for another namespace is refused.
/// Returns the client and the namespace, for the mesh's own checks.
async fn the_controller_runs_configmap_declarations(mesh: &str) -> (kube::Client, String) {
    let client = mesh_kube::testing::live_client().await;
    let kubeconfig = std::env::var("MESH_E2E_KUBECONFIG").unwrap();
    let ns = format!("controller-{mesh}-{}", std::process::id());
    seed_services(&client, &ns, &["api", "web"]).await;
    let configmaps = format!("/api/v1/namespaces/{ns}/configmaps");
    for (name, service) in [
        ("api", format!("{ns}/api")),
        ("web", format!("{ns}/web")),
        ("elsewhere", "prod/api".to_owned()),
    ] {
        send(
            &client,
            http::Method::POST,
            &configmaps,
            Some(&declaration(&ns, name, &service)),
        )
        .await;
    }
    let prometheus = HostileServer::canned(EMPTY_VECTOR);
    let meshctl = |args: &[&str]| {
        let mut all = vec!["--mesh", mesh, "--kubeconfig", &kubeconfig, "-n", &ns];
        all.extend(args);
        crate::support::meshctl(&all, &[])
    };
    let mut runner = Runner(
        Command::new(assert_cmd::cargo::cargo_bin("meshctl"))
            .env("PROMETHEUS_URL", prometheus.url())
            .env("HOME", "/nonexistent-home-for-meshctl-tests")
            .args([
                "--mesh",
                mesh,
                "--kubeconfig",
                &kubeconfig,
                "-n",
                &ns,
                "--target",
                "apply",
            ])
            .args(["rollout", "controller", "--runner", "ctl-live"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    // `rollout status` exits 4 once a rollout is held.
    while meshctl(&["rollout", "status", "api"]).code != 4 || meshctl(&["rollout", "status", "web"]).code != 4
    {
        if Instant::now() > deadline {
            panic!("the declared rollouts never ended: {}", runner.interrupt());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stderr = runner.interrupt();
    assert!(stderr.contains(&format!("{ns}/api: held")), "{stderr}");
    assert!(stderr.contains(&format!("{ns}/web: held")), "{stderr}");
    assert!(
        stderr.contains(&format!("{ns}/elsewhere: failed")) && stderr.contains("not in namespace"),
        "{stderr}"
    );
    (client, ns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MESH_E2E_KUBECONFIG (cargo xtask testenv up)"]
async fn live_the_controller_runs_the_configmap_declarations_on_the_real_api_server() {
    let (client, ns) = the_controller_runs_configmap_declarations("istio").await;
    // Held at the first stage: the VirtualService sends 10 % to the canary.
    let vs: serde_json::Value = serde_json::from_str(
        &client
            .request_text(
                http::Request::get(format!(
                    "/apis/networking.istio.io/v1/namespaces/{ns}/virtualservices/api"
                ))
                .body(Vec::new())
                .unwrap(),
            )
            .await
            .unwrap(),
    )
    .unwrap();
    let weights: Vec<(String, i64)> = vs["spec"]["http"][0]["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["destination"]["subset"].as_str().unwrap().to_owned(),
                d["weight"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(weights, [("v1".to_owned(), 90), ("v2".to_owned(), 10)]);
    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MESH_E2E_KUBECONFIG (cargo xtask testenv up)"]
async fn live_the_linkerd_controller_runs_the_configmap_declarations_on_the_real_api_server() {
    let (client, ns) = the_controller_runs_configmap_declarations("linkerd").await;
    delete_namespace(&client, &ns).await;
}

/// A `meshctl rollout controller --shards 6` replica named `replica`, whose leases live
/// `lease_seconds`, with `mesh_args` before the subcommand.
fn leased_replica(mesh_args: &[&str], env: &[(&str, &str)], replica: &str, lease_seconds: &str) -> Runner {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("meshctl"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Runner(
        cmd.env("HOME", "/nonexistent-home-for-meshctl-tests")
            .args(mesh_args)
            .args(["--target", "apply", "rollout", "controller", "--shards", "6"])
            .args(["--lease-seconds", lease_seconds, "--replica", replica])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Three leased replicas share `services`' declared rollouts; replica `r1` is killed (SIGKILL,
/// its leases left to expire) as soon as `r1_holds` says it holds a shard; the survivors take
/// its shards over, and every rollout ends exactly once, held at its first stage (no metrics).
/// `declared` pairs each declaration's name with its service; `status` runs
/// `meshctl rollout status SERVICE -o json`.
async fn three_replicas_and_a_killed_one<H>(
    mesh_args: &[&str],
    env: &[(&str, &str)],
    lease_seconds: &str,
    declared: &[(String, String)],
    r1_holds: impl Fn() -> H,
    status: impl Fn(&str) -> crate::support::Run,
) where
    H: std::future::Future<Output = bool>,
{
    let mut replicas: Vec<Runner> = ["r0", "r1", "r2"]
        .iter()
        .map(|r| leased_replica(mesh_args, env, r, lease_seconds))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !r1_holds().await {
        assert!(
            Instant::now() < deadline,
            "r1 never held a shard: {}",
            replicas[1].interrupt()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    replicas[1].0.kill().unwrap();
    let killed = String::from_utf8_lossy(&replicas[1].wait().stderr).into_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    // `rollout status` exits 4 once a rollout is held.
    while declared.iter().any(|(_, s)| status(s).code != 4) {
        if Instant::now() > deadline {
            panic!(
                "the rollouts never all ended: r0 {} r2 {} r1 (killed) {killed}",
                replicas[0].interrupt(),
                replicas[2].interrupt()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let survivors = [replicas[0].interrupt(), replicas[2].interrupt()];
    for (name, service) in declared {
        let line = format!("{name}: held");
        let ended = survivors
            .iter()
            .chain([&killed])
            .map(|e| e.matches(&line).count())
            .sum::<usize>();
        assert_eq!(
            ended, 1,
            "{service} ended {ended} times: r0 {} r2 {} r1 {killed}",
            survivors[0], survivors[1]
        );
        // Its first stage was applied once, whoever resumed it.
        let st: serde_json::Value = serde_json::from_str(&status(service).stdout).unwrap();
        assert_eq!(st["traffic_changes"], 1, "{service}: {st}");
    }
    for (i, e) in survivors.iter().enumerate() {
        assert!(e.contains(": held"), "survivor {i} had no share: {e}");
        assert!(e.contains("shards were given up"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MESH_E2E_KUBECONFIG (cargo xtask testenv up)"]
async fn live_three_leased_replicas_share_the_configmap_declarations_and_take_a_killed_ones_over() {
    three_leased_replicas_on_the_real_api_server("istio").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MESH_E2E_KUBECONFIG (cargo xtask testenv up)"]
async fn live_three_leased_linkerd_replicas_share_the_configmap_declarations_and_take_a_killed_ones_over() {
    three_leased_replicas_on_the_real_api_server("linkerd").await;
}

/// `(name, holder)` of the Leases listed at `leases` whose name contains `part` (holder empty
/// when released).
async fn leases_with(client: &kube::Client, leases: &str, part: &str) -> Vec<(String, String)> {
    let text = client
        .request_text(http::Request::get(leases).body(Vec::new()).unwrap())
        .await
        .unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| {
            let name = l["metadata"]["name"].as_str()?;
            let holder = l["spec"]["holderIdentity"].as_str().unwrap_or_default();
            name.contains(part).then(|| (name.to_owned(), holder.to_owned()))
        })
        .collect()
}

/// Three leased replicas for `mesh` on the real API server, declarations in ConfigMaps, shard
/// Leases in the namespace, one replica killed.
async fn three_leased_replicas_on_the_real_api_server(mesh: &str) {
    let client = mesh_kube::testing::live_client().await;
    let kubeconfig = std::env::var("MESH_E2E_KUBECONFIG").unwrap();
    let ns = format!("replicas-{mesh}-{}", std::process::id());
    let names: Vec<String> = (0..12).map(|i| format!("svc-{i}")).collect();
    seed_services(
        &client,
        &ns,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let mut declared = Vec::new();
    for name in names {
        let mut cm = declaration(&ns, &name, &format!("{ns}/{name}"));
        cm["data"]["rollout.yaml"] = spec_every(&format!("{ns}/{name}"), "6s").into();
        send(
            &client,
            http::Method::POST,
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            Some(&cm),
        )
        .await;
        declared.push((format!("{ns}/{name}"), name));
    }
    let prometheus = HostileServer::canned(EMPTY_VECTOR);
    let leases = format!("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases");
    let holders = || async {
        leases_with(&client, &leases, "-shard-")
            .await
            .into_iter()
            .map(|(_, holder)| holder)
            .collect::<Vec<_>>()
    };
    let mesh_args = ["--mesh", mesh, "--kubeconfig", &kubeconfig, "-n", &ns];
    three_replicas_and_a_killed_one(
        &mesh_args,
        &[("PROMETHEUS_URL", &prometheus.url())],
        "3",
        &declared,
        || async { holders().await.iter().any(|h| h == "r1") },
        |service| {
            let mut args = mesh_args.to_vec();
            args.extend(["rollout", "status", service, "-o", "json"]);
            crate::support::meshctl(&args, &[])
        },
    )
    .await;
    // Six shards, each a Lease, all given up by the survivors as they stopped; the killed
    // replica's were taken over, so none is held.
    let after = holders().await;
    assert_eq!(after.len(), 6, "{after:?}");
    assert!(after.iter().all(String::is_empty), "{after:?}");
    // The survivors stopped cleanly and deleted their member Leases; the killed replica's stays
    // until ten lease times pass with a live replica watching it.
    let members: Vec<String> = leases_with(&client, &leases, "-member-")
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(
        !members
            .iter()
            .any(|m| m.ends_with("-member-r0") || m.ends_with("-member-r2")),
        "{members:?}"
    );
    // The Events name the replica that sent them, and the shard's Lease.
    let events = format!("/apis/events.k8s.io/v1/namespaces/{ns}/events");
    let text = client
        .request_text(http::Request::get(&events).body(Vec::new()).unwrap())
        .await
        .unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Only ours: the API server records Events of its own in the namespace too (a Service's
    // cluster IP repaired, for one).
    let items: Vec<&serde_json::Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reportingController"] == "meshctl.dev/rollout")
        .collect();
    assert!(!items.is_empty(), "no Event");
    for e in items {
        let instance = e["reportingInstance"].as_str().unwrap_or_default();
        assert!(["r0", "r1", "r2"].contains(&instance), "{e:#}");
        let related = e["related"]["name"].as_str().unwrap_or_default();
        assert!(
            e["related"]["kind"] == "Lease" && related.starts_with("meshctl-rollouts-shard-"),
            "{e:#}"
        );
        let shard = related.trim_start_matches("meshctl-rollouts-shard-");
        let note = e["note"].as_str().unwrap_or_default();
        assert!(note.ends_with(&format!("(shard {shard})")), "{e:#}");
    }
    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN (cargo xtask testenv up)"]
async fn live_three_leased_replicas_share_the_consul_declarations_and_take_a_killed_ones_over() {
    let backend = mesh_consul::ConsulBackend::from_env().expect("CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN");
    let client = backend.client();
    let run = std::process::id();
    let mut declared = Vec::new();
    for i in 0..12 {
        let name = format!("replicas-{run}-{i}");
        let defaults = serde_json::json!({"Kind": "service-defaults", "Name": name, "Protocol": "http"});
        client
            .put_entry(&serde_json::from_value(defaults).unwrap(), None, None)
            .await
            .unwrap();
        let key = format!("meshctl/rollouts/{name}");
        let text = spec_every(&format!("default/{name}"), "6s");
        assert!(client.kv_put(&key, text.as_bytes(), None).await.unwrap());
        declared.push((key, name));
    }
    let prometheus = HostileServer::canned(EMPTY_VECTOR);
    let addr = std::env::var("CONSUL_HTTP_ADDR").unwrap();
    let token = std::env::var("CONSUL_HTTP_TOKEN").unwrap();
    let env = [
        ("PROMETHEUS_URL", prometheus.url()),
        ("CONSUL_HTTP_ADDR", addr),
        ("CONSUL_HTTP_TOKEN", token),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mesh_args = ["--mesh", "consul", "-n", "default"];
    let holders = || async {
        client
            .kv_locked("meshctl/leases/meshctl-rollouts-shard-")
            .await
            .unwrap()
            .into_iter()
            .map(|(_, holder)| String::from_utf8(holder).unwrap())
            .collect::<Vec<_>>()
    };
    three_replicas_and_a_killed_one(
        &mesh_args,
        &env,
        // Consul's shortest session TTL.
        "10",
        &declared,
        || async { holders().await.iter().any(|h| h == "r1") },
        |service| {
            let mut args = mesh_args.to_vec();
            args.extend(["rollout", "status", service, "-o", "json"]);
            crate::support::meshctl(&args, &env)
        },
    )
    .await;
    assert!(holders().await.is_empty(), "every shard given up");
    // The survivors deleted their member keys as they stopped; the killed replica's went with
    // its session (`Behavior: delete`), which Consul ends within twice its TTL.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let members: Vec<String> = client
            .kv_list("meshctl/leases/meshctl-rollouts-member-")
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.key)
            .filter(|k| {
                ["r0", "r1", "r2"]
                    .iter()
                    .any(|r| k.ends_with(&format!("-member-{r}")))
            })
            .collect();
        if members.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline && !members.iter().any(|k| !k.ends_with("-member-r1")),
            "members left behind: {members:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Other tests share the agent: their declarations must not be this test's.
    for (key, _) in &declared {
        client.kv_delete(key, None).await.unwrap();
    }
}
