//! The behaviour suite every backend must pass, written against a [`Harness`].
//!
//! A backend plugs in by implementing [`Harness`] over its test double (the in-memory `FakeMesh`,
//! a fake Kubernetes API server, a fake Consul agent) and calling [`run_all`].

#![allow(dead_code, unreachable_pub)] // Each suite uses a part.

pub mod live_consul;
pub mod live_kube;

use std::time::Duration;

/// Every live case in this binary (contract, rollouts, on both servers) shares the servers and the
/// API server's audit log, which the cases read to count what landed: one at a time.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

use mesh::{
    Change, CircuitBreaker, Error, Fault, FaultId, HttpStatus, Mesh, MeshKind, Percent, RetryOn, RetryPolicy,
    ServiceDefinition, ServiceId, TrafficSplit, WriteAction,
};

/// What the suite needs from a backend's test double.
pub trait Harness {
    /// A handle on the backend, fresh state.
    fn mesh(&self) -> Mesh;
    /// The writes that reached the control plane so far, in order.
    fn writes(&self) -> Vec<(WriteAction, String)>;
    /// Makes the `n`-th write from now fail with a server error.
    fn fail_at_write(&self, n: usize);
    /// Checks the stored state: no route points at a missing subset.
    fn check_consistent(&self) -> Result<(), String>;
    /// A change this backend can perform that needs at least two writes on a fresh control plane
    /// (a split to new versions, for example).
    fn multi_write_change(&self) -> Change {
        split_change("v1", 80, "v2", 20)
    }
    /// Whether [`Harness::fail_at_write`] works: a double can fail a write on demand, a real
    /// server cannot, so the partial-failure case runs on doubles only.
    fn injects_faults(&self) -> bool {
        true
    }
    /// How many operations the slow-subscriber case runs (enough to overflow the event buffer on an
    /// in-memory backend; fewer where every operation is a round trip through a test double).
    fn burst(&self) -> u32 {
        1100
    }
}

/// Runs an async call from a harness's synchronous methods (live harnesses, multi-thread runtime).
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// A split of `service` between two versions.
pub fn split_change(a: &str, wa: u8, b: &str, wb: u8) -> Change {
    Change::SetTrafficWeight {
        service: service(),
        split: TrafficSplit::try_from_pairs([(a, wa), (b, wb)]).unwrap(),
    }
}

/// The service the suite works on.
pub fn service() -> ServiceId {
    "default/reviews".parse().unwrap()
}

/// Runs every contract case, each on a fresh harness from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Box<dyn Harness>>,
{
    bad_input_writes_nothing(make().await.as_ref()).await;
    every_plan_prefix_is_safe(make().await.as_ref()).await;
    let h = make().await;
    if h.injects_faults() {
        failure_part_way_reports_exactly_what_landed(h.as_ref()).await;
    }
    rerunning_a_change_converges(make().await.as_ref()).await;
    every_change_emits_its_event(make().await.as_ref()).await;
    a_slow_subscriber_never_blocks(make().await.as_ref()).await;
    faults_are_removed_by_id_alone(make().await.as_ref()).await;
}

/// Bad input is refused with a typed error naming the field, before any write.
pub async fn bad_input_writes_nothing(h: &dyn Harness) {
    let mesh = h.mesh();
    let bad_retry = Change::SetRetryPolicy {
        service: service(),
        policy: RetryPolicy {
            attempts: 3,
            per_try_timeout: None,
            retry_on: vec![],
            retry_on_status: vec![],
            overall_timeout: None,
        },
    };
    let bad_breaker = Change::ConfigureCircuitBreaker {
        service: service(),
        circuit_breaker: CircuitBreaker::default(),
        callers: vec![],
    };
    for change in [bad_retry, bad_breaker] {
        match mesh.execute(change.clone()).await {
            Err(Error::InvalidInput { field, .. }) => assert!(!field.is_empty()),
            other => panic!("{}: expected InvalidInput, got {other:?}", change.operation()),
        }
    }
    assert!(h.writes().is_empty(), "bad input wrote {:?}", h.writes());
}

/// Every prefix of every plan leaves no dangling reference.
pub async fn every_plan_prefix_is_safe(h: &dyn Harness) {
    let mesh = h.mesh();
    let steps = [
        split_change("v1", 90, "v2", 10),
        split_change("v2", 100, "v3", 0),
        split_change("v3", 50, "v4", 50),
    ];
    for change in steps {
        let plan = mesh.plan(&change).await.expect("plan");
        if let Err(unsafe_prefix) = plan.check_safe_prefixes() {
            panic!("{}: {unsafe_prefix}", change.operation());
        }
        mesh.apply(&plan).await.expect("apply");
        h.check_consistent().expect("consistent after apply");
    }
}

