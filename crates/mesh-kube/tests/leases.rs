//! `mesh_kube::leases::KubeLeases` on the double, counted request by request: a renewal of a
//! lease this process holds is one guarded `PUT`; a renewal that meets someone else's write
//! (`409`) reads the lease and gives it up unless it is still ours; a stopping replica deletes
//! its member lease; a member nobody renewed for ten lease times is deleted, a slow one never.
//! `leases_live.rs` runs [`renewals_cost_one_put_and_conflicts_give_the_lease_up`] on the real API
//! server.

use std::time::Duration;

use mesh_core::{MeshKind, ObjectRef};
use mesh_kube::{
    leases::KubeLeases,
    testing::{FakeApiServer, Fault, Match},
};

const TTL: Duration = Duration::from_secs(15);

fn lease(ns: &str, name: &str) -> ObjectRef {
    ObjectRef::new("coordination.k8s.io/v1", "Lease", Some(ns), name)
}

/// `METHOD name` of each recorded request (the last path segment, or `leases` for a list).
fn lines(server: &FakeApiServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| {
            let last = r.path.rsplit('/').next().unwrap_or_default();
            format!("{} {last}", r.method)
        })
        .collect()
}

/// What the double and the real API server must agree on: replica `a` takes a shard (a `GET`
/// and a `POST`), then renews it with one `PUT` each time; replica `b` takes it over once it
/// has seen it unchanged for its duration; `a`'s next renewal gets a `409`,
/// reads the lease, finds `b` holding it and gives it up. `sent` answers the methods of the
/// requests sent since it was last called.
pub(crate) async fn renewals_cost_one_put_and_conflicts_give_the_lease_up(
    a: &KubeLeases,
    b: &KubeLeases,
    name: &str,
    ttl: Duration,
    mut sent: impl FnMut() -> Vec<String>,
) {
    assert!(a.hold(name, "a", ttl).await.unwrap());
    assert_eq!(sent(), ["GET", "POST"], "taking a free lease");
    for _ in 0..3 {
        assert!(a.hold(name, "a", ttl).await.unwrap());
        assert_eq!(sent(), ["PUT"], "a renewal is one request");
    }
    assert!(!b.hold(name, "b", ttl).await.unwrap(), "held by a");
    sent();
    tokio::time::sleep(ttl).await;
    assert!(
        b.hold(name, "b", ttl).await.unwrap(),
        "a stopped renewing: b takes it over"
    );
    sent();
    assert!(
        !a.hold(name, "a", ttl).await.unwrap(),
        "a's renewal met b's write: the lease is lost"
    );
    assert_eq!(
        sent(),
        ["PUT", "GET"],
        "the 409, then the read that shows b holds it"
    );
    assert!(!a.hold(name, "a", ttl).await.unwrap(), "still b's");
}

#[tokio::test]
async fn a_renewal_is_one_put_and_a_conflict_gives_the_lease_up() {
    tokio::time::pause();
    let server = FakeApiServer::new();
    let a = KubeLeases::new(server.client(), "prod", MeshKind::Istio);
    let b = KubeLeases::new(server.client(), "prod", MeshKind::Istio);
    let sent = || {
        let methods = lines(&server)
            .into_iter()
            .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
            .collect();
        server.clear_requests();
        methods
    };
    renewals_cost_one_put_and_conflicts_give_the_lease_up(&a, &b, "g-shard-0", TTL, sent).await;
    let stored = server.object(&lease("prod", "g-shard-0")).unwrap();
    assert_eq!(stored["spec"]["holderIdentity"], "b");
    assert_eq!(stored["spec"]["leaseTransitions"], 1);
}

#[tokio::test]
async fn a_renewal_whose_answer_was_lost_keeps_the_lease() {
    tokio::time::pause();
    let server = FakeApiServer::new();
    let a = KubeLeases::new(server.client(), "prod", MeshKind::Istio);
    assert!(a.hold("g-shard-1", "a", TTL).await.unwrap());
    // The renewal lands, its answer does not: the copy `a` keeps is one version behind.
    server.fail_next(Match::method(http::Method::PUT), Fault::LoseAnswer);
    assert!(a.hold("g-shard-1", "a", TTL).await.is_err());
    server.clear_requests();
    assert!(a.hold("g-shard-1", "a", TTL).await.unwrap(), "still a's");
    assert_eq!(
        lines(&server),
        ["PUT g-shard-1", "GET g-shard-1", "PUT g-shard-1"],
        "the 409, the read showing a still holds it, the renewal on its version"
    );
    server.clear_requests();
    assert!(a.hold("g-shard-1", "a", TTL).await.unwrap());
    assert_eq!(lines(&server), ["PUT g-shard-1"], "one request again");
}

