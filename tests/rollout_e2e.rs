//! End-to-end rollouts (issue 8 acceptance): `mesh_rollout::Rollout` over the Istio backend on
//! mesh-kube's fake API server, reading metrics from a **real Prometheus 2.42** (one for the whole
//! file, started by `mesh-testkit`) through `Mesh::with_telemetry`. The tokio clock is paused, so
//! each rollout replays over recorded data in milliseconds.
//!
//! # Backfilled data (Istio dialect)
//! `istio_requests_total` and `istio_request_duration_milliseconds_bucket` (Envoy's default
//! buckets), one sample every 15 s from `T0` = 2024-01-01T00:00:00Z to `START + 12 min`. Every
//! rollout starts at `START = T0 + 10 min` with a 60 s interval, so stage `k` (weights
//! 10, 30, 50, 80 %) runs over `[START + 60k, START + 60(k + 1)]` and is analysed over exactly
//! that window. Each service in namespace `prod` has series for `destination_version` v1 and v2,
//! response codes 200 and 503, and its own traffic profile; during stage `k` (weight `w`):
//! - `healthy`, `resumed`, `contested`: 100 requests/s split as the weights say (v2 gets `w`
//!   req/s), 2 % of them 503 on both versions; before `START` all traffic goes to v1.
//! - `failing`: as `healthy`, but v2 answers 20 % 503 during stage 3 (index 2, 50 %).
//! - `quiet`: 2 requests per 15 s to v2 and 18 to v1 all along (8 canary requests a window, fewer
//!   than the 50 needed to judge).
//!
//! Latency: 60 % of each version's requests in the 25 ms bucket, 30 % in 50 ms, 10 % in 100 ms
//! (p99 = 95 ms). Every request is also counted by a `reporter="source"` series, as in a sidecar
//! mesh (OBSERVABILITY.md §1.1): the exact counts asserted below prove only the destination side
//! is read.
//!
//! The engine's metrics calls run on a separate real-time runtime (see [`RealTimeMetrics`]).
//! Consul keeps no rollout state yet, so its test only checks that a rollout is refused with a
//! typed error before any write.
//!
//! Without `prometheus`/`promtool` the tests fail with what to install, unless
//! `MESH_SKIP_PROMETHEUS=1`.

#![cfg(all(feature = "istio", feature = "consul"))]

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use mesh::{
    BoxFuture, Change, Error, Mesh, MeshKind, Result, ServiceId, ServiceMetrics, TimeRange, TrafficSplit,
    istio::{Config, IstioBackend},
    observe::{Objective, Slo, SloStatus, Verdict},
    telemetry::{Telemetry, prometheus::PrometheusClient},
};
use mesh_kube::{KubeEngine, testing::FakeApiServer};
use mesh_rollout::{
    Analysis, MetricsSource, Outcome, Rollout, RolloutEvent, RolloutReport, RolloutSpec, Stage, Strategy,
};
use mesh_testkit::{Kind, OpenMetrics, Prometheus, Timeline, accumulate};
use serde_json::{Value, json};

/// First sample: 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200;
/// Scrape step, seconds.
const STEP: u64 = 15;
/// Where every rollout starts.
const START: u64 = T0 + 600;
/// The rollout interval (and analysis window), seconds.
const INTERVAL: u64 = 60;
/// The canary weight of each stage.
const WEIGHTS: [u8; 4] = [10, 30, 50, 80];
/// Data runs this many intervals past `START`.
const INTERVALS_OF_DATA: u64 = 12;
/// Envoy's default histogram bounds, ms.
const ENVOY_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0,
    300000.0, 600000.0, 1800000.0, 3600000.0,
];

// ---------------------------------------------------------------------------------------------
// The data set.

/// How a service's traffic behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Profile {
    Healthy,
    ErrorsAtStage3,
    Quiet,
}

const SERVICES: [(&str, Profile); 5] = [
    ("healthy", Profile::Healthy),
    ("failing", Profile::ErrorsAtStage3),
    ("quiet", Profile::Quiet),
    ("resumed", Profile::Healthy),
    ("contested", Profile::Healthy),
];

