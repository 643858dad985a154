//! What the real-server twins share (here, and in `mesh-istio`'s and `mesh-linkerd`'s tests, which
//! include this file): a namespace of each test's own on the test environment's API server, and
//! the write requests that server recorded in its audit log, as the lines the double records.
//!
//! `eval "$(cargo xtask testenv up)"` exports `MESH_E2E_KUBECONFIG` and `MESH_TESTENV_AUDIT_LOG`.

#![allow(dead_code, unreachable_pub)] // Each crate's twins use a part.

use std::{
    io::{BufRead, BufReader, Seek, SeekFrom},
    time::Duration,
};

use mesh_core::{Change, MeshKind, ObjectRef, Plan, Write, WriteAction};
use mesh_kube::KubeEngine;
use serde_json::{Value, json};

/// The identity the test environment's kubeconfig authenticates as.
const TEST_USER: &str = "mesh-e2e";

/// An engine on the real API server, writing as `field_manager`.
pub async fn engine(mesh: MeshKind, field_manager: &str) -> KubeEngine {
    KubeEngine::new(mesh_kube::testing::live_client().await, mesh, field_manager)
}

/// `writes` as one plan (of a change about `namespace`, which the engine does not look at).
pub fn plan_of(mesh: MeshKind, namespace: &str, writes: Vec<Write>) -> Plan {
    let change = Change::EnableMtls {
        namespace: namespace.parse().unwrap(),
    };
    let mut plan = Plan::for_change(mesh, &change);
    for write in writes {
        plan.push(write);
    }
    plan
}

/// A namespace of the calling test's own, created on the real API server: `mesh-twin-<tag>-<pid>`.
/// Tests of one binary run in parallel, and the test environment runs no namespace controller (a
/// deleted namespace stays `Terminating`), so each test and each run takes a name of its own.
pub async fn namespace(engine: &KubeEngine, tag: &str) -> String {
    let ns = format!("mesh-twin-{tag}-{}", std::process::id());
    let write = Write::new(
        WriteAction::Apply,
        ObjectRef::new("v1", "Namespace", None, &ns),
        Some(json!({})),
    );
    engine
        .apply(&plan_of(engine.mesh(), &ns, vec![write]))
        .await
        .unwrap_or_else(|e| panic!("namespace {ns}: {e}"));
    ns
}

/// Deletes the namespace `namespace` made, with what it holds.
pub async fn delete_namespace(engine: &KubeEngine, ns: &str) {
    let write = Write::new(
        WriteAction::Delete,
        ObjectRef::new("v1", "Namespace", None, ns),
        None,
    );
    engine
        .apply(&plan_of(engine.mesh(), ns, vec![write]))
        .await
        .unwrap_or_else(|e| panic!("deleting namespace {ns}: {e}"));
}

/// The `resourceVersion` of the object `r` on the server (it moves with every write that lands).
pub async fn version_of(engine: &KubeEngine, r: &ObjectRef) -> String {
    let object = engine
        .get(r)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{r} exists"));
    object["metadata"]["resourceVersion"].as_str().unwrap().to_owned()
}

/// Creates `object` (a whole object, `apiVersion` to `spec`) as field manager `manager`, without
/// the library's label: a user's object, as `FakeApiServer::insert_as` seeds one. Returns it as
/// stored.
pub async fn insert_as(client: &kube::Client, manager: &str, object: Value) -> Value {
    let params = kube::api::PostParams {
        field_manager: Some(manager.to_owned()),
        ..Default::default()
    };
    let stored = api_for(client, &object)
        .create(&params, &serde_json::from_value(object.clone()).unwrap())
        .await
        .unwrap_or_else(|e| panic!("creating {object}: {e}"));
    serde_json::to_value(stored).unwrap()
}

