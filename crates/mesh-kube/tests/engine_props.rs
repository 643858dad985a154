//! Property: whatever fails, and wherever, `apply` reports exactly what landed.
//!
//! Random plans of N writes meet a random fault (persistent or transient, in the dry run or in the
//! real writes, at a random write). Transient faults are retried away. A persistent fault in the
//! dry run, or at the first real write, leaves nothing written; at write k > 1 it gives
//! `PartiallyApplied` whose `applied` is exactly the first k−1 targets, and the cluster holds
//! exactly those objects.

use http::Method;
use mesh_core::{Change, Error, MeshKind, ObjectRef, Plan, Write, WriteAction};
use mesh_kube::{
    KubeEngine, RetryPolicy,
    testing::{FakeApiServer, Fault, Match},
};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone, Copy)]
enum Kind {
    ServerError,
    Dropped,
    Timeout,
    Invalid,
    Conflict,
    TooManyRequestsOnce,
    ServerErrorOnce,
}

impl Kind {
    fn fault(self) -> Fault {
        match self {
            Self::ServerError | Self::ServerErrorOnce => Fault::internal_error(),
            Self::Dropped => Fault::Drop,
            Self::Timeout => Fault::Hang,
            Self::Invalid => Fault::invalid("spec", "refused"),
            Self::Conflict => Fault::apply_conflict("someone-else", ".spec.mtls"),
            Self::TooManyRequestsOnce => Fault::too_many_requests(1),
        }
    }

    fn transient(self) -> bool {
        matches!(self, Self::TooManyRequestsOnce | Self::ServerErrorOnce)
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::ServerError),
        Just(Kind::Dropped),
        Just(Kind::Timeout),
        Just(Kind::Invalid),
        Just(Kind::Conflict),
        Just(Kind::TooManyRequestsOnce),
        Just(Kind::ServerErrorOnce),
    ]
}

fn target(i: usize) -> ObjectRef {
    ObjectRef::new(
        "security.istio.io/v1",
        "PeerAuthentication",
        Some("prod"),
        &format!("pa-{i}"),
    )
}

fn plan(n: usize) -> Plan {
    let change = Change::EnableMtls {
        namespace: "prod".parse().unwrap(),
    };
    let mut plan = Plan::for_change(MeshKind::Istio, &change);
    for i in 0..n {
        plan.push(Write::new(
            WriteAction::Apply,
            target(i),
            Some(json!({ "spec": { "mtls": { "mode": "STRICT" } } })),
        ));
    }
    plan
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn apply_reports_exactly_what_landed(n in 1usize..6, at in 0usize..6, in_dry_run: bool, kind in kind()) {
        // A plan of one write has no dry run: faults in dry runs need two writes or more.
        let n = if in_dry_run { n.max(2) } else { n };
        let at = at % n;
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async move {
            let server = FakeApiServer::new();
            let policy = RetryPolicy::default();
            let when = Match::method(Method::PATCH).path_contains(&format!("/pa-{at}"));
            let when = if in_dry_run { when.dry_runs_only() } else { when.real_writes_only() };
            let times = if kind.transient() { 1 } else { policy.max_attempts as usize };
            server.fail_times(times, when, kind.fault());
            let engine = KubeEngine::new(server.client(), MeshKind::Istio, "mesh").with_retry(policy);
            let result = engine.apply(&plan(n)).await;
            let present: Vec<ObjectRef> = (0..n).map(target).filter(|t| server.object(t).is_some()).collect();
            match result {
                Ok(report) => {
                    assert!(kind.transient(), "{kind:?} at {at} should have failed");
                    assert_eq!(report.applied, (0..n).map(target).collect::<Vec<_>>());
                    assert_eq!(present.len(), n);
                }
                Err(Error::PartiallyApplied { applied, failed, total, .. }) => {
                    assert!(!kind.transient() && !in_dry_run && at > 0, "{kind:?} at {at}");
                    assert_eq!(applied, (0..at).map(target).collect::<Vec<_>>());
                    assert_eq!(*failed, target(at));
                    assert_eq!(total, n);
                    assert_eq!(present, applied);
                }
                Err(e) => {
                    assert!(!kind.transient() && (in_dry_run || at == 0), "{kind:?} at {at}: {e}");
                    assert!(present.is_empty(), "{present:?}");
                    if in_dry_run {
                        assert!(server.writes().is_empty());
                    }
                }
            }
        });
    }
}
