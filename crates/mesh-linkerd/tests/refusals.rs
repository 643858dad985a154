//! Every Linkerd refusal is a typed `Unsupported` naming the feature, given before any
//! read (the reader here is empty, so a read would show as `NotFound`).

use crate::support;

use std::time::Duration;

use mesh_core::*;
use mesh_linkerd::{Config, LinkerdVersion, Snapshot};
use support::*;

async fn refused(change: &Change, config: &Config) -> (Feature, String) {
    match mesh_linkerd::plan(change, &Snapshot::default(), config, config.effective_version()) {
        Err(Error::Unsupported {
            mesh,
            feature,
            reason,
        }) => {
            assert_eq!(mesh, MeshKind::Linkerd);
            assert!(!reason.is_empty());
            (feature, reason)
        }
        other => panic!("expected Unsupported for {}, got {other:?}", change.operation()),
    }
}

fn v(version: LinkerdVersion) -> Config {
    Config::default().version(version)
}

#[tokio::test]
async fn delay_faults_are_unsupported_on_every_version() {
    for version in LinkerdVersion::ALL {
        let (f, reason) = refused(&delay(), &opted_in(version)).await;
        assert_eq!(f, Feature::FaultDelay);
        assert!(reason.contains("delay"));
    }
}

#[tokio::test]
async fn abort_faults_need_the_error_backend_opt_in() {
    let (f, reason) = refused(&abort(), &v(LinkerdVersion::V2_20)).await;
    assert_eq!(f, Feature::FaultAbort);
    assert!(reason.contains("opt-in"), "{reason}");
}

#[tokio::test]
async fn deny_policies_are_unsupported() {
    let Change::CreateAuthorizationPolicy(mut p) = authz() else {
        unreachable!()
    };
    p.action = AuthzAction::Deny;
    let (f, reason) = refused(&Change::CreateAuthorizationPolicy(p), &v(LinkerdVersion::V2_20)).await;
    assert_eq!(f, Feature::AuthzDeny);
    assert!(reason.contains("allow-list"));
}

#[tokio::test]
async fn load_balancer_is_refused_by_field() {
    let Change::CreateDestinationRule(mut p) = subsets() else {
        unreachable!()
    };
    p.load_balancer = Some(LoadBalancer::LeastRequest);
    let (f, reason) = refused(&Change::CreateDestinationRule(p), &v(LinkerdVersion::V2_20)).await;
    assert_eq!(f, Feature::LoadBalancer);
    assert!(reason.contains("EWMA"));
}

#[tokio::test]
async fn destination_tls_is_listed_unsupported() {
    let caps = mesh_linkerd::capabilities(LinkerdVersion::V2_20, &Config::default());
    assert!(
        matches!(caps.support(Feature::DestinationTls), Support::Unsupported { reason } if reason.contains("mTLS"))
    );
}

#[tokio::test]
async fn breaker_fields_without_an_equivalent_are_refused_each_by_name() {
    let cases: [(CircuitBreaker, Feature); 4] = [
        (
            CircuitBreaker {
                max_connections: Some(100),
                ..Default::default()
            },
            Feature::CircuitBreakerMaxConnections,
        ),
        (
            CircuitBreaker {
                interval: Some(Duration::from_secs(10)),
                ..Default::default()
            },
            Feature::CircuitBreakerInterval,
        ),
        (
            CircuitBreaker {
                max_ejection_percent: Some(Percent::new(50.0).unwrap()),
                ..Default::default()
            },
            Feature::CircuitBreakerMaxEjectionPercent,
        ),
        (
            CircuitBreaker {
                max_retries: Some(3),
                ..Default::default()
            },
            Feature::CircuitBreakerMaxRetries,
        ),
    ];
    for (cb, feature) in cases {
        let change = Change::ConfigureCircuitBreaker {
            service: reviews(),
            circuit_breaker: cb,
            callers: vec![],
        };
        assert_eq!(refused(&change, &v(LinkerdVersion::V2_20)).await.0, feature);
    }
    // The connect timeout maps to a request timeout only where the annotation exists.
    let timeout = Change::ConfigureCircuitBreaker {
        service: reviews(),
        circuit_breaker: CircuitBreaker {
            timeout: Some(Duration::from_secs(1)),
            ..Default::default()
        },
        callers: vec![],
    };
    assert_eq!(
        refused(&timeout, &v(LinkerdVersion::V2_15)).await.0,
        Feature::CircuitBreakerTimeout
    );
}