/// Stores `object` as it is, guarded by the `resourceVersion` it carries: as `FakeApiServer::insert`
/// overwrites one.
pub async fn replace(client: &kube::Client, object: Value) -> Value {
    let name = object["metadata"]["name"].as_str().unwrap().to_owned();
    let stored = api_for(client, &object)
        .replace(
            &name,
            &Default::default(),
            &serde_json::from_value(object.clone()).unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("replacing {name}: {e}"));
    serde_json::to_value(stored).unwrap()
}

fn api_for(client: &kube::Client, object: &Value) -> kube::Api<kube::api::DynamicObject> {
    let api_version = object["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap());
    let resource = kube::api::ApiResource::from_gvk(&gvk);
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => kube::Api::namespaced_with(client.clone(), ns, &resource),
        None => kube::Api::all_with(client.clone(), &resource),
    }
}

/// A place in the API server's audit log, from which [`Audit::writes_in`] reads.
pub struct Audit {
    from: u64,
}

/// One write request the API server answered, as the double records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedWrite {
    /// `METHOD /path`, plus ` (dry run)`: [`mesh_kube::testing::RecordedRequest::line`].
    pub line: String,
    /// The `fieldManager` the request named.
    pub field_manager: Option<String>,
    /// The status of the answer.
    pub code: u64,
}

impl Audit {
    /// From the end of the audit log on.
    pub fn start() -> Self {
        Self {
            from: std::fs::metadata(log()).map(|m| m.len()).unwrap_or(0),
        }
    }

    /// Every write request by the tests' identity to an object in namespace `ns` (or to the
    /// namespace itself) since [`Audit::start`], in the order the server finished them. The
    /// server writes an event after it answers: this reads until two reads agree.
    pub fn writes_in(&self, ns: &str) -> Vec<AuditedWrite> {
        let mut last = self.read(ns);
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = self.read(ns);
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// The lines of [`Audit::writes_in`], each of which `field_manager` sent: as the double's
    /// tests check `RecordedRequest::field_manager` of every write.
    pub fn lines_by(&self, ns: &str, field_manager: &str) -> Vec<String> {
        let writes = self.writes_in(ns);
        assert!(
            writes
                .iter()
                .all(|w| w.field_manager.as_deref() == Some(field_manager)),
            "not all by {field_manager}: {writes:#?}"
        );
        writes.into_iter().map(|w| w.line).collect()
    }

    /// The lines of [`Audit::writes_in`].
    pub fn lines_in(&self, ns: &str) -> Vec<String> {
        self.writes_in(ns).into_iter().map(|w| w.line).collect()
    }

    fn read(&self, ns: &str) -> Vec<AuditedWrite> {
        let mut file = std::fs::File::open(log()).expect("the audit log");
        file.seek(SeekFrom::Start(self.from)).unwrap();
        let inside = format!("/namespaces/{ns}/");
        let itself = format!("/namespaces/{ns}");
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
            .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == TEST_USER)
            .filter_map(|e| {
                let uri = e["requestURI"].as_str()?;
                let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
                if !(path.contains(&inside) || path.ends_with(&itself)) {
                    return None;
                }
                let method = match e["verb"].as_str()? {
                    "create" => "POST",
                    "update" => "PUT",
                    "patch" => "PATCH",
                    "delete" => "DELETE",
                    _ => return None,
                };
                let param = |name: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                        .map(str::to_owned)
                };
                let dry = if param("dryRun").as_deref() == Some("All") {
                    " (dry run)"
                } else {
                    ""
                };
                Some(AuditedWrite {
                    line: format!("{method} {path}{dry}"),
                    field_manager: param("fieldManager"),
                    code: e["responseStatus"]["code"].as_u64().unwrap_or(0),
                })
            })
            .collect()
    }
}

fn log() -> String {
    std::env::var("MESH_TESTENV_AUDIT_LOG").expect(
        "MESH_TESTENV_AUDIT_LOG names the API server's audit log (eval \"$(cargo xtask testenv up)\")",
    )
}
