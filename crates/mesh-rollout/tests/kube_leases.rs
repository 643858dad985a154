//! [`ShardLeases`] over Kubernetes Leases (`mesh_kube::leases::KubeLeases`) on the double, the
//! requests of each round counted: a steady round is one `PUT` per lease held (the member and
//! each shard) and one `LIST`; a shard someone else wrote is given up; a replica that stops
//! cleanly deletes its member Lease, and a killed replica's member is deleted by the others ten
//! lease times after it last renewed it.

use std::{sync::Arc, time::Duration};

use mesh_kube::{
    leases::KubeLeases,
    testing::{FakeApiServer, RecordedRequest},
};
use mesh_rollout::{LeaseStore, MEMBER_GC_TTLS, ShardLeases};

const TTL: Duration = Duration::from_secs(15);

// `KubeLeases` as a `LeaseStore`, as `meshctl` plugs it in.
mesh_rollout::lease_store!(Kube, KubeLeases);

fn replica(server: &FakeApiServer, name: &str) -> ShardLeases {
    let store: Arc<dyn LeaseStore> = Arc::new(Kube(KubeLeases::new(
        server.client(),
        "prod",
        mesh::MeshKind::Istio,
    )));
    ShardLeases::new(store, "g", name, 6, TTL).unwrap()
}

/// `METHOD name` of a request: the object's name, or `LIST` for a list of the Leases.
fn line(r: &RecordedRequest) -> String {
    let last = r.path.rsplit('/').next().unwrap_or_default();
    if r.method == "GET" && last == "leases" {
        "LIST".to_owned()
    } else {
        format!("{} {last}", r.method)
    }
}

/// The requests sent since the last call.
fn sent(server: &FakeApiServer) -> Vec<String> {
    let lines = server.requests().iter().map(line).collect();
    server.clear_requests();
    lines
}

fn lease_names(server: &FakeApiServer) -> Vec<String> {
    let mut names: Vec<String> = server
        .objects()
        .iter()
        .filter(|o| o["kind"] == "Lease")
        .map(|o| o["metadata"]["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_steady_round_is_one_put_per_held_lease_and_one_list() {
    tokio::time::pause();
    let server = FakeApiServer::new();
    let (mut a, mut b) = (replica(&server, "a"), replica(&server, "b"));
    assert_eq!(a.tick().await.gained.len(), 6, "alone, a takes every shard");
    assert!(b.tick().await.gained.is_empty());
    tokio::time::advance(a.renew_every()).await;
    let surplus = a.tick().await.surplus;
    a.release(&surplus).await;
    assert_eq!(b.tick().await.gained.len(), 3);
    sent(&server);
    for _ in 0..3 {
        tokio::time::advance(a.renew_every()).await;
        for r in [&mut a, &mut b] {
            let changes = r.tick().await;
            assert_eq!(changes, Default::default(), "steady");
            let mut want = vec![format!("PUT g-member-{}", r.replica()), "LIST".to_owned()];
            want.extend(r.held().iter().map(|s| format!("PUT g-shard-{s}")));
            assert_eq!(
                sent(&server),
                want,
                "{}: one request per lease held, one list",
                r.replica()
            );
        }
    }
}

#[tokio::test]
async fn a_shard_someone_else_wrote_is_given_up_after_one_read() {
    tokio::time::pause();
    let server = FakeApiServer::new();
    let mut a = replica(&server, "a");
    assert_eq!(a.tick().await.gained.len(), 6);
    // Another process takes shard 2 over once it has seen it unchanged for a lease time (as if
    // `a` had stalled), writing it as its own.
    let other = KubeLeases::new(server.client(), "prod", mesh::MeshKind::Istio);
    assert!(!other.hold("g-shard-2", "c", TTL).await.unwrap());
    tokio::time::advance(TTL).await;
    assert!(other.hold("g-shard-2", "c", TTL).await.unwrap());
    sent(&server);
    let changes = a.tick().await;
    assert_eq!(changes.lost, [2], "{changes:?}");
    assert!(!a.held().contains(&2));
    let requests = sent(&server);
    let shard_2: Vec<&String> = requests.iter().filter(|l| l.ends_with(" g-shard-2")).collect();
    assert_eq!(
        shard_2,
        ["PUT g-shard-2", "GET g-shard-2"],
        "the 409, then the read: {requests:?}"
    );
    let stored = server
        .objects()
        .into_iter()
        .find(|o| o["metadata"]["name"] == "g-shard-2")
        .unwrap();
    assert_eq!(stored["spec"]["holderIdentity"], "c", "not written back");
}

#[tokio::test]
async fn a_stopped_replica_deletes_its_member_and_a_killed_ones_goes_after_ten_lease_times() {
    tokio::time::pause();
    let server = FakeApiServer::new();
    let (mut a, mut stopped, mut killed) = (
        replica(&server, "a"),
        replica(&server, "stopped"),
        replica(&server, "killed"),
    );
    for r in [&mut a, &mut stopped, &mut killed] {
        r.tick().await;
    }
    stopped.release_all().await;
    assert!(
        !lease_names(&server).contains(&"g-member-stopped".to_owned()),
        "{:?}",
        lease_names(&server)
    );
    // `killed` never renews again; `a` goes on every third of the lease time.
    let mut rounds = 0;
    while lease_names(&server).contains(&"g-member-killed".to_owned()) {
        tokio::time::advance(a.renew_every()).await;
        a.tick().await;
        rounds += 1;
        assert!(rounds <= 3 * MEMBER_GC_TTLS + 2, "never deleted");
    }
    // First seen in `a`'s first round here, deleted ten lease times (thirty rounds) after.
    assert_eq!(
        rounds,
        3 * MEMBER_GC_TTLS + 1,
        "deleted only after ten lease times"
    );
    assert_eq!(a.held().len(), 6, "a holds every shard");
    assert!(lease_names(&server).contains(&"g-member-a".to_owned()));
}
