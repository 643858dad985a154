//! The rollout's progress, kept on the control plane so that a restarted runner resumes and a
//! second runner is refused.

use serde::{Deserialize, Serialize};

use crate::{Outcome, RolloutEvent, RolloutSpec, Stage};

/// Decisions kept in the stored state (a 50-stage canary makes about 100).
pub const MAX_STORED_EVENTS: usize = 128;

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The persisted record (JSON in an annotation or a Consul KV entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutState {
    /// Who runs the rollout; only this runner may resume it.
    pub runner: String,
    /// The spec being run.
    pub spec: RolloutSpec,
    /// The stage being worked on.
    pub stage: usize,
    /// True once the current stage's traffic change has landed.
    pub stage_applied: bool,
    /// Failed analyses at the current stage.
    pub failed_checks: u32,
    /// Inconclusive analyses in a row.
    pub inconclusive: u32,
    /// `None` while running.
    pub outcome: Option<Outcome>,
    /// The latest decisions, at most [`MAX_STORED_EVENTS`]: every save writes the state whole, so
    /// an unbounded history would make a long rollout's writes grow with every stage. The full
    /// history is the rollout's event stream.
    pub events: Vec<RolloutEvent>,
    /// Decisions dropped from the front of `events` to keep it bounded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_events: usize,
    /// Traffic changes so far.
    pub traffic_changes: usize,
    /// Paused by an operator (`meshctl rollout pause`): the runner keeps the current weights and
    /// advances no stage until resumed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// The runner let go of the rollout (it was interrupted) and left traffic as it was: any
    /// runner with the same spec may resume it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
    /// An operator's request to end the rollout now; the runner carries it out at its next step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<Request>,
}

/// What an operator asked a running rollout to do (`meshctl rollout promote|abort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Request {
    /// Send all traffic to the canary and end as promoted.
    Promote,
    /// Send all traffic to the stable version and end as rolled back.
    Abort,
}

impl Request {
    /// How a rollout ended this way ends.
    pub fn outcome(self) -> crate::Outcome {
        match self {
            Self::Promote => crate::Outcome::Promoted,
            Self::Abort => crate::Outcome::RolledBack,
        }
    }
}

impl RolloutState {
    /// A fresh record.
    pub fn start(runner: &str, spec: RolloutSpec) -> Self {
        Self {
            runner: runner.to_owned(),
            spec,
            stage: 0,
            stage_applied: false,
            failed_checks: 0,
            inconclusive: 0,
            outcome: None,
            events: Vec::new(),
            dropped_events: 0,
            traffic_changes: 0,
            paused: false,
            released: false,
            requested: None,
        }
    }

    /// Appends a decision, dropping the oldest beyond [`MAX_STORED_EVENTS`].
    pub fn record(&mut self, event: RolloutEvent) {
        self.events.push(event);
        if self.events.len() > MAX_STORED_EVENTS {
            let excess = self.events.len() - MAX_STORED_EVENTS;
            self.events.drain(..excess);
            self.dropped_events += excess;
        }
    }

    /// True while the rollout has not ended.
    pub fn is_running(&self) -> bool {
        self.outcome.is_none()
    }

    /// True when no runner will act on the rollout and an operator's promote or abort is carried
    /// out on the spot: it was released (its runner let go), or it ended held (traffic still
    /// split, waiting for a decision).
    pub fn awaits_operator(&self) -> bool {
        (self.is_running() && self.released) || self.outcome == Some(Outcome::Held)
    }

    /// The canary's traffic as this state records it: all of it once promoted, none once rolled
    /// back, and otherwise that of the last stage whose change landed (none before the first;
    /// all past the last, the promotion), which is also what a held or released rollout leaves
    /// in place.
    ///
    /// ```
    /// use mesh_rollout::{Outcome, RolloutSpec, RolloutState, Stage, Strategy};
    /// let spec = RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[10, 50]).unwrap()).unwrap();
    /// let mut st = RolloutState::start("ci", spec);
    /// assert_eq!(st.traffic(), Stage::Weight(0));
    /// st.stage_applied = true;
    /// assert_eq!(st.traffic(), Stage::Weight(10));
    /// st.stage = 1;
    /// st.stage_applied = false; // the second stage's change has not landed yet
    /// assert_eq!(st.traffic(), Stage::Weight(10));
    /// st.outcome = Some(Outcome::Promoted);
    /// assert_eq!(st.traffic(), Stage::Weight(100));
    /// ```
    pub fn traffic(&self) -> Stage {
        match self.outcome {
            Some(Outcome::Promoted) => return Stage::Weight(100),
            Some(Outcome::RolledBack) => return Stage::Weight(0),
            Some(Outcome::Held) | None => {}
        }
        let landed = if self.stage_applied {
            Some(self.stage)
        } else {
            self.stage.checked_sub(1)
        };
        // Past the last stage comes the promotion: all traffic to the canary.
        landed.map_or(Stage::Weight(0), |i| {
            self.spec.stages().get(i).copied().unwrap_or(Stage::Weight(100))
        })
    }
}
