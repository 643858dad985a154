//! The rollout engine end to end against the in-memory mesh, with tokio's clock paused: a 30-stage
//! rollout runs in milliseconds.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use mesh::{
    BoxFuture, Error, Mesh, MeshKind, Result, ServiceId, ServiceMetrics, TimeRange, testing::FakeMesh,
};
use mesh_rollout::{
    MetricsSource, Outcome, Request, Rollout, RolloutEvent, RolloutSpec, Stage, Strategy, lifecycle,
};

use crate::support::{Scripted, healthy};

fn spec(strategy: Strategy) -> RolloutSpec {
    RolloutSpec {
        interval: Duration::from_secs(60),
        ..RolloutSpec::new("prod/api", "v1", "v2", strategy).unwrap()
    }
}

fn routes(fake: &FakeMesh) -> serde_json::Value {
    let (_, body) = fake
        .objects()
        .into_iter()
        .find(|(r, _)| r.kind == "Routes")
        .expect("routes written");
    body["split"].clone()
}

#[tokio::test(start_paused = true)]
async fn a_healthy_30_stage_canary_is_promoted_with_one_write_per_stage() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let strategy = Strategy::step_weight(3, 90).unwrap();
    let Strategy::Canary { steps } = &strategy else {
        unreachable!()
    };
    assert_eq!(steps.len(), 30);
    let start = tokio::time::Instant::now();
    let report = Rollout::new(mesh, spec(strategy), "ci")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    // 30 stages and the promotion: one traffic change each.
    assert_eq!(report.traffic_changes, 31);
    // Every stage ran for one interval of (paused, virtual) time.
    assert_eq!(tokio::time::Instant::now() - start, Duration::from_secs(60 * 30));
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v2", "weight": 100}])
    );
    // One plan per stage: the subsets write lands once, then one routes write per change.
    let route_writes = fake
        .write_log()
        .iter()
        .filter(|(_, r)| r.kind == "Routes")
        .count();
    assert_eq!(route_writes, 31);
}

#[tokio::test(start_paused = true)]
async fn an_error_spike_at_stage_3_rolls_back_to_stable_with_the_numbers() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Consul));
    let mesh = Mesh::from_dyn(fake.clone());
    let script = Scripted::new(|call| {
        Some(if call < 2 {
            (1000.0, 1.0, 9000.0, 9.0)
        } else {
            (1000.0, 120.0, 9000.0, 9.0)
        })
    });
    let rollout = Rollout::new(mesh, spec(Strategy::steps(&[5, 10, 25, 50]).unwrap()), "ci")
        .unwrap()
        .with_metrics(script);
    let report = rollout.run().await.unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack);
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v1", "weight": 100}])
    );
    // The end names the stage as the events and `stage N of M` do, from 1 (it said "stage 2").
    assert!(
        matches!(report.events.last(), Some(RolloutEvent::Finished { reason, .. })
            if reason == "1 failed analyses at stage 3"),
        "{:?}",
        report.events.last()
    );
    let failed = report
        .events
        .iter()
        .find_map(|e| match e {
            RolloutEvent::Analyzed {
                index: 2, analysis, ..
            } => Some(analysis.clone()),
            _ => None,
        })
        .expect("stage 3 analyzed");
    let j = failed.judgement.expect("compared with stable");
    assert_eq!(
        (j.error_rate.canary, j.error_rate.baseline),
        ((1000, 120), (9000, 9))
    );
    assert!(j.error_rate.p_value.unwrap() < 0.05);
}

