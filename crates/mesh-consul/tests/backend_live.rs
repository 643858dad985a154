//! Real-server twins of `backend.rs` and `state.rs`: the backend against the test environment's
//! Consul agent (CE, dev mode, ACLs on), with the assertions of their double twins. Requests are
//! read through a recording proxy, entries as the agent's HTTP API answers them. Each test works
//! on services of its own (`twin-<tag>-<pid>`) and removes what it wrote.
//!
//! What only the double can do (a status at write k, a raced check-and-set, 429/5xx answers, an
//! Enterprise edition) stays in `backend.rs` and `sequences.rs`.
//!
//! `eval "$(cargo xtask testenv up)"; cargo test -p mesh-consul --test integration backend_live:: -- --ignored`

use std::time::Duration;

use mesh_consul::{
    ConsulBackend,
    client::{ClientConfig, ConsulClient, Token},
    model::{ConfigEntry, EntryKind},
};
use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, DestinationPolicy, Error,
    HttpMethod, MeshBackend, RetryOn, RetryPolicy, ServiceDefinition, ServiceId, Subset, TrafficSplit,
    Version, WriteAction,
};
use mesh_testkit::RecordingProxy;
use serde_json::{Value, json};

/// The agent, and the names of the services a test works on.
struct Agent {
    consul: ConsulBackend,
    svc: String,
}

impl Agent {
    fn new(tag: &str) -> Self {
        Self {
            consul: ConsulBackend::from_env().expect("CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN"),
            svc: format!("twin-{tag}-{}", std::process::id()),
        }
    }

    /// [`Agent::new`], with the 90/10 split of `v1` and `v2` in place.
    async fn with_split(tag: &str) -> Self {
        let agent = Self::new(tag);
        agent
            .consul
            .execute(&agent.split(&[("v1", 90), ("v2", 10)]))
            .await
            .unwrap();
        agent
    }

    /// The service the test works on, as `support::reviews` is on the double.
    fn id(&self) -> ServiceId {
        format!("default/{}", self.svc).parse().unwrap()
    }

    /// Another service of the test's own: `<svc>-<suffix>`.
    fn other(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.svc)
    }

    fn split(&self, pairs: &[(&str, u8)]) -> Change {
        Change::SetTrafficWeight {
            service: self.id(),
            split: TrafficSplit::try_from_pairs(pairs.iter().copied()).unwrap(),
        }
    }

    fn client(&self) -> &ConsulClient {
        self.consul.client()
    }

    /// The entry as the agent's HTTP API answers it: `fake.entry(kind, name)` of the double.
    async fn entry(&self, kind: &str, name: &str) -> Option<Value> {
        let config = ClientConfig::from_env().unwrap();
        let url = config.address.join(&format!("v1/config/{kind}/{name}")).unwrap();
        let mut request = reqwest::Client::new().get(url);
        if let Ok(token) = std::env::var("CONSUL_HTTP_TOKEN") {
            request = request.header("X-Consul-Token", token);
        }
        let answer = request.send().await.unwrap();
        match answer.status().as_u16() {
            404 => None,
            200 => Some(answer.json().await.unwrap()),
            code => panic!("GET {kind}/{name}: {code}"),
        }
    }

    /// Writes `entry` as it is (create-only): `fake.seed_entry` of the double.
    async fn seed(&self, entry: Value) {
        let entry = ConfigEntry::from_json(entry).unwrap();
        assert!(self.client().put_entry(&entry, None, Some(0)).await.unwrap());
    }

    /// Registers `<svc>-v1`, `<svc>-v2`, ... as the double's `scenario(true)` does.
    async fn register(&self, versions: &[&str]) {
        for v in versions {
            let def = ServiceDefinition::builder(&self.svc, "default", 9080)
                .unwrap()
                .version(v)
                .unwrap();
            self.consul.execute(&Change::RegisterService(def)).await.unwrap();
        }
    }

    /// Removes every entry of `names` (routing before what it routes to), and the instances.
    async fn clean(&self, names: &[String]) {
        for kind in [
            EntryKind::ServiceRouter,
            EntryKind::ServiceSplitter,
            EntryKind::ServiceResolver,
            EntryKind::ServiceIntentions,
            EntryKind::ServiceDefaults,
        ] {
            for name in names {
                self.client().delete_entry(kind, name, None, None).await.unwrap();
            }
        }
        for name in names {
            for id in self.client().agent_service_ids(name, None).await.unwrap() {
                self.client().deregister_service(&id, None).await.unwrap();
            }
        }
    }

    async fn done(self) {
        self.clean(std::slice::from_ref(&self.svc)).await;
    }
}

