//! The same meshes on the test environment's real servers (`cargo xtask testenv up`): Istio on
//! the real kube-apiserver (writes read from its audit log), Consul on the real agent (writes
//! seen by a recording proxy). Every call that touches a socket runs off the paused clock.
//!
//! Each fixture cleans only the objects of the service a scenario seeds, so scenarios on other
//! services are left alone; the live tests still run one at a time, as they share the audit log.

use std::sync::{Arc, Mutex};

use mesh::{
    BoxFuture, Mesh, MeshKind, StateKey, istio::IstioBackend, telemetry::prometheus::PrometheusClient,
};
use mesh_consul::{ConsulBackend, client::ConsulClient, model::EntryKind, state::kv_key};
use mesh_kube::KubeEngine;
use mesh_testkit::RecordingProxy;
use serde_json::{Value, json};

use super::doubles::{
    Fixture, OffClock, consul_seed, consul_weights, consul_write, io_runtime, istio_weights, istio_write,
    off_clock, seed_split, telemetry,
};
use crate::support::{
    live_consul::{agent_host_port, client as consul_client},
    live_kube::{audit_end, landed_writes_since, send},
};

/// Runs `f` to completion on the real-time runtime, from a synchronous fixture method on the
/// paused test runtime (a scoped thread, as a runtime cannot block inside another).
fn blocking<T: Send>(f: impl Future<Output = T> + Send) -> T {
    std::thread::scope(|s| s.spawn(|| io_runtime().block_on(f)).join().expect("I/O thread"))
}

// ---------------------------------------------------------------------------------------------
// Istio on the real API server.

/// `IstioBackend` over the real API server, namespace `prod`.
pub(crate) struct LiveIstio {
    client: kube::Client,
    /// Where the recorded writes start in the audit log.
    audit_from: Mutex<u64>,
}

impl LiveIstio {
    /// Connects and makes sure `prod` exists.
    pub(crate) async fn start() -> Self {
        let client = off_clock(mesh_kube::testing::live_client()).await;
        let c = client.clone();
        off_clock(async move {
            let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}});
            send(&c, http::Method::POST, "/api/v1/namespaces", Some(&namespace)).await;
        })
        .await;
        Self {
            client,
            audit_from: Mutex::new(off_clock(async { audit_end() }).await),
        }
    }

    fn get(&self, path: String) -> Option<Value> {
        let client = self.client.clone();
        blocking(async move { send(&client, http::Method::GET, &path, None).await })
    }

    fn spec(&self, plural: &str, name: &str) -> Value {
        let path = format!("/apis/networking.istio.io/v1/namespaces/prod/{plural}/{name}");
        self.get(path.clone()).unwrap_or_else(|| panic!("{path} missing"))["spec"].clone()
    }
}

impl Fixture for LiveIstio {
    fn namespace(&self) -> &'static str {
        "prod"
    }

    fn mesh(&self, prometheus: &PrometheusClient) -> Mesh {
        let engine = KubeEngine::new(self.client.clone(), MeshKind::Istio, "mesh");
        let backend = IstioBackend::new(engine, mesh::istio::Config::default());
        Mesh::from_backend(OffClock(Arc::new(backend))).with_telemetry(telemetry(prometheus))
    }

    fn seed<'a>(&'a self, mesh: &'a Mesh, name: &'a str) -> BoxFuture<'a, ()> {
        let client = self.client.clone();
        let owned = name.to_owned();
        Box::pin(async move {
            off_clock(async move {
                for path in [
                    format!("/apis/networking.istio.io/v1/namespaces/prod/virtualservices/{owned}"),
                    format!("/apis/networking.istio.io/v1/namespaces/prod/destinationrules/{owned}"),
                    format!("/api/v1/namespaces/prod/configmaps/mesh-state-{owned}-rollout"),
                ] {
                    send(&client, http::Method::DELETE, &path, None).await;
                }
            })
            .await;
            seed_split(mesh, self.service(name)).await;
        })
    }

    fn route(&self, name: &str) -> Value {
        self.spec("virtualservices", name)
    }

    fn subsets(&self, name: &str) -> Value {
        self.spec("destinationrules", name)
    }

    fn weights(&self, name: &str) -> Vec<(String, i64)> {
        istio_weights(&self.route(name))
    }

    fn writes(&self) -> Vec<String> {
        let from = *self.audit_from.lock().unwrap();
        landed_writes_since(from)
            .iter()
            .filter(|e| e["objectRef"]["namespace"] == "prod")
            .map(|e| {
                let uri = e["requestURI"].as_str().unwrap_or_default();
                istio_write(uri).unwrap_or_else(|| format!("{} {uri}", e["verb"]))
            })
            .collect()
    }

    fn clear(&self) {
        *self.audit_from.lock().unwrap() = audit_end();
    }
}

