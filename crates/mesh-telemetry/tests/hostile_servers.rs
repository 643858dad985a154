//! Hostile servers on loopback: an endless answer is refused at the body cap instead of filling
//! memory (a 2 GB answer once took 6.2 GB of RSS), and a silent Kiali fails at its deadline
//! instead of hanging (it once hung for more than 250 s).

use std::time::{Duration, SystemTime};

use mesh_core::{Namespace, TimeRange};
use mesh_telemetry::{Error, graph::KialiClient, prometheus::PrometheusClient};
use mesh_testkit::HostileServer;

fn range() -> TimeRange {
    let end = SystemTime::now();
    TimeRange::new(end - Duration::from_secs(300), end).unwrap()
}

#[tokio::test]
async fn prometheus_refuses_an_endless_answer_at_the_cap() {
    for declared in [false, true] {
        let server = HostileServer::endless_body(declared);
        let client = PrometheusClient::builder().url(server.url()).build().unwrap();
        let err = client.query("up", SystemTime::now()).await.unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { .. }),
            "declared={declared}: {err:?}"
        );
    }
}

#[tokio::test]
async fn kiali_refuses_an_endless_answer_at_the_cap() {
    let server = HostileServer::endless_body(false);
    let kiali = KialiClient::new(&server.url(), None).unwrap();
    let err = kiali
        .graph(&Namespace::new("prod").unwrap(), range())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn a_silent_kiali_fails_at_its_deadline() {
    let server = HostileServer::silent();
    let kiali = KialiClient::new(&server.url(), None)
        .unwrap()
        .with_timeout(Duration::from_millis(300))
        .unwrap();
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        kiali.graph(&Namespace::new("prod").unwrap(), range()),
    )
    .await
    .expect("the client gives up by itself");
    assert!(matches!(outcome, Err(Error::Transport { .. })), "{outcome:?}");
}
