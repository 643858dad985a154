//! What a rollout decided, step by step, with the numbers behind each decision.

use mesh::observe::{Judgement, SloReport, Verdict};
use serde::{Deserialize, Serialize};

use crate::Stage;

/// How a rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The canary holds 100 % of the traffic.
    Promoted,
    /// The stable version holds 100 % again.
    RolledBack,
    /// The rollout stopped where it was, without rolling back: too little data, or a gate said no.
    Held,
}

/// One analysis and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The verdict.
    pub verdict: Verdict,
    /// Requests seen on the canary and on stable in the window.
    pub requests: (f64, f64),
    /// The comparative judgement, when stable had enough traffic to compare against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgement: Option<Judgement>,
    /// The canary's SLO check, when objectives were set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloReport>,
    /// The custom metrics' values and verdicts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<crate::MetricCheck>,
    /// Why, in plain words.
    pub reasons: Vec<String>,
}

/// A decision, as published on the rollout's event stream and kept in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RolloutEvent {
    /// A stage's traffic change landed.
    StageApplied {
        /// The stage's index.
        index: usize,
        /// The stage.
        stage: Stage,
    },
    /// A stage was analyzed.
    Analyzed {
        /// The stage's index.
        index: usize,
        /// The stage.
        stage: Stage,
        /// The analysis.
        analysis: Box<Analysis>,
    },
    /// A gate held the rollout back.
    GateClosed {
        /// The stage's index.
        index: usize,
        /// The gate's name.
        gate: String,
        /// Its reason.
        reason: String,
    },
    /// The rollout ended.
    Finished {
        /// How.
        outcome: Outcome,
        /// Why.
        reason: String,
    },
}

/// The final report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutReport {
    /// How it ended.
    pub outcome: Outcome,
    /// Every decision, in order (including the ones of an earlier, resumed run).
    pub events: Vec<RolloutEvent>,
    /// How many traffic writes the rollout made (plans applied), for the write-count budget.
    pub traffic_changes: usize,
}