// ---------------------------------------------------------------------------------------------
// Consul on the real agent.

/// `ConsulBackend` over the real agent (CE, ACLs on), through a recording proxy.
pub(crate) struct LiveConsul {
    direct: Arc<ConsulClient>,
    proxy: RecordingProxy,
}

impl LiveConsul {
    /// Connects, with a recording proxy in front of the agent.
    pub(crate) async fn start() -> Self {
        let direct = Arc::new(consul_client(None));
        let host_port = agent_host_port(&direct);
        let proxy = off_clock(async move { RecordingProxy::start(&host_port) }).await;
        Self { direct, proxy }
    }

    fn entry(&self, kind: EntryKind, name: &str) -> Value {
        let (direct, owned) = (self.direct.clone(), name.to_owned());
        let entry = blocking(async move { direct.get_entry(kind, &owned, None).await })
            .unwrap()
            .unwrap_or_else(|| panic!("{} {name} missing", kind.as_str()));
        let mut value = serde_json::to_value(entry).unwrap();
        let fields = value.as_object_mut().unwrap();
        fields.retain(|k, _| !matches!(k.as_str(), "CreateIndex" | "ModifyIndex" | "Hash"));
        value
    }
}

impl Fixture for LiveConsul {
    fn namespace(&self) -> &'static str {
        "default"
    }

    fn mesh(&self, prometheus: &PrometheusClient) -> Mesh {
        let backend = ConsulBackend::new(consul_client(Some(&self.proxy.url())));
        Mesh::from_backend(OffClock(Arc::new(backend))).with_telemetry(telemetry(prometheus))
    }

    fn seed<'a>(&'a self, mesh: &'a Mesh, name: &'a str) -> BoxFuture<'a, ()> {
        let (direct, owned) = (self.direct.clone(), name.to_owned());
        let key = StateKey::new(self.service(name).parse().unwrap(), "rollout").unwrap();
        Box::pin(async move {
            off_clock(async move {
                for kind in [
                    EntryKind::ServiceSplitter,
                    EntryKind::ServiceRouter,
                    EntryKind::ServiceResolver,
                    EntryKind::ServiceDefaults,
                ] {
                    direct.delete_entry(kind, &owned, None, None).await.unwrap();
                }
                for id in direct.agent_service_ids(&owned, None).await.unwrap() {
                    direct.deregister_service(&id, None).await.unwrap();
                }
                direct.kv_delete(&kv_key(&key), None).await.unwrap();
            })
            .await;
            consul_seed(mesh, self.namespace(), name).await;
        })
    }

    fn route(&self, name: &str) -> Value {
        self.entry(EntryKind::ServiceSplitter, name)
    }

    fn subsets(&self, name: &str) -> Value {
        self.entry(EntryKind::ServiceResolver, name)
    }

    fn weights(&self, name: &str) -> Vec<(String, i64)> {
        consul_weights(&self.route(name))
    }

    fn writes(&self) -> Vec<String> {
        self.proxy
            .exchanges()
            .iter()
            .filter(|e| matches!(e.method.as_str(), "PUT" | "POST" | "DELETE"))
            .filter(|e| e.status == 200 && e.answer.trim() != "false")
            .map(|e| consul_write(&e.target, &e.body).unwrap_or_else(|| format!("{} {}", e.method, e.target)))
            .collect()
    }

    fn clear(&self) {
        self.proxy.clear();
    }
}
