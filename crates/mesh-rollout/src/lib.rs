//! Progressive delivery over any mesh, as a library: canary, blue-green and A/B rollouts that plan,
//! apply, wait, analyze, and then promote, hold or roll back.
//!
//! # Overview
//! - [`RolloutSpec`] says what moves and how ([`Strategy`]), how long each stage runs, the canary's
//!   SLO and the comparative thresholds (minimum sample size included).
//! - [`Rollout::run`] walks the stages. Each analysis compares the canary with stable through
//!   `mesh::observe::judge_canary` and checks the canary's SLO. **Too little traffic is
//!   inconclusive and holds; it never rolls back.** A failed analysis (after `failure_threshold`
//!   of them) restores stable at 100 %.
//! - Progress lives on the control plane (a Kubernetes annotation, a Consul KV entry), so a restarted
//!   runner resumes and a second runner is refused.
//! - Every decision is a [`RolloutEvent`] carrying the numbers behind it.
//! - [`Gate`]s hold a rollout back: [`WebhookGate`] (pre-stage and confirm-promotion hooks) and
//!   [`ManualApproval`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! use std::{sync::Arc, time::Duration};
//! use mesh::{Mesh, MeshKind, ServiceMetrics, TrafficSample};
//! use mesh_rollout::{Outcome, Rollout, RolloutSpec, Strategy};
//! let mesh = Mesh::fake(MeshKind::Istio);
//! let spec = RolloutSpec { interval: Duration::from_secs(30), ..RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[10, 50])?)? };
//! // No metrics source configured on the fake: the rollout stops with a typed error and changes nothing more.
//! let err = Rollout::new(mesh, spec, "pipeline-1")?.run().await.unwrap_err();
//! assert!(matches!(err, mesh::Error::NotConfigured { .. }));
//! # Ok::<(), mesh::Error>(())
//! # }).unwrap();
//! ```

mod analysis;
mod controller;
mod custom_metric;
mod engine;
mod gate;
mod lease_store_macro;
mod leases;
pub mod lifecycle;
mod report;
mod spec;
mod state;

pub use analysis::{MetricsSource, analyze};
pub use controller::{Controller, ControllerReport, Declared, Shard, shard_of};
pub use custom_metric::{CustomMetric, MAX_METRICS, MAX_QUERY_LEN, MetricCheck};
pub use engine::Rollout;
pub use gate::{Gate, GateAnswer, GateContext, GatePoint, ManualApproval, WebhookGate};
pub use leases::{
    LeaseStore, MAX_SHARDS, MEMBER_GC_TTLS, MemoryLeases, ShardChanges, ShardLeases, shard_lease,
};
pub use report::{Analysis, Outcome, RolloutEvent, RolloutReport};
pub use spec::{MAX_COUNT, MAX_INTERVAL, MIN_INTERVAL, RolloutSpec, Stage, Strategy};
pub use state::{MAX_STORED_EVENTS, Request, RolloutState};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// What the exported macros name, re-exported so that their users need not depend on it.
#[doc(hidden)]
pub mod __private {
    pub use std::time::Duration;

    pub use futures_util::future::BoxFuture;
    pub use mesh::Result;
}
