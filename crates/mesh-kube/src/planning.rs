//! Planning and executing a change on a cluster, once for every Kubernetes backend: the reads of
//! the [`Planner`] contract through the engine, and the re-plan when a guarded write loses a race.

use mesh_core::{ApplyReport, Change, Error, ObjectRef, Plan, Planner, ReadSource, Result};

use crate::{KubeEngine, Snapshot};

/// The engine as the [`ReadSource`] of `planner`: each read is one GET, and the reads of one round
/// are independent, so they are sent together (a DestinationRule and a VirtualService cost one
/// round trip, not two). An object that does not exist is not stored; a type the cluster does not
/// serve fails the plan with [`Error::NotConfigured`], unless the planner says the read is
/// [optional](Planner::optional). The snapshot is filled in the order of `reads`, whatever order
/// the answers come in.
pub struct ClusterReads<'a, P> {
    engine: &'a KubeEngine,
    planner: &'a P,
    fresh: bool,
}

impl<'a, P> ClusterReads<'a, P> {
    /// Reads for `planner` through `engine` (from its watched copies, when it
    /// [keeps them](KubeEngine::with_watch_cache)).
    pub fn new(engine: &'a KubeEngine, planner: &'a P) -> Self {
        Self {
            engine,
            planner,
            fresh: false,
        }
    }

    /// Reads from the server even when the engine keeps watched copies: after a lost race.
    #[must_use]
    pub fn fresh(mut self) -> Self {
        self.fresh = true;
        self
    }

    async fn read(&self, r: &ObjectRef) -> Result<Option<serde_json::Value>> {
        if !self.fresh
            && let Some(copy) = self.engine.watched_copy(r).await?
        {
            return Ok(copy);
        }
        self.engine.get(r).await
    }
}

