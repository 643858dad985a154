//! The backend against the loopback Consul double: exact request sequences, ordering, check-and-set,
//! edition handling, ACLs, retries and failures at each step.

use crate::support;

use std::time::Duration;

use mesh_consul::{
    ConsulBackend,
    client::{ClientConfig, ConsulClient, Token},
    model::EntryKind,
};
use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, CircuitBreaker,
    DestinationPolicy, Error, Fault, HttpMethod, HttpStatus, MeshBackend, MtlsMode, PathMatch, Percent,
    RequestMatch, RetryOn, RetryPolicy, RouteRule, ServiceDefinition, ServiceId, ServiceRoutes, Subset,
    TrafficSplit, Version, WriteAction,
};
use serde_json::json;
use support::{ce, ent, lines, reviews, split, start, writes};

#[tokio::test]
async fn a_split_writes_protocol_then_subsets_then_splitter_with_create_only_cas() {
    let (fake, backend) = start(ce()).await;
    let report = backend.execute(&split(&[("v1", 90), ("v2", 10)])).await.unwrap();
    assert_eq!(report.event.name(), "traffic.weight.updated");
    assert_eq!(
        lines(&fake),
        [
            "GET /v1/config/service-defaults/reviews",
            "GET /v1/config/service-resolver/reviews",
            "GET /v1/config/service-splitter/reviews",
            "GET /v1/config/service-router/reviews",
            "PUT /v1/config?cas=0",
            "PUT /v1/config?cas=0",
            "PUT /v1/config?cas=0",
        ]
    );
    let kinds: Vec<&str> = report.applied.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["service-defaults", "service-resolver", "service-splitter"]
    );
    assert_eq!(
        fake.entry("service-defaults", "reviews").unwrap()["Protocol"],
        "http"
    );
    let resolver = fake.entry("service-resolver", "reviews").unwrap();
    assert_eq!(
        resolver["Subsets"]["v2"]["Filter"],
        "Service.Meta.version == \"v2\""
    );
    let splitter = fake.entry("service-splitter", "reviews").unwrap();
    assert_eq!(
        splitter["Splits"],
        json!([{"Weight": 90, "ServiceSubset": "v1"}, {"Weight": 10, "ServiceSubset": "v2"}])
    );
    fake.check_consistent().unwrap();
    // No namespace or partition ever reaches CE.
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.query.iter().all(|(k, _)| k != "ns" && k != "partition"))
    );
}

#[tokio::test]
async fn a_second_split_replaces_with_the_modify_index_and_converges() {
    let (fake, backend) = start(ce()).await;
    backend.execute(&split(&[("v1", 90), ("v2", 10)])).await.unwrap();
    let index = fake.entry("service-splitter", "reviews").unwrap()["ModifyIndex"]
        .as_u64()
        .unwrap();
    fake.clear_log();
    let plan = backend.plan(&split(&[("v1", 50), ("v2", 50)])).await.unwrap();
    assert_eq!(plan.writes.len(), 1, "protocol and subsets already exist");
    assert_eq!(plan.writes[0].action, WriteAction::Replace);
    backend.apply(&plan).await.unwrap();
    assert_eq!(writes(&fake), [format!("PUT /v1/config?cas={index}")]);
    assert!(
        backend
            .plan(&split(&[("v1", 50), ("v2", 50)]))
            .await
            .unwrap()
            .is_noop()
    );
}

#[tokio::test]
async fn the_double_rejects_a_router_or_splitter_before_the_protocol_and_a_missing_subset() {
    let fake = support::FakeConsul::start(ce()).await;
    let client = ConsulClient::new(fake.client_config()).unwrap();
    let router = serde_json::from_value(json!({"Kind": "service-router", "Name": "web",
        "Routes": [{"Match": {"HTTP": {"PathPrefix": "/"}}, "Destination": {"Service": "web"}}]}))
    .unwrap();
    let err = client.put_entry(&router, None, None).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string().contains("does not permit advanced routing"),
        "{err}"
    );
    // A validation 500 is an answer, not an outage: it is not retried.
    assert_eq!(
        fake.requests().iter().filter(|r| r.path == "/v1/config").count(),
        1
    );
    client
        .put_entry(
            &serde_json::from_value(json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http"}))
                .unwrap(),
            None,
            None,
        )
        .await
        .unwrap();
    let splitter = serde_json::from_value(json!({"Kind": "service-splitter", "Name": "web",
        "Splits": [{"Weight": 50, "ServiceSubset": "v1"}, {"Weight": 50, "ServiceSubset": "v2"}]}))
    .unwrap();
    let err = client.put_entry(&splitter, None, None).await.unwrap_err();
    assert!(err.to_string().contains("does not have a subset named"), "{err}");
    assert_eq!(fake.entry_count(), 1);
}