/// A backend whose requests go through `proxy`: `lines(&fake)` of the double.
fn through(proxy: &RecordingProxy) -> ConsulBackend {
    crate::lost_answers::through(proxy)
}

/// The proxy's requests that reached the config and agent APIs, as `METHOD /path?query`.
fn lines(proxy: &RecordingProxy) -> Vec<String> {
    proxy
        .exchanges()
        .iter()
        .map(|e| format!("{} {}", e.method, e.target))
        .filter(|l| l != "GET /v1/agent/self")
        .collect()
}

/// Twin of `backend::a_split_writes_protocol_then_subsets_then_splitter_with_create_only_cas`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn a_split_writes_protocol_then_subsets_then_splitter_with_create_only_cas_on_a_live_agent() {
    let agent = Agent::new("split");
    let svc = &agent.svc;
    let proxy = RecordingProxy::start(&crate::lost_answers::upstream());
    let report = through(&proxy)
        .execute(&agent.split(&[("v1", 90), ("v2", 10)]))
        .await
        .unwrap();
    assert_eq!(report.event.name(), "traffic.weight.updated");
    // The reads of one planning round are sent together: they reach the agent in any order.
    let (mut reads, writes): (Vec<String>, Vec<String>) =
        lines(&proxy).into_iter().partition(|l| l.starts_with("GET "));
    reads.sort();
    assert_eq!(
        reads,
        [
            format!("GET /v1/config/service-defaults/{svc}"),
            format!("GET /v1/config/service-resolver/{svc}"),
            format!("GET /v1/config/service-router/{svc}"),
            format!("GET /v1/config/service-splitter/{svc}"),
        ]
    );
    assert_eq!(writes, ["PUT /v1/config?cas=0"; 3]);
    let kinds: Vec<&str> = report.applied.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["service-defaults", "service-resolver", "service-splitter"]
    );
    let defaults = agent.entry("service-defaults", svc).await.unwrap();
    assert_eq!(defaults["Protocol"], "http");
    let resolver = agent.entry("service-resolver", svc).await.unwrap();
    assert_eq!(
        resolver["Subsets"]["v2"]["Filter"],
        "Service.Meta.version == \"v2\""
    );
    let splitter = agent.entry("service-splitter", svc).await.unwrap();
    assert_eq!(
        splitter["Splits"],
        json!([{"Weight": 90, "ServiceSubset": "v1"}, {"Weight": 10, "ServiceSubset": "v2"}])
    );
    agent.done().await;
}

/// Twin of `backend::a_second_split_replaces_with_the_modify_index_and_converges`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn a_second_split_replaces_with_the_modify_index_and_converges_on_a_live_agent() {
    let agent = Agent::with_split("resplit").await;
    let index = agent.entry("service-splitter", &agent.svc).await.unwrap()["ModifyIndex"]
        .as_u64()
        .unwrap();
    let proxy = RecordingProxy::start(&crate::lost_answers::upstream());
    let consul = through(&proxy);
    let plan = consul
        .plan(&agent.split(&[("v1", 50), ("v2", 50)]))
        .await
        .unwrap();
    assert_eq!(plan.writes.len(), 1, "protocol and subsets already exist");
    assert_eq!(plan.writes[0].action, WriteAction::Replace);
    proxy.clear();
    consul.apply(&plan).await.unwrap();
    let writes: Vec<String> = lines(&proxy)
        .into_iter()
        .filter(|l| !l.starts_with("GET "))
        .collect();
    assert_eq!(writes, [format!("PUT /v1/config?cas={index}")]);
    assert!(
        consul
            .plan(&agent.split(&[("v1", 50), ("v2", 50)]))
            .await
            .unwrap()
            .is_noop()
    );
    agent.done().await;
}

