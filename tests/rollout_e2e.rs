//! End-to-end rollouts (issue 8 acceptance): `mesh_rollout::Rollout` over the Istio backend on
//! mesh-kube's fake API server and over the Consul backend on `FakeConsul`, reading metrics from
//! a **real Prometheus 2.42** (one for the whole file, started by `mesh-testkit`) through
//! `Mesh::with_telemetry`. The tokio clock is paused, so each rollout replays over the recorded
//! data in milliseconds; network I/O runs off that clock (`rollout_e2e/doubles.rs` says why).
//!
//! # Backfilled data (`rollout_e2e/data.rs`)
//! One sample every 15 s from `T0` = 2024-01-01T00:00:00Z to `START + 12 min`. Every rollout
//! starts at `START = T0 + 10 min` with a 60 s interval, so stage `k` (weights 10, 30, 50, 80 %)
//! runs over `[START + 60k, START + 60(k + 1)]` and is analysed over exactly that window (a
//! resumed runner's windows shift by the restart time). Five services, each with its own profile;
//! during stage `k` (canary weight `w`):
//! - `healthy`, `resumed`, `contested`: 100 requests/s split as the weights say (v2 gets `w`
//!   req/s), 2 % of them errors on both versions; before `START` all traffic goes to v1.
//! - `failing`: as `healthy`, but v2 answers 20 % errors during stage 3 (index 2, 50 %).
//! - `quiet`: 2 requests per 15 s to v2 and 18 to v1 all along (8 canary requests a window, fewer
//!   than the 50 needed to judge).
//!
//! Latency: 60 % of each version's requests in the 25 ms bucket, 30 % in 50 ms, 10 % in 100 ms
//! (p99 = 95 ms), on Envoy's default bounds. The same traffic is written twice:
//! - Istio dialect, namespace `prod`: `istio_requests_total` (`response_code` 200/503) and
//!   `istio_request_duration_milliseconds_bucket`, by `destination_version`, with
//!   `reporter="destination"` and a duplicate `reporter="source"` series for every request, as in
//!   a sidecar mesh (OBSERVABILITY.md §1.1): the exact counts asserted below prove only the
//!   destination side is read.
//! - Consul dialect, namespace `default`: `envoy_cluster_upstream_rq_xx`
//!   (`envoy_response_code_class` 2/5, declared `unknown`, §6.3) and
//!   `envoy_cluster_upstream_rq_time_bucket`, by `consul_destination_service_subset`.
//!
//! Without `prometheus`/`promtool` the tests fail with what to install, unless
//! `MESH_SKIP_PROMETHEUS=1`.

#![cfg(all(feature = "istio", feature = "consul"))]

mod data;
mod doubles;
mod live;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use data::{INTERVAL, START, WEIGHTS, client, prometheus};
use doubles::{Consul, Fixture, Istio, RealTimeMetrics};
use mesh::{
    BoxFuture, Error, Mesh, Result, ServiceId, ServiceMetrics, TimeRange,
    observe::{Objective, Slo, SloStatus, Verdict},
    telemetry::prometheus::PrometheusClient,
};
use mesh_kube::testing::FakeApiServer;
use mesh_rollout::{
    Analysis, MetricsSource, Outcome, Rollout, RolloutEvent, RolloutReport, RolloutSpec, RolloutState, Stage,
    Strategy,
};
use mesh_testkit::Prometheus;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Wall-clock time on the data's timeline: `START` when `origin` was taken, then tokio's clock.
fn now_since(origin: tokio::time::Instant) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(START) + origin.elapsed()
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
        ..RolloutSpec::new(service, "v1", "v2", Strategy::steps(&WEIGHTS).unwrap()).unwrap()
    }
}