#[tokio::test(start_paused = true)]
async fn low_traffic_holds_and_never_rolls_back() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Linkerd));
    let mesh = Mesh::from_dyn(fake.clone());
    // 12 canary requests per window, all failing: too few to judge.
    let script = Scripted::new(|_| Some((12.0, 12.0, 100.0, 0.0)));
    let report = Rollout::new(mesh.clone(), spec(Strategy::steps(&[10, 50]).unwrap()), "ci")
        .unwrap()
        .with_metrics(script)
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Held);
    assert_eq!(report.traffic_changes, 1, "no rollback write");
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v1", "weight": 90}, {"version": "v2", "weight": 10}])
    );
    // The held rollout waits for an operator: its state shows the split left in place, and
    // promote (or abort) ends it on the spot, as for a released rollout.
    let service = spec(Strategy::steps(&[10, 50]).unwrap()).service;
    let held = lifecycle::status(&mesh, &service).await.unwrap().unwrap();
    assert_eq!(held.traffic(), Stage::Weight(10));
    let promoted = lifecycle::end_now(&mesh, &service, Request::Promote, "ops")
        .await
        .unwrap();
    assert_eq!(
        (promoted.outcome, promoted.traffic()),
        (Some(Outcome::Promoted), Stage::Weight(100))
    );
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v2", "weight": 100}])
    );
    // Once promoted it has ended: a second decision is refused.
    assert!(matches!(
        lifecycle::end_now(&mesh, &service, Request::Abort, "ops").await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_killed_runner_resumes_and_a_second_runner_is_refused() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    // The first runner passes two analyses, then hangs in the third until it is killed.
    let first = Rollout::new(
        Mesh::from_dyn(fake.clone()),
        spec(Strategy::steps(&[10, 20, 40, 80]).unwrap()),
        "runner-a",
    )
    .unwrap()
    .with_metrics(Scripted::new(|call| {
        (call < 2).then_some((1000.0, 1.0, 9000.0, 9.0))
    }));
    let task = tokio::spawn(async move { first.run().await });
    tokio::time::sleep(Duration::from_secs(60 * 3 + 1)).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v1", "weight": 60}, {"version": "v2", "weight": 40}])
    );

    // Another runner is refused, by name.
    let intruder = Rollout::new(
        Mesh::from_dyn(fake.clone()),
        spec(Strategy::steps(&[10, 20, 40, 80]).unwrap()),
        "runner-b",
    )
    .unwrap();
    match intruder.with_metrics(Scripted::new(healthy)).run().await {
        Err(Error::Conflict { owner, .. }) => assert_eq!(owner, "runner-a"),
        other => panic!("expected Conflict, got {other:?}"),
    }

    // The same runner, restarted, resumes at stage 3 without re-applying the first two.
    let writes_before = fake.write_log().len();
    let resumed = Rollout::new(
        Mesh::from_dyn(fake.clone()),
        spec(Strategy::steps(&[10, 20, 40, 80]).unwrap()),
        "runner-a",
    )
    .unwrap()
    .with_metrics(Scripted::new(healthy))
    .run()
    .await
    .unwrap();
    assert_eq!(resumed.outcome, Outcome::Promoted);
    assert_eq!(
        resumed.traffic_changes, 5,
        "3 stages before the kill, 1 after, 1 promotion"
    );
    let applied: Vec<usize> = resumed
        .events
        .iter()
        .filter_map(|e| match e {
            RolloutEvent::StageApplied { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(
        applied,
        vec![0, 1, 2, 3],
        "each stage applied exactly once across both runs"
    );
    assert_eq!(fake.write_log().len() - writes_before, 2);
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v2", "weight": 100}])
    );
}

#[tokio::test(start_paused = true)]
async fn bad_specs_write_nothing() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let bad = RolloutSpec {
        failure_threshold: 0,
        ..spec(Strategy::steps(&[10]).unwrap())
    };
    assert!(matches!(
        Rollout::new(Mesh::from_dyn(fake.clone()), bad, "ci"),
        Err(Error::InvalidInput { .. })
    ));
    let same = RolloutSpec::new("prod/api", "v1", "v1", Strategy::BlueGreen).unwrap();
    assert!(matches!(
        Rollout::new(Mesh::from_dyn(fake.clone()), same, "ci"),
        Err(Error::InvalidInput { .. })
    ));
    assert!(fake.write_log().is_empty());
}

#[tokio::test(start_paused = true)]
async fn blue_green_analyzes_the_preview_then_cuts_over_in_one_write() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mut spec = spec(Strategy::BlueGreen);
    // Preview traffic only reaches the new version: judge it on its SLO.
    spec.slo.availability = Some(99.0);
    let script = Scripted::new(|_| Some((500.0, 1.0, 0.0, 0.0)));
    let report = Rollout::new(Mesh::from_dyn(fake.clone()), spec, "ci")
        .unwrap()
        .with_metrics(script)
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    // Stage 1 keeps all traffic on v1 (pre-promotion analysis); stage 2 is the cut-over itself.
    assert_eq!(report.traffic_changes, 2);
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v2", "weight": 100}])
    );
}