/// Twin of `backend::the_double_rejects_a_router_or_splitter_before_the_protocol_and_a_missing_subset`:
/// the agent refuses them with the words the double uses.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn the_agent_rejects_a_router_or_splitter_before_the_protocol_and_a_missing_subset() {
    let agent = Agent::new("reject");
    let svc = &agent.svc;
    let client = agent.client();
    let router = ConfigEntry::from_json(json!({"Kind": "service-router", "Name": svc,
        "Routes": [{"Match": {"HTTP": {"PathPrefix": "/"}}, "Destination": {"Service": svc}}]}))
    .unwrap();
    let err = client.put_entry(&router, None, None).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string().contains("does not permit advanced routing"),
        "{err}"
    );
    agent
        .seed(json!({"Kind": "service-defaults", "Name": svc, "Protocol": "http"}))
        .await;
    let splitter = ConfigEntry::from_json(json!({"Kind": "service-splitter", "Name": svc,
        "Splits": [{"Weight": 50, "ServiceSubset": "v1"}, {"Weight": 50, "ServiceSubset": "v2"}]}))
    .unwrap();
    let err = client.put_entry(&splitter, None, None).await.unwrap_err();
    assert!(err.to_string().contains("does not have a subset named"), "{err}");
    assert!(agent.entry("service-splitter", svc).await.is_none());
    agent.done().await;
}

/// Twin of `backend::ce_never_gets_a_namespace_and_a_non_default_one_is_refused_before_any_request`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn ce_never_gets_a_namespace_and_a_non_default_one_is_refused_on_a_live_agent() {
    let proxy = RecordingProxy::start(&crate::lost_answers::upstream());
    let change = Change::SetTrafficWeight {
        service: "prod/reviews".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 100)]).unwrap(),
    };
    match through(&proxy).execute(&change).await {
        Err(Error::Unsupported { reason, .. }) => assert!(reason.contains("Enterprise"), "{reason}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert_eq!(
        lines(&proxy),
        Vec::<String>::new(),
        "only the edition probe was sent"
    );
    // And CE answers 400 to a raw `ns` parameter.
    let config = ClientConfig::from_env().unwrap();
    let url = config
        .address
        .join("v1/config/service-defaults/web?ns=prod")
        .unwrap();
    let token = std::env::var("CONSUL_HTTP_TOKEN").unwrap_or_default();
    let raw = reqwest::Client::new()
        .get(url)
        .header("X-Consul-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
}

/// Twin of `backend::a_missing_acl_token_is_a_typed_error_that_never_shows_the_token`: the agent
/// runs with ACLs on, default deny.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn a_wrong_acl_token_is_a_typed_error_that_never_shows_the_token_on_a_live_agent() {
    let agent = Agent::new("token");
    let secret = "11111111-2222-3333-4444-555555555555";
    let config = ClientConfig::from_env().unwrap().token(Token::new(secret));
    let backend = ConsulBackend::new(ConsulClient::new(config).unwrap());
    let err = backend.execute(&agent.split(&[("v1", 100)])).await.unwrap_err();
    assert!(matches!(err, Error::NotConfigured { .. }), "{err:?}");
    let mut shown = format!("{err} {err:?} {backend:?}");
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&err);
    while let Some(c) = cause {
        shown.push_str(&format!(" {c} {c:?}"));
        cause = c.source();
    }
    assert!(!shown.contains(secret), "the token leaked: {shown}");
    assert!(agent.entry("service-defaults", &agent.svc).await.is_none());
}

