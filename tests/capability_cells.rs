//! `meshctl capabilities` tells the truth for the cells a user relies on outside the planners:
//! the state store and the three observe features. A native cell works end to end through `Mesh`
//! (backend on its double, telemetry on a loopback server); an unsupported one is `Unsupported`.
//! (Linkerd's `state.store` and every Linkerd and Consul `observe.*` cell once read
//! "unsupported" although the code did them.)

#![cfg(all(feature = "istio", feature = "linkerd", feature = "consul"))]

use std::time::{Duration, SystemTime};

use mesh::{
    Error, Feature, Mesh, MeshKind, StateKey, Support, TimeRange,
    telemetry::{Telemetry, prometheus::PrometheusClient, traces::TracingClient},
};
use mesh_consul::{ConsulVersion, testing::FakeConsul};
use mesh_kube::{KubeEngine, testing::FakeApiServer};
use mesh_testkit::HostileServer;

const EMPTY_VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
const NO_TRACES: &str = r#"{"data":[]}"#;

async fn backend(kind: MeshKind, server: &FakeApiServer, consul: &FakeConsul) -> Mesh {
    let engine = KubeEngine::new(server.client(), kind, mesh_kube::DEFAULT_FIELD_MANAGER);
    match kind {
        MeshKind::Istio => Mesh::from_backend(mesh::istio::IstioBackend::new(engine, Default::default())),
        MeshKind::Linkerd => {
            Mesh::from_backend(mesh::linkerd::LinkerdBackend::new(engine, Default::default()))
        }
        MeshKind::Consul => Mesh::from_backend(consul.backend(None)),
    }
}

fn works<T>(
    kind: MeshKind,
    feature: Feature,
    support: &Support,
    outcome: Result<T, Error>,
) -> Option<String> {
    match (support, outcome) {
        (Support::Native { .. }, Ok(_)) => None,
        (Support::Unsupported { .. } | Support::Emulated { .. }, Err(Error::Unsupported { .. })) => None,
        (s, Ok(_)) => Some(format!("{kind} {feature}: the table says {s:?}, but it works")),
        (s, Err(e)) => Some(format!(
            "{kind} {feature}: the table says {s:?}, but it fails: {e}"
        )),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn state_store_and_observe_cells_match_what_the_code_does() {
    let prometheus = HostileServer::canned(EMPTY_VECTOR);
    let jaeger = HostileServer::canned(NO_TRACES);
    let mut wrong = Vec::new();
    for kind in MeshKind::ALL {
        let server = FakeApiServer::new();
        let consul = FakeConsul::start(ConsulVersion::ce(1, 21, 0)).await;
        let telemetry = Telemetry {
            prometheus: Some(PrometheusClient::builder().url(prometheus.url()).build().unwrap()),
            tracing: Some(
                TracingClient::builder()
                    .url(jaeger.url())
                    .kind(mesh::telemetry::traces::TracingKind::Jaeger)
                    .build()
                    .unwrap(),
            ),
            ..Telemetry::default()
        };
        let mesh = backend(kind, &server, &consul).await.with_telemetry(telemetry);
        let caps = mesh.capabilities();
        let service = "default/reviews".parse().unwrap();

        let key = StateKey::new(service, "rollout").unwrap();
        let stored = async {
            let version = mesh.write_state(&key, "{}", None).await?;
            mesh.read_state(&key).await.map(|s| (version, s))
        }
        .await;
        wrong.extend(works(
            kind,
            Feature::StateStore,
            &caps.support(Feature::StateStore),
            stored,
        ));

        let service = "default/reviews".parse().unwrap();
        let range = TimeRange::ending_at(SystemTime::now(), Duration::from_secs(300)).unwrap();
        let metrics = mesh.get_service_metrics(&service, range).await;
        wrong.extend(works(
            kind,
            Feature::Metrics,
            &caps.support(Feature::Metrics),
            metrics,
        ));
        let traces = mesh.get_service_traces(&service, 10).await;
        wrong.extend(works(
            kind,
            Feature::Traces,
            &caps.support(Feature::Traces),
            traces,
        ));
        let graph = mesh.get_service_graph(&"default".parse().unwrap()).await;
        wrong.extend(works(kind, Feature::Graph, &caps.support(Feature::Graph), graph));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
