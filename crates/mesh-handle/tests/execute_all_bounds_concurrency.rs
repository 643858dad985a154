//! `Mesh::execute_all` runs independent changes concurrently up to its bound, in order of
//! results, and one failure does not stop the others. (Before, the only way was spawning a task
//! per change.)

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use mesh_handle::{
    ApplyReport, Capabilities, Change, Error, Mesh, MeshBackend, MeshKind, MtlsStatus, Namespace, Plan,
    Result,
};

/// Each apply takes one second of (paused) time; it counts how many run at once, and fails for
/// the namespace `broken`.
#[derive(Default)]
struct Slow {
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

impl MeshBackend for Slow {
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
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if plan.event.name() == "mtls.enabled" && format!("{:?}", plan.event).contains("broken") {
            return Err(Error::invalid("namespace", "broken on purpose"));
        }
        Ok(ApplyReport {
            applied: vec![],
            event: plan.event.clone(),
            warnings: vec![],
            pending: plan.pending.clone(),
        })
    }
}

#[tokio::test(start_paused = true)]
async fn ten_changes_run_three_at_a_time_in_order_and_a_failure_stays_alone() {
    let backend = std::sync::Arc::new(Slow::default());
    let mesh = Mesh::from_dyn(backend.clone());
    let namespaces = ["a", "b", "broken", "d", "e", "f", "g", "h", "i", "j"];
    let changes = namespaces.map(|ns| Change::EnableMtls {
        namespace: ns.parse().unwrap(),
    });
    let start = tokio::time::Instant::now();
    let results = mesh.execute_all(changes, 3).await;
    assert_eq!(backend.most.load(Ordering::SeqCst), 3);
    // ceil(10 / 3) rounds of one second, not ten.
    assert_eq!(tokio::time::Instant::now() - start, Duration::from_secs(4));
    assert_eq!(results.len(), 10);
    for (ns, result) in namespaces.iter().zip(&results) {
        assert_eq!(result.is_err(), *ns == "broken", "{ns}: {result:?}");
        if let Ok(report) = result {
            assert!(
                format!("{:?}", report.event).contains(ns),
                "{ns}: results keep their order"
            );
        }
    }
}

/// `Mesh::with_max_in_flight` bounds every operation through the handle and its clones, however
/// many callers run at once: here ten tasks, each with its own clone.
#[tokio::test(start_paused = true)]
async fn a_bounded_handle_lets_two_operations_through_at_a_time_across_its_clones() {
    let backend = std::sync::Arc::new(Slow::default());
    let mesh = Mesh::from_dyn(backend.clone()).with_max_in_flight(2);
    let start = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let mesh = mesh.clone();
            tokio::spawn(async move {
                let change = Change::EnableMtls {
                    namespace: format!("team-{i}").parse().unwrap(),
                };
                mesh.execute(change).await
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().is_ok());
    }
    assert_eq!(backend.most.load(Ordering::SeqCst), 2);
    assert_eq!(tokio::time::Instant::now() - start, Duration::from_secs(5));
}
