//! `Mesh` composes the backend's contracts: the operations from its `MeshBackend`, state from
//! its `StateStore`, metrics, traces and the graph from its `Observability` when it has one (the
//! telemetry sources win when given). What none of them serves is the typed error it always
//! was, now named by `Mesh` rather than by default bodies of the backend trait.

use std::time::{Duration, UNIX_EPOCH};

use mesh_core::testing::FakeMesh;
use mesh_handle::{
    Error, Feature, Mesh, MeshKind, ServiceId, ServiceMetrics, StateKey, TimeRange, TrafficSample,
};

use crate::execute_uses_the_backends_execute::LosesTheFirstRace;

fn reviews() -> ServiceId {
    "prod/reviews".parse().unwrap()
}

fn range() -> TimeRange {
    TimeRange::ending_at(UNIX_EPOCH + Duration::from_secs(3600), Duration::from_secs(60)).unwrap()
}

#[tokio::test]
async fn a_backend_without_a_store_or_telemetry_answers_the_typed_errors() {
    let mesh = Mesh::from_backend(LosesTheFirstRace::default());
    let key = StateKey::new(reviews(), "rollout").unwrap();
    for err in [
        mesh.read_state(&key).await.unwrap_err(),
        mesh.write_state(&key, "{}", None).await.unwrap_err(),
        mesh.delete_state(&key, "1").await.unwrap_err(),
    ] {
        assert!(
            matches!(
                &err,
                Error::Unsupported { mesh: MeshKind::Istio, feature: Feature::StateStore, reason }
                    if reason == "this backend keeps no state"
            ),
            "{err:?}"
        );
    }
    let not_configured = |err: Error| match err {
        Error::NotConfigured { what, hint } => (what, hint),
        other => panic!("{other:?}"),
    };
    let metrics = (
        "metrics source".to_owned(),
        "configure a Prometheus URL (PROMETHEUS_URL)".to_owned(),
    );
    let tracing = (
        "tracing backend".to_owned(),
        "configure a tracing URL (TRACING_URL)".to_owned(),
    );
    let graph = mesh.get_service_graph(&"prod".parse().unwrap()).await;
    assert_eq!(not_configured(graph.unwrap_err()), metrics);
    let got = mesh.get_service_metrics(&reviews(), range()).await;
    assert_eq!(not_configured(got.unwrap_err()), metrics);
    let traces = mesh.get_service_traces(&reviews(), 5).await;
    assert_eq!(not_configured(traces.unwrap_err()), tracing);
    let traces = mesh.get_service_traces_in(&reviews(), range(), 5).await;
    assert_eq!(not_configured(traces.unwrap_err()), tracing);
}

#[tokio::test]
async fn a_backend_with_a_store_and_telemetry_serves_them_through_mesh() {
    let fake = FakeMesh::new(MeshKind::Consul);
    let sample = TrafficSample {
        requests: 10.0,
        ..TrafficSample::default()
    };
    fake.set_metrics(ServiceMetrics {
        service: reviews(),
        range: range(),
        overall: sample,
        by_version: Default::default(),
    });
    let mesh = Mesh::from_backend(fake);
    let key = StateKey::new(reviews(), "rollout").unwrap();
    let version = mesh.write_state(&key, "{}", None).await.unwrap();
    assert_eq!(mesh.read_state(&key).await.unwrap().unwrap().version, version);
    assert!(matches!(
        mesh.write_state(&key, "{}", None).await,
        Err(Error::Conflict { .. })
    ));
    mesh.delete_state(&key, &version).await.unwrap();
    let metrics = mesh.get_service_metrics(&reviews(), range()).await.unwrap();
    assert_eq!(metrics.overall, sample);
    assert!(mesh.get_service_traces(&reviews(), 5).await.unwrap().is_empty());
    assert!(
        mesh.get_service_graph(&"prod".parse().unwrap())
            .await
            .unwrap()
            .nodes
            .is_empty()
    );
}