/// A write failing part-way gives `PartiallyApplied` with exactly the writes that landed, and the
/// landed prefix is consistent.
pub async fn failure_part_way_reports_exactly_what_landed(h: &dyn Harness) {
    let mesh = h.mesh();
    let change = h.multi_write_change();
    let plan = mesh.plan(&change).await.expect("plan");
    assert!(
        plan.writes.len() >= 2,
        "the multi-write change planned {} writes",
        plan.writes.len()
    );
    let before = h.writes().len();
    h.fail_at_write(2);
    match mesh.apply(&plan).await {
        Err(Error::PartiallyApplied {
            applied,
            failed,
            total,
            ..
        }) => {
            assert_eq!(applied, vec![plan.writes[0].target.clone()]);
            assert_eq!(*failed, plan.writes[1].target);
            assert_eq!(total, plan.writes.len());
        }
        other => panic!("expected PartiallyApplied, got {other:?}"),
    }
    assert_eq!(h.writes().len() - before, 1, "exactly one write landed");
    h.check_consistent().expect("the landed prefix is safe");
    // Running the change again completes it.
    mesh.execute(change).await.expect("re-run after a failure");
    h.check_consistent().expect("consistent after the re-run");
}

/// Applying the same change twice leaves the control plane as after the first time.
pub async fn rerunning_a_change_converges(h: &dyn Harness) {
    let mesh = h.mesh();
    let change = split_change("v1", 70, "v2", 30);
    mesh.execute(change.clone()).await.expect("first run");
    let after_first = h.writes().len();
    let plan = mesh.plan(&change).await.expect("second plan");
    mesh.apply(&plan).await.expect("second run");
    let third = mesh.plan(&change).await.expect("third plan");
    assert_eq!(
        third.writes.len(),
        plan.writes.len(),
        "plans stop changing once the change landed"
    );
    assert!(h.writes().len() - after_first <= plan.writes.len());
    h.check_consistent().expect("consistent");
}

/// Each change publishes the spec's event name.
pub async fn every_change_emits_its_event(h: &dyn Harness) {
    let mesh = h.mesh();
    let mut events = mesh.subscribe();
    let def = ServiceDefinition::builder("reviews", "default", 9080)
        .unwrap()
        .version("v1")
        .unwrap();
    mesh.register_service(&def).await.expect("register");
    assert_eq!(events.recv().await.unwrap().name(), "service.registered");
    mesh.execute(split_change("v1", 90, "v2", 10))
        .await
        .expect("split");
    assert_eq!(events.recv().await.unwrap().name(), "traffic.weight.updated");
    mesh.enable_mtls(&"default".parse().unwrap()).await.expect("mtls");
    assert_eq!(events.recv().await.unwrap().name(), "mtls.enabled");
}

/// Operations finish even when a subscriber never reads.
pub async fn a_slow_subscriber_never_blocks(h: &dyn Harness) {
    let mesh = h.mesh();
    let mut stalled = mesh.subscribe();
    let burst = h.burst();
    for i in 0..burst {
        let w = (i % 100) as u8;
        mesh.execute(split_change("v1", 100 - w, "v2", w))
            .await
            .expect("split");
    }
    if burst > 1024 {
        assert!(matches!(
            stalled.recv().await,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_))
        ));
    } else {
        assert_eq!(
            stalled.len(),
            burst as usize,
            "every event waits for the stalled subscriber"
        );
    }
}

/// A fault id printed by one handle removes the fault through another, with nothing else shared.
pub async fn faults_are_removed_by_id_alone(h: &dyn Harness) {
    let mesh = h.mesh();
    let fault = Fault::Abort {
        percent: Percent::new(10.0).unwrap(),
        http_status: HttpStatus::new(503).unwrap(),
    };
    let id = mesh.inject_fault(&service(), &fault).await.expect("inject");
    let printed = id.to_string();
    let other_process = h.mesh();
    let parsed: FaultId = printed.parse().unwrap();
    other_process.remove_fault(&parsed).await.expect("remove by id");
    match other_process.remove_fault(&parsed).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("removing twice should be NotFound, got {other:?}"),
    }
}

/// A feature the mesh lacks is refused by name, with no write.
pub async fn unsupported_is_typed(
    h: &dyn Harness,
    mesh_kind: MeshKind,
    change: Change,
    feature: mesh::Feature,
) {
    match h.mesh().execute(change).await {
        Err(Error::Unsupported {
            mesh,
            feature: f,
            reason,
        }) => {
            assert_eq!((mesh, f), (mesh_kind, feature));
            assert!(!reason.is_empty());
        }
        other => panic!("expected Unsupported({feature}), got {other:?}"),
    }
    assert!(h.writes().is_empty());
}

/// A retry policy used by several cases.
pub fn safe_retry_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        per_try_timeout: Some(Duration::from_secs(1)),
        retry_on: vec![RetryOn::ConnectFailure, RetryOn::RefusedStream],
        retry_on_status: vec![],
        overall_timeout: Some(Duration::from_secs(5)),
    }
}
