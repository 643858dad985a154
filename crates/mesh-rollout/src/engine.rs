//! The rollout loop: plan → apply → wait → analyze → promote, hold or roll back.

use std::{sync::Arc, time::SystemTime};

use mesh::{
    Change, Error, Mesh, Result, RouteRule, ServiceRoutes, StateKey, TimeRange, TrafficSplit, VersionWeight,
    observe::Verdict,
};
use tokio::sync::broadcast;

use crate::{
    Analysis, Gate, GateContext, GatePoint, MetricsSource, Outcome, Request, RolloutEvent, RolloutReport,
    RolloutSpec, Stage, Strategy, analyze, lifecycle, state::RolloutState,
};

/// A rollout of one service, ready to run.
///
/// Time comes from tokio's clock, so tests run a long rollout in milliseconds with
/// `tokio::time::pause()`. Progress is kept on the control plane after every decision: a restarted
/// runner with the same name resumes, and any other runner is refused with [`Error::Conflict`].
pub struct Rollout {
    mesh: Mesh,
    spec: RolloutSpec,
    runner: String,
    metrics: Arc<dyn MetricsSource>,
    gates: Vec<Arc<dyn Gate>>,
    /// Made on the first [`Rollout::subscribe`]: a rollout nobody watches (a controller runs
    /// thousands) carries no channel buffer.
    events: std::sync::OnceLock<broadcast::Sender<RolloutEvent>>,
    /// Told of every decision as it is made ([`Rollout::with_observer`]).
    observers: Vec<Observer>,
    clock: Clock,
    /// A finished rollout of the same spec is reported as it ended, not started again.
    once: bool,
}

/// Decisions a slow subscriber may fall behind by before it starts losing the oldest.
const EVENT_BUFFER: usize = 256;

/// A function told of every decision, synchronously, as it is made.
type Observer = Arc<dyn Fn(&RolloutEvent) + Send + Sync>;

/// Wall-clock time as the rollout sees it: a fixed start plus tokio's elapsed time, so that a
/// paused tokio clock moves the metrics windows too.
#[derive(Debug, Clone, Copy)]
struct Clock {
    wall: SystemTime,
    instant: tokio::time::Instant,
}

impl Clock {
    fn starting_at(wall: SystemTime) -> Self {
        Self {
            wall,
            instant: tokio::time::Instant::now(),
        }
    }

    fn now(&self) -> SystemTime {
        self.wall + self.instant.elapsed()
    }
}

impl std::fmt::Debug for Rollout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollout")
            .field("spec", &self.spec)
            .field("runner", &self.runner)
            .finish_non_exhaustive()
    }
}

impl Rollout {
    /// A rollout run by `runner` (a stable name: a restarted process must use the same one to resume).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the spec is invalid; nothing is written.
    pub fn new(mesh: Mesh, spec: RolloutSpec, runner: &str) -> Result<Self> {
        spec.validate()?;
        if runner.trim().is_empty() {
            return Err(Error::invalid("runner", "must not be empty"));
        }
        let metrics: Arc<dyn MetricsSource> = Arc::new(mesh.clone());
        Ok(Self {
            mesh,
            spec,
            runner: runner.to_owned(),
            metrics,
            gates: Vec::new(),
            events: std::sync::OnceLock::new(),
            observers: Vec::new(),
            clock: Clock::starting_at(SystemTime::now()),
            once: false,
        })
    }

    /// Treats `start` as the wall-clock time of this moment; metrics windows then advance with
    /// tokio's clock. With `tokio::time::pause()`, a test replays a rollout over recorded data.
    #[must_use]
    pub fn with_start_time(mut self, start: SystemTime) -> Self {
        self.clock = Clock::starting_at(start);
        self
    }

    /// Reads metrics from `source` instead of the mesh.
    #[must_use]
    pub fn with_metrics(mut self, source: Arc<dyn MetricsSource>) -> Self {
        self.metrics = source;
        self
    }