#[tokio::test(start_paused = true)]
async fn blue_green_rolls_back_when_the_preview_violates_the_slo() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Consul));
    let mut spec = spec(Strategy::BlueGreen);
    spec.slo.availability = Some(99.0);
    let script = Scripted::new(|_| Some((500.0, 50.0, 0.0, 0.0)));
    let report = Rollout::new(Mesh::from_dyn(fake.clone()), spec, "ci")
        .unwrap()
        .with_metrics(script)
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack);
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v1", "weight": 100}])
    );
}

fn ab_strategy() -> Strategy {
    let matches = vec![mesh::RequestMatch {
        headers: vec![mesh::HeaderMatch {
            name: "x-canary".into(),
            value: mesh::StringMatch::Exact("1".into()),
        }],
        ..Default::default()
    }];
    Strategy::AbTest {
        matches,
        iterations: 3,
    }
}

#[tokio::test(start_paused = true)]
async fn ab_routes_matching_requests_to_the_canary_then_promotes() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let report = Rollout::new(Mesh::from_dyn(fake.clone()), spec(ab_strategy()), "ci")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    // Three analyses of the same header route (written once per stage, unchanged), then promotion.
    let applied = report
        .events
        .iter()
        .filter(|e| matches!(e, RolloutEvent::StageApplied { .. }))
        .count();
    assert_eq!(applied, 3);
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v2", "weight": 100}])
    );
}

#[tokio::test(start_paused = true)]
async fn ab_on_a_mesh_without_header_matching_is_unsupported_before_any_write() {
    let caps = mesh::Capabilities::new(MeshKind::Linkerd)
        .with(
            mesh::Feature::Subsets,
            mesh::Support::native("per-version Services"),
        )
        .with(
            mesh::Feature::RouteHeaders,
            mesh::Support::unsupported("no header matching in this test mesh"),
        );
    let fake = Arc::new(FakeMesh::new(MeshKind::Linkerd).with_capabilities(caps));
    let err = Rollout::new(Mesh::from_dyn(fake.clone()), spec(ab_strategy()), "ci")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                feature: mesh::Feature::RouteHeaders,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(fake.write_log().is_empty());
    // Refused before any traffic change: the run leaves no rollout behind (its claim stayed
    // "running" under a runner that had exited, and blocked the next run).
    let service = spec(ab_strategy()).service;
    let mesh = Mesh::from_dyn(fake.clone());
    assert_eq!(lifecycle::status(&mesh, &service).await.unwrap(), None);
}

/// A traffic change that fails after an earlier one landed: the run releases the rollout, so
/// that another runner resumes it and an operator may end it without `--force`. One that fails
/// before any landed leaves nothing behind.
#[tokio::test(start_paused = true)]
async fn a_run_stopped_by_a_failed_write_releases_its_rollout() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let service = four_stages().service;
    let run = |runner: &'static str| {
        let mesh = mesh.clone();
        async move {
            Rollout::new(mesh, four_stages(), runner)
                .unwrap()
                .with_metrics(Scripted::new(healthy))
                .run()
                .await
        }
    };
    // The first stage's first write fails: nothing landed, no rollout is left.
    fake.fail_at_write(1);
    assert!(run("runner-a").await.is_err());
    assert_eq!(lifecycle::status(&mesh, &service).await.unwrap(), None);
    // The second stage's route write fails (the first stage's two writes landed).
    fake.fail_at_write(3);
    assert!(run("runner-a").await.is_err());
    let st = lifecycle::status(&mesh, &service).await.unwrap().unwrap();
    assert!(
        st.released && st.is_running() && st.runner == "runner-a",
        "{st:?}"
    );
    assert_eq!(st.traffic(), Stage::Weight(10));
    assert_eq!(run("runner-b").await.unwrap().outcome, Outcome::Promoted);
}

