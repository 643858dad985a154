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

impl RolloutEvent {
    /// The decision in one PascalCase word, as Kubernetes Events name their reason:
    /// `StageApplied`, `AnalysisPassed`, `AnalysisInconclusive`, `AnalysisFailed`, `GateClosed`,
    /// `Promoted`, `RolledBack` or `Held`.
    ///
    /// ```
    /// use mesh_rollout::{Outcome, RolloutEvent};
    /// let end = RolloutEvent::Finished { outcome: Outcome::RolledBack, reason: "2 failed analyses at stage 1".into() };
    /// assert_eq!(end.reason(), "RolledBack");
    /// assert!(end.is_warning());
    /// assert_eq!(end.summary(), "rolled back: 2 failed analyses at stage 1");
    /// ```
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::StageApplied { .. } => "StageApplied",
            Self::Analyzed { analysis, .. } => match analysis.verdict {
                Verdict::Pass => "AnalysisPassed",
                Verdict::Inconclusive => "AnalysisInconclusive",
                Verdict::Fail => "AnalysisFailed",
            },
            Self::GateClosed { .. } => "GateClosed",
            Self::Finished { outcome, .. } => match outcome {
                Outcome::Promoted => "Promoted",
                Outcome::RolledBack => "RolledBack",
                Outcome::Held => "Held",
            },
        }
    }

    /// True for what calls for a look: a failed analysis, a rollback, a rollout held for good.
    #[must_use]
    pub fn is_warning(&self) -> bool {
        matches!(self.reason(), "AnalysisFailed" | "RolledBack" | "Held")
    }

    /// The stage the decision is about (from 0), `None` for the end.
    #[must_use]
    pub fn stage_index(&self) -> Option<usize> {
        match self {
            Self::StageApplied { index, .. }
            | Self::Analyzed { index, .. }
            | Self::GateClosed { index, .. } => Some(*index),
            Self::Finished { .. } => None,
        }
    }

    /// One line with the numbers behind the decision, e.g. `stage 2 (20 % to the canary):
    /// Pass; canary 120 requests, stable 980; canary SLO: Met`.
    #[must_use]
    pub fn summary(&self) -> String {
        let stage = |index: usize, stage: &Stage| match stage {
            Stage::Weight(w) => format!("stage {} ({w} % to the canary)", index + 1),
            Stage::Match => format!("stage {} (matching requests to the canary)", index + 1),
        };
        match self {
            Self::StageApplied { index, stage: s } => format!("{}: applied", stage(*index, s)),
            Self::Analyzed {
                index,
                stage: s,
                analysis,
            } => {
                let mut line = format!(
                    "{}: {:?}; canary {} requests, stable {}",
                    stage(*index, s),
                    analysis.verdict,
                    analysis.requests.0,
                    analysis.requests.1
                );
                for reason in &analysis.reasons {
                    line.push_str("; ");
                    line.push_str(reason);
                }
                line
            }
            Self::GateClosed { index, gate, reason } => {
                format!("stage {}: gate {gate} closed: {reason}", index + 1)
            }
            Self::Finished { outcome, reason } => {
                let outcome = match outcome {
                    Outcome::Promoted => "promoted",
                    Outcome::RolledBack => "rolled back",
                    Outcome::Held => "held",
                };
                format!("{outcome}: {reason}")
            }
        }
    }
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
