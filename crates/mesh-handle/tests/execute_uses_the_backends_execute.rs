//! `Mesh::execute` goes through the backend's own `execute`, which re-plans after a lost race.
//! Before, it planned and applied by itself, so every call through `Mesh` (and the rollout engine
//! and `meshctl`) failed with `Conflict` on a concurrent edit that the backend would have merged.

use std::sync::atomic::{AtomicUsize, Ordering};

use mesh_handle::{
    ApplyReport, Capabilities, Change, Error, Mesh, MeshBackend, MeshKind, MtlsStatus, Namespace, Plan,
    Result,
};

/// A backend whose first apply always loses a race, and whose execute re-plans once. It keeps no
/// state and answers no telemetry.
#[derive(Default)]
pub(crate) struct LosesTheFirstRace {
    applies: AtomicUsize,
}

impl MeshBackend for LosesTheFirstRace {
    fn kind(&self) -> MeshKind {
        MeshKind::Istio
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(MeshKind::Istio)
    }
    async fn plan(&self, change: &Change) -> Result<Plan> {
        Ok(Plan::for_change(MeshKind::Istio, change))
    }
    async fn mtls_status(&self, _: &Namespace) -> Result<MtlsStatus> {
        unreachable!("this test reads no mTLS status")
    }
    async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        if self.applies.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(Error::Conflict {
                object: "VirtualService prod/reviews".into(),
                owner: "another-writer".into(),
                field: "spec.http".into(),
            });
        }
        Ok(ApplyReport {
            applied: vec![],
            event: plan.event.clone(),
            warnings: vec![],
            pending: plan.pending.clone(),
        })
    }
    async fn execute(&self, change: &Change) -> Result<ApplyReport> {
        match self.apply(&self.plan(change).await?).await {
            Err(Error::Conflict { .. }) => self.apply(&self.plan(change).await?).await,
            other => other,
        }
    }
}

#[tokio::test]
async fn a_conflict_the_backend_merges_is_not_an_error_through_mesh() {
    let mesh = Mesh::from_backend(LosesTheFirstRace::default());
    let mut events = mesh.subscribe();
    let change = Change::EnableMtls {
        namespace: "prod".parse().unwrap(),
    };
    mesh.execute(change).await.expect("the backend re-planned");
    assert_eq!(events.try_recv().unwrap().name(), "mtls.enabled");
}