#[tokio::test(start_paused = true)]
async fn manual_approval_holds_promotion_until_someone_approves() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let spec = RolloutSpec {
        max_inconclusive: 3,
        ..spec(Strategy::steps(&[50]).unwrap())
    };
    let gate = Arc::new(mesh_rollout::ManualApproval::new(mesh.clone()));
    let held = Rollout::new(mesh.clone(), spec.clone(), "ci")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .with_gate(gate.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(
        held.outcome,
        Outcome::Held,
        "no approval: traffic stays at the last stage"
    );
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v1", "weight": 50}, {"version": "v2", "weight": 50}])
    );
    assert!(
        held.events
            .iter()
            .any(|e| matches!(e, RolloutEvent::Finished { reason, .. } if reason.contains("approval")))
    );

    let key = mesh_rollout::ManualApproval::key(&spec).unwrap();
    mesh.write_state(&key, "approved", None).await.unwrap();
    let promoted = Rollout::new(mesh, spec, "ci")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .with_gate(gate)
        .run()
        .await
        .unwrap();
    assert_eq!(promoted.outcome, Outcome::Promoted);
}

// Operators' commands on a running rollout (`meshctl rollout status|pause|resume|promote|abort`),
// through the stored state: the runner adopts them when its next save is refused.

fn four_stages() -> RolloutSpec {
    spec(Strategy::steps(&[10, 20, 40, 80]).unwrap())
}

fn stage_of(fake: &FakeMesh) -> serde_json::Value {
    routes(fake)
}

#[tokio::test(start_paused = true)]
async fn an_abort_request_sends_traffic_back_to_stable_at_the_runners_next_step() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let rollout = Rollout::new(mesh.clone(), four_stages(), "runner-a")
        .unwrap()
        .with_metrics(Scripted::new(healthy));
    let task = tokio::spawn(async move { rollout.run().await });
    tokio::time::sleep(Duration::from_secs(60 + 1)).await; // stage 2 (20 %) is applied
    let service = four_stages().service;
    let status = lifecycle::status(&mesh, &service).await.unwrap().unwrap();
    assert_eq!((status.stage, status.runner.as_str()), (1, "runner-a"));
    lifecycle::request(&mesh, &service, Request::Abort).await.unwrap();
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack);
    assert!(
        matches!(report.events.last(), Some(RolloutEvent::Finished { reason, .. }) if reason.contains("operator")),
        "{:?}",
        report.events.last()
    );
    assert_eq!(
        stage_of(&fake),
        serde_json::json!([{"version": "v1", "weight": 100}])
    );
    let ended = lifecycle::status(&mesh, &service).await.unwrap().unwrap();
    assert_eq!(ended.outcome, Some(Outcome::RolledBack));
    assert_eq!(ended.requested, None);
}

#[tokio::test(start_paused = true)]
async fn a_paused_rollout_holds_its_weights_until_resumed_then_finishes() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let rollout = Rollout::new(mesh.clone(), four_stages(), "runner-a")
        .unwrap()
        .with_metrics(Scripted::new(healthy));
    let task = tokio::spawn(async move { rollout.run().await });
    let service = four_stages().service;
    tokio::time::sleep(Duration::from_secs(30)).await; // stage 1 (10 %) is applied
    lifecycle::pause(&mesh, &service).await.unwrap();
    // Ten intervals later, the weights are where the pause found them (the stage in flight
    // finished its analysis, and no further stage was applied).
    tokio::time::sleep(Duration::from_secs(60 * 10)).await;
    let paused = stage_of(&fake);
    let status = lifecycle::status(&mesh, &service).await.unwrap().unwrap();
    assert!(status.paused && status.is_running(), "{status:?}");
    tokio::time::sleep(Duration::from_secs(60 * 5)).await;
    assert_eq!(stage_of(&fake), paused, "no stage while paused");
    lifecycle::resume(&mesh, &service).await.unwrap();
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    assert_eq!(
        stage_of(&fake),
        serde_json::json!([{"version": "v2", "weight": 100}])
    );
}