#[tokio::test]
async fn old_releases_refuse_service_profile_retries_without_opt_in_and_per_try_timeouts_always() {
    for version in [LinkerdVersion::V2_14, LinkerdVersion::V2_15] {
        let (f, reason) = refused(&retries(), &v(version)).await;
        assert_eq!(f, Feature::RetryAttempts);
        assert!(reason.contains("ServiceProfile"), "{reason}");
        let Change::SetRetryPolicy { service, mut policy } = retries() else {
            unreachable!()
        };
        policy.per_try_timeout = Some(Duration::from_secs(1));
        let (f, _) = refused(&Change::SetRetryPolicy { service, policy }, &opted_in(version)).await;
        assert_eq!(f, Feature::RetryPerTryTimeout);
    }
}

#[tokio::test]
async fn external_workloads_are_unsupported_on_2_14() {
    let (f, reason) = refused(&register_vm(), &v(LinkerdVersion::V2_14)).await;
    assert_eq!(f, Feature::RegisterExternalWorkload);
    assert!(reason.contains("2.15"));
}

#[tokio::test]
async fn reset_retries_are_refused() {
    let Change::SetRetryPolicy { service, mut policy } = retries() else {
        unreachable!()
    };
    policy.retry_on = vec![RetryOn::Reset];
    let change = Change::SetRetryPolicy { service, policy };
    // RetryOn is native on 2.16+, so the refusal comes from translation, after the apex read.
    let err = mesh_linkerd::plan(
        &change,
        &seeded(),
        &v(LinkerdVersion::V2_20),
        LinkerdVersion::V2_20,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                feature: Feature::RetryOn,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn route_level_retries_and_faults_point_to_their_operations() {
    let Change::CreateVirtualService(mut routes) = routes() else {
        unreachable!()
    };
    routes.rules[0].retries = Some(RetryPolicy {
        attempts: 2,
        per_try_timeout: None,
        retry_on: vec![RetryOn::ServerError],
        retry_on_status: vec![],
        overall_timeout: None,
    });
    let err = mesh_linkerd::plan(
        &Change::CreateVirtualService(routes),
        &seeded(),
        &v(LinkerdVersion::V2_20),
        LinkerdVersion::V2_20,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Unsupported { feature: Feature::RetryAttempts, ref reason, .. } if reason.contains("set_retry_policy"))
    );
}

#[tokio::test]
async fn bad_input_is_invalid_before_any_refusal() {
    let bad = Change::SetRetryPolicy {
        service: reviews(),
        policy: RetryPolicy {
            attempts: 3,
            per_try_timeout: None,
            retry_on: vec![],
            retry_on_status: vec![],
            overall_timeout: None,
        },
    };
    let err = mesh_linkerd::plan(
        &bad,
        &Snapshot::default(),
        &Config::default(),
        LinkerdVersion::V2_14,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
}

#[tokio::test]
async fn weights_use_an_http_route_unless_smi_is_opted_in() {
    let plain = mesh_linkerd::plan(
        &canary(),
        &seeded(),
        &v(LinkerdVersion::V2_20),
        LinkerdVersion::V2_20,
    )
    .unwrap();
    assert!(plain.targets().iter().all(|t| t.kind != "TrafficSplit"));
    assert!(plain.targets().iter().any(|t| t.kind == "HTTPRoute"));
    let smi = mesh_linkerd::plan(
        &canary(),
        &seeded(),
        &v(LinkerdVersion::V2_20).smi(true),
        LinkerdVersion::V2_20,
    )
    .unwrap();
    assert!(smi.targets().iter().any(|t| t.kind == "TrafficSplit"));
    assert!(smi.warnings.iter().any(|w| w.contains("deprecated")));
}
