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
