//! Service level objectives and the per-objective verdict.

use serde::{Deserialize, Serialize};

use crate::{
    Sli,
    error::{InvalidSetting, check_range},
};

/// Objectives; every field is optional and only the ones set are checked.
///
/// Availability is in **percent** (the spec's `{availability: 99.9, latencyP99: 200}`), latencies
/// in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Minimum availability in percent, e.g. `99.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<f64>,
    /// Maximum p50 latency in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "latencyP50")]
    pub latency_p50: Option<f64>,
    /// Maximum p90 latency in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "latencyP90")]
    pub latency_p90: Option<f64>,
    /// Maximum p99 latency in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "latencyP99")]
    pub latency_p99: Option<f64>,
    /// Minimum throughput in requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "minThroughputRps")]
    pub min_throughput_rps: Option<f64>,
}

/// The largest latency objective accepted: one hour, in milliseconds.
const MAX_LATENCY_MS: f64 = 3_600_000.0;

impl Slo {
    /// Checks that every objective set can be met and can fail: availability in percent within
    /// `[1, 100]` (a value under 1 is almost surely a fraction such as `0.999`, which would let
    /// a canary with 99 % errors pass), latencies and throughput positive and finite.
    ///
    /// ```
    /// use mesh_observe::Slo;
    /// assert!(Slo { availability: Some(99.9), ..Slo::default() }.validate().is_ok());
    /// for bad in [101.0, -1.0, 0.999, f64::NAN] {
    ///     assert!(Slo { availability: Some(bad), ..Slo::default() }.validate().is_err(), "{bad}");
    /// }
    /// assert!(Slo { latency_p99: Some(0.0), ..Slo::default() }.validate().is_err());
    /// ```
    ///
    /// # Errors
    /// [`InvalidSetting`] naming the first bad objective.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if let Some(a) = self.availability {
            if a.is_finite() && a > 0.0 && a < 1.0 {
                return Err(InvalidSetting::new(
                    "availability",
                    format!("{a} looks like a fraction; availability is in percent, e.g. 99.9"),
                ));
            }
            check_range("availability", a, 1.0, 100.0, false)?;
        }
        for (field, value) in [
            ("latency_p50", self.latency_p50),
            ("latency_p90", self.latency_p90),
            ("latency_p99", self.latency_p99),
        ] {
            if let Some(ms) = value {
                check_range(field, ms, 0.0, MAX_LATENCY_MS, true)?;
            }
        }
        if let Some(rps) = self.min_throughput_rps {
            check_range("min_throughput_rps", rps, 0.0, f64::MAX, true)?;
        }
        Ok(())
    }
}

/// Which objective a verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Availability, percent, higher is better.
    Availability,
    /// p50 latency, ms, lower is better.
    LatencyP50,
    /// p90 latency, ms, lower is better.
    LatencyP90,
    /// p99 latency, ms, lower is better.
    LatencyP99,
    /// Throughput, requests per second, higher is better.
    Throughput,
}

/// The status of one objective, or of all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloStatus {
    /// The measurement meets the target.
    Met,
    /// The measurement misses the target.
    Violated,
    /// Nothing to measure (no traffic, NaN) or the target itself is not a number.
    NoData,
}

/// The verdict on one objective, with the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveVerdict {
    /// The objective.
    pub objective: Objective,
    /// The measured value, in the target's unit; `None` with no data.
    pub measured: Option<f64>,
    /// The target.
    pub target: f64,
    /// Headroom in the target's unit: positive when met, negative when violated
    /// (`measured - target` for "at least" objectives, `target - measured` for "at most").
    pub margin: Option<f64>,
    /// The status.
    pub status: SloStatus,
}

/// All verdicts and the overall one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloReport {
    /// One verdict per objective that was set, in [`Objective`] order.
    pub objectives: Vec<ObjectiveVerdict>,
    /// `Violated` if any objective is violated; otherwise `NoData` if any has no data; otherwise
    /// `Met`. An SLO with no objective at all is `NoData`.
    pub overall: SloStatus,
}

impl SloReport {
    /// True only when every objective was measured and met.
    ///
    /// ```
    /// use mesh_observe::{is_within_slo, Sli, Slo};
    /// assert!(!is_within_slo(&Sli::default(), &Slo { availability: Some(99.0), ..Default::default() }).is_met());
    /// ```
    #[must_use]
    pub fn is_met(&self) -> bool {
        self.overall == SloStatus::Met
    }
}