/// Requests in one 15 s step of one version: `(ok, 503)`.
fn per_step(profile: Profile, version: &str, stage: Option<usize>) -> (f64, f64) {
    let canary = version == "v2";
    if profile == Profile::Quiet {
        return (if canary { 2.0 } else { 18.0 }, 0.0);
    }
    // Before the rollout the canary gets nothing; after the last stage it gets everything.
    let w = stage.map_or(0.0, |k| f64::from(WEIGHTS.get(k).copied().unwrap_or(100)));
    let total = 15.0 * if canary { w } else { 100.0 - w };
    let error_share = if canary && profile == Profile::ErrorsAtStage3 && stage == Some(2) {
        0.2
    } else {
        0.02
    };
    let errors = total * error_share;
    (total - errors, errors)
}

/// The stage whose interval holds the increment between samples `i - 1` and `i`.
fn stage_of_increment(i: u64) -> Option<usize> {
    let from = T0 + (i - 1) * STEP;
    (from >= START).then(|| ((from - START) / INTERVAL) as usize)
}

fn timeline() -> Timeline {
    Timeline::new(T0, STEP, (START - T0 + INTERVALS_OF_DATA * INTERVAL) / STEP)
}

fn labels<'a>(
    service: &'a str,
    version: &'a str,
    reporter: &'a str,
    workload: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("reporter", reporter),
        ("source_workload", "frontend-v1"),
        ("source_workload_namespace", "prod"),
        ("destination_workload", workload),
        ("destination_workload_namespace", "prod"),
        ("destination_service_namespace", "prod"),
        ("destination_service_name", service),
        ("destination_version", version),
        (
            "connection_security_policy",
            if reporter == "destination" {
                "mutual_tls"
            } else {
                "unknown"
            },
        ),
    ]
}

fn openmetrics() -> String {
    let mut om = OpenMetrics::new(timeline());
    om.family("istio_requests", Kind::Counter);
    for (service, profile) in SERVICES {
        for version in ["v1", "v2"] {
            let workload = format!("{service}-{version}");
            for reporter in ["destination", "source"] {
                let base = labels(service, version, reporter, &workload);
                for (code, pick) in [("200", 0), ("503", 1)] {
                    let mut l = base.clone();
                    l.push(("response_code", code));
                    om.series(
                        "istio_requests_total",
                        &l,
                        accumulate(|i| {
                            let (ok, err) = per_step(profile, version, stage_of_increment(i));
                            if pick == 0 { ok } else { err }
                        }),
                    );
                }
            }
        }
    }
    om.family("istio_request_duration_milliseconds", Kind::Histogram);
    for (service, profile) in SERVICES {
        for version in ["v1", "v2"] {
            let workload = format!("{service}-{version}");
            let l = labels(service, version, "destination", &workload);
            let requests = accumulate(|i| {
                let (ok, err) = per_step(profile, version, stage_of_increment(i));
                ok + err
            });
            om.histogram_series(
                "istio_request_duration_milliseconds",
                &ENVOY_BUCKETS,
                &l,
                |i| {
                    let n = requests(i);
                    vec![(25.0, 0.6 * n), (50.0, 0.3 * n), (100.0, 0.1 * n)]
                },
                30.0,
            );
        }
    }
    om.finish()
}

/// The Prometheus shared by every test of this file (stopped by mesh-testkit's watchdog when
/// the test process exits). `None` when `MESH_SKIP_PROMETHEUS=1`.
fn prometheus() -> Option<&'static Prometheus> {
    static SERVER: OnceLock<Option<Prometheus>> = OnceLock::new();
    SERVER.get_or_init(|| Prometheus::start(&openmetrics())).as_ref()
}

/// A client of its own, so that a test counts only its own queries.
fn client(prom: &Prometheus) -> PrometheusClient {
    PrometheusClient::builder()
        .url(prom.url())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Meshes, clocks and metrics.

/// The runtime that talks to Prometheus: real time, its own threads.
fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// The mesh's own metrics path (`Mesh::get_service_metrics`, hence `Telemetry` and the
/// `PrometheusClient`), run on [`io_runtime`] from a blocking task.
///
/// Why: on a paused tokio clock an idle runtime jumps to its next timer, so the HTTP client's
/// timers (request timeout, pool) would fire or move the rollout's clock while a real socket
/// waits. A blocking task keeps the paused clock still until the answer is in.
struct RealTimeMetrics(Mesh);

impl MetricsSource for RealTimeMetrics {
    fn metrics<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        let (mesh, service) = (self.0.clone(), service.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                io_runtime().block_on(mesh.get_service_metrics(&service, range))
            })
            .await
            .expect("metrics task")
        })
    }
}