impl<P> ReadSource<ObjectRef, Snapshot> for ClusterReads<'_, P>
where
    P: Planner<Read = ObjectRef, Snapshot = Snapshot>,
{
    async fn read_into(&self, reads: &[ObjectRef], snapshot: &mut Snapshot) -> Result<()> {
        let answers = futures_util::future::join_all(reads.iter().map(|r| self.read(r))).await;
        for (r, answer) in reads.iter().zip(answers) {
            match answer {
                Ok(Some(object)) => snapshot.insert(r.clone(), object),
                Ok(None) => {}
                Err(Error::NotConfigured { .. }) if self.planner.optional(r) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl KubeEngine {
    /// Plans `change` with `planner` on what the cluster holds: refusals first, then the reads
    /// the planner asks for, round after round, then the plan ([`mesh_core::plan_with_reads`]).
    ///
    /// # Errors
    /// The planner's errors, and those of [`KubeEngine::get`].
    pub async fn plan_change<P>(&self, planner: &P, change: &Change) -> Result<Plan>
    where
        P: Planner<Read = ObjectRef, Snapshot = Snapshot>,
    {
        mesh_core::plan_with_reads(planner, &ClusterReads::new(self, planner), change).await
    }

    /// [`KubeEngine::plan_change`] on reads from the server, never from watched copies.
    async fn plan_change_fresh<P>(&self, planner: &P, change: &Change) -> Result<Plan>
    where
        P: Planner<Read = ObjectRef, Snapshot = Snapshot>,
    {
        mesh_core::plan_with_reads(planner, &ClusterReads::new(self, planner).fresh(), change).await
    }

    /// Plans and applies `change`. When a guarded read-modify-write loses a race (a 409: a user
    /// or another process changed or created the object after it was read), the change is
    /// planned again on fresh reads and applied again, up to `conflict_retries` times. Writes
    /// that landed make the next plan shorter, never different in outcome.
    ///
    /// # Errors
    /// As [`KubeEngine::plan_change`] and [`KubeEngine::apply`]; the last lost race when the
    /// retries run out.
    pub async fn execute_change<P>(
        &self,
        planner: &P,
        change: &Change,
        conflict_retries: u32,
    ) -> Result<ApplyReport>
    where
        P: Planner<Read = ObjectRef, Snapshot = Snapshot>,
    {
        let mut attempt = 0;
        loop {
            // A lost race means a copy was behind: the next plan reads the server.
            let plan = if attempt == 0 {
                self.plan_change(planner, change).await?
            } else {
                self.plan_change_fresh(planner, change).await?
            };
            match self.apply(&plan).await {
                Err(e) if attempt < conflict_retries && plan.lost_race(&e) => {
                    attempt += 1;
                    tracing::debug!(attempt, change = change.operation(), "conflict; planning again");
                }
                other => return other,
            }
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::collections::BTreeMap;

    use http::{Request, Response};
    use kube::client::Body;
    use mesh_core::{Capabilities, MeshKind};

    use super::*;

    /// Asks for nothing of its own: the test hands [`ClusterReads`] its reads directly.
    struct NoPlanner;

    impl Planner for NoPlanner {
        type Read = ObjectRef;
        type Snapshot = Snapshot;
        fn mesh(&self) -> MeshKind {
            MeshKind::Istio
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                mesh: MeshKind::Istio,
                features: BTreeMap::new(),
            }
        }
        fn refuse(&self, _: &Change) -> Result<()> {
            Ok(())
        }
        fn reads(&self, _: &Change, _: &Snapshot) -> Result<Vec<ObjectRef>> {
            Ok(Vec::new())
        }
        fn plan(&self, change: &Change, _: &Snapshot) -> Result<Plan> {
            Err(Error::InvalidInput {
                field: change.operation().into(),
                reason: "this planner only reads".into(),
            })
        }
    }

    /// A server that answers no GET until both have arrived: sequential reads would wait for the
    /// first answer forever, and the test would time out instead of passing.
    #[tokio::test]
    async fn the_reads_of_one_round_are_in_flight_together() {
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let engine = KubeEngine::new(kube::Client::new(svc, "default"), MeshKind::Istio, "mesh");
        let server = tokio::spawn(async move {
            let mut waiting = Vec::new();
            while waiting.len() < 2 {
                let (req, send) = handle.next_request().await.expect("a GET");
                waiting.push((req.uri().path().to_owned(), send));
            }
            let paths: Vec<String> = waiting.iter().map(|(p, _)| p.clone()).collect();
            for (path, send) in waiting {
                let name = path.rsplit('/').next().unwrap_or_default().to_owned();
                let body = serde_json::json!({
                    "apiVersion": "networking.istio.io/v1",
                    "kind": if path.contains("destinationrules") { "DestinationRule" } else { "VirtualService" },
                    "metadata": {"name": name, "namespace": "prod", "resourceVersion": "7"},
                    "spec": {}
                });
                send.send_response(Response::new(Body::from(body.to_string().into_bytes())));
            }
            paths
        });
        let reads = [
            ObjectRef::new(
                "networking.istio.io/v1",
                "DestinationRule",
                Some("prod"),
                "reviews",
            ),
            ObjectRef::new(
                "networking.istio.io/v1",
                "VirtualService",
                Some("prod"),
                "reviews",
            ),
        ];
        let mut snapshot = Snapshot::default();
        let source = ClusterReads::new(&engine, &NoPlanner);
        let read = source.read_into(&reads, &mut snapshot);
        tokio::time::timeout(std::time::Duration::from_secs(10), read)
            .await
            .expect("both reads were sent before either was answered")
            .unwrap();
        let mut paths = server.await.unwrap();
        paths.sort();
        assert_eq!(
            paths,
            [
                "/apis/networking.istio.io/v1/namespaces/prod/destinationrules/reviews",
                "/apis/networking.istio.io/v1/namespaces/prod/virtualservices/reviews",
            ]
        );
        for r in &reads {
            assert!(snapshot.get(r).is_some(), "{r:?} is in the snapshot");
        }
    }
}