#[tokio::test(start_paused = true)]
async fn a_released_rollout_is_resumed_by_another_runner_or_ended_on_the_spot() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let first = Rollout::new(mesh.clone(), four_stages(), "runner-a")
        .unwrap()
        .with_metrics(Scripted::new(|call| {
            (call < 1).then_some((1000.0, 1.0, 9000.0, 9.0))
        }));
    let task = tokio::spawn(async move { first.run().await });
    tokio::time::sleep(Duration::from_secs(60 * 2 + 1)).await;
    task.abort(); // Ctrl-C: the CLI releases the rollout, traffic stays
    let service = four_stages().service;
    // Only the holder can release it.
    assert!(matches!(
        lifecycle::release(&mesh, &service, "runner-b").await,
        Err(Error::Conflict { .. })
    ));
    lifecycle::release(&mesh, &service, "runner-a").await.unwrap();
    let held = stage_of(&fake);
    assert_eq!(
        held,
        serde_json::json!([{"version": "v1", "weight": 80}, {"version": "v2", "weight": 20}])
    );

    // A runner with another spec is refused, and told why (it was told the first runner, long
    // gone, was still rolling the service out).
    let mut other = four_stages();
    other.canary = "v3".parse().unwrap();
    let refused = Rollout::new(mesh.clone(), other, "runner-c")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .run()
        .await;
    assert!(
        matches!(&refused, Err(Error::Conflict { owner, field, .. })
            if owner == "runner-a (released)" && field.contains("different spec")),
        "{refused:?}"
    );

    // Another runner with the same spec takes it over where it stopped.
    let second = Rollout::new(mesh.clone(), four_stages(), "runner-b")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .run()
        .await
        .unwrap();
    assert_eq!(second.outcome, Outcome::Promoted);
    let applied: Vec<usize> = second
        .events
        .iter()
        .filter_map(|e| match e {
            RolloutEvent::StageApplied { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(
        applied,
        vec![0, 1, 2, 3],
        "no stage applied twice across the runners"
    );

    // A fresh rollout, released, then ended by an operator with no runner at all.
    let other: ServiceId = "prod/cart".parse().unwrap();
    let mut state = mesh_rollout::RolloutState::start(
        "runner-c",
        RolloutSpec {
            service: other.clone(),
            ..four_stages()
        },
    );
    state.released = true;
    lifecycle::save_new(&mesh, &state).await.unwrap();
    let ended = lifecycle::end_now(&mesh, &other, Request::Promote, "ops")
        .await
        .unwrap();
    assert_eq!(ended.outcome, Some(Outcome::Promoted));
    // Ending what has ended is refused.
    assert!(matches!(
        lifecycle::end_now(&mesh, &other, Request::Abort, "ops").await,
        Err(Error::NotFound { .. })
    ));
}

/// The stored state stays bounded on a long rollout: every save writes it whole, so an unbounded
/// history made the bytes written grow quadratically with the stages. 99 stages make 199
/// decisions; the state keeps the latest 128 and counts the rest.
#[tokio::test(start_paused = true)]
async fn a_long_rollouts_stored_state_is_bounded() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let report = Rollout::new(mesh.clone(), spec(Strategy::step_weight(1, 99).unwrap()), "ci")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    let stored = lifecycle::status(&mesh, &spec(Strategy::BlueGreen).service)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.events.len(), mesh_rollout::MAX_STORED_EVENTS);
    assert_eq!(stored.events.len() + stored.dropped_events, 99 * 2 + 1);
    assert!(matches!(
        stored.events.last(),
        Some(RolloutEvent::Finished { .. })
    ));
    let bytes = serde_json::to_string(&stored).unwrap().len();
    assert!(bytes < 128 * 1024, "{bytes} bytes");
}

