//! `meshctl capabilities` tells the truth, cell by cell, on every mesh.
//!
//! - Planned features: each one's probe (`capability_cells/probes.rs`) goes through the real
//!   planner of [`Mesh::offline`], the backend `meshctl --target render` uses. A native cell plans
//!   both values of its probe, and the plans differ (the value was not dropped); a refused cell is
//!   `Unsupported` naming the mesh and the feature; an emulated cell is refused without its
//!   opt-in and planned with it. Each mesh runs with its defaults and with every opt-in on.
//! - Reads: the state store, the mTLS status and the three observe features work end to end
//!   through `Mesh` (backend on its double, telemetry on a loopback server), or are
//!   `Unsupported`. (Linkerd's `state.store` and every Linkerd and Consul `observe.*` cell once
//!   read "unsupported" although the code did them.)

#![cfg(all(feature = "istio", feature = "linkerd", feature = "consul"))]

use std::time::{Duration, SystemTime};

use mesh::{
    Error, Feature, Mesh, MeshKind, StateKey, Support, TimeRange,
    telemetry::{Telemetry, prometheus::PrometheusClient, traces::TracingClient},
};
use mesh_consul::{ConsulVersion, testing::FakeConsul};
use mesh_kube::{KubeEngine, schema::SchemaSet, testing::FakeApiServer};
use mesh_testkit::HostileServer;

mod probes;
use probes::probe;

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
async fn state_store_mtls_status_and_observe_cells_match_what_the_code_does() {
    let prometheus = HostileServer::canned(EMPTY_VECTOR);
    let jaeger = HostileServer::canned(NO_TRACES);
    let mut wrong = Vec::new();
    for kind in MeshKind::ALL {
        let server = FakeApiServer::new();
        // Every cluster has the `default` namespace (Linkerd reads its policy annotation).
        server.insert(
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        );
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
        let mtls = mesh.mtls_status(&"default".parse().unwrap()).await;
        wrong.extend(works(
            kind,
            Feature::MtlsStatus,
            &caps.support(Feature::MtlsStatus),
            mtls,
        ));
        let graph = mesh.get_service_graph(&"default".parse().unwrap()).await;
        wrong.extend(works(kind, Feature::Graph, &caps.support(Feature::Graph), graph));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The settings a mesh is checked under: its defaults, and every documented opt-in on.
fn option_sets(kind: MeshKind) -> Vec<(&'static str, mesh::ConnectOptions)> {
    let mut opted_in = mesh::ConnectOptions::default();
    match kind {
        MeshKind::Istio => {}
        MeshKind::Linkerd => {
            opted_in.linkerd = mesh::linkerd::Config::default()
                .fault_error_backend("error-injector", 8080)
                .smi(true)
                .service_profile_retries(true);
        }
        MeshKind::Consul => opted_in.consul_lua_abort_emulation = true,
    }
    vec![
        ("defaults", mesh::ConnectOptions::default()),
        ("every opt-in", opted_in),
    ]
}

/// The rendered objects of a plan, as a user sees them.
fn rendered(plan: &mesh::Plan) -> Vec<serde_json::Value> {
    plan.writes
        .iter()
        .map(|w| serde_json::json!([w.target, w.body]))
        .collect()
}

#[tokio::test]
async fn every_planned_cell_matches_what_the_planner_does() {
    let mut wrong = Vec::new();
    let mut exercised = 0;
    for kind in MeshKind::ALL {
        for (label, options) in option_sets(kind) {
            let mesh = Mesh::from_backend(mesh::Offline::new(kind).unwrap().options(&options));
            let caps = mesh.capabilities();
            for feature in Feature::ALL.iter().copied() {
                let Some(probe) = probe(feature) else {
                    continue;
                };
                exercised += 1;
                let cell = format!("{kind} {feature} ({label})");
                let support = caps.support(feature);
                let opted_in = label != "defaults";
                let mut plans = Vec::new();
                for change in &probe.pair {
                    assert!(
                        change.required_features().contains(&feature),
                        "{cell}: the probe does not use the feature: {change:?}"
                    );
                    plans.push(mesh.plan(change).await);
                }
                let must_plan = match &support {
                    Support::Native { .. } => true,
                    Support::Emulated { .. } => opted_in,
                    Support::Unsupported { .. } => false,
                };
                for plan in &plans {
                    match (must_plan, plan) {
                        (true, Ok(plan)) => {
                            if probe.writes && plan.writes.is_empty() {
                                wrong.push(format!(
                                    "{cell}: the table says {support:?}, but nothing is written"
                                ));
                            }
                            if kind != MeshKind::Consul
                                && let Err(bad) = SchemaSet::bundled().validate_plan(plan, None)
                            {
                                wrong.push(format!("{cell}: invalid objects {bad:?}"));
                            }
                        }
                        (
                            false,
                            Err(Error::Unsupported {
                                mesh: m,
                                feature: f,
                                reason,
                            }),
                        ) => {
                            if *m != kind || (*f != feature && !reason.contains(feature.as_str())) {
                                wrong.push(format!("{cell}: refused as {m} {f}: {reason}"));
                            }
                        }
                        (true, Err(e)) => {
                            wrong.push(format!("{cell}: the table says {support:?}, but it fails: {e}"));
                        }
                        (false, Ok(_)) => {
                            wrong.push(format!("{cell}: the table says {support:?}, but it plans"))
                        }
                        (false, Err(e)) => {
                            wrong.push(format!("{cell}: refused, but not as Unsupported: {e}"))
                        }
                    }
                }
                if let [Ok(a), Ok(b)] = &plans[..]
                    && probe.writes
                    && probe.varies
                    && rendered(a) == rendered(b)
                {
                    wrong.push(format!(
                        "{cell}: both values render the same objects: the value is dropped"
                    ));
                }
            }
        }
    }
    // 3 meshes x 2 option sets x every planned feature.
    assert!(exercised >= 3 * 2 * 33, "{exercised} cells");
    assert!(
        wrong.is_empty(),
        "{} wrong cells:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// No input asks for `destination.tls`: every mesh lists it as unsupported, and no change needs it.
#[test]
fn destination_tls_is_unsupported_everywhere() {
    for kind in MeshKind::ALL {
        let caps = Mesh::offline(kind).unwrap().capabilities();
        assert!(
            matches!(caps.support(Feature::DestinationTls), Support::Unsupported { .. }),
            "{kind}"
        );
    }
}
