//! A controller: one process drives every rollout declared for it, one tokio task each (no
//! thread per rollout), each at most once ([`Rollout::once`]), from a stream of declarations that
//! a watch feeds (a ConfigMap watch on Kubernetes, a KV prefix on Consul, a list in tests).

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use futures_util::{Stream, StreamExt};
use mesh::{Error, Mesh, Result, ServiceId};
use tokio::task::{AbortHandle, JoinSet};

use crate::{
    MetricsSource, Outcome, Rollout, RolloutEvent, RolloutSpec,
    leases::{ShardChanges, ShardLeases},
};

/// What a declaration source saw.
#[derive(Debug, Clone)]
pub enum Declared {
    /// A rollout declared (or declared again) under `name`.
    Rollout {
        /// Where it is declared (a ConfigMap's `namespace/name`, a KV key).
        name: String,
        /// What it asks for.
        spec: Box<RolloutSpec>,
    },
    /// A declaration that does not parse or validate: reported, never run.
    Invalid {
        /// Where it is declared.
        name: String,
        /// Why it was refused.
        error: String,
    },
    /// The declaration is gone: its rollout, if running, is stopped where it is and released
    /// (the weights hold and the state stays, marked as held by no runner: a new declaration of
    /// the same spec resumes it, and an operator may promote or abort it at once).
    Removed {
        /// Where it was declared.
        name: String,
    },
}

/// Which declarations this controller replica owns: those whose name hashes to `index` of
/// `count` (FNV-1a, the same on every machine and run).
///
/// ```
/// use mesh_rollout::Shard;
/// let shards = [Shard::new(0, 3)?, Shard::new(1, 3)?, Shard::new(2, 3)?];
/// // Every name belongs to exactly one of the replicas.
/// for name in ["prod/api", "prod/web", "staging/api"] {
///     assert_eq!(shards.iter().filter(|s| s.owns(name)).count(), 1);
/// }
/// assert!(Shard::new(3, 3).is_err());
/// # Ok::<(), mesh::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Every declaration.
    pub const ALL: Self = Self { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `count` is 0 or `index` is not below it.
    pub fn new(index: u32, count: u32) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::invalid(
                "shard",
                format!("{index}/{count}: the index must be below a count of at least 1"),
            ));
        }
        Ok(Self { index, count })
    }

    /// Whether `name` belongs to this shard.
    #[must_use]
    pub fn owns(&self, name: &str) -> bool {
        shard_of(name, self.count) == self.index
    }
}

/// The shard of `count` that `name` hashes into (FNV-1a, the same on every machine and run):
/// what [`Shard::owns`] and [`ShardLeases::shard_of`] use.
///
/// ```
/// use mesh_rollout::{Shard, shard_of};
/// let i = shard_of("prod/api", 6);
/// assert!(Shard::new(i, 6)?.owns("prod/api"));
/// # Ok::<(), mesh::Error>(())
/// ```
#[must_use]
pub fn shard_of(name: &str, count: u32) -> u32 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    u32::try_from(hash % u64::from(count.max(1))).unwrap_or(0)
}

/// How each declared rollout ended, by declaration name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ControllerReport {
    /// Rollouts that ran to an outcome (or had already, before this controller started).
    pub finished: BTreeMap<String, Outcome>,
    /// Rollouts that stopped on an error (a conflict with another runner, an unreachable mesh),
    /// or declarations that were refused.
    pub failed: BTreeMap<String, String>,
    /// Rollouts stopped because their declaration was removed.
    pub removed: Vec<String>,
}

impl ControllerReport {
    /// How many ended with `outcome`.
    #[must_use]
    pub fn count(&self, outcome: Outcome) -> usize {
        self.finished.values().filter(|o| **o == outcome).count()
    }
}