/// Checks measured SLIs against objectives.
///
/// ```
/// use mesh_core::LatencyQuantiles;
/// use mesh_observe::{is_within_slo, Objective, Sli, Slo, SloStatus};
/// let sli = Sli {
///     requests: 10_000.0,
///     errors: 5.0,
///     availability: Some(0.9995),
///     error_rate: Some(0.0005),
///     throughput_rps: 33.0,
///     latency: LatencyQuantiles { p50_ms: Some(40.0), p90_ms: Some(120.0), p99_ms: Some(250.0) },
/// };
/// let slo = Slo { availability: Some(99.9), latency_p99: Some(200.0), ..Default::default() };
/// let check = is_within_slo(&sli, &slo);
/// assert_eq!(check.overall, SloStatus::Violated);
/// let p99 = check.objectives.iter().find(|v| v.objective == Objective::LatencyP99).unwrap();
/// assert_eq!((p99.measured, p99.margin, p99.status), (Some(250.0), Some(-50.0), SloStatus::Violated));
/// assert_eq!(check.objectives[0].status, SloStatus::Met); // 99.95 % >= 99.9 %
/// ```
#[must_use]
pub fn is_within_slo(sli: &Sli, slo: &Slo) -> SloReport {
    let at_least = |objective, measured: Option<f64>, target: Option<f64>| {
        target.map(|t| verdict(objective, measured, t, |m| m - t))
    };
    let at_most = |objective, measured: Option<f64>, target: Option<f64>| {
        target.map(|t| verdict(objective, measured, t, |m| t - m))
    };
    let objectives: Vec<ObjectiveVerdict> = [
        at_least(
            Objective::Availability,
            sli.availability.map(|a| a * 100.0),
            slo.availability,
        ),
        at_most(Objective::LatencyP50, sli.latency.p50_ms, slo.latency_p50),
        at_most(Objective::LatencyP90, sli.latency.p90_ms, slo.latency_p90),
        at_most(Objective::LatencyP99, sli.latency.p99_ms, slo.latency_p99),
        at_least(
            Objective::Throughput,
            Some(sli.throughput_rps),
            slo.min_throughput_rps,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let overall = if objectives.iter().any(|v| v.status == SloStatus::Violated) {
        SloStatus::Violated
    } else if objectives.is_empty() || objectives.iter().any(|v| v.status == SloStatus::NoData) {
        SloStatus::NoData
    } else {
        SloStatus::Met
    };
    SloReport { objectives, overall }
}

fn verdict(
    objective: Objective,
    measured: Option<f64>,
    target: f64,
    margin_of: impl Fn(f64) -> f64,
) -> ObjectiveVerdict {
    let measured = measured.filter(|m| !m.is_nan());
    let margin = measured.map(margin_of).filter(|m| !m.is_nan());
    let status = match margin {
        None => SloStatus::NoData,
        Some(m) if m >= 0.0 => SloStatus::Met,
        Some(_) => SloStatus::Violated,
    };
    ObjectiveVerdict {
        objective,
        measured,
        target,
        margin,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_traffic_is_no_data_not_a_violation() {
        let slo = Slo {
            availability: Some(99.9),
            latency_p99: Some(200.0),
            ..Default::default()
        };
        let report = is_within_slo(&Sli::default(), &slo);
        assert_eq!(report.overall, SloStatus::NoData);
        assert!(
            report
                .objectives
                .iter()
                .all(|v| v.status == SloStatus::NoData && v.margin.is_none())
        );
    }

    #[test]
    fn nan_target_is_no_data_and_exact_target_is_met() {
        let sli = Sli {
            availability: Some(0.999),
            throughput_rps: 5.0,
            ..Default::default()
        };
        let slo = Slo {
            availability: Some(f64::NAN),
            min_throughput_rps: Some(5.0),
            ..Default::default()
        };
        let r = is_within_slo(&sli, &slo);
        assert_eq!(r.objectives[0].status, SloStatus::NoData);
        assert_eq!(r.objectives[1].status, SloStatus::Met);
        assert_eq!(r.overall, SloStatus::NoData);
        assert_eq!(is_within_slo(&sli, &Slo::default()).overall, SloStatus::NoData);
    }
}