/// Twin of `backend::register_then_unregister_removes_routing_before_subsets_and_instances`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn register_then_unregister_removes_routing_before_subsets_and_instances_on_a_live_agent() {
    let agent = Agent::new("unregister");
    let svc = &agent.svc;
    agent.register(&["v1", "v2"]).await;
    let mut ids = agent.client().agent_service_ids(svc, None).await.unwrap();
    ids.sort();
    assert_eq!(ids, [format!("{svc}-v1"), format!("{svc}-v2")]);
    let instances = agent.client().health_service(svc, None, false).await.unwrap();
    let mut versions: Vec<&str> = instances
        .iter()
        .map(|i| i.service.meta.as_ref().unwrap()["version"].as_str())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, ["v1", "v2"]);
    agent
        .consul
        .execute(&agent.split(&[("v1", 50), ("v2", 50)]))
        .await
        .unwrap();
    let proxy = RecordingProxy::start(&crate::lost_answers::upstream());
    through(&proxy)
        .execute(&Change::UnregisterService { service: agent.id() })
        .await
        .unwrap();
    let writes: Vec<String> = lines(&proxy)
        .into_iter()
        .filter(|l| !l.starts_with("GET "))
        .map(|l| l.split('?').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        writes,
        [
            format!("DELETE /v1/config/service-splitter/{svc}"),
            format!("DELETE /v1/config/service-resolver/{svc}"),
            format!("PUT /v1/agent/service/deregister/{svc}-v1"),
            format!("PUT /v1/agent/service/deregister/{svc}-v2"),
        ]
    );
    assert!(
        agent
            .client()
            .agent_service_ids(svc, None)
            .await
            .unwrap()
            .is_empty()
    );
    match agent
        .consul
        .execute(&Change::UnregisterService { service: agent.id() })
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    agent.done().await;
}

/// Twin of `backend::a_virtual_service_becomes_a_router_and_a_splitter_for_the_weighted_catch_all`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn a_virtual_service_becomes_a_router_and_a_splitter_on_a_live_agent() {
    let agent = Agent::new("router");
    let svc = &agent.svc;
    let routes = crate::backend::routes_of(agent.id());
    let report = agent
        .consul
        .execute(&Change::CreateVirtualService(routes))
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
    let router = agent.entry("service-router", svc).await.unwrap();
    assert_eq!(
        router["Routes"][0],
        json!({
            "Match": {"HTTP": {"PathPrefix": "/api", "Methods": ["GET"], "Header": [{"Name": "x-canary", "Exact": "1"}]}},
            "Destination": {"Service": svc, "ServiceSubset": "v2", "RequestTimeout": "5s", "NumRetries": 2,
                            "RetryOnConnectFailure": true, "RetryOn": ["gateway-error"], "RetryOnStatusCodes": [503]}
        })
    );
    assert_eq!(
        router["Routes"].as_array().unwrap().len(),
        1,
        "unmatched traffic takes the splitter"
    );
    agent.done().await;
}