#[tokio::test]
async fn releasing_and_removing_a_held_lease_are_one_request_each() {
    let server = FakeApiServer::new();
    let a = KubeLeases::new(server.client(), "prod", MeshKind::Istio);
    assert!(a.hold("g-shard-2", "a", TTL).await.unwrap());
    assert!(a.hold("g-member-a", "a", TTL).await.unwrap());
    server.clear_requests();
    a.release("g-shard-2", "a").await.unwrap();
    a.remove("g-member-a", "a").await.unwrap();
    assert_eq!(lines(&server), ["PUT g-shard-2", "DELETE g-member-a"]);
    let shard = server.object(&lease("prod", "g-shard-2")).unwrap();
    assert!(shard["spec"]["holderIdentity"].is_null(), "{shard}");
    assert!(
        server.object(&lease("prod", "g-member-a")).is_none(),
        "the stopped replica's member is gone"
    );
    // Another holder's lease is neither released nor deleted.
    let b = KubeLeases::new(server.client(), "prod", MeshKind::Istio);
    assert!(b.hold("g-member-b", "b", TTL).await.unwrap());
    a.remove("g-member-b", "a").await.unwrap();
    a.release("g-member-b", "a").await.unwrap();
    let member = server.object(&lease("prod", "g-member-b")).unwrap();
    assert_eq!(member["spec"]["holderIdentity"], "b");
}

#[tokio::test]
async fn a_member_nobody_renews_is_deleted_after_ten_lease_times_and_a_slow_one_never() {
    tokio::time::pause();
    let server = FakeApiServer::new();
    let (live, killed, slow) = (
        KubeLeases::new(server.client(), "prod", MeshKind::Istio),
        KubeLeases::new(server.client(), "prod", MeshKind::Istio),
        KubeLeases::new(server.client(), "prod", MeshKind::Istio),
    );
    assert!(killed.hold("g-member-killed", "killed", TTL).await.unwrap());
    let mut removed = Vec::new();
    // The live replica's rounds, every third of the lease time, for 15 lease times; the slow
    // replica renews only every second lease time (it looks expired in between), the killed
    // one never again.
    for round in 1..=45_u32 {
        tokio::time::advance(TTL / 3).await;
        assert!(live.hold("g-member-live", "live", TTL).await.unwrap());
        if round % 6 == 0 {
            assert!(slow.hold("g-member-slow", "slow", TTL).await.unwrap());
        }
        let holders = live.holders("g-member-").await.unwrap();
        assert!(holders.contains(&"live".to_owned()));
        server.clear_requests();
        let gone = live.remove_expired("g-member-", 10).await.unwrap();
        if gone.is_empty() {
            assert!(
                server.requests().is_empty(),
                "round {round}: no request when nothing is old"
            );
        }
        for name in gone {
            removed.push((round, name));
        }
    }
    // First seen (unchanged) in round 1: ten lease times later is round 31.
    assert_eq!(removed, [(31, "g-member-killed".to_owned())]);
    assert!(server.object(&lease("prod", "g-member-killed")).is_none());
    assert!(server.object(&lease("prod", "g-member-slow")).is_some());
    assert!(server.object(&lease("prod", "g-member-live")).is_some());
}

#[tokio::test]
async fn a_member_renewed_after_it_was_seen_is_not_deleted() {
    tokio::time::pause();
    let server = FakeApiServer::new();
    let (live, late) = (
        KubeLeases::new(server.client(), "prod", MeshKind::Istio),
        KubeLeases::new(server.client(), "prod", MeshKind::Istio),
    );
    assert!(late.hold("g-member-late", "late", TTL).await.unwrap());
    live.holders("g-member-").await.unwrap();
    tokio::time::advance(TTL * 10).await;
    // Renewed after the live replica's last list: the guarded delete meets a new version.
    assert!(late.hold("g-member-late", "late", TTL).await.unwrap());
    server.clear_requests();
    assert!(live.remove_expired("g-member-", 10).await.unwrap().is_empty());
    assert_eq!(
        lines(&server),
        ["DELETE g-member-late"],
        "tried, refused with a 409"
    );
    assert!(server.object(&lease("prod", "g-member-late")).is_some());
}
