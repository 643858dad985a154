//! A check-and-set write of an entry identical to the stored one is a no-op the agent answers
//! `true`, whatever the `?cas=` index; a different entry at a stale index is refused (`false`).
//! Found on the real agent (applying `--consul-files` twice); the double now does the same. The
//! same assertions run on `FakeConsul` and, ignored by default, on the test environment's agent.

use mesh_consul::{
    ConsulVersion,
    client::{ClientConfig, ConsulClient},
    model::{ConfigEntry, EntryKind},
    testing::FakeConsul,
};

fn entry(name: &str, protocol: &str) -> ConfigEntry {
    ConfigEntry::from_json(
        serde_json::json!({"Kind": "service-defaults", "Name": name, "Protocol": protocol}),
    )
    .unwrap()
}

async fn identical_cas_writes_are_no_ops(client: &ConsulClient, name: &str) {
    assert!(
        client
            .put_entry(&entry(name, "http"), None, Some(0))
            .await
            .unwrap(),
        "created"
    );
    let index = |e: Option<ConfigEntry>| serde_json::to_value(e.unwrap()).unwrap()["ModifyIndex"].clone();
    let before = index(
        client
            .get_entry(EntryKind::ServiceDefaults, name, None)
            .await
            .unwrap(),
    );
    assert!(
        client
            .put_entry(&entry(name, "http"), None, Some(0))
            .await
            .unwrap(),
        "identical at cas=0"
    );
    assert!(
        client
            .put_entry(&entry(name, "http"), None, Some(987_654))
            .await
            .unwrap(),
        "identical at a stale index"
    );
    let after = index(
        client
            .get_entry(EntryKind::ServiceDefaults, name, None)
            .await
            .unwrap(),
    );
    assert_eq!(before, after, "nothing was written");
    assert!(
        !client
            .put_entry(&entry(name, "grpc"), None, Some(0))
            .await
            .unwrap(),
        "a different entry at cas=0"
    );
    assert!(
        !client
            .put_entry(&entry(name, "grpc"), None, Some(987_654))
            .await
            .unwrap(),
        "a different entry at a stale index"
    );
    client
        .delete_entry(EntryKind::ServiceDefaults, name, None, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn on_the_double() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 18, 0)).await;
    let client = ConsulClient::new(fake.client_config()).unwrap();
    identical_cas_writes_are_no_ops(&client, "cas-double").await;
}

#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR"]
async fn on_a_live_agent() {
    let client = ConsulClient::new(ClientConfig::from_env().unwrap()).unwrap();
    identical_cas_writes_are_no_ops(&client, &format!("cas-live-{}", std::process::id())).await;
}
