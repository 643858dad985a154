//! Live end-to-end tests against a real control plane. They are ignored unless asked for:
//!
//! ```sh
//! MESH_E2E_KUBECONFIG=~/.kube/config cargo test -p mesh-tests --all-features --test e2e -- --ignored istio
//! CONSUL_HTTP_ADDR=127.0.0.1:8500 cargo test -p mesh-tests --all-features --test e2e -- --ignored consul
//! ```
//!
//! Each test works in its own namespace or service name (`mesh-e2e`) and removes what it created.

#![cfg(all(feature = "istio", feature = "linkerd", feature = "consul"))]

use mesh::{Change, Mesh, MeshKind, ServiceDefinition, TrafficSplit};

/// The kubeconfig of the live suite. A variable of its own keeps a developer's default context out
/// of reach of tests that write.
fn kubeconfig() -> String {
    std::env::var("MESH_E2E_KUBECONFIG").expect("set MESH_E2E_KUBECONFIG to run the live suite")
}

async fn split_round_trip(mesh: &Mesh) {
    let service: mesh::ServiceId = "mesh-e2e/reviews".parse().unwrap();
    for (v1, v2) in [(90, 10), (50, 50), (100, 0)] {
        let split = TrafficSplit::try_from_pairs([("v1", v1), ("v2", v2)]).unwrap();
        let change = Change::SetTrafficWeight {
            service: service.clone(),
            split,
        };
        let plan = mesh
            .plan(&change)
            .await
            .expect("plan against the live control plane");
        plan.check_safe_prefixes().expect("safe order");
        mesh.apply(&plan).await.expect("apply");
        // Re-running converges: the control plane already holds the state.
        mesh.execute(change).await.expect("re-run");
    }
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG (a cluster with Istio and a mesh-e2e namespace)"]
async fn istio_split_round_trip() {
    let path = kubeconfig();
    let config = mesh_kube_config(&path).await;
    let engine = mesh::istio::IstioBackend::new(
        mesh_kube::KubeEngine::new(
            kube::Client::try_from(config).unwrap(),
            MeshKind::Istio,
            "mesh-e2e",
        ),
        mesh::istio::Config::default(),
    );
    split_round_trip(&Mesh::from_backend(engine)).await;
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG (a cluster with Linkerd 2.14+ and a mesh-e2e namespace)"]
async fn linkerd_split_round_trip() {
    let path = kubeconfig();
    let config = mesh_kube_config(&path).await;
    let backend = mesh::linkerd::LinkerdBackend::new(
        mesh_kube::KubeEngine::new(
            kube::Client::try_from(config).unwrap(),
            MeshKind::Linkerd,
            "mesh-e2e",
        ),
        mesh::linkerd::Config::default(),
    );
    split_round_trip(&Mesh::from_backend(backend)).await;
}

#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR (for example `consul agent -dev`)"]
async fn consul_register_split_unregister() {
    assert!(
        std::env::var_os("CONSUL_HTTP_ADDR").is_some(),
        "set CONSUL_HTTP_ADDR to run the live suite"
    );
    let mesh =
        Mesh::from_backend(mesh::consul::ConsulBackend::from_env().expect("Consul from the environment"));
    for version in ["v1", "v2"] {
        let def = ServiceDefinition::builder("mesh-e2e", "default", 9080)
            .unwrap()
            .version(version)
            .unwrap()
            .endpoint(mesh::Endpoint::new("127.0.0.1", mesh::Port::new(9080).unwrap()).unwrap());
        mesh.register_service(&def).await.expect("register");
    }
    let split = TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap();
    let service = "default/mesh-e2e".parse().unwrap();
    mesh.set_traffic_weight(&service, &split)
        .await
        .expect("split after resolver subsets");
    mesh.unregister_service(&service)
        .await
        .expect("unregister in reverse order");
}

async fn mesh_kube_config(path: &str) -> kube::Config {
    let options = kube::config::KubeConfigOptions::default();
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("read MESH_E2E_KUBECONFIG");
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("a usable kubeconfig")
}
