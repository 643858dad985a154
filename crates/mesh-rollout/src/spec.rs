//! What a rollout does: the service, the versions, the strategy and the analysis thresholds.

use std::time::Duration;

use mesh::{
    Error, RequestMatch, ServiceId, Version,
    observe::{JudgeSettings, Slo},
    patterns::Schedule,
};
use serde::{Deserialize, Serialize};

/// The longest stage interval accepted.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The shortest stage interval accepted: each interval is one analysis (a few metrics queries)
/// and its metrics window, and a window shorter than a second holds no samples.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The largest count accepted for A/B iterations, failure thresholds and inconclusive analyses.
pub const MAX_COUNT: u32 = 1000;

/// How traffic moves from the stable version to the canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "snake_case")]
pub enum Strategy {
    /// Weighted steps (Flagger's `stepWeight`/`maxWeight`, or an explicit list), then promotion to
    /// 100 %.
    Canary {
        /// The canary's weight at each step, in percent.
        steps: Vec<u8>,
    },
    /// Pre-promotion analysis while the canary gets no production traffic (only preview or smoke
    /// traffic), then a cut-over to 100 %, then one more analysis before the rollout completes.
    BlueGreen,
    /// Requests matching `matches` (a header or cookie) go to the canary, the rest to stable, for
    /// `iterations` analyses; then promotion to 100 %. Needs header matching on the mesh.
    AbTest {
        /// The match blocks that select canary traffic.
        matches: Vec<RequestMatch>,
        /// How many passing analyses are needed before promotion.
        iterations: u32,
    },
}

impl Strategy {
    /// Flagger-style linear steps: `step_weight`, `2 * step_weight`, ... up to `max_weight`.
    ///
    /// ```
    /// use mesh_rollout::Strategy;
    /// assert_eq!(Strategy::step_weight(10, 30).unwrap(), Strategy::Canary { steps: vec![10, 20, 30] });
    /// assert!(Strategy::step_weight(0, 30).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] as [`Schedule::step_weight`].
    pub fn step_weight(step_weight: u8, max_weight: u8) -> Result<Self, Error> {
        let schedule = Schedule::step_weight("stable", "canary", step_weight, max_weight)?;
        Ok(Self::Canary {
            steps: schedule.canary_weights().to_vec(),
        })
    }

    /// Explicit canary weights, e.g. `[1, 2, 10, 80]`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] as [`Schedule::steps`].
    pub fn steps(steps: &[u8]) -> Result<Self, Error> {
        let schedule = Schedule::steps("stable", "canary", steps)?;
        Ok(Self::Canary {
            steps: schedule.canary_weights().to_vec(),
        })
    }
}

/// A rollout of `canary` over `stable` for one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    /// The service whose traffic moves.
    pub service: ServiceId,
    /// The version serving today.
    pub stable: Version,
    /// The version being rolled out.
    pub canary: Version,
    /// How traffic moves.
    pub strategy: Strategy,
    /// How long each step runs before it is analyzed; also the metrics window.
    #[serde(with = "mesh::units::duration_str")]
    pub interval: Duration,
    /// Absolute objectives the canary must meet (checked on the canary alone).
    #[serde(default)]
    pub slo: Slo,
    /// Comparative thresholds (canary against stable), including the minimum sample size.
    #[serde(default)]
    pub judge: JudgeSettings,
    /// Failed analyses at one step before rolling back (Flagger's `threshold`; default 1).
    pub failure_threshold: u32,
    /// Inconclusive analyses in a row before the rollout stops and holds (default 10).
    pub max_inconclusive: u32,
    /// Custom metrics checked on every analysis besides the built-in ones (PromQL templates and
    /// the range each value must stay in).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<crate::CustomMetric>,
}

impl RolloutSpec {
    /// A spec with the defaults: 1 minute interval, no SLO, default judgement (≥ 50 requests),
    /// roll back after 1 failed analysis, hold after 10 inconclusive ones.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bad names.
    pub fn new(service: &str, stable: &str, canary: &str, strategy: Strategy) -> Result<Self, Error> {
        Ok(Self {
            service: service.parse()?,
            stable: Version::new(stable)?,
            canary: Version::new(canary)?,
            strategy,
            interval: Duration::from_secs(60),
            slo: Slo::default(),
            judge: JudgeSettings::default(),
            failure_threshold: 1,
            max_inconclusive: 10,
            metrics: Vec::new(),
        })
    }

    /// Checks the spec before anything is written.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.stable == self.canary {
            return Err(Error::invalid("canary", "must differ from stable"));
        }
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&self.interval) {
            return Err(Error::invalid("interval", "must be within 1s..=24h"));
        }
        if self.failure_threshold == 0 || self.failure_threshold > MAX_COUNT {
            return Err(Error::invalid(
                "failure_threshold",
                format!("must be within 1..={MAX_COUNT}"),
            ));
        }
        if self.max_inconclusive == 0 || self.max_inconclusive > MAX_COUNT {
            return Err(Error::invalid(
                "max_inconclusive",
                format!("must be within 1..={MAX_COUNT}"),
            ));
        }
        // The SLO and the judgement are the safety gate: a value that can never fail (or never
        // pass) would silently promote (or always roll back).
        self.slo
            .validate()
            .map_err(|e| Error::invalid(format!("slo.{}", e.field), e.reason))?;
        self.judge
            .validate()
            .map_err(|e| Error::invalid(format!("judge.{}", e.field), e.reason))?;
        if self.metrics.len() > crate::MAX_METRICS {
            return Err(Error::invalid(
                "metrics",
                format!("at most {} custom metrics", crate::MAX_METRICS),
            ));
        }
        for (i, m) in self.metrics.iter().enumerate() {
            m.validate().map_err(|e| e.in_field(&format!("metrics[{i}]")))?;
            if self.metrics[..i].iter().any(|o| o.name == m.name) {
                return Err(Error::invalid(format!("metrics[{i}].name"), "is given twice"));
            }
        }
        match &self.strategy {
            // The bounds of `Strategy::steps` (and of `--steps`): increasing, within 1..=100.
            Strategy::Canary { steps } => {
                Strategy::steps(steps).map_err(|e| e.in_field("strategy"))?;
            }
            Strategy::AbTest { matches, iterations } => {
                if matches.is_empty() || matches.iter().any(RequestMatch::is_catch_all) {
                    return Err(Error::invalid(
                        "strategy.matches",
                        "A/B needs a header, cookie or path condition",
                    ));
                }
                if *iterations == 0 || *iterations > MAX_COUNT {
                    return Err(Error::invalid(
                        "strategy.iterations",
                        format!("must be within 1..={MAX_COUNT}"),
                    ));
                }
                for (i, m) in matches.iter().enumerate() {
                    m.validate()
                        .map_err(|e| e.in_field(&format!("strategy.matches[{i}]")))?;
                }
            }
            Strategy::BlueGreen => {}
        }
        Ok(())
    }

    /// The stages the rollout walks through, in order.
    pub fn stages(&self) -> Vec<Stage> {
        match &self.strategy {
            Strategy::Canary { steps } => steps.iter().map(|w| Stage::Weight(*w)).collect(),
            Strategy::BlueGreen => vec![Stage::Weight(0), Stage::Weight(100)],
            Strategy::AbTest { iterations, .. } => (0..*iterations).map(|_| Stage::Match).collect(),
        }
    }
}

/// One stage of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The canary gets this share of all traffic.
    Weight(u8),
    /// Matching requests go to the canary.
    Match,
}
