//! Every Consul gap ("what a mesh cannot do natively") is a typed refusal
//! naming the feature, decided before any read or write of config entries.

use crate::support;

use std::time::Duration;

use mesh_consul::ConsulVersion;
use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, Change, CircuitBreaker, Error, Fault, Feature,
    HttpStatus, MeshBackend, MeshKind, Percent, RetryOn, RetryPolicy,
};
use support::{ce, ent, lines, reviews, start};

/// What no Consul release can do is refused without any request at all.
async fn refused_without_any_request(change: Change, feature: Feature) {
    let (fake, _) = start(ce()).await;
    let backend = fake.backend(None);
    match backend.execute(&change).await {
        Err(Error::Unsupported { feature: f, .. }) => assert_eq!(f, feature),
        other => panic!("expected Unsupported({feature}), got {other:?}"),
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

async fn refused(version: ConsulVersion, change: Change, feature: Feature) -> String {
    let (fake, backend) = start(version).await;
    let reason = match backend.execute(&change).await {
        Err(Error::Unsupported {
            mesh,
            feature: f,
            reason,
        }) => {
            assert_eq!((mesh, f), (MeshKind::Consul, feature), "{}", change.operation());
            reason
        }
        other => panic!(
            "{}: expected Unsupported({feature}), got {other:?}",
            change.operation()
        ),
    };
    assert!(!reason.is_empty());
    assert!(
        lines(&fake).is_empty(),
        "{}: nothing but the edition probe was sent: {:?}",
        change.operation(),
        lines(&fake)
    );
    reason
}

fn abort() -> Fault {
    Fault::Abort {
        percent: Percent::new(10.0).unwrap(),
        http_status: HttpStatus::new(503).unwrap(),
    }
}

fn delay() -> Fault {
    Fault::Delay {
        percent: Percent::new(10.0).unwrap(),
        duration: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn any_fault_on_ce_without_the_opt_in() {
    let why = refused(
        ce(),
        Change::InjectFault {
            service: reviews(),
            fault: abort(),
        },
        Feature::FaultAbort,
    )
    .await;
    assert!(why.contains("opt-in"), "{why}");
}

#[tokio::test]
async fn a_delay_on_ce_even_with_the_opt_in_and_on_enterprise_before_1_18() {
    let (fake, backend) = start(ce()).await;
    let opted = fake.backend(None).emulate_abort_with_lua(true);
    drop(backend);
    match opted
        .execute(&Change::InjectFault {
            service: reviews(),
            fault: delay(),
        })
        .await
    {
        Err(Error::Unsupported {
            feature: Feature::FaultDelay,
            reason,
            ..
        }) => assert!(reason.contains("Enterprise"), "{reason}"),
        other => panic!("expected Unsupported(fault.delay), got {other:?}"),
    }
    refused(
        ConsulVersion::enterprise(1, 17, 0),
        Change::InjectFault {
            service: reviews(),
            fault: delay(),
        },
        Feature::FaultDelay,
    )
    .await;
}

#[tokio::test]
async fn authorization_from_namespaces_on_ce() {
    let policy = AuthorizationPolicy {
        name: "from-prod".parse().unwrap(),
        namespace: "default".parse().unwrap(),
        target: Some("reviews".parse().unwrap()),
        action: AuthzAction::Allow,
        rules: vec![AuthzRule {
            from: vec![AuthzSource {
                namespaces: vec!["prod".parse().unwrap()],
                ..Default::default()
            }],
            to: vec![],
        }],
    };
    refused(
        ce(),
        Change::CreateAuthorizationPolicy(policy.clone()),
        Feature::AuthzNamespaces,
    )
    .await;
    // A principal in another namespace is a namespace too.
    let mut by_principal = policy;
    by_principal.rules[0].from = vec![AuthzSource {
        principals: vec!["prod/web".parse().unwrap()],
        ..Default::default()
    }];
    refused(
        ce(),
        Change::CreateAuthorizationPolicy(by_principal.clone()),
        Feature::AuthzNamespaces,
    )
    .await;
    // Enterprise takes both.
    let (fake, backend) = start(ent()).await;
    backend
        .execute(&Change::CreateAuthorizationPolicy(by_principal))
        .await
        .unwrap();
    let entry = fake.requests().into_iter().find(|r| r.method == "PUT").unwrap();
    assert!(entry.query.contains(&("ns".into(), "default".into())));
}

#[tokio::test]
async fn circuit_breaker_max_retries() {
    let cb = CircuitBreaker {
        max_retries: Some(3),
        ..CircuitBreaker::default()
    };
    let why = refused(
        ce(),
        Change::ConfigureCircuitBreaker {
            service: reviews(),
            circuit_breaker: cb,
            callers: vec!["web".parse().unwrap()],
        },
        Feature::CircuitBreakerMaxRetries,
    )
    .await;
    assert!(why.contains("retry"), "{why}");
    let cb = CircuitBreaker {
        max_retries: Some(3),
        ..CircuitBreaker::default()
    };
    let change = Change::ConfigureCircuitBreaker {
        service: reviews(),
        circuit_breaker: cb,
        callers: vec![],
    };
    refused_without_any_request(change, Feature::CircuitBreakerMaxRetries).await;
}

#[tokio::test]
async fn circuit_breaker_without_any_caller_is_refused_with_the_reason() {
    let (fake, backend) = start(ce()).await;
    let cb = CircuitBreaker {
        consecutive_errors: Some(5),
        ..CircuitBreaker::default()
    };
    match backend
        .execute(&Change::ConfigureCircuitBreaker {
            service: reviews(),
            circuit_breaker: cb,
            callers: vec![],
        })
        .await
    {
        Err(Error::InvalidInput { field, reason }) => {
            assert_eq!(field, "callers");
            assert!(reason.contains("service-intentions"), "{reason}");
        }
        other => panic!("expected InvalidInput(callers), got {other:?}"),
    }
    assert!(support::writes(&fake).is_empty());
}

#[tokio::test]
async fn retry_per_try_timeout() {
    let policy = RetryPolicy {
        attempts: 2,
        per_try_timeout: Some(Duration::from_secs(1)),
        retry_on: vec![RetryOn::ConnectFailure],
        retry_on_status: vec![],
        overall_timeout: None,
    };
    let why = refused(
        ce(),
        Change::SetRetryPolicy {
            service: reviews(),
            policy,
        },
        Feature::RetryPerTryTimeout,
    )
    .await;
    assert!(why.contains("RequestTimeout"), "{why}");
    let policy = RetryPolicy {
        attempts: 1,
        per_try_timeout: Some(Duration::from_millis(500)),
        retry_on: vec![RetryOn::Reset],
        retry_on_status: vec![],
        overall_timeout: None,
    };
    refused_without_any_request(
        Change::SetRetryPolicy {
            service: reviews(),
            policy,
        },
        Feature::RetryPerTryTimeout,
    )
    .await;
}

#[tokio::test]
async fn strict_mtls_on_consul_1_15() {
    let why = refused(
        ConsulVersion::ce(1, 15, 4),
        Change::EnableMtls {
            namespace: "default".parse().unwrap(),
        },
        Feature::MtlsStrict,
    )
    .await;
    assert!(why.contains("1.16"), "{why}");
}

#[tokio::test]
async fn a_namespace_other_than_default_on_ce() {
    refused(
        ce(),
        Change::EnableMtls {
            namespace: "prod".parse().unwrap(),
        },
        Feature::MtlsStrict,
    )
    .await;
}

/// Metrics, traces and the graph come from an observability source (`mesh-telemetry`, which
/// `Mesh` composes with the backend; without one, `Mesh` answers `NotConfigured`): the backend
/// answers none itself.
#[tokio::test]
async fn metrics_traces_and_graph_need_an_observability_source() {
    let (_fake, backend) = start(ce()).await;
    assert!(backend.observability().is_none());
    assert!(backend.state_store().is_some());
}