/// Twin of `backend::a_destination_rule_cannot_drop_a_subset_a_route_still_uses`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn a_destination_rule_cannot_drop_a_subset_a_route_still_uses_on_a_live_agent() {
    let agent = Agent::with_split("subsets").await;
    let svc = &agent.svc;
    let resolver_before = agent.entry("service-resolver", svc).await.unwrap()["ModifyIndex"].clone();
    let only_v1 =
        DestinationPolicy::with_subsets(agent.id(), [Subset::for_version(Version::new("v1").unwrap())]);
    match agent
        .consul
        .execute(&Change::CreateDestinationRule(only_v1))
        .await
    {
        Err(Error::InvalidInput { reason, .. }) => assert!(reason.contains("subset v2"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        agent.entry("service-resolver", svc).await.unwrap()["ModifyIndex"],
        resolver_before
    );
    let mut lb = DestinationPolicy::with_subsets(
        agent.id(),
        ["v1", "v2", "v3"].map(|v| Subset::for_version(Version::new(v).unwrap())),
    );
    lb.load_balancer = Some(mesh_core::LoadBalancer::LeastRequest);
    agent
        .consul
        .execute(&Change::CreateDestinationRule(lb))
        .await
        .unwrap();
    let resolver = agent.entry("service-resolver", svc).await.unwrap();
    assert_eq!(resolver["LoadBalancer"]["Policy"], "least_request");
    assert!(resolver["Subsets"]["v3"].is_object());
    agent.done().await;
}

/// Twin of `backend::retries_go_on_every_route_and_a_catch_all_is_added`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn retries_go_on_every_route_and_a_catch_all_is_added_on_a_live_agent() {
    let agent = Agent::new("retries");
    let svc = &agent.svc;
    let policy = RetryPolicy {
        attempts: 3,
        per_try_timeout: None,
        retry_on: vec![RetryOn::Reset],
        retry_on_status: vec![],
        overall_timeout: Some(Duration::from_secs(15)),
    };
    agent
        .consul
        .execute(&Change::SetRetryPolicy {
            service: agent.id(),
            policy,
        })
        .await
        .unwrap();
    let router = agent.entry("service-router", svc).await.unwrap();
    assert_eq!(
        router["Routes"],
        json!([{"Match": {"HTTP": {"PathPrefix": "/"}},
                "Destination": {"Service": svc, "NumRetries": 3, "RetryOn": ["reset"], "RequestTimeout": "15s"}}])
    );
    assert_eq!(
        agent.entry("service-defaults", svc).await.unwrap()["Protocol"],
        "http"
    );
    agent.done().await;
}

/// Twin of `backend::authorization_becomes_l4_and_l7_intentions_and_keeps_other_sources`: the
/// agent adds `Precedence` and `Type` to every source, and the same policy again writes nothing.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn authorization_becomes_l4_and_l7_intentions_and_keeps_other_sources_on_a_live_agent() {
    let agent = Agent::new("authz");
    let svc = &agent.svc;
    let (legacy, web, batch) = (agent.other("legacy"), agent.other("web"), agent.other("batch"));
    agent
        .seed(json!({"Kind": "service-intentions", "Name": svc, "Sources": [{"Name": legacy, "Action": "allow"}]}))
        .await;
    let policy = AuthorizationPolicy {
        name: "deny-admin".parse().unwrap(),
        namespace: "default".parse().unwrap(),
        target: Some(svc.parse().unwrap()),
        action: AuthzAction::Deny,
        rules: vec![
            AuthzRule {
                from: vec![AuthzSource {
                    principals: vec![format!("default/{web}").parse().unwrap()],
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
                    principals: vec![format!("default/{batch}").parse().unwrap()],
                    ..Default::default()
                }],
                to: vec![],
            },
        ],
    };
    agent
        .consul
        .execute(&Change::CreateAuthorizationPolicy(policy.clone()))
        .await
        .unwrap();
    let entry = agent.entry("service-intentions", svc).await.unwrap();
    // The agent answers each source with its `Precedence` and `Type` filled in, as the double does.
    assert_eq!(
        entry["Sources"],
        json!([
            {"Name": legacy, "Action": "allow", "Precedence": 9, "Type": "consul"},
            {"Name": batch, "Action": "deny", "Precedence": 9, "Type": "consul", "Description": "mesh policy deny-admin"},
            {"Name": web, "Precedence": 9, "Type": "consul", "Description": "mesh policy deny-admin",
             "Permissions": [{"Action": "deny", "HTTP": {"PathPrefix": "/admin", "Methods": ["POST"]}}]}
        ])
    );
    crate::backend::plans_nothing_again(&agent.consul, &Change::CreateAuthorizationPolicy(policy)).await;
    assert_eq!(
        agent.entry("service-defaults", svc).await.unwrap()["Protocol"],
        "http",
        "L7 intentions need HTTP"
    );
    agent.done().await;
}

