//! Registering a service that writes nothing on Istio (no endpoints: Istio discovers Kubernetes
//! Services itself) claims `already_registered` and announces `service.registered` only when the
//! Kubernetes Service really exists (it used to claim it, and send the event, for a Service that
//! did not exist).

#![cfg(feature = "istio")]

use mesh::{Mesh, MeshKind, ServiceDefinition, istio::IstioBackend};
use mesh_kube::{KubeEngine, testing::FakeApiServer};
use serde_json::json;

fn mesh(server: &FakeApiServer) -> Mesh {
    let engine = KubeEngine::new(server.client(), MeshKind::Istio, "mesh");
    Mesh::from_backend(IstioBackend::new(engine, mesh::istio::Config::default()))
}

#[tokio::test]
async fn a_missing_kubernetes_service_is_not_already_registered_and_sends_no_event() {
    let server = FakeApiServer::new();
    let mesh = mesh(&server);
    let mut events = mesh.subscribe();
    let def = ServiceDefinition::builder("reviews", "prod", 9080).unwrap();

    let r = mesh.register_service(&def).await.unwrap();
    assert!(!r.already_registered, "no Service prod/reviews exists");
    assert!(events.try_recv().is_err(), "nothing was announced");
    assert!(server.writes().is_empty());

    server.insert(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "ports": [{ "port": 9080 }] }
    }));
    let r = mesh.register_service(&def).await.unwrap();
    assert!(r.already_registered, "the Service exists: Istio has it");
    assert_eq!(events.try_recv().unwrap().name(), "service.registered");
}
