//! Property tests of the validated types.

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::{
    AuthorizationPolicy, Change, CircuitBreaker, DestinationPolicy, Fault, FaultId, MeshEvent, MeshKind,
    Percent, Plan, RetryOn, RetryPolicy, ServiceDefinition, ServiceId, ServiceName, ServiceRoutes, Subset,
    TrafficSplit, Version, VersionWeight, names::check_rfc1123_label,
};

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(value).unwrap();
    assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value, "JSON: {json}");
    let yaml = serde_saphyr::to_string(value).unwrap();
    assert_eq!(
        &serde_saphyr::from_str::<T>(&yaml).unwrap(),
        value,
        "YAML: {yaml}"
    );
}

fn version() -> impl Strategy<Value = Version> {
    "[a-z][a-z0-9]{0,5}".prop_map(|s| Version::new(s).unwrap())
}

fn split() -> impl Strategy<Value = TrafficSplit> {
    (prop::collection::btree_set(version(), 1..5), any::<u64>()).prop_map(|(versions, seed)| {
        let versions: Vec<Version> = versions.into_iter().collect();
        let mut left = 100u8;
        let n = versions.len();
        let weights = versions
            .into_iter()
            .enumerate()
            .map(|(i, version)| {
                let weight = if i + 1 == n {
                    left
                } else {
                    (seed >> (i * 8)) as u8 % (left + 1)
                };
                left -= weight;
                VersionWeight { version, weight }
            })
            .collect();
        TrafficSplit::new(weights).unwrap()
    })
}

