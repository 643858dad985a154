//! Webhook gates against a loopback HTTP server (real time: the server answers over a socket).

use std::{sync::Arc, time::Duration};

use mesh::{Mesh, MeshKind, testing::FakeMesh};
use mesh_rollout::{GatePoint, Outcome, Rollout, RolloutSpec, Strategy, WebhookGate};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

use crate::support::{Scripted, healthy};

async fn run_with_hook(status: u16) -> (Outcome, MockServer) {
    let server = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/confirm"))
        .and(matchers::body_partial_json(
            serde_json::json!({"point": "confirm_promotion", "stage": {"weight": 50}}),
        ))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    let spec = RolloutSpec {
        interval: Duration::from_secs(1),
        max_inconclusive: 2,
        ..RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[50]).unwrap()).unwrap()
    };
    let gate = WebhookGate::new(
        "confirm",
        &format!("{}/confirm", server.uri()),
        GatePoint::ConfirmPromotion,
    )
    .unwrap();
    let report = Rollout::new(
        Mesh::from_dyn(Arc::new(FakeMesh::new(MeshKind::Istio))),
        spec,
        "ci",
    )
    .unwrap()
    .with_metrics(Scripted::new(healthy))
    .with_gate(Arc::new(gate))
    .run()
    .await
    .unwrap();
    (report.outcome, server)
}

#[tokio::test]
async fn a_2xx_confirm_promotion_hook_promotes() {
    let (outcome, server) = run_with_hook(200).await;
    assert_eq!(outcome, Outcome::Promoted);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_failing_confirm_promotion_hook_holds_and_never_promotes() {
    let (outcome, server) = run_with_hook(503).await;
    assert_eq!(outcome, Outcome::Held);
    // Asked once per round until the rollout held.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