fn istio(server: &FakeApiServer, prometheus: &PrometheusClient) -> Mesh {
    let engine = KubeEngine::new(server.client(), MeshKind::Istio, "mesh");
    Mesh::from_backend(IstioBackend::new(engine, Config::default())).with_telemetry(Telemetry {
        prometheus: Some(prometheus.clone()),
        ..Telemetry::default()
    })
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Wall-clock time on the data's timeline: `START` when `origin` was taken, then tokio's clock.
fn now_since(origin: tokio::time::Instant) -> SystemTime {
    at(START) + origin.elapsed()
}

fn spec(service: &str) -> RolloutSpec {
    RolloutSpec {
        interval: Duration::from_secs(INTERVAL),
        slo: Slo {
            availability: Some(95.0),
            latency_p99: Some(250.0),
            ..Slo::default()
        },
        max_inconclusive: 3,
        ..RolloutSpec::new(
            &format!("prod/{service}"),
            "v1",
            "v2",
            Strategy::steps(&WEIGHTS).unwrap(),
        )
        .unwrap()
    }
}

fn rollout(mesh: &Mesh, service: &str, runner: &str, origin: tokio::time::Instant) -> Rollout {
    Rollout::new(mesh.clone(), spec(service), runner)
        .unwrap()
        .with_metrics(Arc::new(RealTimeMetrics(mesh.clone())))
        .with_start_time(now_since(origin))
}

/// Before the rollout: v1 serves everything, through the mesh's own objects.
async fn seed_stable(mesh: &Mesh, service: &str) {
    mesh.execute(Change::SetTrafficWeight {
        service: format!("prod/{service}").parse().unwrap(),
        split: TrafficSplit::all_to("v1".parse().unwrap()),
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// What the fake API server saw.

fn vs(server: &FakeApiServer, service: &str) -> Value {
    server
        .object(&mesh::istio::objects::virtual_service(
            &format!("prod/{service}").parse().unwrap(),
        ))
        .expect("virtual service")
}

fn dr(server: &FakeApiServer, service: &str) -> Value {
    server
        .object(&mesh::istio::objects::destination_rule(
            &format!("prod/{service}").parse().unwrap(),
        ))
        .expect("destination rule")
}

/// The kind of each real (not dry-run) write, in order: `VS`, `DR` or `state`.
fn write_kinds(server: &FakeApiServer) -> Vec<&'static str> {
    server
        .writes()
        .iter()
        .map(|w| {
            if w.path.contains("/virtualservices") {
                "VS"
            } else if w.path.contains("/destinationrules") {
                "DR"
            } else if w.path.contains("/configmaps") {
                "state"
            } else {
                panic!("unexpected write {}", w.line())
            }
        })
        .collect()
}

/// The canary's weights in the VirtualService's mesh route, e.g. `[("v1", 90), ("v2", 10)]`.
fn route_weights(vs: &Value) -> Vec<(String, i64)> {
    vs["spec"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "mesh-default")
        .expect("the mesh's route")["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["destination"]["subset"].as_str().unwrap().to_owned(),
                d["weight"].as_i64().unwrap_or(100),
            )
        })
        .collect()
}

fn analyses(report: &RolloutReport) -> Vec<(usize, Stage, &Analysis)> {
    report
        .events
        .iter()
        .filter_map(|e| match e {
            RolloutEvent::Analyzed {
                index,
                stage,
                analysis,
            } => Some((*index, *stage, analysis.as_ref())),
            _ => None,
        })
        .collect()
}

fn applied(report: &RolloutReport) -> Vec<usize> {
    report
        .events
        .iter()
        .filter_map(|e| match e {
            RolloutEvent::StageApplied { index, .. } => Some(*index),
            _ => None,
        })
        .collect()
}

#[track_caller]
fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: got {actual}, expected {expected}"
    );
}