#[tokio::test]
async fn ce_never_gets_a_namespace_and_a_non_default_one_is_refused_before_any_request() {
    let (fake, backend) = start(ce()).await;
    let change = Change::SetTrafficWeight {
        service: "prod/reviews".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 100)]).unwrap(),
    };
    match backend.execute(&change).await {
        Err(Error::Unsupported { reason, .. }) => assert!(reason.contains("Enterprise"), "{reason}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert_eq!(
        lines(&fake),
        Vec::<String>::new(),
        "only the edition probe was sent"
    );
    // A client configured with CONSUL_NAMESPACE=prod refuses too, without sending it.
    let client = ConsulClient::new(fake.client_config().namespace("prod")).unwrap();
    let err = client
        .get_entry(EntryKind::ServiceDefaults, "web", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            mesh_consul::client::Error::EnterpriseOnly {
                what: "namespace",
                ..
            }
        ),
        "{err}"
    );
    // And the double answers 400 to a raw `ns` parameter, as CE does.
    let raw = reqwest::get(format!("{}v1/config/service-defaults/web?ns=prod", fake.url()))
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
}

#[tokio::test]
async fn enterprise_gets_the_namespace_on_every_config_call() {
    let (fake, backend) = start(ent()).await;
    let change = Change::SetTrafficWeight {
        service: "prod/reviews".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 100)]).unwrap(),
    };
    backend.execute(&change).await.unwrap();
    let config_calls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/config"))
        .collect();
    assert_eq!(config_calls.len(), 7);
    assert!(
        config_calls
            .iter()
            .all(|r| r.query.contains(&("ns".into(), "prod".into())))
    );
}