/// Drives every rollout declared for it, one tokio task each (no thread per rollout), each at
/// most once ([`Rollout::once`]), from a stream of [`Declared`] rollouts that a watch feeds (a
/// ConfigMap watch on Kubernetes, a KV prefix on Consul, a list in tests), and only those of its
/// [`Shard`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// use std::time::Duration;
/// use mesh::{Mesh, MeshKind};
/// use mesh_rollout::{Controller, Declared, RolloutSpec, Strategy};
/// let spec = RolloutSpec { interval: Duration::from_secs(30), ..RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[10, 50])?)? };
/// let declared = futures_util::stream::iter([Declared::Rollout { name: "prod/api".into(), spec: Box::new(spec) }]);
/// // No metrics source on the fake: the rollout fails with a typed error, reported by name.
/// let report = Controller::new(Mesh::fake(MeshKind::Istio), "controller-0")?.run(declared).await;
/// assert!(report.failed["prod/api"].contains("not configured"));
/// # Ok::<(), mesh::Error>(())
/// # }).unwrap();
/// ```
pub struct Controller {
    mesh: Mesh,
    runner: String,
    metrics: Option<Arc<dyn MetricsSource>>,
    shard: Shard,
    reporter: Option<Reporter>,
    observer: Option<DeclaredObserver>,
}

/// Told of every decision of every rollout, with the declaration's name.
type DeclaredObserver = Arc<dyn Fn(&str, &RolloutEvent) + Send + Sync>;

