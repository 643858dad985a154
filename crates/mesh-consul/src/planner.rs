//! [`ConsulPlanner`]: the [`mesh_core::Planner`] contract for Consul, over the pure translation
//! (`translate::check`, [`translate::reads`], [`translate::plan`]).

use mesh_core::{Capabilities, Change, MeshKind, Plan, Result};

use crate::translate::{self, Context, Read, Snapshot};

/// Consul's planner for one agent (its edition and version) and the caller's opt-ins.
///
/// ```
/// use mesh_consul::{ConsulPlanner, ConsulVersion, translate::{Context, Read, Snapshot}};
/// use mesh_core::{Change, Planner as _, TrafficSplit};
/// let planner = ConsulPlanner::new(Context::new(ConsulVersion::ce(1, 18, 0)));
/// let change = Change::SetTrafficWeight {
///     service: "web".parse().unwrap(),
///     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
/// };
/// let reads = planner.reads(&change, &Snapshot::default()).unwrap();
/// assert!(reads.iter().all(|r| matches!(r, Read::Entry(_))));
/// let plan = planner.plan(&change, &Snapshot::default()).unwrap();
/// assert!(plan.check_safe_prefixes().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsulPlanner {
    ctx: Context,
}

impl ConsulPlanner {
    /// The planner for `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// What it plans for.
    pub fn context(&self) -> &Context {
        &self.ctx
    }
}

impl mesh_core::Planner for ConsulPlanner {
    type Read = Read;
    type Snapshot = Snapshot;

    fn mesh(&self) -> MeshKind {
        MeshKind::Consul
    }

    fn capabilities(&self) -> Capabilities {
        crate::capabilities::capabilities(&self.ctx.version)
    }

    fn refuse(&self, change: &Change) -> Result<()> {
        translate::check(change, &self.ctx)
    }

    fn reads(&self, change: &Change, snapshot: &Snapshot) -> Result<Vec<Read>> {
        translate::reads(change, &self.ctx, snapshot)
    }

    fn plan(&self, change: &Change, snapshot: &Snapshot) -> Result<Plan> {
        translate::plan(change, &self.ctx, snapshot)
    }
}
