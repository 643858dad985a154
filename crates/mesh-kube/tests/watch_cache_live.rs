//! `KubeEngine::with_watch_cache` on the real API server: once the watch of a kind has listed,
//! plans read its copies instead of sending a GET per object; and a plan made on a copy that is
//! behind still lands nothing wrong (its guarded write loses, and it is planned again on fresh
//! reads).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use mesh_core::{Change, MeshKind, ObjectRef, ReadSource, Write, WriteAction};
use mesh_kube::{ClusterReads, KubeEngine, Snapshot};
use serde_json::json;

use crate::live_server::{delete_namespace, namespace, plan_of};

/// A client of the test environment that counts the GETs of single objects it sends.
async fn counting_client(gets: Arc<AtomicUsize>) -> kube::Client {
    let path = std::env::var("MESH_E2E_KUBECONFIG").expect("MESH_E2E_KUBECONFIG");
    let kubeconfig = kube::config::Kubeconfig::read_from(path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let count = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        let query = req.uri().query().unwrap_or_default();
        if req.method() == http::Method::GET && !query.contains("watch") && !query.contains("limit") {
            gets.fetch_add(1, Ordering::SeqCst);
        }
        req
    });
    kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&count)
        .build()
}

/// Plans nothing; it only gives [`ClusterReads`] its types.
struct ReadsOnly;

impl mesh_core::Planner for ReadsOnly {
    type Read = ObjectRef;
    type Snapshot = Snapshot;
    fn mesh(&self) -> MeshKind {
        MeshKind::Istio
    }
    fn capabilities(&self) -> mesh_core::Capabilities {
        mesh_core::Capabilities {
            mesh: MeshKind::Istio,
            features: Default::default(),
        }
    }
    fn refuse(&self, _: &Change) -> mesh_core::Result<()> {
        Ok(())
    }
    fn reads(&self, _: &Change, _: &Snapshot) -> mesh_core::Result<Vec<ObjectRef>> {
        Ok(Vec::new())
    }
    fn plan(&self, change: &Change, _: &Snapshot) -> mesh_core::Result<mesh_core::Plan> {
        Err(mesh_core::Error::invalid(
            change.operation(),
            "this planner only reads",
        ))
    }
}

async fn read(reads: &ClusterReads<'_, ReadsOnly>, r: &ObjectRef) -> Option<serde_json::Value> {
    let mut snapshot = Snapshot::default();
    reads
        .read_into(std::slice::from_ref(r), &mut snapshot)
        .await
        .unwrap();
    snapshot.get(r).cloned()
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG (cargo xtask testenv up)"]
async fn plans_read_watched_copies_once_the_watch_has_listed() {
    let gets = Arc::new(AtomicUsize::new(0));
    let engine =
        KubeEngine::new(counting_client(Arc::clone(&gets)).await, MeshKind::Istio, "mesh").with_watch_cache();
    let ns = namespace(&engine, "watch-cache").await;
    let vs = ObjectRef::new("networking.istio.io/v1", "VirtualService", Some(&ns), "reviews");
    let host = format!("reviews.{ns}.svc.cluster.local");
    let body = json!({"spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": host}}]}]}});
    let create = Write::new(WriteAction::Apply, vs.clone(), Some(body.clone()));
    engine
        .apply(&plan_of(MeshKind::Istio, &ns, vec![create]))
        .await
        .unwrap();
    let reads = ClusterReads::new(&engine, &ReadsOnly);

    // The first read starts the watch of VirtualServices in the namespace and goes to the server.
    let before = gets.load(Ordering::SeqCst);
    assert!(read(&reads, &vs).await.is_some());
    assert_eq!(gets.load(Ordering::SeqCst), before + 1, "the first read is a GET");
    // Once the watch has listed, reads cost nothing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let before = gets.load(Ordering::SeqCst);
        assert!(read(&reads, &vs).await.is_some());
        if gets.load(Ordering::SeqCst) == before {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the watch never listed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let listed = gets.load(Ordering::SeqCst);
    for _ in 0..20 {
        assert!(read(&reads, &vs).await.is_some());
    }
    assert_eq!(
        gets.load(Ordering::SeqCst),
        listed,
        "20 reads from the watched copy"
    );

    // Another writer's change reaches the copies through the watch, still without a GET.
    let other = crate::live_server::engine(MeshKind::Istio, "someone-else").await;
    let mut changed = body.clone();
    changed["metadata"] = json!({"labels": {"changed-by": "someone-else"}});
    let change = Write::new(WriteAction::Apply, vs.clone(), Some(changed));
    other
        .apply(&plan_of(MeshKind::Istio, &ns, vec![change]))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while read(&reads, &vs).await.unwrap()["metadata"]["labels"]["changed-by"] != "someone-else" {
        assert!(
            std::time::Instant::now() < deadline,
            "the watch never brought the change"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        gets.load(Ordering::SeqCst),
        listed,
        "the change came by the watch"
    );

    // After a lost race, plans read the server.
    let fresh = ClusterReads::new(&engine, &ReadsOnly).fresh();
    assert!(read(&fresh, &vs).await.is_some());
    assert_eq!(gets.load(Ordering::SeqCst), listed + 1, "a fresh read is a GET");
    delete_namespace(&engine, &ns).await;
}