/// Twin of `backend::health_kv_and_dc_go_through_the_client`, in the agent's own datacenter.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn health_and_kv_go_through_the_client_on_a_live_agent() {
    let agent = Agent::new("kv");
    let client = agent.client();
    let key = format!("mesh/{}", agent.svc);
    assert!(client.kv_put(&key, b"one", Some(0)).await.unwrap());
    assert!(
        !client.kv_put(&key, b"two", Some(0)).await.unwrap(),
        "create-only fails when it exists"
    );
    let pair = client.kv_get(&key).await.unwrap().unwrap();
    assert_eq!(pair.value, b"one");
    assert!(
        !client
            .kv_put(&key, b"two", Some(pair.modify_index + 100))
            .await
            .unwrap()
    );
    assert!(
        client
            .kv_put(&key, b"two", Some(pair.modify_index))
            .await
            .unwrap()
    );
    assert_eq!(client.kv_get(&key).await.unwrap().unwrap().value, b"two");
    assert!(client.kv_delete(&key, None).await.unwrap());
    agent.register(&["v1"]).await;
    let healthy = client.health_service(&agent.svc, None, true).await.unwrap();
    assert_eq!(healthy.len(), 1);
    assert_eq!(healthy[0].service.meta.as_ref().unwrap()["version"], "v1");
    agent.done().await;
}

/// Twin of `backend::resolver_options_add_failover_and_a_default_subset_with_cas`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn resolver_options_add_failover_and_a_default_subset_on_a_live_agent() {
    use mesh_consul::failover::ResolverOptions;
    let agent = Agent::with_split("failover").await;
    let svc = &agent.svc;
    let opts = ResolverOptions::default()
        .default_subset("v1")
        .failover("*", ["dc2", "dc3"])
        .request_timeout(Duration::from_secs(3));
    assert!(agent.consul.configure_resolver(&agent.id(), &opts).await.unwrap());
    let r = agent.entry("service-resolver", svc).await.unwrap();
    assert_eq!(r["DefaultSubset"], "v1");
    assert_eq!(r["Failover"]["*"]["Datacenters"], json!(["dc2", "dc3"]));
    assert_eq!(r["RequestTimeout"], "3s");
    assert!(r["Subsets"]["v2"].is_object(), "subsets kept");
    assert!(
        !agent.consul.configure_resolver(&agent.id(), &opts).await.unwrap(),
        "converged"
    );
    let bad = ResolverOptions::default().default_subset("v9");
    assert!(matches!(
        agent.consul.configure_resolver(&agent.id(), &bad).await,
        Err(Error::InvalidInput { .. })
    ));
    agent.done().await;
}

/// Twin of `state::state_is_written_with_check_and_set`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn state_is_written_with_check_and_set_on_a_live_agent() {
    let agent = Agent::new("state");
    let proxy = RecordingProxy::start(&crate::lost_answers::upstream());
    let key = mesh_core::StateKey::new(agent.id(), "rollout").unwrap();
    crate::state::check_and_set_round_trip(&through(&proxy), &key).await;
    let state_path = format!("/v1/kv/mesh/state/default/{}/rollout", agent.svc);
    let kv = lines(&proxy);
    assert!(
        kv.iter().any(|l| l.contains(&state_path) && l.contains("cas=0")),
        "{kv:?}"
    );
}

/// Twin of `backend::circuit_breakers_go_on_the_callers_derived_from_intentions`: the agent answers
/// the durations as integer nanoseconds and adds `Peer` and `MeshGateway` to each override; the
/// next plan reads them, and the same breaker again writes nothing.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn circuit_breakers_go_on_the_callers_derived_from_intentions_on_a_live_agent() {
    let agent = Agent::new("breaker");
    let svc = &agent.svc;
    let (web, batch, api) = (agent.other("web"), agent.other("batch"), agent.other("api"));
    agent
        .seed(json!({"Kind": "service-intentions", "Name": svc,
            "Sources": [{"Name": web, "Action": "allow"}, {"Name": batch, "Action": "deny"}, {"Name": api, "Action": "allow"}]}))
        .await;
    agent
        .seed(
            json!({"Kind": "service-defaults", "Name": web, "Protocol": "http",
            "UpstreamConfig": {"Overrides": [{"Name": "db", "ConnectTimeoutMs": 100}]}}),
        )
        .await;
    let change = Change::ConfigureCircuitBreaker {
        service: agent.id(),
        circuit_breaker: crate::backend::breaker(),
        callers: vec![],
    };
    let report = agent.consul.execute(&change).await.unwrap();
    let names: Vec<&str> = report.applied.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, [api.as_str(), web.as_str()]);
    assert!(report.warnings.iter().any(|w| w.contains("client-side")));
    let stored = agent.entry("service-defaults", &web).await.unwrap();
    assert_eq!(stored["Protocol"], "http", "other fields are kept");
    assert_eq!(
        stored["UpstreamConfig"]["Overrides"],
        json!([{"Name": "db", "Peer": "", "ConnectTimeoutMs": 100, "MeshGateway": {}},
               {"Name": svc, "Peer": "", "Limits": {"MaxConnections": 100},
                "PassiveHealthCheck": {"Interval": 10_000_000_000_u64, "MaxFailures": 5, "BaseEjectionTime": 30_000_000_000_u64},
                "MeshGateway": {}}])
    );
    crate::backend::plans_nothing_again(&agent.consul, &change).await;
    agent.clean(&[svc.clone(), web, batch, api]).await;
}