fn rollout(f: &dyn Fixture, mesh: &Mesh, name: &str, runner: &str, origin: tokio::time::Instant) -> Rollout {
    Rollout::new(mesh.clone(), spec(&f.service(name)), runner)
        .unwrap()
        .with_metrics(Arc::new(RealTimeMetrics(mesh.clone())))
        .with_start_time(now_since(origin))
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

fn objective(a: &Analysis, which: Objective) -> (f64, SloStatus) {
    let o = a
        .slo
        .as_ref()
        .expect("an SLO report")
        .objectives
        .iter()
        .find(|o| o.objective == which)
        .expect("the objective");
    (o.measured.expect("a measurement"), o.status)
}

fn weights(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect()
}

/// `n` times `items`, flattened.
fn repeat(items: &[&str], n: usize) -> Vec<String> {
    (0..n)
        .flat_map(|_| items.iter().map(|s| (*s).to_owned()))
        .collect()
}

fn seq(parts: &[Vec<String>]) -> Vec<String> {
    parts.concat()
}

/// The first stage adds the canary's subset, then routes; every later stage routes only. Each
/// stage is saved once, when its route has landed; that save also records the previous stage's
/// passing analysis.
fn first_stage() -> Vec<String> {
    repeat(&["subsets", "route", "state"], 1)
}

// ---------------------------------------------------------------------------------------------
// The scenarios, for any mesh.

/// A healthy canary walks every stage and is promoted: one route write per stage (the first also
/// adds the subset), one progress save per stage, the promotion and the final save.
async fn healthy_canary_is_promoted(f: &dyn Fixture, prom: &Prometheus) {
    let origin = tokio::time::Instant::now();
    let mesh = f.mesh(&client(prom));
    f.seed(&mesh, "healthy").await;
    let seeded_subsets = f.subsets("healthy");
    f.clear();

    let report = rollout(f, &mesh, "healthy", "ci", origin).run().await.unwrap();

    assert_eq!(report.outcome, Outcome::Promoted, "{:#?}", report.events);
    assert_eq!(origin.elapsed(), Duration::from_secs(INTERVAL * 4));
    let a = analyses(&report);
    assert_eq!(a.len(), 4);
    for ((index, stage, analysis), (k, w)) in a.iter().zip(WEIGHTS.iter().enumerate()) {
        assert_eq!((*index, *stage), (k, Stage::Weight(*w)));
        assert_eq!(analysis.verdict, Verdict::Pass, "{analysis:#?}");
        assert_window(analysis, *w);
        let (availability, _) = objective(analysis, Objective::Availability);
        assert_close(availability, 98.0, "canary availability");
        let (p99, _) = objective(analysis, Objective::LatencyP99);
        assert_close(p99, 95.0, "canary p99");
    }
    assert_eq!(f.weights("healthy"), weights(&[("v2", 100)]));
    assert_ne!(f.subsets("healthy"), seeded_subsets, "the first stage adds v2");
    assert_eq!(
        f.writes(),
        seq(&[
            repeat(&["state"], 1),
            first_stage(),
            repeat(&["route", "state"], WEIGHTS.len() - 1),
            repeat(&["route", "state"], 1),
        ])
    );
    assert_eq!(report.traffic_changes, WEIGHTS.len() + 1);
}

/// The canary's error rate rises at stage 3: rolled back, the route object restored field for
/// field, and the failing analysis's numbers in the report.
async fn failing_canary_is_rolled_back(f: &dyn Fixture, prom: &Prometheus) {
    let origin = tokio::time::Instant::now();
    let mesh = f.mesh(&client(prom));
    f.seed(&mesh, "failing").await;
    let stable_route = f.route("failing");
    f.clear();

    let report = rollout(f, &mesh, "failing", "ci", origin).run().await.unwrap();

    assert_eq!(report.outcome, Outcome::RolledBack, "{:#?}", report.events);
    assert_eq!(origin.elapsed(), Duration::from_secs(INTERVAL * 3));
    let a = analyses(&report);
    let verdicts: Vec<Verdict> = a.iter().map(|(_, _, x)| x.verdict).collect();
    assert_eq!(verdicts, [Verdict::Pass, Verdict::Pass, Verdict::Fail]);

    // Stage 3 (50 %): 3000 requests a side, 600 canary errors against 60 on stable.
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
    assert_eq!(
        objective(failed, Objective::Availability),
        (80.0, SloStatus::Violated)
    );
    assert_eq!(failed.slo.as_ref().unwrap().overall, SloStatus::Violated);
    assert!(matches!(
        report.events.last(),
        Some(RolloutEvent::Finished { outcome: Outcome::RolledBack, reason }) if reason.contains("stage 3")
    ));

    assert_eq!(
        f.route("failing"),
        stable_route,
        "the route object is restored exactly"
    );
    assert_eq!(f.weights("failing"), weights(&[("v1", 100)]));
    assert_eq!(
        f.writes(),
        seq(&[
            repeat(&["state"], 1),
            first_stage(),
            repeat(&["route", "state"], 1),
            // Stage 3 lands, fails its analysis, and stable gets everything back.
            repeat(&["route", "state", "route", "state"], 1),
        ])
    );
    assert_eq!(report.traffic_changes, 4);
}

/// Too little canary traffic: inconclusive three times, then held where it is, never rolled back.
async fn quiet_canary_holds(f: &dyn Fixture, prom: &Prometheus) {
    let origin = tokio::time::Instant::now();
    let mesh = f.mesh(&client(prom));
    f.seed(&mesh, "quiet").await;
    f.clear();

    let report = rollout(f, &mesh, "quiet", "ci", origin).run().await.unwrap();

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
    assert_eq!(f.weights("quiet"), weights(&[("v1", 90), ("v2", 10)]));
    assert_eq!(
        f.writes(),
        // One save per inconclusive analysis; the third is the end's.
        seq(&[repeat(&["state"], 1), first_stage(), repeat(&["state"], 3)])
    );
    assert_eq!(report.traffic_changes, 1);
}

/// Killed while waiting out stage 3, restarted with the same runner name: picks up at stage 3's
/// analysis and writes only what is left.
async fn killed_runner_resumes(f: &dyn Fixture, prom: &Prometheus) {
    let origin = tokio::time::Instant::now();
    let mesh = f.mesh(&client(prom));
    f.seed(&mesh, "resumed").await;
    f.clear();

    let first = rollout(f, &mesh, "resumed", "ci-1", origin);
    let key = first.state_key().unwrap();
    let task = tokio::spawn(async move { first.run().await });
    tokio::time::sleep(Duration::from_secs(2 * INTERVAL + INTERVAL / 2)).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(f.weights("resumed"), weights(&[("v1", 50), ("v2", 50)]));
    assert_eq!(
        f.writes(),
        seq(&[
            repeat(&["state"], 1),
            first_stage(),
            repeat(&["route", "state"], 2),
        ])
    );
    let saved: RolloutState =
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
    f.clear();

    // A new process (new client), same runner name.
    let mesh = f.mesh(&client(prom));
    let report = rollout(f, &mesh, "resumed", "ci-1", origin).run().await.unwrap();

    assert_eq!(report.outcome, Outcome::Promoted, "{:#?}", report.events);
    assert_eq!(
        f.writes(),
        seq(&[
            // Stage 3 passes its analysis (saved with stage 4's write).
            repeat(&["route", "state"], 1),
            repeat(&["route", "state"], 1),
        ]),
        "only stage 4 and the promotion are written"
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
    assert_eq!(f.weights("resumed"), weights(&[("v2", 100)]));
}

/// A second runner on the same service is refused, naming the first, and writes nothing.
async fn second_runner_is_refused(f: &dyn Fixture, prom: &Prometheus) {
    let origin = tokio::time::Instant::now();
    let mesh = f.mesh(&client(prom));
    f.seed(&mesh, "contested").await;

    let first = rollout(f, &mesh, "contested", "ci-a", origin);
    let task = tokio::spawn(async move { first.run().await });
    tokio::time::sleep(Duration::from_secs(INTERVAL / 2)).await;
    f.clear();

    let other = f.mesh(&client(prom));
    let err = rollout(f, &other, "contested", "ci-b", origin)
        .run()
        .await
        .unwrap_err();
    match err {
        Error::Conflict { object, owner, .. } => {
            assert_eq!(owner, "ci-a");
            assert!(object.contains(&f.service("contested")), "{object}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        f.writes(),
        Vec::<String>::new(),
        "the refused runner wrote nothing"
    );

    // The first runner carries on undisturbed.
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    assert_eq!(applied(&report), [0, 1, 2, 3]);
}

/// Wraps a metrics source and records how many Prometheus queries each call sent.
struct Counting {
    inner: RealTimeMetrics,
    client: PrometheusClient,
    per_call: Mutex<Vec<u64>>,
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

/// Two metric families (request counts, latency buckets): two queries per analysis, no more.
async fn one_query_per_metric_family(f: &dyn Fixture, prom: &Prometheus) {
    let origin = tokio::time::Instant::now();
    let prometheus = client(prom);
    let mesh = f.mesh(&prometheus);
    f.seed(&mesh, "healthy").await;
    let counting = Arc::new(Counting {
        inner: RealTimeMetrics(mesh.clone()),
        client: prometheus.clone(),
        per_call: Mutex::default(),
    });

    let report = rollout(f, &mesh, "healthy", "ci", origin)
        .with_metrics(counting.clone())
        .run()
        .await
        .unwrap();

    assert_eq!(report.outcome, Outcome::Promoted);
    assert_eq!(*counting.per_call.lock().unwrap(), [2, 2, 2, 2]);
    assert_eq!(prometheus.queries_sent(), 8);
}

// ---------------------------------------------------------------------------------------------
// Istio.

fn istio() -> Istio {
    Istio(FakeApiServer::new())
}

#[tokio::test(start_paused = true)]
async fn istio_healthy_canary_is_promoted_with_one_route_write_per_stage() {
    let Some(prom) = prometheus() else { return };
    let f = istio();
    healthy_canary_is_promoted(&f, prom).await;
    // Every request the rollout sent: per traffic change two reads and the write (a dry run
    // only for the first stage's two-object plan); one progress save per stage once its route
    // has landed (it records the previous stage's passing analysis too), the write alone, its
    // answer carrying the new version. Four requests per stage, where there were ten: single-
    // object writes lost their dry run, saves their read-back, and a passing analysis its own
    // save.
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for r in f.0.requests() {
        let line = r.line();
        let short = line
            .rsplit_once("/namespaces/prod/")
            .map_or(line.clone(), |(m, p)| {
                format!("{} {p}", m.split(' ').next().unwrap())
            });
        *seen.entry(short).or_default() += 1;
    }
    let expected: std::collections::BTreeMap<String, usize> = [
        ("GET configmaps/mesh-state-healthy-rollout", 1),
        ("POST configmaps", 1),
        ("PUT configmaps/mesh-state-healthy-rollout", 5),
        ("GET destinationrules/healthy", 5),
        ("PUT destinationrules/healthy", 1),
        ("PUT destinationrules/healthy (dry run)", 1),
        ("GET virtualservices/healthy", 5),
        ("PUT virtualservices/healthy", 5),
        ("PUT virtualservices/healthy (dry run)", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(seen, expected);
    let host = "healthy.prod.svc.cluster.local";
    assert_eq!(
        f.route("healthy"),
        json!({
            "hosts": [host],
            "http": [{
                "name": "mesh-default",
                "route": [{ "destination": { "host": host, "subset": "v2" }, "weight": 100 }]
            }]
        })
    );
    assert_eq!(
        f.subsets("healthy"),
        json!({
            "host": host,
            "subsets": [
                { "name": "v1", "labels": { "version": "v1" } },
                { "name": "v2", "labels": { "version": "v2" } }
            ]
        })
    );
}

#[tokio::test(start_paused = true)]
async fn istio_canary_failing_at_stage_3_is_rolled_back_to_the_exact_objects() {
    let Some(prom) = prometheus() else { return };
    let f = istio();
    failing_canary_is_rolled_back(&f, prom).await;
    let host = "failing.prod.svc.cluster.local";
    assert_eq!(
        f.route("failing"),
        json!({
            "hosts": [host],
            "http": [{
                "name": "mesh-default",
                "route": [{ "destination": { "host": host, "subset": "v1" }, "weight": 100 }]
            }]
        })
    );
}

#[tokio::test(start_paused = true)]
async fn istio_low_traffic_canary_holds_and_is_not_rolled_back() {
    let Some(prom) = prometheus() else { return };
    quiet_canary_holds(&istio(), prom).await;
}

#[tokio::test(start_paused = true)]
async fn istio_runner_killed_mid_rollout_resumes_without_reapplying_stages() {
    let Some(prom) = prometheus() else { return };
    killed_runner_resumes(&istio(), prom).await;
}

#[tokio::test(start_paused = true)]
async fn istio_second_runner_is_refused_with_a_conflict_naming_the_first() {
    let Some(prom) = prometheus() else { return };
    second_runner_is_refused(&istio(), prom).await;
}

#[tokio::test(start_paused = true)]
async fn istio_each_analysis_sends_one_query_per_metric_family() {
    let Some(prom) = prometheus() else { return };
    one_query_per_metric_family(&istio(), prom).await;
}

// ---------------------------------------------------------------------------------------------
// Consul.

#[tokio::test(start_paused = true)]
async fn consul_healthy_canary_is_promoted_with_one_route_write_per_stage() {
    let Some(prom) = prometheus() else { return };
    let f = Consul::start().await;
    healthy_canary_is_promoted(&f, prom).await;
    assert_eq!(
        f.route("healthy"),
        json!({
            "Kind": "service-splitter",
            "Name": "healthy",
            "Splits": [{ "ServiceSubset": "v2", "Weight": 100 }]
        })
    );
    assert_eq!(
        f.subsets("healthy"),
        json!({
            "Kind": "service-resolver",
            "Name": "healthy",
            "Subsets": {
                "v1": { "Filter": "Service.Meta.version == \"v1\"" },
                "v2": { "Filter": "Service.Meta.version == \"v2\"" }
            }
        })
    );
}

#[tokio::test(start_paused = true)]
async fn consul_canary_failing_at_stage_3_is_rolled_back_to_the_exact_objects() {
    let Some(prom) = prometheus() else { return };
    let f = Consul::start().await;
    failing_canary_is_rolled_back(&f, prom).await;
    assert_eq!(
        f.route("failing"),
        json!({
            "Kind": "service-splitter",
            "Name": "failing",
            "Splits": [{ "ServiceSubset": "v1", "Weight": 100 }]
        })
    );
}

#[tokio::test(start_paused = true)]
async fn consul_low_traffic_canary_holds_and_is_not_rolled_back() {
    let Some(prom) = prometheus() else { return };
    quiet_canary_holds(&Consul::start().await, prom).await;
}

#[tokio::test(start_paused = true)]
async fn consul_runner_killed_mid_rollout_resumes_without_reapplying_stages() {
    let Some(prom) = prometheus() else { return };
    killed_runner_resumes(&Consul::start().await, prom).await;
}

#[tokio::test(start_paused = true)]
async fn consul_second_runner_is_refused_with_a_conflict_naming_the_first() {
    let Some(prom) = prometheus() else { return };
    second_runner_is_refused(&Consul::start().await, prom).await;
}

#[tokio::test(start_paused = true)]
async fn consul_each_analysis_sends_one_query_per_metric_family() {
    let Some(prom) = prometheus() else { return };
    one_query_per_metric_family(&Consul::start().await, prom).await;
}

// ---------------------------------------------------------------------------------------------
// The same scenarios on the test environment's real servers: Istio on the real kube-apiserver,
// Consul on the real agent (CE), metrics from the same real Prometheus.

/// Runs `scenario` on a fresh live fixture, one live test at a time.
macro_rules! live {
    ($name:ident, $fixture:ty, $scenario:ident, $why:literal) => {
        #[tokio::test(start_paused = true)]
        #[ignore = $why]
        async fn $name() {
            let Some(prom) = prometheus() else { return };
            let _turn = crate::support::ONE_AT_A_TIME.lock().await;
            $scenario(&<$fixture>::start().await, prom).await;
        }
    };
}

use live::{LiveConsul, LiveIstio};

live!(
    live_istio_a_healthy_canary_is_promoted,
    LiveIstio,
    healthy_canary_is_promoted,
    "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG (cargo xtask testenv up)"
);
live!(
    live_istio_a_canary_failing_at_stage_3_is_rolled_back_to_the_exact_objects,
    LiveIstio,
    failing_canary_is_rolled_back,
    "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG (cargo xtask testenv up)"
);
live!(
    live_istio_a_low_traffic_canary_holds,
    LiveIstio,
    quiet_canary_holds,
    "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG (cargo xtask testenv up)"
);
live!(
    live_istio_a_killed_runner_resumes_without_reapplying_stages,
    LiveIstio,
    killed_runner_resumes,
    "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG (cargo xtask testenv up)"
);
live!(
    live_istio_a_second_runner_is_refused_naming_the_first,
    LiveIstio,
    second_runner_is_refused,
    "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG (cargo xtask testenv up)"
);
live!(
    live_istio_each_analysis_sends_one_query_per_metric_family,
    LiveIstio,
    one_query_per_metric_family,
    "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG (cargo xtask testenv up)"
);
live!(
    live_consul_a_healthy_canary_is_promoted,
    LiveConsul,
    healthy_canary_is_promoted,
    "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"
);
live!(
    live_consul_a_canary_failing_at_stage_3_is_rolled_back_to_the_exact_objects,
    LiveConsul,
    failing_canary_is_rolled_back,
    "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"
);
live!(
    live_consul_a_low_traffic_canary_holds,
    LiveConsul,
    quiet_canary_holds,
    "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"
);
live!(
    live_consul_a_killed_runner_resumes_without_reapplying_stages,
    LiveConsul,
    killed_runner_resumes,
    "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"
);
live!(
    live_consul_a_second_runner_is_refused_naming_the_first,
    LiveConsul,
    second_runner_is_refused,
    "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"
);
live!(
    live_consul_each_analysis_sends_one_query_per_metric_family,
    LiveConsul,
    one_query_per_metric_family,
    "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"
);
