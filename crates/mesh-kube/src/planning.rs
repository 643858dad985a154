//! Planning and executing a change on a cluster, once for every Kubernetes backend: the reads of
//! the [`Planner`] contract through the engine, and the re-plan when a guarded write loses a race.

use mesh_core::{ApplyReport, Change, Error, ObjectRef, Plan, Planner, ReadSource, Result};

use crate::{KubeEngine, Snapshot};

/// The engine as the [`ReadSource`] of `planner`: each read is one GET; an object that does not
/// exist is not stored; a type the cluster does not serve fails the plan with
/// [`Error::NotConfigured`], unless the planner says the read is [optional](Planner::optional).
pub struct ClusterReads<'a, P> {
    engine: &'a KubeEngine,
    planner: &'a P,
}

impl<'a, P> ClusterReads<'a, P> {
    /// Reads for `planner` through `engine`.
    pub fn new(engine: &'a KubeEngine, planner: &'a P) -> Self {
        Self { engine, planner }
    }
}

impl<P> ReadSource<ObjectRef, Snapshot> for ClusterReads<'_, P>
where
    P: Planner<Read = ObjectRef, Snapshot = Snapshot>,
{
    async fn read_into(&self, reads: &[ObjectRef], snapshot: &mut Snapshot) -> Result<()> {
        for r in reads {
            match self.engine.get(r).await {
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
            let plan = self.plan_change(planner, change).await?;
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
