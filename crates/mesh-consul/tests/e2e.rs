//! Live end-to-end suite against a real agent (`consul agent -dev`), given by `CONSUL_HTTP_ADDR`
//! (and `CONSUL_HTTP_TOKEN` when ACLs are on). Run with
//! `CONSUL_HTTP_ADDR=127.0.0.1:8500 cargo test -p mesh-consul --test integration e2e:: -- --ignored`.

use mesh_consul::{ConsulBackend, model::EntryKind};
use mesh_core::{Change, Error, MeshBackend, ServiceDefinition, TrafficSplit};

fn backend() -> ConsulBackend {
    ConsulBackend::from_env().expect("CONSUL_HTTP_ADDR and friends")
}

fn name() -> String {
    format!("mesh-e2e-{}", std::process::id())
}

#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn register_split_route_and_clean_up_on_a_live_agent() {
    let consul = backend();
    let svc = name();
    let id: mesh_core::ServiceId = svc.parse().unwrap();
    for v in ["v1", "v2"] {
        let def = ServiceDefinition::builder(&svc, "default", 9080)
            .unwrap()
            .version(v)
            .unwrap();
        consul.execute(&Change::RegisterService(def)).await.unwrap();
    }
    let split = Change::SetTrafficWeight {
        service: id.clone(),
        split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
    };
    let report = consul.execute(&split).await.unwrap();
    assert_eq!(report.applied.len(), 2, "the protocol came with the registration");
    assert!(
        consul.plan(&split).await.unwrap().is_noop(),
        "re-running converges"
    );
    let stored = consul
        .client()
        .get_entry(EntryKind::ServiceSplitter, &svc, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name(), svc);
    let status = consul.mtls_status(&"default".parse().unwrap()).await.unwrap();
    assert!(status.trust_domain.is_some());
    consul
        .execute(&Change::UnregisterService { service: id.clone() })
        .await
        .unwrap();
    assert!(
        consul
            .client()
            .get_entry(EntryKind::ServiceResolver, &svc, None)
            .await
            .unwrap()
            .is_none()
    );
    // The protocol entry is kept on purpose; remove it to leave the agent clean.
    consul
        .client()
        .delete_entry(EntryKind::ServiceDefaults, &svc, None, None)
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn a_live_agent_rejects_a_splitter_before_the_protocol() {
    let consul = backend();
    let svc = name() + "-raw";
    let splitter = serde_json::from_value(serde_json::json!({"Kind": "service-splitter", "Name": svc,
        "Splits": [{"Weight": 100, "ServiceSubset": "v1"}]}))
    .unwrap();
    let err = consul
        .client()
        .put_entry(&splitter, None, None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    let err: Error = err.into();
    assert!(matches!(err, Error::Backend { .. }));
}

/// `maglev` hashes on the source IP (the agent keeps the hash policy); switching to
/// `least_request` drops it, which the agent requires ("HashPolicies specified for
/// non-hash-based Policy" otherwise).
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn hash_policies_follow_the_balancer_on_a_live_agent() {
    use mesh_core::{DestinationPolicy, LoadBalancer, Subset, Version};
    let consul = backend();
    let svc = name() + "-lb";
    let id: mesh_core::ServiceId = svc.parse().unwrap();
    let def = ServiceDefinition::builder(&svc, "default", 9080)
        .unwrap()
        .version("v1")
        .unwrap();
    consul.execute(&Change::RegisterService(def)).await.unwrap();
    for (lb, expected) in [
        (
            LoadBalancer::Maglev,
            Some(serde_json::json!([{ "SourceIP": true }])),
        ),
        (LoadBalancer::LeastRequest, None),
        (
            LoadBalancer::RingHash,
            Some(serde_json::json!([{ "SourceIP": true }])),
        ),
    ] {
        let mut policy =
            DestinationPolicy::with_subsets(id.clone(), [Subset::for_version(Version::new("v1").unwrap())]);
        policy.load_balancer = Some(lb);
        consul
            .execute(&Change::CreateDestinationRule(policy))
            .await
            .unwrap();
        let stored = consul
            .client()
            .get_entry(EntryKind::ServiceResolver, &svc, None)
            .await
            .unwrap()
            .unwrap();
        let stored = serde_json::to_value(stored).unwrap();
        assert_eq!(
            stored["LoadBalancer"].get("HashPolicies").cloned(),
            expected,
            "{lb:?}: {stored}"
        );
    }
    consul
        .execute(&Change::UnregisterService { service: id })
        .await
        .unwrap();
    consul
        .client()
        .delete_entry(EntryKind::ServiceDefaults, &svc, None, None)
        .await
        .unwrap();
}
