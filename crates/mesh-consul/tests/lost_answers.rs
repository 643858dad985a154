//! Lost answers on a real agent: the write reached Consul and landed, but its answer never
//! arrived (a recording proxy closes the connection after the agent handled the request). The
//! backend reads back before it reports: the change completes, the report lists every write,
//! and nothing is written twice.
//!
//! `eval "$(cargo xtask testenv up)"; cargo test -p mesh-consul --test integration lost_answers:: -- --ignored`

use mesh_consul::{
    ConsulBackend,
    client::{ClientConfig, ConsulClient},
    model::EntryKind,
};
use mesh_core::{Change, MeshBackend, ServiceDefinition, TrafficSplit};
use mesh_testkit::RecordingProxy;

/// A backend on the environment's agent whose requests go through `proxy`.
pub(crate) fn through(proxy: &RecordingProxy) -> ConsulBackend {
    let config = ClientConfig::from_env()
        .expect("CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN")
        .address(proxy.url().parse().unwrap());
    ConsulBackend::new(ConsulClient::new(config).unwrap())
}

/// The environment's agent, as `HOST:PORT`.
pub(crate) fn upstream() -> String {
    let config = ClientConfig::from_env().expect("CONSUL_HTTP_ADDR");
    let url = config.address;
    format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    )
}

#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn a_lost_answer_is_read_back_and_reported_exactly() {
    let proxy = RecordingProxy::start(&upstream());
    let consul = through(&proxy);
    let svc = format!("lost-answer-{}", std::process::id());
    for v in ["v1", "v2"] {
        let def = ServiceDefinition::builder(&svc, "default", 9080)
            .unwrap()
            .version(v)
            .unwrap();
        consul.execute(&Change::RegisterService(def)).await.unwrap();
    }
    let split = Change::SetTrafficWeight {
        service: format!("default/{svc}").parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
    };
    let plan = consul.plan(&split).await.unwrap();
    let kinds: Vec<&str> = plan.writes.iter().map(|w| w.target.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["service-resolver", "service-splitter"],
        "subsets, then the split"
    );

    // The service-resolver lands, and its answer is lost.
    proxy.clear();
    proxy.lose_answer_of_next("PUT", "/v1/config", "service-resolver");
    let report = consul.apply(&plan).await.expect("the lost answer is read back");
    let applied: Vec<&str> = report.applied.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(applied, kinds, "the report lists exactly what landed");

    let exchanges = proxy.exchanges();
    let resolver_puts = exchanges
        .iter()
        .filter(|e| e.method == "PUT" && e.body.contains("service-resolver"))
        .count();
    assert_eq!(resolver_puts, 1, "the landed write is not sent again");
    assert!(
        exchanges.iter().any(|e| e.answer_lost),
        "the proxy lost an answer"
    );

    let direct = ConsulBackend::from_env().unwrap();
    let splitter = direct
        .client()
        .get_entry(EntryKind::ServiceSplitter, &svc, None)
        .await
        .unwrap();
    assert!(splitter.is_some(), "the change completed");
}