/// Twin of `backend::ce_abort_is_emulated_with_lua_only_on_opt_in_and_a_created_entry_is_deleted_on_removal`:
/// the agent answers the extension with `Required`, `ConsulVersion` and `EnvoyVersion` added, and
/// the removal still finds it.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn ce_abort_is_emulated_with_lua_only_on_opt_in_and_a_created_entry_is_deleted_on_a_live_agent() {
    let agent = Agent::new("lua");
    let svc = &agent.svc;
    let change = Change::InjectFault {
        service: agent.id(),
        fault: crate::backend::abort(),
    };
    assert!(matches!(
        agent.consul.execute(&change).await,
        Err(Error::Unsupported { .. })
    ));
    let opted = ConsulBackend::from_env().unwrap().emulate_abort_with_lua(true);
    opted.execute(&change).await.unwrap();
    crate::backend::the_lua_abort_is_on(&agent.entry("service-defaults", svc).await.unwrap());
    let id = change.fault_id(mesh_core::MeshKind::Consul).unwrap();
    // Another process, knowing only the id, removes it.
    crate::backend::remove_found_the_extension(&ConsulBackend::from_env().unwrap(), id).await;
    assert!(
        agent.entry("service-defaults", svc).await.is_none(),
        "the entry the injection created is gone"
    );
    agent.done().await;
}

/// On an entry that was there before, removing the abort takes the Lua extension off and keeps
/// the rest, as the agent answers it.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn removing_an_emulated_abort_takes_the_lua_extension_off_an_existing_entry_on_a_live_agent() {
    let agent = Agent::new("lua-kept");
    let svc = &agent.svc;
    agent
        .seed(json!({"Kind": "service-defaults", "Name": svc, "Protocol": "http", "Meta": {"team": "a"}}))
        .await;
    let change = Change::InjectFault {
        service: agent.id(),
        fault: crate::backend::abort(),
    };
    let opted = ConsulBackend::from_env().unwrap().emulate_abort_with_lua(true);
    opted.execute(&change).await.unwrap();
    let id = change.fault_id(mesh_core::MeshKind::Consul).unwrap();
    crate::backend::remove_found_the_extension(&opted, id).await;
    crate::backend::the_entry_is_as_seeded(&agent.entry("service-defaults", svc).await.unwrap());
    agent.done().await;
}

/// Every kind of entry the backend writes, planned again as it was: nothing to write, though the
/// agent answers durations in Go's own spelling (`1.5s` for `1500ms`) and leaves out a `false`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn the_same_change_again_writes_nothing_on_a_live_agent() {
    let agent = Agent::new("again");
    crate::backend::each_change_again_writes_nothing(&agent.consul, &agent.id()).await;
    for (kind, name) in [("proxy-defaults", "global"), ("mesh", "mesh")] {
        agent
            .client()
            .delete_entry(kind.parse().unwrap(), name, None, None)
            .await
            .unwrap();
    }
    agent.done().await;
}
