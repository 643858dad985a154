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