/// Told of each rollout's end as it happens: the declaration's name, and the outcome or why it
/// failed.
type Reporter = Box<dyn Fn(&str, std::result::Result<Outcome, &str>) + Send + Sync>;

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("runner", &self.runner)
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// A controller whose rollouts run as `runner` (stable across restarts, so that a restarted
    /// controller resumes its rollouts and another one is refused them).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty runner name.
    pub fn new(mesh: Mesh, runner: &str) -> Result<Self> {
        if runner.trim().is_empty() {
            return Err(Error::invalid("runner", "must not be empty"));
        }
        Ok(Self {
            mesh,
            runner: runner.to_owned(),
            metrics: None,
            shard: Shard::ALL,
            reporter: None,
            observer: None,
        })
    }

    /// Reads every rollout's metrics from `source` instead of the mesh.
    #[must_use]
    pub fn with_metrics(mut self, source: Arc<dyn MetricsSource>) -> Self {
        self.metrics = Some(source);
        self
    }

    /// Calls `report` as each rollout ends (or is refused), with the declaration's name and the
    /// outcome or the error's text.
    #[must_use]
    pub fn with_reporter(
        mut self,
        report: impl Fn(&str, std::result::Result<Outcome, &str>) + Send + Sync + 'static,
    ) -> Self {
        self.reporter = Some(Box::new(report));
        self
    }

    /// Calls `observe` with every decision of every rollout it runs, and the declaration's
    /// name, as [`Rollout::with_observer`] does for one rollout.
    #[must_use]
    pub fn with_observer(mut self, observe: impl Fn(&str, &RolloutEvent) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observe));
        self
    }

    fn tell(&self, name: &str, ended: std::result::Result<Outcome, &str>) {
        if let Some(report) = &self.reporter {
            report(name, ended);
        }
    }

    /// Runs only the declarations of `shard`.
    #[must_use]
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }

    /// Runs every declaration of its shard until `declarations` ends and every rollout it
    /// started has ended. A watch never ends: then this runs until it is dropped, and dropping
    /// it stops every rollout where it is (the weights hold; a restart resumes them).
    pub async fn run(&self, declarations: impl Stream<Item = Declared>) -> ControllerReport {
        self.drive(declarations, Owner::Static(self.shard)).await
    }

    /// Runs the declarations of the shards this replica holds in `leases`, which it keeps
    /// renewing, taking free shards up to its share and giving the surplus up; the rollouts of a
    /// shard run as `<runner>-shard-<index>` whichever replica holds it, so a replica that takes
    /// a shard over resumes them. Ends like [`run`](Self::run), giving every lease up; dropped,
    /// its rollouts stop where they are and its leases expire.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use mesh::{Mesh, MeshKind};
    /// use mesh_rollout::{Controller, Declared, MemoryLeases, RolloutSpec, ShardLeases, Strategy};
    /// let spec = RolloutSpec { interval: Duration::from_secs(30), ..RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[10, 50])?)? };
    /// let declared = futures_util::stream::iter([Declared::Rollout { name: "prod/api".into(), spec: Box::new(spec) }]);
    /// let store = Arc::new(MemoryLeases::default());
    /// let mut leases = ShardLeases::new(store, "rollouts", "replica-a", 4, Duration::from_secs(15))?;
    /// let report = Controller::new(Mesh::fake(MeshKind::Istio), "controller")?.run_leased(declared, &mut leases).await;
    /// // It took the shards, ran the rollout (no metrics source on the fake: a typed error), and gave them up.
    /// assert!(report.failed["prod/api"].contains("not configured"));
    /// assert!(leases.held().is_empty());
    /// # Ok::<(), mesh::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn run_leased(
        &self,
        declarations: impl Stream<Item = Declared>,
        leases: &mut ShardLeases,
    ) -> ControllerReport {
        self.drive(declarations, Owner::Leased(leases)).await
    }

    async fn drive(
        &self,
        declarations: impl Stream<Item = Declared>,
        mut owner: Owner<'_>,
    ) -> ControllerReport {
        let mut run = Running::default();
        let mut declarations = std::pin::pin!(declarations.fuse());
        let mut open = true;
        let mut renewals = tokio::time::interval(owner.renew_every());
        renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A leased replica holds its shards before it reads a declaration.
        if let Owner::Leased(leases) = &mut owner {
            renewals.tick().await;
            self.shards_changed(leases.tick().await, leases, &mut run).await;
        }
        while open || !run.tasks.is_empty() {
            tokio::select! {
                declared = declarations.next(), if open => match declared {
                    None => open = false,
                    Some(d) => {
                        self.take(d, &owner, &mut run);
                        self.release_removed(&mut run).await;
                    }
                },
                Some(joined) = run.tasks.join_next() => self.joined(joined, &mut run),
                _ = renewals.tick(), if matches!(owner, Owner::Leased(_)) => {
                    if let Owner::Leased(leases) = &mut owner {
                        let changes = leases.tick().await;
                        self.shards_changed(changes, leases, &mut run).await;
                    }
                }
            }
        }
        if let Owner::Leased(leases) = &mut owner {
            leases.release_all().await;
        }
        run.report
    }

    fn joined(
        &self,
        joined: std::result::Result<(String, Result<Outcome>), tokio::task::JoinError>,
        run: &mut Running,
    ) {
        match joined {
            Ok((name, result)) => {
                run.handles.remove(&name);
                match result {
                    Ok(outcome) => {
                        self.tell(&name, Ok(outcome));
                        run.report.finished.insert(name, outcome);
                    }
                    Err(e) => {
                        let error = e.with_causes();
                        self.tell(&name, Err(&error));
                        run.report.failed.insert(name, error);
                    }
                }
            }
            // Aborted on removal or hand-over, or a panic in a rollout task.
            Err(e) if e.is_cancelled() => {}
            Err(e) => tracing::error!(error = %e, "a rollout task panicked"),
        }
    }

    /// Releases the rollouts whose declaration was removed, once their aborted tasks have ended
    /// (so that no write of theirs follows): their state then says no runner holds them.
    async fn release_removed(&self, run: &mut Running) {
        if run.releasing.is_empty() {
            return;
        }
        self.join_stopped(run).await;
        for (service, runner) in std::mem::take(&mut run.releasing) {
            match crate::lifecycle::release(&self.mesh, &service, &runner).await {
                // Not found: it ended (or never wrote its state) before the abort.
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(%service, error = %e.with_causes(), "a removed declaration's rollout could not be released")
                }
            }
        }
    }

    /// Waits until every aborted rollout task has ended.
    async fn join_stopped(&self, run: &mut Running) {
        while run.tasks.len() > run.handles.len() {
            match run.tasks.join_next().await {
                Some(joined) => self.joined(joined, run),
                None => break,
            }
        }
    }

    /// Stops the rollouts of the shards lost or given up (before the surplus is released), and
    /// starts the declared rollouts of the shards gained.
    async fn shards_changed(&self, changes: ShardChanges, leases: &mut ShardLeases, run: &mut Running) {
        if let Some(why) = &changes.unreachable {
            tracing::warn!(error = %why, "the lease store is unreachable; held shards are kept until their renewal is overdue");
        }
        let stopped: Vec<u32> = changes.lost.iter().chain(&changes.surplus).copied().collect();
        if !stopped.is_empty() {
            run.handles.retain(|name, started| {
                let keep = !stopped.contains(&leases.shard_of(name));
                if !keep {
                    tracing::info!(%name, "shard handed over: the rollout stops where it is");
                    started.handle.abort();
                }
                keep
            });
            // Let the aborted tasks end before the leases go, so no write of theirs follows.
            self.join_stopped(run).await;
            leases.release(&changes.surplus).await;
        }
        if !changes.gained.is_empty() {
            // Only the gained shards' declarations: a held shard's ended rollouts are not run
            // (and reported) again.
            let gained: Vec<(String, Box<RolloutSpec>)> = run
                .known
                .iter()
                .filter(|(name, _)| changes.gained.contains(&leases.shard_of(name)))
                .map(|(n, s)| (n.clone(), s.clone()))
                .collect();
            let owner = Owner::Leased(leases);
            for (name, spec) in gained {
                self.start(name, spec, &owner, run);
            }
        }
    }

    fn take(&self, declared: Declared, owner: &Owner<'_>, run: &mut Running) {
        match declared {
            Declared::Rollout { name, spec } => {
                run.known.insert(name.clone(), spec.clone());
                if owner.owns(&name) {
                    self.start(name, spec, owner, run);
                }
            }
            Declared::Invalid { name, error } => {
                run.known.remove(&name);
                if owner.owns(&name) {
                    tracing::warn!(%name, %error, "declaration refused");
                    self.tell(&name, Err(&error));
                    run.report.failed.insert(name, error);
                }
            }
            Declared::Removed { name } => {
                run.known.remove(&name);
                if let Some(started) = run.handles.remove(&name) {
                    started.handle.abort();
                    tracing::warn!(%name, service = %started.service, "declaration removed: its rollout stops where it is (the weights hold) and is released");
                    run.releasing.push((started.service, started.runner));
                    run.report.removed.push(name);
                }
            }
        }
    }

    fn start(&self, name: String, spec: Box<RolloutSpec>, owner: &Owner<'_>, run: &mut Running) {
        if run.handles.contains_key(&name) {
            return;
        }
        let (service, runner) = (spec.service.clone(), owner.runner(&self.runner, &name));
        let rollout = match Rollout::new(self.mesh.clone(), *spec, &runner) {
            Ok(r) => r.once(),
            Err(e) => {
                let error = e.with_causes();
                self.tell(&name, Err(&error));
                run.report.failed.insert(name, error);
                return;
            }
        };
        let rollout = match &self.metrics {
            Some(m) => rollout.with_metrics(Arc::clone(m)),
            None => rollout,
        };
        let rollout = match &self.observer {
            Some(observe) => {
                let (observe, declared) = (Arc::clone(observe), name.clone());
                rollout.with_observer(move |event| observe(&declared, event))
            }
            None => rollout,
        };
        tracing::info!(%name, "rollout declared");
        let task_name = name.clone();
        let handle = run.tasks.spawn(async move {
            let result = rollout.run().await.map(|r| r.outcome);
            (task_name, result)
        });
        run.handles.insert(
            name,
            Started {
                handle,
                service,
                runner,
            },
        );
    }
}

