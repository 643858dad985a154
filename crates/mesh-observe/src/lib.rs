//! Pure SLI, SLO, quantile, anomaly and canary-judgement math.
//!
//! No I/O, no async, no clock reads: every input (time windows included) is passed in.
//!
//! - [`histogram_quantile`]: bit-for-bit Prometheus 2.42 `histogram_quantile` for classic buckets.
//! - [`calculate_sli`] / [`calculate_sli_from_requests`]: availability, error rate, throughput
//!   and latency quantiles, with one documented error definition ([`sli`]);
//!   [`calculate_sli_from_columns`] and [`sli_windows`] take requests as status and latency columns.
//! - [`sample_quantiles`]: exact quantiles of raw values (numpy's linear interpolation, NaN left
//!   out) in linear time, by radix selection.
//! - [`is_within_slo`]: per-objective verdicts with measured value, target and margin.
//! - [`detect_anomalies`]: median/MAD and EWMA scores against a metric's history; [`ewma`] is
//!   the exponentially weighted mean and variance alone, computed in blocks for long series.
//! - [`judge_canary`]: Pass / Fail / Inconclusive from a canary and its baseline, where too little
//!   traffic is always inconclusive ([`stats`] holds the tests).
//!
//! ```
//! use mesh_core::TrafficSample;
//! use mesh_observe::{calculate_sli, is_within_slo, SliSettings, Slo, SloStatus};
//! let sample = TrafficSample { requests: 10_000.0, errors: 3.0, ..Default::default() };
//! let sli = calculate_sli(&sample, SliSettings::default());
//! let check = is_within_slo(&sli, &Slo { availability: Some(99.9), ..Default::default() });
//! assert_eq!(check.overall, SloStatus::Met);
//! ```

mod anomaly;
mod canary;
mod column_select;
mod error;
mod hypergeom;
mod quantile;
mod sample_quantile;
pub mod sli;
mod sli_columns;
mod slo;
pub mod stats;

pub use anomaly::{
    Anomaly, AnomalyReport, AnomalySettings, Assessment, Ewma, Method, Score, assess, detect_anomalies, ewma,
};
pub use canary::{
    CanaryInput, ErrorRateCheck, JudgeSettings, Judgement, LatencyCheck, LatencySource, Verdict, judge_canary,
};
pub use error::InvalidSetting;
pub use quantile::{Bucket, histogram_quantile, histogram_quantile_sorted};
pub use sample_quantile::sample_quantiles;
pub use sli::{
    Outcome, RequestRecord, Sli, SliSettings, calculate_service_sli, calculate_sli,
    calculate_sli_from_requests, classify_status,
};
pub use sli_columns::{RequestColumns, calculate_sli_from_columns, sli_windows};
pub use slo::{Objective, ObjectiveVerdict, Slo, SloReport, SloStatus, is_within_slo};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
