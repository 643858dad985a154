//! `mesh_kube::leases::KubeLeases` on the real API server, each request counted by a client
//! layer: the same renewal and conflict sequence as on the double
//! ([`renewals_cost_one_put_and_conflicts_give_the_lease_up`]), with a one-second lease time on
//! the real clock, then a stopping replica deleting its member Lease.

use std::sync::{Arc, Mutex};

use mesh_core::MeshKind;
use mesh_kube::leases::KubeLeases;

use crate::{
    leases::renewals_cost_one_put_and_conflicts_give_the_lease_up,
    live_server::{delete_namespace, engine, namespace},
};

/// A client of the test environment that records the method of every request it sends.
async fn recording_client(methods: Arc<Mutex<Vec<String>>>) -> kube::Client {
    let path = std::env::var("MESH_E2E_KUBECONFIG").expect("MESH_E2E_KUBECONFIG");
    let kubeconfig = kube::config::Kubeconfig::read_from(path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let record = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        methods.lock().unwrap().push(req.method().to_string());
        req
    });
    kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&record)
        .build()
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG (cargo xtask testenv up)"]
async fn live_a_renewal_is_one_put_and_a_conflict_gives_the_lease_up() {
    let engine = engine(MeshKind::Istio, "mesh-leases-test").await;
    let admin = engine.client().clone();
    let ns = namespace(&engine, "leases").await;
    let methods = Arc::new(Mutex::new(Vec::new()));
    let a = KubeLeases::new(recording_client(Arc::clone(&methods)).await, &ns, MeshKind::Istio);
    let b = KubeLeases::new(admin.clone(), &ns, MeshKind::Istio);
    let sent = || std::mem::take(&mut *methods.lock().unwrap());
    let ttl = std::time::Duration::from_secs(1);
    renewals_cost_one_put_and_conflicts_give_the_lease_up(&a, &b, "g-shard-0", ttl, sent).await;

    assert!(a.hold("g-member-a", "a", ttl).await.unwrap());
    methods.lock().unwrap().clear();
    a.remove("g-member-a", "a").await.unwrap();
    assert_eq!(*methods.lock().unwrap(), ["DELETE"], "one request");
    let leases = kube::Api::<kube::api::DynamicObject>::namespaced_with(
        admin,
        &ns,
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "coordination.k8s.io",
            "v1",
            "Lease",
        )),
    );
    assert!(leases.get_opt("g-member-a").await.unwrap().is_none(), "deleted");
    delete_namespace(&engine, &ns).await;
}