#[tokio::test]
async fn a_stale_cas_index_is_re_read_and_retried_a_bounded_number_of_times() {
    let (fake, backend) = start(ce()).await;
    backend.execute(&split(&[("v1", 90), ("v2", 10)])).await.unwrap();
    fake.clear_log();
    fake.race_next_cas_writes(1);
    backend.execute(&split(&[("v1", 80), ("v2", 20)])).await.unwrap();
    let puts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/config")
        .collect();
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0].answer, "false");
    assert_eq!(puts[1].answer, "true");
    assert_ne!(
        puts[0].query, puts[1].query,
        "the retry carries the fresh ModifyIndex"
    );
    assert_eq!(
        fake.entry("service-splitter", "reviews").unwrap()["Splits"][1]["Weight"],
        20
    );

    fake.race_next_cas_writes(100);
    match backend.execute(&split(&[("v1", 70), ("v2", 30)])).await {
        Err(Error::PartiallyApplied { applied, source, .. }) => {
            assert!(applied.is_empty());
            assert!(matches!(*source, Error::Conflict { .. }), "{source:?}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_acl_token_is_a_typed_error_that_never_shows_the_token() {
    let fake = support::FakeConsul::start(ce()).await;
    fake.require_token("the-right-token");
    let secret = "super-secret-wrong-token";
    let backend = fake.backend(Some(secret));
    let err = backend.execute(&split(&[("v1", 100)])).await.unwrap_err();
    assert!(matches!(err, Error::NotConfigured { .. }), "{err:?}");
    let mut shown = format!("{err} {err:?} {backend:?}");
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&err);
    while let Some(c) = cause {
        shown.push_str(&format!(" {c} {c:?}"));
        cause = c.source();
    }
    assert!(!shown.contains(secret), "the token leaked: {shown}");
    assert!(fake.requests().iter().all(|r| r.status == 403));
    let ok = fake.backend(Some("the-right-token"));
    ok.execute(&split(&[("v1", 100)])).await.unwrap();
}

#[tokio::test]
async fn status_429_and_5xx_are_retried_with_backoff() {
    let fake = support::FakeConsul::start(ce()).await;
    let client = ConsulClient::new(fake.client_config())
        .unwrap()
        .with_version(ce());
    fake.fail_next(&[429, 503, 502]);
    assert!(
        client
            .get_entry(EntryKind::ServiceDefaults, "web", None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        fake.requests().iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 503, 502, 404]
    );
    fake.clear_log();
    fake.fail_next(&[503, 503, 503, 503, 503]);
    let err = client
        .get_entry(EntryKind::ServiceDefaults, "web", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(fake.requests().len(), 4, "one try and three retries");
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_on_the_tokio_clock() {
    // Paused time: the retries' sleeps advance the virtual clock, not the wall clock.
    let fake = support::FakeConsul::start(ce()).await;
    let config = fake.client_config().retries(2, Duration::from_secs(60));
    let client = ConsulClient::new(config).unwrap().with_version(ce());
    fake.fail_next(&[503, 503]);
    let start = tokio::time::Instant::now();
    client
        .get_entry(EntryKind::ServiceDefaults, "web", None)
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(180),
        "60s then 120s of backoff"
    );
}

/// Sets up a fake for a scenario: nothing, or a split already in place.
async fn scenario(with_split: bool) -> (support::FakeConsul, ConsulBackend) {
    let (fake, backend) = start(ce()).await;
    if with_split {
        for v in ["v1", "v2"] {
            let def = ServiceDefinition::builder("reviews", "default", 9080)
                .unwrap()
                .version(v)
                .unwrap();
            backend.execute(&Change::RegisterService(def)).await.unwrap();
        }
        backend.execute(&split(&[("v1", 90), ("v2", 10)])).await.unwrap();
    }
    (fake, backend)
}

#[tokio::test]
async fn a_failure_at_each_step_leaves_a_safe_prefix_and_a_rerun_completes() {
    let cases: Vec<(bool, Change)> = vec![
        (false, split(&[("v1", 90), ("v2", 10)])),
        (false, Change::CreateVirtualService(routes())),
        (true, Change::CreateVirtualService(routes())),
        (true, Change::UnregisterService { service: reviews() }),
        (true, split(&[("v3", 50), ("v4", 50)])),
    ];
    for (with_split, change) in cases {
        let steps = {
            let (_fake, backend) = scenario(with_split).await;
            backend.plan(&change).await.unwrap().writes.len()
        };
        assert!(steps >= 1, "{}: {steps} writes", change.operation());
        for step in 1..=steps {
            let (fake, backend) = scenario(with_split).await;
            let plan = backend.plan(&change).await.unwrap();
            let before = fake.landed_writes().len();
            fake.fail_at_write(step, 400);
            match backend.apply(&plan).await {
                Err(Error::PartiallyApplied {
                    applied,
                    failed,
                    total,
                    ..
                }) => {
                    assert_eq!(
                        applied,
                        plan.targets()[..step - 1].to_vec(),
                        "{} step {step}",
                        change.operation()
                    );
                    assert_eq!(*failed, plan.writes[step - 1].target);
                    assert_eq!(total, steps);
                }
                other => panic!(
                    "{} step {step}: expected PartiallyApplied, got {other:?}",
                    change.operation()
                ),
            }
            assert_eq!(
                fake.landed_writes().len() - before,
                step - 1,
                "{} step {step}",
                change.operation()
            );
            fake.check_consistent()
                .unwrap_or_else(|e| panic!("{} step {step}: {e}", change.operation()));
            backend.execute(&change).await.unwrap();
            fake.check_consistent().unwrap();
            let again = backend.plan(&change);
            match again.await {
                Ok(p) => assert!(
                    p.writes.iter().all(|w| w.target.kind == "agent-service"),
                    "{} step {step}: converged after the re-run",
                    change.operation()
                ),
                Err(Error::NotFound { .. }) => {} // unregistering twice
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[tokio::test]
async fn register_then_unregister_removes_routing_before_subsets_and_instances() {
    let (fake, backend) = start(ce()).await;
    for v in ["v1", "v2"] {
        let def = ServiceDefinition::builder("reviews", "default", 9080)
            .unwrap()
            .version(v)
            .unwrap();
        backend.execute(&Change::RegisterService(def)).await.unwrap();
    }
    let services = fake.services();
    assert_eq!(services.keys().collect::<Vec<_>>(), ["reviews-v1", "reviews-v2"]);
    assert_eq!(services["reviews-v2"]["Meta"]["version"], "v2");
    assert_eq!(services["reviews-v2"]["Connect"]["SidecarService"], json!({}));
    assert_eq!(
        services["reviews-v2"]["Weights"],
        json!({"Passing": 1, "Warning": 1})
    );
    backend.execute(&split(&[("v1", 50), ("v2", 50)])).await.unwrap();
    fake.clear_log();
    backend
        .execute(&Change::UnregisterService { service: reviews() })
        .await
        .unwrap();
    let w: Vec<String> = writes(&fake)
        .into_iter()
        .map(|l| l.split('?').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        w,
        [
            "DELETE /v1/config/service-splitter/reviews",
            "DELETE /v1/config/service-resolver/reviews",
            "PUT /v1/agent/service/deregister/reviews-v1",
            "PUT /v1/agent/service/deregister/reviews-v2",
        ]
    );
    assert!(fake.services().is_empty());
    fake.check_consistent().unwrap();
    match backend
        .execute(&Change::UnregisterService { service: reviews() })
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn routes() -> ServiceRoutes {
    routes_of(reviews())
}

/// A header-matched route to v2 with a timeout and retries, then a 90/10 catch-all, of `service`.
pub(crate) fn routes_of(service: ServiceId) -> ServiceRoutes {
    ServiceRoutes {
        service,
        rules: vec![
            RouteRule {
                matches: vec![RequestMatch {
                    path: Some(PathMatch::Prefix("/api".into())),
                    method: Some(HttpMethod::Get),
                    headers: vec![mesh_core::HeaderMatch {
                        name: "x-canary".into(),
                        value: mesh_core::StringMatch::Exact("1".into()),
                    }],
                    query: vec![],
                }],
                timeout: Some(Duration::from_secs(5)),
                retries: Some(RetryPolicy {
                    attempts: 2,
                    per_try_timeout: None,
                    retry_on: vec![RetryOn::ConnectFailure, RetryOn::GatewayError],
                    retry_on_status: vec![503],
                    overall_timeout: None,
                }),
                ..RouteRule::to(TrafficSplit::try_from_pairs([("v2", 100)]).unwrap())
            },
            RouteRule::to(TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap()),
        ],
    }
}

#[tokio::test]
async fn a_virtual_service_becomes_a_router_and_a_splitter_for_the_weighted_catch_all() {
    let (fake, backend) = start(ce()).await;
    let report = backend
        .execute(&Change::CreateVirtualService(routes()))
        .await
        .unwrap();
    let kinds: Vec<&str> = report.applied.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "service-defaults",
            "service-resolver",
            "service-splitter",
            "service-router"
        ]
    );
    let router = fake.entry("service-router", "reviews").unwrap();
    assert_eq!(
        router["Routes"][0],
        json!({
            "Match": {"HTTP": {"PathPrefix": "/api", "Methods": ["GET"], "Header": [{"Name": "x-canary", "Exact": "1"}]}},
            "Destination": {"Service": "reviews", "ServiceSubset": "v2", "RequestTimeout": "5s", "NumRetries": 2,
                            "RetryOnConnectFailure": true, "RetryOn": ["gateway-error"], "RetryOnStatusCodes": [503]}
        })
    );
    assert_eq!(
        router["Routes"].as_array().unwrap().len(),
        1,
        "unmatched traffic takes the splitter"
    );
    fake.check_consistent().unwrap();
}

#[tokio::test]
async fn a_destination_rule_cannot_drop_a_subset_a_route_still_uses() {
    let (fake, backend) = start(ce()).await;
    backend.execute(&split(&[("v1", 90), ("v2", 10)])).await.unwrap();
    let only_v1 =
        DestinationPolicy::with_subsets(reviews(), [Subset::for_version(Version::new("v1").unwrap())]);
    fake.clear_log();
    match backend.execute(&Change::CreateDestinationRule(only_v1)).await {
        Err(Error::InvalidInput { reason, .. }) => assert!(reason.contains("subset v2"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(writes(&fake).is_empty());
    let mut lb = DestinationPolicy::with_subsets(
        reviews(),
        ["v1", "v2", "v3"].map(|v| Subset::for_version(Version::new(v).unwrap())),
    );
    lb.load_balancer = Some(mesh_core::LoadBalancer::LeastRequest);
    backend.execute(&Change::CreateDestinationRule(lb)).await.unwrap();
    let resolver = fake.entry("service-resolver", "reviews").unwrap();
    assert_eq!(resolver["LoadBalancer"]["Policy"], "least_request");
    assert!(resolver["Subsets"]["v3"].is_object());
}

#[tokio::test]
async fn retries_go_on_every_route_and_a_catch_all_is_added() {
    let (fake, backend) = start(ce()).await;
    let policy = RetryPolicy {
        attempts: 3,
        per_try_timeout: None,
        retry_on: vec![RetryOn::Reset],
        retry_on_status: vec![],
        overall_timeout: Some(Duration::from_secs(15)),
    };
    backend
        .execute(&Change::SetRetryPolicy {
            service: reviews(),
            policy,
        })
        .await
        .unwrap();
    let router = fake.entry("service-router", "reviews").unwrap();
    assert_eq!(
        router["Routes"],
        json!([{"Match": {"HTTP": {"PathPrefix": "/"}},
                "Destination": {"Service": "reviews", "NumRetries": 3, "RetryOn": ["reset"], "RequestTimeout": "15s"}}])
    );
    assert_eq!(
        fake.entry("service-defaults", "reviews").unwrap()["Protocol"],
        "http"
    );
}

#[tokio::test]
async fn circuit_breakers_go_on_the_callers_derived_from_intentions() {
    let (fake, backend) = start(ce()).await;
    fake.seed_entry(json!({"Kind": "service-intentions", "Name": "reviews",
        "Sources": [{"Name": "web", "Action": "allow"}, {"Name": "batch", "Action": "deny"}, {"Name": "api", "Action": "allow"}]}));
    fake.seed_entry(
        json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http",
        "UpstreamConfig": {"Overrides": [{"Name": "db", "ConnectTimeoutMs": 100}]}}),
    );
    let change = Change::ConfigureCircuitBreaker {
        service: reviews(),
        circuit_breaker: breaker(),
        callers: vec![],
    };
    let report = backend.execute(&change).await.unwrap();
    let names: Vec<&str> = report.applied.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["api", "web"]);
    assert!(report.warnings.iter().any(|w| w.contains("client-side")));
    let web = fake.entry("service-defaults", "web").unwrap();
    assert_eq!(web["Protocol"], "http", "other fields are kept");
    // As the agent answers it: durations in integer nanoseconds, `Peer` and `MeshGateway` added.
    assert_eq!(
        web["UpstreamConfig"]["Overrides"],
        json!([{"Name": "db", "Peer": "", "ConnectTimeoutMs": 100, "MeshGateway": {}},
               {"Name": "reviews", "Peer": "", "Limits": {"MaxConnections": 100},
                "PassiveHealthCheck": {"Interval": 10_000_000_000_u64, "MaxFailures": 5, "BaseEjectionTime": 30_000_000_000_u64},
                "MeshGateway": {}}])
    );
    plans_nothing_again(&backend, &change).await;
}

/// Plans `change` again, once applied: nothing to write.
pub(crate) async fn plans_nothing_again(backend: &ConsulBackend, change: &Change) {
    let again = backend.plan(change).await.unwrap();
    assert!(
        again.writes.is_empty(),
        "{} again writes nothing: {:?}",
        change.operation(),
        again.writes
    );
}

/// The emulated abort of the Lua tests, as stored: a `builtin/lua` extension answering 503.
pub(crate) fn the_lua_abort_is_on(e: &serde_json::Value) {
    let ext = &e["EnvoyExtensions"][0];
    assert_eq!(ext["Name"], "builtin/lua");
    assert_eq!(ext["Arguments"]["Listener"], "inbound");
    assert!(
        ext["Arguments"]["Script"]
            .as_str()
            .unwrap()
            .contains("\":status\"] = \"503\"")
    );
}

/// The breaker of the circuit-breaker tests (and their live twins).
pub(crate) fn breaker() -> CircuitBreaker {
    CircuitBreaker {
        max_connections: Some(100),
        consecutive_errors: Some(5),
        interval: Some(Duration::from_secs(10)),
        base_ejection_time: Some(Duration::from_secs(30)),
        ..CircuitBreaker::default()
    }
}

#[tokio::test]
async fn mtls_is_strict_on_proxy_defaults_and_the_status_reads_the_ca_roots() {
    let (fake, backend) = start(ce()).await;
    backend
        .execute(&Change::EnableMtls {
            namespace: "default".parse().unwrap(),
        })
        .await
        .unwrap();
    // As the agent answers it, `AllowEnablingPermissiveMutualTLS: false` is left out.
    let mesh = fake.entry("mesh", "mesh").unwrap();
    assert!(mesh.get("AllowEnablingPermissiveMutualTLS").is_none(), "{mesh}");
    assert_eq!(mesh["TransparentProxy"]["MeshDestinationsOnly"], false);
    assert_eq!(
        fake.entry("proxy-defaults", "global").unwrap()["MutualTLSMode"],
        "strict"
    );
    let status = backend.mtls_status(&"default".parse().unwrap()).await.unwrap();
    assert_eq!(status.mode, MtlsMode::Strict);
    assert!(status.automatic);
    assert_eq!(
        status.trust_domain.as_deref(),
        Some("11111111-2222-3333-4444-555555555555.consul")
    );
    assert!(status.notes.iter().any(|n| n.contains("aa:bb")));
}

#[tokio::test]
async fn authorization_becomes_l4_and_l7_intentions_and_keeps_other_sources() {
    let (fake, backend) = start(ce()).await;
    fake.seed_entry(json!({"Kind": "service-intentions", "Name": "reviews", "Sources": [{"Name": "legacy", "Action": "allow"}]}));
    let policy = AuthorizationPolicy {
        name: "deny-admin".parse().unwrap(),
        namespace: "default".parse().unwrap(),
        target: Some("reviews".parse().unwrap()),
        action: AuthzAction::Deny,
        rules: vec![
            AuthzRule {
                from: vec![AuthzSource {
                    principals: vec!["default/web".parse().unwrap()],
                    ..Default::default()
                }],
                to: vec![AuthzTarget {
                    methods: vec![HttpMethod::Post],
                    paths: vec!["/admin*".into()],
                    ports: vec![],
                }],
            },
            AuthzRule {
                from: vec![AuthzSource {
                    principals: vec!["default/batch".parse().unwrap()],
                    ..Default::default()
                }],
                to: vec![],
            },
        ],
    };
    backend
        .execute(&Change::CreateAuthorizationPolicy(policy.clone()))
        .await
        .unwrap();
    let entry = fake.entry("service-intentions", "reviews").unwrap();
    // As the agent answers it: `Precedence` and `Type` on every source.
    assert_eq!(
        entry["Sources"],
        json!([
            {"Name": "legacy", "Action": "allow", "Precedence": 9, "Type": "consul"},
            {"Name": "batch", "Action": "deny", "Precedence": 9, "Type": "consul", "Description": "mesh policy deny-admin"},
            {"Name": "web", "Precedence": 9, "Type": "consul", "Description": "mesh policy deny-admin",
             "Permissions": [{"Action": "deny", "HTTP": {"PathPrefix": "/admin", "Methods": ["POST"]}}]}
        ])
    );
    plans_nothing_again(&backend, &Change::CreateAuthorizationPolicy(policy)).await;
    assert_eq!(
        fake.entry("service-defaults", "reviews").unwrap()["Protocol"],
        "http",
        "L7 intentions need HTTP"
    );
}

pub(crate) fn abort() -> Fault {
    Fault::Abort {
        percent: Percent::new(5.0).unwrap(),
        http_status: HttpStatus::new(503).unwrap(),
    }
}

#[tokio::test]
async fn enterprise_faults_use_the_native_extension_and_removal_restores_the_entry_exactly() {
    let (fake, backend) = start(ent()).await;
    fake.seed_entry(json!({"Kind": "service-defaults", "Name": "reviews", "Protocol": "http",
        "EnvoyExtensions": [{"Name": "builtin/lua", "Arguments": {"ProxyType": "connect-proxy", "Listener": "outbound", "Script": "x"}}]}));
    let before = fake.entry("service-defaults", "reviews").unwrap();
    let change = Change::InjectFault {
        service: reviews(),
        fault: abort(),
    };
    backend.execute(&change).await.unwrap();
    let during = fake.entry("service-defaults", "reviews").unwrap();
    assert_eq!(during["EnvoyExtensions"][1]["Name"], "builtin/fault-injection");
    assert_eq!(
        during["EnvoyExtensions"][1]["Arguments"]["Config"]["Abort"],
        json!({"HttpStatus": 503, "Percentage": 5})
    );
    let id = change.fault_id(mesh_core::MeshKind::Consul).unwrap();
    backend
        .execute(&Change::RemoveFault { fault_id: id.clone() })
        .await
        .unwrap();
    let mut after = fake.entry("service-defaults", "reviews").unwrap();
    let mut expected = before.clone();
    for v in [&mut after, &mut expected] {
        v.as_object_mut().unwrap().remove("ModifyIndex");
    }
    assert_eq!(after, expected, "restored exactly");
    match backend.execute(&Change::RemoveFault { fault_id: id }).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    let delay = Fault::Delay {
        percent: Percent::new(50.0).unwrap(),
        duration: Duration::from_millis(100),
    };
    backend
        .execute(&Change::InjectFault {
            service: reviews(),
            fault: delay,
        })
        .await
        .unwrap();
    let e = fake.entry("service-defaults", "reviews").unwrap();
    assert_eq!(
        e["EnvoyExtensions"][1]["Arguments"]["Config"]["Delay"],
        json!({"Duration": 100, "Percentage": 50})
    );
}

#[tokio::test]
async fn ce_abort_is_emulated_with_lua_only_on_opt_in_and_a_created_entry_is_deleted_on_removal() {
    let fake = support::FakeConsul::start(ce()).await;
    let plain = fake.backend(None);
    let change = Change::InjectFault {
        service: reviews(),
        fault: abort(),
    };
    assert!(matches!(
        plain.execute(&change).await,
        Err(Error::Unsupported { .. })
    ));
    let opted: ConsulBackend = fake.backend(None).emulate_abort_with_lua(true);
    opted.execute(&change).await.unwrap();
    the_lua_abort_is_on(&fake.entry("service-defaults", "reviews").unwrap());
    let id = change.fault_id(mesh_core::MeshKind::Consul).unwrap();
    // Another process, knowing only the id, removes it.
    remove_found_the_extension(&fake.backend(None), id).await;
    assert!(
        fake.entry("service-defaults", "reviews").is_none(),
        "the entry the injection created is gone"
    );
}

#[tokio::test]
async fn removing_an_emulated_abort_takes_the_lua_extension_off_an_existing_entry() {
    let fake = support::FakeConsul::start(ce()).await;
    fake.seed_entry(
        json!({"Kind": "service-defaults", "Name": "reviews", "Protocol": "http", "Meta": {"team": "a"}}),
    );
    let change = Change::InjectFault {
        service: reviews(),
        fault: abort(),
    };
    let opted = fake.backend(None).emulate_abort_with_lua(true);
    opted.execute(&change).await.unwrap();
    let id = change.fault_id(mesh_core::MeshKind::Consul).unwrap();
    remove_found_the_extension(&opted, id).await;
    the_entry_is_as_seeded(&fake.entry("service-defaults", "reviews").unwrap());
}

/// Removes the fault `id`, which finds its extension (no "already gone" warning).
pub(crate) async fn remove_found_the_extension(backend: &ConsulBackend, id: mesh_core::FaultId) {
    let report = backend
        .execute(&Change::RemoveFault { fault_id: id })
        .await
        .unwrap();
    assert!(
        !report.warnings.iter().any(|w| w.contains("already gone")),
        "{:?}",
        report.warnings
    );
}

/// The seeded service-defaults of the abort-removal tests, the extension off.
pub(crate) fn the_entry_is_as_seeded(e: &serde_json::Value) {
    assert!(
        e.get("EnvoyExtensions").is_none(),
        "the abort no longer runs: {e}"
    );
    assert_eq!(e["Meta"], json!({"team": "a"}));
    assert_eq!(e["Protocol"], "http");
}

/// Every kind of entry the backend writes, planned again as it was: nothing to write, though the
/// double answers as the agent does (durations in Go's own spelling, a `false` left out).
#[tokio::test]
async fn the_same_change_again_writes_nothing() {
    let (_fake, backend) = start(ce()).await;
    each_change_again_writes_nothing(&backend, &reviews()).await;
}

/// A split, a destination rule and a retry policy on `service` (with 1500 ms timeouts), and strict
/// mTLS, each planned again once applied: nothing to write.
pub(crate) async fn each_change_again_writes_nothing(backend: &ConsulBackend, service: &ServiceId) {
    let mut rule = DestinationPolicy::with_subsets(
        service.clone(),
        ["v1", "v2"].map(|v| Subset::for_version(Version::new(v).unwrap())),
    );
    rule.connection_pool = Some(mesh_core::ConnectionPool {
        connect_timeout: Some(Duration::from_millis(1500)),
        ..Default::default()
    });
    let retries = Change::SetRetryPolicy {
        service: service.clone(),
        policy: RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: vec![RetryOn::Reset],
            retry_on_status: vec![],
            overall_timeout: Some(Duration::from_millis(1500)),
        },
    };
    let split = Change::SetTrafficWeight {
        service: service.clone(),
        split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
    };
    let mtls = Change::EnableMtls {
        namespace: "default".parse().unwrap(),
    };
    for change in [split, Change::CreateDestinationRule(rule), retries, mtls] {
        backend.execute(&change).await.unwrap();
        plans_nothing_again(backend, &change).await;
    }
}

#[tokio::test]
async fn health_kv_and_dc_go_through_the_client() {
    let fake = support::FakeConsul::start(ce()).await;
    let client = ConsulClient::new(fake.client_config().datacenter("dc2").token(Token::new("t"))).unwrap();
    assert!(client.kv_put("mesh/a", b"one", Some(0)).await.unwrap());
    assert!(
        !client.kv_put("mesh/a", b"two", Some(0)).await.unwrap(),
        "create-only fails when it exists"
    );
    let pair = client.kv_get("mesh/a").await.unwrap().unwrap();
    assert_eq!(pair.value, b"one");
    assert!(
        !client
            .kv_put("mesh/a", b"two", Some(pair.modify_index + 100))
            .await
            .unwrap()
    );
    assert!(
        client
            .kv_put("mesh/a", b"two", Some(pair.modify_index))
            .await
            .unwrap()
    );
    assert_eq!(client.kv_get("mesh/a").await.unwrap().unwrap().value, b"two");
    let def = ServiceDefinition::builder("web", "default", 8080)
        .unwrap()
        .version("v1")
        .unwrap();
    let registration = mesh_consul::translate::plan(
        &Change::RegisterService(def),
        &mesh_consul::translate::Context::default(),
        &mesh_consul::translate::Snapshot::default(),
    )
    .unwrap();
    let write = registration
        .writes
        .iter()
        .find(|w| w.target.kind == "agent-service");
    let body = write.unwrap().body.clone().unwrap();
    let reg: mesh_consul::model::AgentServiceRegistration = serde_json::from_value(body).unwrap();
    client.register_service(&reg).await.unwrap();
    let healthy = client.health_service("web", None, true).await.unwrap();
    assert_eq!(healthy.len(), 1);
    assert_eq!(healthy[0].service.meta.as_ref().unwrap()["version"], "v1");
    let health_call = fake
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/v1/health"))
        .unwrap();
    assert_eq!(
        health_call.line(),
        "GET /v1/health/service/web?passing=true&dc=dc2"
    );
    let kv_call = fake
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/v1/kv"))
        .unwrap();
    assert!(kv_call.query.contains(&("dc".into(), "dc2".into())));
}

#[tokio::test]
async fn the_client_reads_the_consul_environment() {
    let dir = std::env::temp_dir().join(format!("mesh-consul-token-{}", std::process::id()));
    std::fs::write(&dir, "from-file\n").unwrap();
    let path = dir.to_string_lossy().into_owned();
    let env = |k: &str| match k {
        "CONSUL_HTTP_ADDR" => Some("10.0.0.5:8501".to_owned()),
        "CONSUL_HTTP_SSL" => Some("true".to_owned()),
        "CONSUL_HTTP_TOKEN_FILE" => Some(path.clone()),
        "CONSUL_HTTP_SSL_VERIFY" => Some("false".to_owned()),
        "CONSUL_NAMESPACE" => Some("team".to_owned()),
        "CONSUL_PARTITION" => Some("p1".to_owned()),
        "CONSUL_TLS_SERVER_NAME" => Some("server.dc1.consul".to_owned()),
        _ => None,
    };
    let c = ClientConfig::from_lookup(env).unwrap();
    std::fs::remove_file(&dir).unwrap();
    assert_eq!(c.address.as_str(), "https://10.0.0.5:8501/");
    assert_eq!(c.token, Some(Token::new("from-file")));
    assert!(!c.tls_verify);
    assert_eq!(
        (c.namespace.as_deref(), c.partition.as_deref()),
        (Some("team"), Some("p1"))
    );
    assert_eq!(c.tls_server_name.as_deref(), Some("server.dc1.consul"));
    let defaults = ClientConfig::from_lookup(|_| None).unwrap();
    assert_eq!(defaults.address.as_str(), "http://127.0.0.1:8500/");
    assert!(defaults.tls_verify && defaults.token.is_none());
    assert!(
        ClientConfig::from_lookup(|k| (k == "CONSUL_HTTP_ADDR").then(|| "unix:///tmp/c.sock".to_owned()))
            .is_err()
    );
    let missing_ca = ConsulClient::new(ClientConfig::default().ca_cert("/nonexistent/ca.pem")).unwrap_err();
    assert!(missing_ca.to_string().contains("CONSUL_CACERT"));
}

#[tokio::test]
async fn resolver_options_add_failover_and_a_default_subset_with_cas() {
    use mesh_consul::failover::ResolverOptions;
    let (fake, backend) = start(ce()).await;
    backend.execute(&split(&[("v1", 90), ("v2", 10)])).await.unwrap();
    let opts = ResolverOptions::default()
        .default_subset("v1")
        .failover("*", ["dc2", "dc3"])
        .request_timeout(Duration::from_secs(3));
    assert!(backend.configure_resolver(&reviews(), &opts).await.unwrap());
    let r = fake.entry("service-resolver", "reviews").unwrap();
    assert_eq!(r["DefaultSubset"], "v1");
    assert_eq!(r["Failover"]["*"]["Datacenters"], json!(["dc2", "dc3"]));
    assert_eq!(r["RequestTimeout"], "3s");
    assert!(r["Subsets"]["v2"].is_object(), "subsets kept");
    assert!(
        !backend.configure_resolver(&reviews(), &opts).await.unwrap(),
        "converged"
    );
    let bad = ResolverOptions::default().default_subset("v9");
    assert!(matches!(
        backend.configure_resolver(&reviews(), &bad).await,
        Err(Error::InvalidInput { .. })
    ));
    fake.check_consistent().unwrap();
}

#[tokio::test]
async fn tls_settings_are_loaded_and_half_an_identity_is_refused() {
    let tls = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls");
    let config = ClientConfig::default()
        .address(mesh_consul::client::parse_address("127.0.0.1:8501", true).unwrap())
        .ca_cert(tls.join("ca.pem"))
        .ca_path(tls.join("capath"))
        .client_identity(tls.join("ca.pem"), tls.join("client-key.pem"))
        .tls_server_name("server.dc1.consul");
    assert!(ConsulClient::new(config).is_ok());
    let mut half = ClientConfig::default();
    half.client_cert = Some(tls.join("ca.pem"));
    let err = ConsulClient::new(half).unwrap_err();
    assert!(err.to_string().contains("CONSUL_CLIENT_KEY"), "{err}");
    assert!(ConsulClient::new(ClientConfig::default().tls_verify(false)).is_ok());
}

#[tokio::test]
async fn capabilities_follow_the_detected_version() {
    let (_fake, backend) = support::start(support::ent()).await;
    backend.plan(&support::split(&[("v1", 100)])).await.unwrap();
    assert!(
        backend
            .capabilities()
            .support(mesh_core::Feature::FaultDelay)
            .is_native()
    );
    let (_fake, backend) = support::start(support::ce()).await;
    backend.plan(&support::split(&[("v1", 100)])).await.unwrap();
    assert!(
        !backend
            .capabilities()
            .support(mesh_core::Feature::FaultDelay)
            .is_native()
    );
}