/// Healthy built-in metrics, and a custom metric whose value each query call reads from a
/// script; the queries sent are recorded.
struct WithCustom {
    calls: AtomicUsize,
    values: Vec<Option<f64>>,
    sent: std::sync::Mutex<Vec<String>>,
}

impl MetricsSource for WithCustom {
    fn metrics<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        Scripted::new(healthy).metrics_owned(service.clone(), range)
    }

    fn query<'a>(
        &'a self,
        promql: &'a str,
        _at: std::time::SystemTime,
    ) -> BoxFuture<'a, Result<Option<f64>>> {
        self.sent.lock().unwrap().push(promql.to_owned());
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let value = self.values.get(call).copied().flatten();
        Box::pin(async move { Ok(value) })
    }
}

impl Scripted {
    fn metrics_owned(
        self: Arc<Self>,
        service: ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'static, Result<ServiceMetrics>> {
        Box::pin(async move { self.metrics(&service, range).await })
    }
}

fn with_queue_depth(max: f64) -> RolloutSpec {
    RolloutSpec {
        metrics: vec![mesh_rollout::CustomMetric {
            name: "queue-depth".into(),
            query: r#"max(queue_depth{namespace="{{ namespace }}", version="{{canary}}"}[{{interval}}])"#
                .into(),
            min: None,
            max: Some(max),
        }],
        ..four_stages()
    }
}

#[tokio::test(start_paused = true)]
async fn a_custom_metric_out_of_range_rolls_back_and_in_range_promotes() {
    // In range at every analysis: promoted, one query per analysis, placeholders filled in.
    let source = Arc::new(WithCustom {
        calls: AtomicUsize::new(0),
        values: vec![Some(10.0); 4],
        sent: std::sync::Mutex::new(Vec::new()),
    });
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let report = Rollout::new(Mesh::from_dyn(fake), with_queue_depth(100.0), "ci")
        .unwrap()
        .with_metrics(source.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    let sent = source.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 4);
    assert_eq!(
        sent[0],
        r#"max(queue_depth{namespace="prod", version="v2"}[60s])"#
    );

    // Over the range at the second analysis: rolled back, naming the metric and its value.
    let source = Arc::new(WithCustom {
        calls: AtomicUsize::new(0),
        values: vec![Some(10.0), Some(250.0)],
        sent: std::sync::Mutex::new(Vec::new()),
    });
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let report = Rollout::new(Mesh::from_dyn(fake.clone()), with_queue_depth(100.0), "ci")
        .unwrap()
        .with_metrics(source)
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::RolledBack);
    let failed = report
        .events
        .iter()
        .find_map(|e| match e {
            RolloutEvent::Analyzed { analysis, .. } if analysis.verdict == mesh::observe::Verdict::Fail => {
                Some(analysis.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(failed.metrics[0].value, Some(250.0));
    assert!(
        failed.reasons.iter().any(|r| r.contains("queue-depth = 250")),
        "{:?}",
        failed.reasons
    );
    assert_eq!(
        routes(&fake),
        serde_json::json!([{"version": "v1", "weight": 100}])
    );
}

#[test]
fn a_bad_custom_metric_is_refused_before_anything_runs() {
    let mut spec = with_queue_depth(100.0);
    spec.metrics[0].query = "up{job=\"{{ job }}\"}".into();
    let err = Rollout::new(
        Mesh::from_dyn(Arc::new(FakeMesh::new(MeshKind::Istio))),
        spec,
        "ci",
    )
    .unwrap_err();
    assert!(err.to_string().contains("metrics[0]"), "{err}");
}
