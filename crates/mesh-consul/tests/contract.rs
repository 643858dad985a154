//! The backend contract of `mesh_core::MeshBackend` (the cases of the workspace contract suite),
//! run against `ConsulBackend` on the loopback Consul double.

mod support;

use mesh_core::{
    Change, CircuitBreaker, Error, Fault, FaultId, HttpStatus, MeshBackend, MeshKind, Percent, RetryPolicy,
    ServiceDefinition,
};
use support::{FakeConsul, ce, ent, reviews, split, start};

#[tokio::test]
async fn bad_input_writes_nothing() {
    let (fake, backend) = start(ce()).await;
    let bad_retry = Change::SetRetryPolicy {
        service: reviews(),
        policy: RetryPolicy {
            attempts: 3,
            per_try_timeout: None,
            retry_on: vec![],
            retry_on_status: vec![],
            overall_timeout: None,
        },
    };
    let bad_breaker = Change::ConfigureCircuitBreaker {
        service: reviews(),
        circuit_breaker: CircuitBreaker::default(),
        callers: vec![],
    };
    for change in [bad_retry, bad_breaker] {
        match backend.execute(&change).await {
            Err(Error::InvalidInput { field, .. }) => assert!(!field.is_empty()),
            other => panic!("{}: expected InvalidInput, got {other:?}", change.operation()),
        }
    }
    assert!(
        fake.requests().is_empty(),
        "validation comes before any request: {:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn every_plan_prefix_is_safe_and_the_double_agrees() {
    let (fake, backend) = start(ce()).await;
    for change in [
        split(&[("v1", 90), ("v2", 10)]),
        split(&[("v2", 100), ("v3", 0)]),
        split(&[("v3", 50), ("v4", 50)]),
    ] {
        let plan = backend.plan(&change).await.unwrap();
        plan.check_safe_prefixes().unwrap();
        backend.apply(&plan).await.unwrap();
        fake.check_consistent().unwrap();
    }
}

#[tokio::test]
async fn failure_part_way_reports_exactly_what_landed() {
    let (fake, backend) = start(ce()).await;
    let change = split(&[("v1", 80), ("v2", 20)]);
    let plan = backend.plan(&change).await.unwrap();
    assert!(plan.writes.len() >= 2);
    fake.fail_at_write(2, 400);
    match backend.apply(&plan).await {
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
    assert_eq!(fake.landed_writes().len(), 1);
    assert_eq!(
        fake.write_log(),
        [(
            mesh_core::WriteAction::Apply,
            "service-defaults reviews".to_owned()
        )]
    );
    fake.check_consistent().unwrap();
    backend.execute(&change).await.unwrap();
    fake.check_consistent().unwrap();
}

#[tokio::test]
async fn rerunning_a_change_converges() {
    let (fake, backend) = start(ce()).await;
    let changes = [
        split(&[("v1", 70), ("v2", 30)]),
        Change::RegisterService(
            ServiceDefinition::builder("reviews", "default", 9080)
                .unwrap()
                .version("v1")
                .unwrap(),
        ),
        Change::EnableMtls {
            namespace: "default".parse().unwrap(),
        },
        Change::ConfigureCircuitBreaker {
            service: reviews(),
            circuit_breaker: CircuitBreaker {
                max_connections: Some(10),
                ..CircuitBreaker::default()
            },
            callers: vec!["web".parse().unwrap()],
        },
    ];
    for change in changes {
        backend.execute(&change).await.unwrap();
        let again = backend.plan(&change).await.unwrap();
        let entry_writes = again
            .writes
            .iter()
            .filter(|w| w.target.kind != "agent-service")
            .count();
        assert_eq!(
            entry_writes,
            0,
            "{}: config entries converged",
            change.operation()
        );
        fake.check_consistent().unwrap();
    }
}

#[tokio::test]
async fn every_change_reports_its_event() {
    let (_fake, backend) = start(ce()).await;
    let def = ServiceDefinition::builder("reviews", "default", 9080)
        .unwrap()
        .version("v1")
        .unwrap();
    let steps = [
        (Change::RegisterService(def), "service.registered"),
        (split(&[("v1", 90), ("v2", 10)]), "traffic.weight.updated"),
        (
            Change::EnableMtls {
                namespace: "default".parse().unwrap(),
            },
            "mtls.enabled",
        ),
    ];
    for (change, name) in steps {
        assert_eq!(backend.execute(&change).await.unwrap().event.name(), name);
    }
}

#[tokio::test]
async fn faults_are_removed_by_id_alone() {
    let fake = FakeConsul::start(ent()).await;
    let fault = Fault::Abort {
        percent: Percent::new(10.0).unwrap(),
        http_status: HttpStatus::new(503).unwrap(),
    };
    let change = Change::InjectFault {
        service: reviews(),
        fault,
    };
    let report = fake.backend(None).execute(&change).await.unwrap();
    let printed = match report.event {
        mesh_core::MeshEvent::FaultInjected { fault_id, .. } => fault_id.to_string(),
        other => panic!("unexpected event {other:?}"),
    };
    let parsed: FaultId = printed.parse().unwrap();
    assert_eq!(parsed.mesh, MeshKind::Consul);
    let other_process = fake.backend(None);
    other_process
        .execute(&Change::RemoveFault {
            fault_id: parsed.clone(),
        })
        .await
        .unwrap();
    match other_process
        .execute(&Change::RemoveFault { fault_id: parsed })
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("removing twice should be NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn capabilities_follow_the_detected_version() {
    let (_fake, backend) = start(ent()).await;
    backend.plan(&split(&[("v1", 100)])).await.unwrap();
    assert!(
        backend
            .capabilities()
            .support(mesh_core::Feature::FaultDelay)
            .is_native()
    );
    let (_fake, backend) = start(ce()).await;
    backend.plan(&split(&[("v1", 100)])).await.unwrap();
    assert!(
        !backend
            .capabilities()
            .support(mesh_core::Feature::FaultDelay)
            .is_native()
    );
}