/// Requests in one analysis window of a healthy-profile stage with canary weight `w`.
#[track_caller]
fn assert_window(a: &Analysis, w: u8) {
    let w = f64::from(w);
    assert_close(a.requests.0, 60.0 * w, "canary requests");
    assert_close(a.requests.1, 60.0 * (100.0 - w), "stable requests");
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

#[tokio::test(start_paused = true)]
async fn a_healthy_canary_is_promoted_with_one_virtual_service_write_per_stage() {
    let Some(prom) = prometheus() else { return };
    let origin = tokio::time::Instant::now();
    let server = FakeApiServer::new();
    let mesh = istio(&server, &client(prom));
    seed_stable(&mesh, "healthy").await;
    let seeded_dr = dr(&server, "healthy");
    server.clear_requests();

    let report = rollout(&mesh, "healthy", "ci", origin).run().await.unwrap();

    assert_eq!(report.outcome, Outcome::Promoted, "{:#?}", report.events);
    assert_eq!(origin.elapsed(), Duration::from_secs(INTERVAL * 4));
    let a = analyses(&report);
    assert_eq!(a.len(), 4);
    for ((index, stage, analysis), (k, w)) in a.iter().zip(WEIGHTS.iter().enumerate()) {
        assert_eq!((*index, *stage), (k, Stage::Weight(*w)));
        assert_eq!(analysis.verdict, Verdict::Pass, "{analysis:#?}");
        assert_window(analysis, *w);
        let slo = analysis.slo.as_ref().unwrap();
        assert_eq!(slo.overall, SloStatus::Met);
        let availability = slo
            .objectives
            .iter()
            .find(|o| o.objective == Objective::Availability)
            .unwrap();
        assert_close(availability.measured.unwrap(), 98.0, "canary availability");
        let p99 = slo
            .objectives
            .iter()
            .find(|o| o.objective == Objective::LatencyP99)
            .unwrap();
        assert_close(p99.measured.unwrap(), 95.0, "canary p99");
    }

    // The end state: every request to v2, both subsets defined.
    let host = "healthy.prod.svc.cluster.local";
    assert_eq!(
        vs(&server, "healthy")["spec"],
        json!({
            "hosts": [host],
            "http": [{
                "name": "mesh-default",
                "route": [{ "destination": { "host": host, "subset": "v2" }, "weight": 100 }]
            }]
        })
    );
    assert_eq!(
        dr(&server, "healthy")["spec"],
        json!({
            "host": host,
            "subsets": [
                { "name": "v1", "labels": { "version": "v1" } },
                { "name": "v2", "labels": { "version": "v2" } }
            ]
        })
    );
    assert_eq!(seeded_dr["spec"]["subsets"].as_array().unwrap().len(), 1);

    // Writes: the claim, then per stage one traffic change (the first also adds the v2 subset)
    // and two progress saves (applied, analysed), then the promotion and the final save.
    let mut expected = vec!["state", "DR", "VS", "state", "state"];
    for _ in 1..WEIGHTS.len() {
        expected.extend(["VS", "state", "state"]);
    }
    expected.extend(["VS", "state"]);
    assert_eq!(write_kinds(&server), expected);
    assert_eq!(report.traffic_changes, WEIGHTS.len() + 1);
}

#[tokio::test(start_paused = true)]
async fn a_canary_whose_errors_rise_at_stage_3_is_rolled_back_to_the_exact_objects() {
    let Some(prom) = prometheus() else { return };
    let origin = tokio::time::Instant::now();
    let server = FakeApiServer::new();
    let mesh = istio(&server, &client(prom));
    seed_stable(&mesh, "failing").await;
    let stable_vs = vs(&server, "failing");
    server.clear_requests();

    let report = rollout(&mesh, "failing", "ci", origin).run().await.unwrap();

    assert_eq!(report.outcome, Outcome::RolledBack, "{:#?}", report.events);
    assert_eq!(origin.elapsed(), Duration::from_secs(INTERVAL * 3));
    let a = analyses(&report);
    let verdicts: Vec<Verdict> = a.iter().map(|(_, _, x)| x.verdict).collect();
    assert_eq!(verdicts, [Verdict::Pass, Verdict::Pass, Verdict::Fail]);

    // The failing analysis and its numbers: stage 3 (50 %), 3000 requests a side, 600 canary
    // errors against 60 on stable.
    let (index, stage, failed) = a[2];
    assert_eq!((index, stage), (2, Stage::Weight(50)));
    assert_window(failed, 50);
    let judgement = failed
        .judgement
        .as_ref()
        .expect("stable had traffic to compare with");
    assert_eq!(judgement.verdict, Verdict::Fail);
    assert_eq!(judgement.error_rate.canary, (3000, 600));
    assert_eq!(judgement.error_rate.baseline, (3000, 60));
    assert_close(
        judgement.error_rate.canary_rate.unwrap(),
        0.2,
        "canary error rate",
    );
    assert_close(
        judgement.error_rate.baseline_rate.unwrap(),
        0.02,
        "stable error rate",
    );
    let slo = failed.slo.as_ref().unwrap();
    assert_eq!(slo.overall, SloStatus::Violated);
    let availability = &slo.objectives[0];
    assert_eq!(availability.objective, Objective::Availability);
    assert_close(availability.measured.unwrap(), 80.0, "canary availability");
    assert_eq!(availability.status, SloStatus::Violated);
    assert!(matches!(
        report.events.last(),
        Some(RolloutEvent::Finished { outcome: Outcome::RolledBack, reason }) if reason.contains("stage 2")
    ));

    // The VirtualService is back to what it was before the rollout, field for field.
    let restored = vs(&server, "failing");
    assert_eq!(restored["spec"], stable_vs["spec"]);
    assert_eq!(route_weights(&restored), [("v1".to_owned(), 100)]);
    assert_eq!(
        write_kinds(&server),
        [
            "state", "DR", "VS", "state", "state", "VS", "state", "state", "VS", "state", "VS", "state"
        ]
    );
    assert_eq!(report.traffic_changes, 4);
}

#[tokio::test(start_paused = true)]
async fn a_low_traffic_canary_holds_and_is_not_rolled_back() {
    let Some(prom) = prometheus() else { return };
    let origin = tokio::time::Instant::now();
    let server = FakeApiServer::new();
    let mesh = istio(&server, &client(prom));
    seed_stable(&mesh, "quiet").await;
    server.clear_requests();

    let report = rollout(&mesh, "quiet", "ci", origin).run().await.unwrap();

    assert_eq!(report.outcome, Outcome::Held, "{:#?}", report.events);
    let a = analyses(&report);
    assert_eq!(a.len(), 3, "max_inconclusive = 3");
    for (index, _, analysis) in &a {
        assert_eq!(*index, 0);
        assert_eq!(analysis.verdict, Verdict::Inconclusive);
        assert_close(analysis.requests.0, 8.0, "canary requests");
        assert_close(analysis.requests.1, 72.0, "stable requests");
        assert!(
            analysis.reasons[0].contains("at least 50"),
            "{:?}",
            analysis.reasons
        );
    }
    // Traffic stays where the first stage put it: no rollback, no second stage.
    assert_eq!(
        route_weights(&vs(&server, "quiet")),
        [("v1".to_owned(), 90), ("v2".to_owned(), 10)]
    );
    assert_eq!(
        write_kinds(&server),
        ["state", "DR", "VS", "state", "state", "state", "state"]
    );
    assert_eq!(report.traffic_changes, 1);
}

#[tokio::test(start_paused = true)]
async fn a_runner_killed_mid_rollout_resumes_without_reapplying_stages() {
    let Some(prom) = prometheus() else { return };
    let origin = tokio::time::Instant::now();
    let server = FakeApiServer::new();
    let mesh = istio(&server, &client(prom));
    seed_stable(&mesh, "resumed").await;
    server.clear_requests();

    // Kill the runner half-way through stage 3's wait (stages 1 to 3 applied, 2 analysed).
    let first = rollout(&mesh, "resumed", "ci-1", origin);
    let key = first.state_key().unwrap();
    let task = tokio::spawn(async move { first.run().await });
    tokio::time::sleep(Duration::from_secs(2 * INTERVAL + INTERVAL / 2)).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(
        route_weights(&vs(&server, "resumed")),
        [("v1".to_owned(), 50), ("v2".to_owned(), 50)]
    );
    assert_eq!(
        write_kinds(&server),
        [
            "state", "DR", "VS", "state", "state", "VS", "state", "state", "VS", "state"
        ]
    );
    let saved: mesh_rollout::RolloutState =
        serde_json::from_str(&mesh.read_state(&key).await.unwrap().unwrap().value).unwrap();
    assert_eq!(
        (
            saved.runner.as_str(),
            saved.stage,
            saved.stage_applied,
            saved.outcome
        ),
        ("ci-1", 2, true, None)
    );
    server.clear_requests();

    // A new process (a new client) with the same runner name picks up at stage 3.
    let mesh = istio(&server, &client(prom));
    let report = rollout(&mesh, "resumed", "ci-1", origin).run().await.unwrap();

    assert_eq!(report.outcome, Outcome::Promoted, "{:#?}", report.events);
    // Only stage 4 and the promotion are written; nothing earlier is re-applied.
    assert_eq!(
        write_kinds(&server),
        ["state", "VS", "state", "state", "VS", "state"]
    );
    assert_eq!(
        applied(&report),
        [0, 1, 2, 3],
        "each stage applied once over both runs"
    );
    let a = analyses(&report);
    assert_eq!(a.iter().map(|(i, _, _)| *i).collect::<Vec<_>>(), [0, 1, 2, 3]);
    // The resumed stage waits a full interval from the restart: its window [150 s, 210 s] holds
    // two steps of the 50 % layout and two of the 80 % one.
    assert_close(
        a[2].2.requests.0,
        2.0 * 15.0 * (50.0 + 80.0),
        "resumed canary requests",
    );
    assert_eq!(report.traffic_changes, WEIGHTS.len() + 1);
    assert_eq!(
        origin.elapsed(),
        Duration::from_secs(2 * INTERVAL + INTERVAL / 2 + 2 * INTERVAL)
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_runner_is_refused_with_a_conflict_naming_the_first() {
    let Some(prom) = prometheus() else { return };
    let origin = tokio::time::Instant::now();
    let server = FakeApiServer::new();
    let mesh = istio(&server, &client(prom));
    seed_stable(&mesh, "contested").await;

    let first = rollout(&mesh, "contested", "ci-a", origin);
    let task = tokio::spawn(async move { first.run().await });
    tokio::time::sleep(Duration::from_secs(INTERVAL / 2)).await;

    let writes = server.writes().len();
    let other = istio(&server, &client(prom));
    let err = rollout(&other, "contested", "ci-b", origin)
        .run()
        .await
        .unwrap_err();
    match err {
        Error::Conflict { object, owner, .. } => {
            assert_eq!(owner, "ci-a");
            assert!(object.contains("prod/contested"), "{object}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(server.writes().len(), writes, "the refused runner wrote nothing");

    // The first runner carries on undisturbed.
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    assert_eq!(applied(&report), [0, 1, 2, 3]);
}

/// Wraps a metrics source and records how many Prometheus queries each call sent.
struct Counting {
    inner: RealTimeMetrics,
    client: PrometheusClient,
    per_call: std::sync::Mutex<Vec<u64>>,
}

impl MetricsSource for Counting {
    fn metrics<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        Box::pin(async move {
            let before = self.client.queries_sent();
            let out = self.inner.metrics(service, range).await;
            self.per_call
                .lock()
                .unwrap()
                .push(self.client.queries_sent() - before);
            out
        })
    }
}

#[tokio::test(start_paused = true)]
async fn each_analysis_sends_one_query_per_metric_family() {
    let Some(prom) = prometheus() else { return };
    let origin = tokio::time::Instant::now();
    let prometheus = client(prom);
    let server = FakeApiServer::new();
    let mesh = istio(&server, &prometheus);
    seed_stable(&mesh, "healthy").await;
    let counting = Arc::new(Counting {
        inner: RealTimeMetrics(mesh.clone()),
        client: prometheus.clone(),
        per_call: std::sync::Mutex::default(),
    });

    let report = rollout(&mesh, "healthy", "ci", origin)
        .with_metrics(counting.clone())
        .run()
        .await
        .unwrap();

    assert_eq!(report.outcome, Outcome::Promoted);
    // Two metric families (request counts, latency buckets): two queries per analysis, no more.
    assert_eq!(*counting.per_call.lock().unwrap(), [2, 2, 2, 2]);
    assert_eq!(prometheus.queries_sent(), 8);
}
