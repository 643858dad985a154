//! A hostile "Consul" on loopback: an endless answer is refused at the body cap
//! (`ClientConfig::max_body`) with a typed error, and is not retried.

use mesh_consul::client::{ClientConfig, ConsulClient, Error};
use mesh_testkit::HostileServer;

#[tokio::test]
async fn an_endless_answer_is_refused_at_the_cap() {
    for declared in [false, true] {
        let server = HostileServer::endless_body(declared);
        let config = ClientConfig::from_lookup(|k| (k == "CONSUL_HTTP_ADDR").then(|| server.url())).unwrap();
        let client = ConsulClient::new(config).unwrap();
        let err = client
            .get_entry(mesh_consul::model::EntryKind::ServiceDefaults, "reviews", None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { .. }),
            "declared={declared}: {err:?}"
        );
    }
}

/// A silent agent: the request times out once and is not retried (it once took 4 x 30 s), and
/// the error is the transport's, typed.
#[tokio::test]
async fn a_silent_agent_is_not_retried_after_a_timeout() {
    let server = HostileServer::silent();
    let mut config = ClientConfig::from_lookup(|k| (k == "CONSUL_HTTP_ADDR").then(|| server.url())).unwrap();
    config.request_timeout = std::time::Duration::from_millis(300);
    let client = ConsulClient::new(config).unwrap();
    let err = client.agent_self().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(server.connections(), 1, "one attempt");
}