/// A rollout task the controller started.
struct Started {
    handle: AbortHandle,
    /// The service it rolls out, and the runner name it holds the rollout under.
    service: ServiceId,
    runner: String,
}

/// What a controller run tracks.
#[derive(Default)]
struct Running {
    report: ControllerReport,
    /// The running rollouts by declaration name.
    handles: HashMap<String, Started>,
    /// Rollouts stopped because their declaration was removed, to release (service, runner).
    releasing: Vec<(ServiceId, String)>,
    tasks: JoinSet<(String, Result<Outcome>)>,
    /// The latest valid declaration of every name, of every shard: a shard taken over later
    /// starts its rollouts from here.
    known: BTreeMap<String, Box<RolloutSpec>>,
}

/// Which declarations a controller runs, and under which runner name.
enum Owner<'a> {
    /// A fixed shard, as the controller's runner.
    Static(Shard),
    /// The shards held in leases, each as `<runner>-shard-<index>`.
    Leased(&'a mut ShardLeases),
}

impl Owner<'_> {
    fn owns(&self, name: &str) -> bool {
        match self {
            Self::Static(shard) => shard.owns(name),
            Self::Leased(leases) => leases.owns(name),
        }
    }

    fn runner(&self, base: &str, name: &str) -> String {
        match self {
            Self::Static(_) => base.to_owned(),
            Self::Leased(leases) => format!("{base}-shard-{}", leases.shard_of(name)),
        }
    }

    fn renew_every(&self) -> std::time::Duration {
        match self {
            // Never ticks: the branch is disabled.
            Self::Static(_) => std::time::Duration::from_secs(3600),
            Self::Leased(leases) => leases.renew_every(),
        }
    }
}
