//! `Mesh::query_metric` (what a rollout's custom metrics read) against a real Prometheus over
//! backfilled data: one series is its value, none is `None`, several are refused.
//! Without the binaries the test fails with what to install, unless `MESH_SKIP_PROMETHEUS=1`.

#![cfg(all(feature = "telemetry", feature = "testing"))]

use std::time::{Duration, UNIX_EPOCH};

use mesh_handle::{
    Error, Mesh, MeshKind,
    telemetry::{Telemetry, prometheus::PrometheusClient},
};
use mesh_testkit::{Kind, OpenMetrics, Prometheus, Timeline};

const T0: u64 = 1_704_067_200;

#[tokio::test(flavor = "multi_thread")]
async fn one_series_is_a_value_none_is_none_and_several_are_refused() {
    let mut om = OpenMetrics::new(Timeline::new(T0, 15, 20));
    om.family("queue_depth", Kind::Gauge)
        .series("queue_depth", &[("version", "v1")], |_| 3.0)
        .series("queue_depth", &[("version", "v2")], |i| 40.0 + i as f64);
    let Some(prometheus) = Prometheus::start(&om.finish()) else {
        return;
    };
    let client = PrometheusClient::builder().url(prometheus.url()).build().unwrap();
    let mesh = Mesh::fake(MeshKind::Istio).with_telemetry(Telemetry {
        prometheus: Some(client),
        ..Telemetry::default()
    });
    let at = UNIX_EPOCH + Duration::from_secs(T0 + 15 * 10);
    let v2 = mesh
        .query_metric(r#"max(queue_depth{version="v2"})"#, at)
        .await
        .unwrap();
    assert_eq!(v2, Some(50.0));
    let none = mesh
        .query_metric(r#"queue_depth{version="v9"}"#, at)
        .await
        .unwrap();
    assert_eq!(none, None);
    match mesh.query_metric("queue_depth", at).await {
        Err(Error::InvalidInput { reason, .. }) => assert!(reason.contains("2 series"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Without a Prometheus, a typed NotConfigured naming it.
    match Mesh::fake(MeshKind::Istio).query_metric("up", at).await {
        Err(Error::NotConfigured { what, .. }) => assert!(what.contains("Prometheus"), "{what}"),
        other => panic!("{other:?}"),
    }
}