    /// Runs the spec at most once: when the stored state shows this very spec finished,
    /// [`run`](Self::run) reports that ending and writes nothing, where by default a finished
    /// rollout is started again. A controller, which meets its declarations again after every
    /// restart, runs each rollout once this way.
    ///
    /// ```
    /// use mesh::{Mesh, MeshKind};
    /// use mesh_rollout::{Rollout, RolloutSpec, Strategy};
    /// let spec = RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[10, 50])?)?;
    /// let rollout = Rollout::new(Mesh::fake(MeshKind::Istio), spec, "controller")?.once();
    /// # let _ = rollout;
    /// # Ok::<(), mesh::Error>(())
    /// ```
    #[must_use]
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// Adds a gate.
    #[must_use]
    pub fn with_gate(mut self, gate: Arc<dyn Gate>) -> Self {
        self.gates.push(gate);
        self
    }

    /// The decisions as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<RolloutEvent> {
        self.events
            .get_or_init(|| broadcast::channel(EVENT_BUFFER).0)
            .subscribe()
    }

    /// Calls `observer` with every decision, in order, as it is made: what a recorder of
    /// decisions elsewhere (Kubernetes Events, a log) hooks into, with no channel and no task.
    /// The call is synchronous and on the rollout's path, so an observer must return at once
    /// (hand the event to a bounded queue, as `mesh_kube::events::EventRecorder` does): it is
    /// what the rollout waits for. It returns nothing, so it cannot fail the rollout.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use mesh::{Mesh, MeshKind};
    /// use mesh_rollout::{Rollout, RolloutSpec, Strategy};
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let spec = RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[10, 50])?)?;
    /// let rollout = Rollout::new(Mesh::fake(MeshKind::Istio), spec, "ci")?
    ///     .with_observer(move |event| log.lock().unwrap().push(event.reason()));
    /// # let _ = rollout;
    /// # Ok::<(), mesh::Error>(())
    /// ```
    #[must_use]
    pub fn with_observer(mut self, observer: impl Fn(&RolloutEvent) + Send + Sync + 'static) -> Self {
        self.observers.push(Arc::new(observer));
        self
    }

    /// Tells the observers of `event`, then sends it to the subscribers, if any ever subscribed.
    fn announce(&self, event: RolloutEvent) {
        for observer in &self.observers {
            observer(&event);
        }
        if let Some(tx) = self.events.get() {
            // A send error only means every subscriber has gone.
            let _ = tx.send(event);
        }
    }

    /// The change each stage applies, in order, then the promotion: what a render target prints.
    pub fn planned_changes(&self) -> Vec<Change> {
        let stages = self.spec.stages();
        let mut out: Vec<Change> = stages.iter().map(|s| self.stage_change(*s)).collect();
        if stages.last() != Some(&Stage::Weight(100)) {
            out.push(self.all_to(true));
        }
        out
    }

    /// The key the rollout's progress is kept under.
    ///
    /// # Errors
    /// Never for a valid spec.
    pub fn state_key(&self) -> Result<StateKey> {
        StateKey::new(self.spec.service.clone(), "rollout")
    }

    /// Runs the rollout to its end: promoted, rolled back or held.
    ///
    /// A run that stops on an error lets go of the rollout it holds: when none of its traffic
    /// changes landed (a missing service, a refused object, a plan none of whose writes
    /// applied), its state is deleted, as nothing happened; otherwise the rollout is released
    /// (the weights hold, any runner with the same spec resumes it, an operator may end it at
    /// once).
    ///
    /// # Errors
    /// [`Error::Conflict`] when another runner owns the rollout; [`Error::NotConfigured`] when there is
    /// no metrics source; backend errors from traffic changes (the rollout can be resumed).
    pub async fn run(&self) -> Result<RolloutReport> {
        match self.drive().await {
            Ok(report) | Err(Halt::Ended(report)) => Ok(report),
            Err(Halt::Failed(e)) => {
                // Nothing of the failed change landed: a refusal, or a plan whose writes were
                // all read back as not applied. A transient error may have landed unseen.
                let nothing_landed = match &e {
                    Error::PartiallyApplied { applied, .. } => applied.is_empty(),
                    other => !other.is_transient(),
                };
                crate::lifecycle::let_go(&self.mesh, &self.spec.service, &self.runner, nothing_landed).await;
                Err(e)
            }
        }
    }

    async fn drive(&self) -> std::result::Result<RolloutReport, Halt> {
        let key = self.state_key()?;
        let (mut st, mut version) = self.acquire(&key).await?;
        if let Some(outcome) = st.outcome {
            // Only with `once`: this spec already ran to its end.
            return Ok(RolloutReport {
                outcome,
                events: st.events,
                traffic_changes: st.traffic_changes,
            });
        }
        let stages = self.spec.stages();
        while st.stage < stages.len() {
            self.obey_operator(&key, &mut st, &mut version).await?;
            let stage = stages[st.stage];
            if !st.stage_applied {
                if let Some(reason) = self.gates_closed(GatePoint::PreStage, &st, stage).await {
                    if let Some(report) = self.hold_or_wait(&key, &mut st, &mut version, reason).await? {
                        return Ok(report);
                    }
                    continue;
                }
                self.mesh.execute(self.stage_change(stage)).await?;
                st.traffic_changes += 1;
                st.stage_applied = true;
                let index = st.stage;
                self.record(&mut st, RolloutEvent::StageApplied { index, stage });
                version = self.save(&key, &mut st, &version).await?;
            }
            tokio::time::sleep(self.spec.interval).await;
            let analysis = self.analyze_window().await?;
            let verdict = analysis.verdict;
            let index = st.stage;
            self.record(
                &mut st,
                RolloutEvent::Analyzed {
                    index,
                    stage,
                    analysis: Box::new(analysis),
                },
            );
            match verdict {
                Verdict::Pass => {
                    st.stage += 1;
                    st.stage_applied = false;
                    st.failed_checks = 0;
                    st.inconclusive = 0;
                    // No save of its own: the next state write (the next stage's, a closed
                    // gate's, or the end's) records this analysis too, so a steady stage costs
                    // one route write and one state write. A runner killed before that write
                    // analyses this stage again on resume, and re-plans the next stage's
                    // weights, which it then finds in place.
                    continue;
                }
                Verdict::Inconclusive => {
                    st.inconclusive += 1;
                    if st.inconclusive >= self.spec.max_inconclusive {
                        let reason = format!(
                            "{} inconclusive analyses in a row; traffic left as is",
                            st.inconclusive
                        );
                        return Ok(self.finish(&key, st, &version, Outcome::Held, reason).await?);
                    }
                }
                Verdict::Fail => {
                    st.failed_checks += 1;
                    if st.failed_checks >= self.spec.failure_threshold {
                        self.mesh.execute(self.all_to(false)).await?;
                        st.traffic_changes += 1;
                        // Stages count from 1 here, as `stage N of M` and the events do.
                        let reason =
                            format!("{} failed analyses at stage {}", st.failed_checks, st.stage + 1);
                        return Ok(self
                            .finish(&key, st, &version, Outcome::RolledBack, reason)
                            .await?);
                    }
                }
            }
            version = self.save(&key, &mut st, &version).await?;
        }
        self.obey_operator(&key, &mut st, &mut version).await?;
        loop {
            let last = stages.last().copied().unwrap_or(Stage::Weight(100));
            match self.gates_closed(GatePoint::ConfirmPromotion, &st, last).await {
                None => break,
                Some(reason) => {
                    if let Some(report) = self.hold_or_wait(&key, &mut st, &mut version, reason).await? {
                        return Ok(report);
                    }
                }
            }
        }
        if stages.last() != Some(&Stage::Weight(100)) {
            self.mesh.execute(self.all_to(true)).await?;
            st.traffic_changes += 1;
        }
        Ok(self
            .finish(&key, st, &version, Outcome::Promoted, "every stage passed".into())
            .await?)
    }

    /// Carries out what an operator asked through the stored state: a promote or abort request
    /// ends the rollout now; a pause holds the current weights, re-reading the state every
    /// interval, until resumed.
    async fn obey_operator(
        &self,
        key: &StateKey,
        st: &mut RolloutState,
        version: &mut String,
    ) -> std::result::Result<(), Halt> {
        loop {
            if let Some(what) = st.requested {
                self.mesh
                    .execute(lifecycle::final_change(&self.spec, what))
                    .await?;
                st.traffic_changes += 1;
                let reason = format!("{} on an operator's request", lifecycle::past_tense(what));
                let report = self
                    .finish(key, st.clone(), version, what.outcome(), reason)
                    .await?;
                return Err(Halt::Ended(report));
            }
            if !st.paused {
                return Ok(());
            }
            tokio::time::sleep(self.spec.interval).await;
            self.adopt_stored(key, st, version).await?;
        }
    }

    /// Takes what operators changed in the stored state (pause, requests, an end) into `st`.
    async fn adopt_stored(
        &self,
        key: &StateKey,
        st: &mut RolloutState,
        version: &mut String,
    ) -> std::result::Result<(), Halt> {
        let Some((stored, stored_version)) = lifecycle::read(&self.mesh, key).await? else {
            return Err(Halt::Failed(Error::NotFound {
                kind: "rollout state".into(),
                name: key.to_string(),
            }));
        };
        if stored.runner != self.runner {
            return Err(Halt::Failed(Error::Conflict {
                object: key.to_string(),
                owner: stored.runner,
                field: "rollout (taken over by another runner)".into(),
            }));
        }
        if let Some(outcome) = stored.outcome {
            return Err(Halt::Ended(RolloutReport {
                outcome,
                events: stored.events,
                traffic_changes: stored.traffic_changes,
            }));
        }
        st.paused = stored.paused;
        st.requested = stored.requested;
        *version = stored_version;
        Ok(())
    }

    async fn acquire(&self, key: &StateKey) -> Result<(RolloutState, String)> {
        let fresh = RolloutState::start(&self.runner, self.spec.clone());
        match self.mesh.read_state(key).await? {
            None => {
                let v = self
                    .mesh
                    .write_state(key, &to_json(&fresh)?, None)
                    .await
                    .map_err(|e| self.taken(key, e))?;
                Ok((fresh, v))
            }
            Some(stored) => {
                let existing: Option<RolloutState> = serde_json::from_str(&stored.value).ok();
                match existing {
                    Some(mut s) if s.is_running() && s.released && s.spec == self.spec => {
                        // Let go by an interrupted runner: this one takes it over where it stopped.
                        tracing::info!(stage = s.stage, previous = %s.runner, "resuming a released rollout");
                        s.runner = self.runner.clone();
                        s.released = false;
                        let v = self
                            .mesh
                            .write_state(key, &to_json(&s)?, Some(&stored.version))
                            .await
                            .map_err(|e| self.taken(key, e))?;
                        Ok((s, v))
                    }
                    // Let go, but of another spec: neither this runner's nor anyone's to resume.
                    Some(s) if s.is_running() && s.released => Err(Error::Conflict {
                        object: key.to_string(),
                        owner: format!("{} (released)", s.runner),
                        field: "rollout (a released rollout of this service with a different spec: \
                                run that spec to resume it, or end it with `rollout promote` or `rollout abort`)"
                            .into(),
                    }),
                    Some(s) if s.is_running() && s.runner != self.runner => Err(Error::Conflict {
                        object: key.to_string(),
                        owner: s.runner,
                        field: "rollout (another runner is rolling this service out)".into(),
                    }),
                    Some(s) if s.is_running() && s.spec == self.spec => {
                        tracing::info!(stage = s.stage, "resuming rollout");
                        Ok((s, stored.version))
                    }
                    Some(s) if s.is_running() => Err(Error::Conflict {
                        object: key.to_string(),
                        owner: s.runner,
                        field: "rollout (a different rollout of this service is in progress)".into(),
                    }),
                    Some(s) if self.once && s.spec == self.spec => Ok((s, stored.version)),
                    _ => {
                        let v = self
                            .mesh
                            .write_state(key, &to_json(&fresh)?, Some(&stored.version))
                            .await
                            .map_err(|e| self.taken(key, e))?;
                        Ok((fresh, v))
                    }
                }
            }
        }
    }

    fn taken(&self, key: &StateKey, e: Error) -> Error {
        match e {
            Error::Conflict { .. } => Error::Conflict {
                object: key.to_string(),
                owner: "another runner".into(),
                field: "rollout (claimed at the same time)".into(),
            },
            other => other,
        }
    }

    /// Saves `st` over `version`. When an operator wrote in between (pause, resume, a request,
    /// an end), adopts it and saves again; the rollout halts when it was ended.
    async fn save(
        &self,
        key: &StateKey,
        st: &mut RolloutState,
        version: &str,
    ) -> std::result::Result<String, Halt> {
        let mut version = version.to_owned();
        for _ in 0..SAVE_ATTEMPTS {
            match self.mesh.write_state(key, &to_json(st)?, Some(&version)).await {
                Err(Error::Conflict { .. }) => self.adopt_stored(key, st, &mut version).await?,
                other => return Ok(other?),
            }
        }
        Err(Halt::Failed(Error::Conflict {
            object: key.to_string(),
            owner: "an operator".into(),
            field: "rollout (the state kept changing)".into(),
        }))
    }

    async fn finish(
        &self,
        key: &StateKey,
        mut st: RolloutState,
        version: &str,
        outcome: Outcome,
        reason: String,
    ) -> Result<RolloutReport> {
        st.outcome = Some(outcome);
        st.requested = None;
        st.paused = false;
        self.record(&mut st, RolloutEvent::Finished { outcome, reason });
        self.mesh.write_state(key, &to_json(&st)?, Some(version)).await?;
        Ok(RolloutReport {
            outcome,
            events: st.events,
            traffic_changes: st.traffic_changes,
        })
    }

    /// Counts a closed gate as an inconclusive round: waits one interval, or holds for good once
    /// `max_inconclusive` is reached.
    async fn hold_or_wait(
        &self,
        key: &StateKey,
        st: &mut RolloutState,
        version: &mut String,
        reason: String,
    ) -> std::result::Result<Option<RolloutReport>, Halt> {
        st.inconclusive += 1;
        if st.inconclusive >= self.spec.max_inconclusive {
            let report = self
                .finish(key, st.clone(), version, Outcome::Held, reason)
                .await?;
            return Ok(Some(report));
        }
        *version = self.save(key, st, version).await?;
        tokio::time::sleep(self.spec.interval).await;
        Ok(None)
    }

    async fn gates_closed(&self, point: GatePoint, st: &RolloutState, stage: Stage) -> Option<String> {
        let cx = GateContext {
            point,
            spec: &self.spec,
            index: st.stage,
            stage,
        };
        for gate in &self.gates {
            if let Err(reason) = gate.check(&cx).await {
                self.announce(RolloutEvent::GateClosed {
                    index: st.stage,
                    gate: gate.name(),
                    reason: reason.clone(),
                });
                return Some(reason);
            }
        }
        None
    }

    async fn analyze_window(&self) -> Result<Analysis> {
        let now = self.clock.now();
        let range = TimeRange::ending_at(now, self.spec.interval)?;
        let mut analysis = match self.metrics.metrics(&self.spec.service, range).await {
            Ok(m) => analyze(&self.spec, &m),
            Err(e @ Error::NotConfigured { .. }) => return Err(e),
            Err(e) => Analysis {
                verdict: Verdict::Inconclusive,
                requests: (0.0, 0.0),
                judgement: None,
                slo: None,
                metrics: Vec::new(),
                reasons: vec![format!("metrics unavailable: {e}")],
            },
        };
        // Custom metrics count only once the built-in analysis has enough traffic to judge: a
        // window too small to judge stays inconclusive whatever they say.
        if analysis.verdict == Verdict::Inconclusive && analysis.judgement.is_none() && analysis.slo.is_none()
        {
            return Ok(analysis);
        }
        for metric in &self.spec.metrics {
            let check = match self.metrics.query(&metric.render(&self.spec), now).await {
                Ok(value) => metric.judge(value),
                Err(e @ Error::NotConfigured { .. }) => return Err(e),
                Err(e) => {
                    analysis.reasons.push(format!("metric {}: {e}", metric.name));
                    metric.judge(None)
                }
            };
            let range = match (metric.min, metric.max) {
                (Some(lo), Some(hi)) => format!("within {lo}..={hi}"),
                (Some(lo), None) => format!("at least {lo}"),
                (_, hi) => format!("at most {}", hi.unwrap_or_default()),
            };
            analysis.reasons.push(match check.value {
                Some(v) => format!(
                    "metric {} = {v}, must be {range}: {:?}",
                    metric.name, check.verdict
                ),
                None => format!("metric {}: no data", metric.name),
            });
            analysis.verdict = match (analysis.verdict, check.verdict) {
                (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
                (Verdict::Inconclusive, _) | (_, Verdict::Inconclusive) => Verdict::Inconclusive,
                _ => Verdict::Pass,
            };
            analysis.metrics.push(check);
        }
        Ok(analysis)
    }

    fn record(&self, st: &mut RolloutState, event: RolloutEvent) {
        tracing::info!(?event, "rollout decision");
        self.announce(event.clone());
        st.record(event);
    }

    fn stage_change(&self, stage: Stage) -> Change {
        match (stage, &self.spec.strategy) {
            (Stage::Match, Strategy::AbTest { matches, .. }) => Change::CreateVirtualService(ServiceRoutes {
                service: self.spec.service.clone(),
                rules: vec![
                    RouteRule {
                        matches: matches.clone(),
                        ..RouteRule::to(TrafficSplit::all_to(self.spec.canary.clone()))
                    },
                    RouteRule::to(TrafficSplit::all_to(self.spec.stable.clone())),
                ],
            }),
            (Stage::Weight(100), _) => self.all_to(true),
            (Stage::Weight(w), _) => self.weighted(w),
            (Stage::Match, _) => self.weighted(0),
        }
    }

    fn weighted(&self, canary_weight: u8) -> Change {
        let weights = vec![
            VersionWeight {
                version: self.spec.stable.clone(),
                weight: 100 - canary_weight,
            },
            VersionWeight {
                version: self.spec.canary.clone(),
                weight: canary_weight,
            },
        ];
        // Both versions are distinct and the weights sum to 100, so the split is valid.
        let split =
            TrafficSplit::new(weights).unwrap_or_else(|_| TrafficSplit::all_to(self.spec.stable.clone()));
        Change::SetTrafficWeight {
            service: self.spec.service.clone(),
            split,
        }
    }

    fn all_to(&self, canary: bool) -> Change {
        let what = if canary { Request::Promote } else { Request::Abort };
        lifecycle::final_change(&self.spec, what)
    }
}

use crate::lifecycle::to_json;

/// Saves retried after adopting an operator's concurrent change.
const SAVE_ATTEMPTS: usize = 5;

/// Why the rollout loop stops early: an error, or an end an operator asked for.
enum Halt {
    Failed(Error),
    Ended(RolloutReport),
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}