proptest! {
    #[test]
    fn a_name_is_accepted_iff_it_is_an_rfc1123_label(s in "[a-zA-Z0-9._-]{0,70}") {
        prop_assert_eq!(check_rfc1123_label(&s).is_ok(), is_label(&s));
        prop_assert_eq!(ServiceName::new(s.clone()).is_ok(), is_label(&s));
    }

    #[test]
    fn a_split_is_accepted_iff_it_is_well_formed(
        entries in prop::collection::vec(("[a-c]", 0u8..=120), 0..5)
    ) {
        let versions: Vec<&str> = entries.iter().map(|(v, _)| v.as_str()).collect();
        let unique = versions.iter().collect::<BTreeSet<_>>().len() == versions.len();
        let sum: u32 = entries.iter().map(|(_, w)| u32::from(*w)).sum();
        let valid = !entries.is_empty() && unique && entries.iter().all(|(_, w)| *w <= 100) && sum == 100;
        let result = TrafficSplit::try_from_pairs(entries.iter().map(|(v, w)| (v.as_str(), *w)));
        prop_assert_eq!(result.is_ok(), valid);
    }

    #[test]
    fn splits_round_trip(s in split()) {
        round_trip(&s);
        let change = Change::SetTrafficWeight { service: "prod/api".parse().unwrap(), split: s };
        round_trip(&change);
    }

    #[test]
    fn a_split_that_does_not_sum_to_100_never_deserializes(w1 in 0u8..=100, w2 in 0u8..=100) {
        let json = format!(r#"[{{"version":"v1","weight":{w1}}},{{"version":"v2","weight":{w2}}}]"#);
        prop_assert_eq!(serde_json::from_str::<TrafficSplit>(&json).is_ok(), u32::from(w1) + u32::from(w2) == 100);
    }

    #[test]
    fn faults_and_fault_ids_round_trip(p in 0.0f64..=100.0, ms in 1u64..100_000, status in 200u16..600) {
        let delay = Fault::Delay { percent: Percent::new(p).unwrap(), duration: std::time::Duration::from_millis(ms) };
        let abort = Fault::Abort { percent: Percent::new(p).unwrap(), http_status: crate::HttpStatus::new(status).unwrap() };
        round_trip(&delay);
        round_trip(&abort);
        let id = FaultId::new(MeshKind::Consul, "default/api".parse().unwrap(), delay.fingerprint()).unwrap();
        prop_assert_eq!(id.to_string().parse::<FaultId>().unwrap(), id.clone());
        round_trip(&id);
    }

    #[test]
    fn durations_print_and_parse_back(ms in 0u64..10_000_000, us in 0u64..1000) {
        let d = std::time::Duration::from_micros(ms * 1000 + us);
        prop_assert_eq!(crate::units::parse_duration(&crate::units::format_duration(d)).unwrap(), d);
    }
}

#[test]
fn every_public_type_round_trips_through_json_and_yaml() {
    let def = ServiceDefinition::builder("reviews", "bookinfo", 9080)
        .unwrap()
        .version("v1")
        .unwrap()
        .endpoint(crate::Endpoint::new("10.0.0.1", crate::Port::new(9080).unwrap()).unwrap());
    round_trip(&def);
    round_trip(&def.id());
    let policy = RetryPolicy {
        attempts: 2,
        per_try_timeout: Some(std::time::Duration::from_millis(500)),
        retry_on: vec![RetryOn::ConnectFailure, RetryOn::ServerError],
        retry_on_status: vec![503],
        overall_timeout: Some(std::time::Duration::from_secs(3)),
    };
    round_trip(&policy);
    let cb = CircuitBreaker {
        max_connections: Some(100),
        consecutive_errors: Some(5),
        max_ejection_percent: Some(Percent::new(50.0).unwrap()),
        ..Default::default()
    };
    round_trip(&cb);
    let dr = DestinationPolicy {
        load_balancer: Some(crate::LoadBalancer::LeastRequest),
        connection_pool: Some(cb.connection_pool()),
        outlier_detection: Some(cb.outlier_detection()),
        ..DestinationPolicy::with_subsets(def.id(), [Subset::for_version(Version::new("v1").unwrap())])
    };
    round_trip(&dr);
    let routes: ServiceRoutes = serde_json::from_value(serde_json::json!({
        "service": "bookinfo/reviews",
        "rules": [{
            "matches": [{"path": {"prefix": "/api"}, "headers": [{"name": "x-user", "value": {"exact": "jason"}}], "method": "GET"}],
            "destinations": [{"version": "v2", "weight": 100}],
            "timeout": "2s",
            "retries": policy,
        }, {"destinations": [{"version": "v1", "weight": 100}]}]
    }))
    .unwrap();
    round_trip(&routes);
    let authz: AuthorizationPolicy = serde_json::from_value(serde_json::json!({
        "name": "allow-frontend", "namespace": "bookinfo", "target": "reviews", "action": "ALLOW",
        "rules": [{"from": [{"principals": ["bookinfo/productpage"], "namespaces": ["bookinfo"]}],
                   "to": [{"methods": ["GET"], "paths": ["/reviews*"], "ports": [9080]}]}]
    }))
    .unwrap();
    round_trip(&authz);
    let changes = vec![
        Change::RegisterService(def.clone()),
        Change::CreateVirtualService(routes),
        Change::CreateDestinationRule(dr),
        Change::ConfigureCircuitBreaker {
            service: def.id(),
            circuit_breaker: cb,
            callers: vec![],
        },
        Change::SetRetryPolicy {
            service: def.id(),
            policy,
        },
        Change::EnableMtls {
            namespace: def.namespace.clone(),
        },
        Change::CreateAuthorizationPolicy(authz),
    ];
    for change in &changes {
        round_trip(change);
        let event: MeshEvent = change.event(MeshKind::Linkerd);
        round_trip(&event);
        assert_eq!(serde_json::to_value(&event).unwrap()["event"], event.name());
        round_trip(&Plan::for_change(MeshKind::Istio, change));
    }
    let caps = crate::Capabilities::new(MeshKind::Istio)
        .with(crate::Feature::FaultDelay, crate::Support::native("VS"));
    round_trip(&caps);
    let range = crate::TimeRange::new(
        std::time::UNIX_EPOCH,
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(60),
    )
    .unwrap();
    round_trip(&crate::ServiceMetrics {
        service: ServiceId::new(def.namespace.clone(), def.name.clone()),
        range,
        overall: crate::TrafficSample {
            requests: 10.0,
            errors: 1.0,
            ..Default::default()
        },
        by_version: Default::default(),
    });
}

#[test]
fn invalid_input_names_the_field() {
    let err = TrafficSplit::try_from_pairs([("v1", 50), ("v@2", 50)]).unwrap_err();
    assert!(
        matches!(&err, crate::Error::InvalidInput { field, .. } if field == "split[1].version"),
        "{err}"
    );
    let err = RetryPolicy {
        attempts: 3,
        per_try_timeout: None,
        retry_on: vec![],
        retry_on_status: vec![],
        overall_timeout: None,
    }
    .validate()
    .unwrap_err();
    assert!(
        matches!(&err, crate::Error::InvalidInput { field, .. } if field == "retry_on"),
        "{err}"
    );
}
