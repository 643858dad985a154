//! Observers: every decision of a rollout, in order, as it is made, with no subscriber and no
//! task; and through the controller, each with its declaration's name.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::stream;
use mesh::{Mesh, MeshKind, testing::FakeMesh};
use mesh_rollout::{Controller, Declared, Outcome, Rollout, RolloutEvent, RolloutSpec, Strategy};

use crate::support::{Scripted, healthy};

fn spec(service: &str) -> RolloutSpec {
    RolloutSpec {
        interval: Duration::from_secs(60),
        ..RolloutSpec::new(service, "v1", "v2", Strategy::steps(&[10, 50]).unwrap()).unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn an_observer_sees_every_decision_in_order_as_the_report_keeps_them() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let seen: Arc<Mutex<Vec<RolloutEvent>>> = Arc::default();
    let log = Arc::clone(&seen);
    let report = Rollout::new(Mesh::from_dyn(fake.clone()), spec("prod/api"), "ci")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .with_observer(move |event| log.lock().unwrap().push(event.clone()))
        .run()
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Promoted);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, report.events, "the same decisions, in the same order");
    let reasons: Vec<&str> = seen.iter().map(RolloutEvent::reason).collect();
    assert_eq!(
        reasons,
        [
            "StageApplied",
            "AnalysisPassed",
            "StageApplied",
            "AnalysisPassed",
            "Promoted"
        ]
    );
    assert!(seen.iter().all(|e| !e.is_warning()));
    assert_eq!(
        seen[1].summary(),
        "stage 1 (10 % to the canary): Pass; canary 1000 requests, stable 9000; error rate 0.0010 \
         vs baseline 0.0010 (increase 0.0000, tolerated 0.001): FisherExact p = 6.515e-1 >= alpha 0.05",
        "the numbers behind the decision"
    );
}

#[tokio::test(start_paused = true)]
async fn the_controller_tells_its_observer_each_decision_with_the_declarations_name() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let seen: Arc<Mutex<Vec<(String, &'static str)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let declared = ["prod/api", "prod/web"].map(|service| Declared::Rollout {
        name: format!("decl-{service}"),
        spec: Box::new(spec(service)),
    });
    let report = Controller::new(Mesh::from_dyn(fake.clone()), "controller-0")
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .with_observer(move |name, event| log.lock().unwrap().push((name.to_owned(), event.reason())))
        .run(stream::iter(declared))
        .await;
    assert_eq!(report.count(Outcome::Promoted), 2, "{:?}", report.failed);
    let seen = seen.lock().unwrap().clone();
    for name in ["decl-prod/api", "decl-prod/web"] {
        let of_it: Vec<&str> = seen.iter().filter(|(n, _)| n == name).map(|(_, r)| *r).collect();
        assert_eq!(
            of_it,
            [
                "StageApplied",
                "AnalysisPassed",
                "StageApplied",
                "AnalysisPassed",
                "Promoted"
            ],
            "{name}"
        );
    }
}

/// Every request `server` received whose path names `what`, as `METHOD path` with `what` made
/// `SVC`.
fn requests_of(server: &mesh_kube::testing::FakeApiServer, what: &str) -> Vec<String> {
    let mut lines: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.line())
        .filter(|l| l.contains(what))
        .map(|l| l.replace(what, "SVC"))
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn kubernetes_events_cost_one_request_each_on_top_of_the_rollouts_own() {
    use mesh_kube::{
        KubeEngine,
        events::{EventRecorder, Note},
        testing::FakeApiServer,
    };
    let server = FakeApiServer::new();
    let engine = KubeEngine::new(server.client(), MeshKind::Istio, "mesh");
    let mesh = Mesh::from_backend(mesh::istio::IstioBackend::new(engine, Default::default()));
    let run = |service: &'static str, recorder: Option<EventRecorder>| {
        let mesh = mesh.clone();
        async move {
            let spec = RolloutSpec {
                interval: Duration::from_secs(1),
                ..spec(&format!("prod/{service}"))
            };
            let mut rollout = Rollout::new(mesh, spec, "ci")
                .unwrap()
                .with_metrics(Scripted::new(healthy));
            if let Some(recorder) = recorder.clone() {
                let state = mesh::ObjectRef::new(
                    "v1",
                    "ConfigMap",
                    Some("prod"),
                    &format!("mesh-state-{service}-rollout"),
                );
                rollout = rollout.with_observer(move |event| {
                    let action = format!("{}{}", event.reason(), event.stage_index().unwrap_or(99));
                    recorder.record(Note::normal(&state, event.reason(), &action, &event.summary()));
                });
            }
            let report = rollout.run().await.unwrap();
            if let Some(recorder) = recorder {
                assert!(recorder.flush(Duration::from_secs(5)).await);
                assert_eq!(recorder.stats().published, report.events.len() as u64);
            }
            report
        }
    };
    let quiet = run("quiet", None).await;
    let recorded_report = run(
        "recorded",
        Some(EventRecorder::new(server.client(), "meshctl.dev/rollout", "ci")),
    )
    .await;
    assert_eq!(quiet.events.len(), 5);
    assert_eq!(recorded_report.events, quiet.events);
    let (quiet, mut recorded) = (requests_of(&server, "quiet"), requests_of(&server, "recorded"));
    // The rollout's own requests are the same with and without Events; the Events add one POST
    // per decision and one GET of the state ConfigMap (its uid).
    let events: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path.contains("/events"))
        .map(mesh_kube::testing::RecordedRequest::line)
        .collect();
    assert_eq!(
        events,
        vec!["POST /apis/events.k8s.io/v1/namespaces/prod/events"; 5]
    );
    let uid_lookup = "GET /api/v1/namespaces/prod/configmaps/mesh-state-SVC-rollout".to_owned();
    let at = recorded.iter().position(|l| *l == uid_lookup).unwrap();
    recorded.remove(at);
    assert_eq!(recorded, quiet);
}
