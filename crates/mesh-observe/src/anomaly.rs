//! Anomaly detection against a metric's own history, with robust statistics.
//!
//! Two methods, both invariant to shifting and scaling the data (changing units or offsets does
//! not change any score):
//! - [`Method::RobustZ`]: the modified z-score of Iglewicz and Hoaglin,
//!   `(x - median) / (MAD / 0.6745)`; when more than half of the history is one value (MAD = 0)
//!   the scale falls back to `1.253314 * mean absolute deviation from the median`. Flagged at
//!   `|z| > 3.5` by default. Outliers in the history barely move the median or the MAD.
//! - [`Method::Ewma`]: an exponentially weighted mean and variance of the history in order (Finch's
//!   incremental form, `alpha = 0.3` by default), for series with a trend; flagged at `|z| > 3`.
//!
//! Non-finite history points are dropped and counted. Empty, too short, constant or NaN input gives
//! a typed [`Assessment`], never a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    error::{InvalidSetting, check_range},
    sli::quantiles_in_place,
};

/// Consistency constant: `MAD / 0.6745` estimates the standard deviation of normal data.
const MAD_TO_SIGMA: f64 = 0.6745;
/// Consistency constant for the mean absolute deviation (`sqrt(pi / 2)`).
const MEAN_AD_TO_SIGMA: f64 = 1.253_314;

/// Thresholds and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalySettings {
    /// Fewest finite history points needed to score; default 8.
    pub min_history: usize,
    /// `|modified z|` above which a value is anomalous; default 3.5 (Iglewicz and Hoaglin).
    pub robust_threshold: f64,
    /// EWMA smoothing factor in `(0, 1]`; default 0.3.
    pub ewma_alpha: f64,
    /// `|EWMA z|` above which a value is anomalous; default 3.
    pub ewma_threshold: f64,
}

impl AnomalySettings {
    /// Checks the thresholds and the smoothing factor. [`assess`] answers
    /// [`Assessment::InvalidSettings`] when this fails.
    ///
    /// ```
    /// use mesh_observe::AnomalySettings;
    /// assert!(AnomalySettings::default().validate().is_ok());
    /// let bad = AnomalySettings { ewma_alpha: 0.0, ..Default::default() };
    /// assert_eq!(bad.validate().unwrap_err().field, "ewma_alpha");
    /// ```
    ///
    /// # Errors
    /// [`InvalidSetting`] naming the first bad field.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_range(
            "robust_threshold",
            self.robust_threshold,
            0.0,
            f64::INFINITY,
            true,
        )?;
        check_range("ewma_alpha", self.ewma_alpha, 0.0, 1.0, true)?;
        check_range("ewma_threshold", self.ewma_threshold, 0.0, f64::INFINITY, true)?;
        Ok(())
    }
}

impl Default for AnomalySettings {
    fn default() -> Self {
        Self {
            min_history: 8,
            robust_threshold: 3.5,
            ewma_alpha: 0.3,
            ewma_threshold: 3.0,
        }
    }
}

/// A scoring method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Median / MAD modified z-score.
    RobustZ,
    /// Exponentially weighted moving average and variance.
    Ewma,
    /// The history never varied and the current value differs from it (score is infinite).
    ConstantHistory,
}

/// One method's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The method.
    pub method: Method,
    /// Signed score in standard deviations; positive means above the expected value.
    pub score: f64,
    /// The range of values the method considers normal, `(low, high)`.
    pub expected_range: (f64, f64),
    /// True when `|score|` exceeds the method's threshold.
    pub anomalous: bool,
}

/// What could be said about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assessment {
    /// Scored. `ewma` is `None` when the weighted variance is zero.
    Scored {
        /// The current value.
        value: f64,
        /// The median/MAD score.
        robust: Score,
        /// The EWMA score.
        ewma: Option<Score>,
    },
    /// Every usable history point is the same value.
    ConstantHistory {
        /// The value the history held.
        level: f64,
        /// The current value.
        value: f64,
    },
    /// Too few finite history points.
    InsufficientHistory {
        /// Finite points found.
        usable: usize,
        /// Points needed ([`AnomalySettings::min_history`]).
        needed: usize,
        /// Non-finite points dropped.
        dropped: usize,
    },
    /// The current value is NaN or infinite.
    CurrentNotFinite,
    /// The metric has no history at all.
    NoHistory,
    /// The settings are invalid ([`AnomalySettings::validate`] says why): nothing was scored.
    InvalidSettings,
}

/// One flagged anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The metric.
    pub metric: String,
    /// The current value.
    pub value: f64,
    /// How it was found, its score and the expected range.
    pub score: Score,
}

/// The assessment of every current metric, in metric name order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyReport {
    /// Metric name and assessment.
    pub metrics: Vec<(String, Assessment)>,
}

impl AnomalyReport {
    /// Every anomalous score, one entry per metric and method.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use mesh_observe::{detect_anomalies, AnomalySettings, Method};
    /// let current = BTreeMap::from([("errors".to_owned(), 3.0)]);
    /// let history = BTreeMap::from([("errors".to_owned(), vec![0.0; 20])]);
    /// let report = detect_anomalies(&current, &history, &AnomalySettings::default());
    /// let found = report.anomalies();
    /// assert_eq!(found[0].score.method, Method::ConstantHistory);
    /// assert_eq!(found[0].score.expected_range, (0.0, 0.0));
    /// ```
    #[must_use]
    pub fn anomalies(&self) -> Vec<Anomaly> {
        let mut out = Vec::new();
        for (metric, a) in &self.metrics {
            let mut push = |value: f64, score: Score| {
                if score.anomalous {
                    out.push(Anomaly {
                        metric: metric.clone(),
                        value,
                        score,
                    });
                }
            };
            match *a {
                Assessment::Scored { value, robust, ewma } => {
                    push(value, robust);
                    if let Some(e) = ewma {
                        push(value, e);
                    }
                }
                Assessment::ConstantHistory { level, value } if value != level => {
                    let score = if value > level {
                        f64::INFINITY
                    } else {
                        f64::NEG_INFINITY
                    };
                    push(
                        value,
                        Score {
                            method: Method::ConstantHistory,
                            score,
                            expected_range: (level, level),
                            anomalous: true,
                        },
                    );
                }
                _ => {}
            }
        }
        out
    }
}

/// Scores every current metric against its history (`historical[metric]`, oldest first).
///
/// ```
/// use std::collections::BTreeMap;
/// use mesh_observe::{detect_anomalies, Assessment, AnomalySettings};
/// let history: Vec<f64> = (0..60).map(|i| 100.0 + f64::from(i % 7)).collect();
/// let current = BTreeMap::from([("p99_ms".to_owned(), 180.0), ("rps".to_owned(), 103.0)]);
/// let historical = BTreeMap::from([("p99_ms".to_owned(), history.clone()), ("rps".to_owned(), history)]);
/// let report = detect_anomalies(&current, &historical, &AnomalySettings::default());
/// let anomalies = report.anomalies();
/// assert!(anomalies.iter().all(|a| a.metric == "p99_ms"));
/// assert!(!anomalies.is_empty());
/// let missing = detect_anomalies(&BTreeMap::from([("x".to_owned(), 1.0)]), &BTreeMap::new(), &AnomalySettings::default());
/// assert_eq!(missing.metrics[0].1, Assessment::NoHistory);
/// ```
#[must_use]
pub fn detect_anomalies(
    current: &BTreeMap<String, f64>,
    historical: &BTreeMap<String, Vec<f64>>,
    settings: &AnomalySettings,
) -> AnomalyReport {
    let metrics = current
        .iter()
        .map(|(name, &value)| {
            let assessment = match historical.get(name) {
                None => Assessment::NoHistory,
                Some(h) => assess(value, h, settings),
            };
            (name.clone(), assessment)
        })
        .collect();
    AnomalyReport { metrics }
}

/// Scores one value against one history (oldest first).
///
/// ```
/// use mesh_observe::{assess, Assessment, AnomalySettings};
/// let s = AnomalySettings::default();
/// let history = [10.0, 11.0, 9.0, 10.0, 12.0, 8.0, 10.0, 11.0, 9.0, 10.0];
/// let Assessment::Scored { robust, .. } = assess(30.0, &history, &s) else { panic!() };
/// assert!(robust.anomalous && robust.score > 3.5);
/// assert!(matches!(assess(1.0, &[], &s), Assessment::InsufficientHistory { usable: 0, .. }));
/// assert_eq!(assess(f64::NAN, &history, &s), Assessment::CurrentNotFinite);
/// assert!(matches!(assess(5.0, &[5.0; 10], &s), Assessment::ConstantHistory { level: 5.0, .. }));
/// ```
#[must_use]
pub fn assess(value: f64, history: &[f64], settings: &AnomalySettings) -> Assessment {
    if settings.validate().is_err() {
        return Assessment::InvalidSettings;
    }
    if !value.is_finite() {
        return Assessment::CurrentNotFinite;
    }
    let mut finite: Vec<f64> = history.iter().copied().filter(|v| v.is_finite()).collect();
    let dropped = history.len() - finite.len();
    let needed = settings.min_history.max(1);
    if finite.len() < needed {
        return Assessment::InsufficientHistory {
            usable: finite.len(),
            needed,
            dropped,
        };
    }
    let Some(robust) = robust_score(value, &mut finite, settings.robust_threshold) else {
        return Assessment::ConstantHistory {
            level: history.iter().copied().find(|v| v.is_finite()).unwrap_or(value),
            value,
        };
    };
    let ewma = ewma_score(value, history, settings.ewma_alpha, settings.ewma_threshold);
    Assessment::Scored { value, robust, ewma }
}

/// The median/MAD score; `None` when the data has no spread at all. Reorders `data`.
fn robust_score(value: f64, data: &mut [f64], threshold: f64) -> Option<Score> {
    let [median] = quantiles_in_place(data, [0.5]);
    let median = median?;
    let mut mean_ad = 0.0;
    for v in data.iter_mut() {
        *v = (*v - median).abs();
        mean_ad += *v;
    }
    mean_ad /= data.len() as f64;
    let [mad] = quantiles_in_place(data, [0.5]);
    let mad = mad?;
    let sigma = if mad > 0.0 {
        mad / MAD_TO_SIGMA
    } else if mean_ad > 0.0 {
        MEAN_AD_TO_SIGMA * mean_ad
    } else {
        return None;
    };
    let score = (value - median) / sigma;
    Some(Score {
        method: Method::RobustZ,
        score,
        expected_range: (median - threshold * sigma, median + threshold * sigma),
        anomalous: score.abs() > threshold,
    })
}

/// The EWMA score over the finite points of `history`, in order; `None` when the weighted
/// variance is zero or `alpha` is outside `(0, 1]`.
fn ewma_score(value: f64, history: &[f64], alpha: f64, threshold: f64) -> Option<Score> {
    if !(alpha > 0.0 && alpha <= 1.0) {
        return None;
    }
    let mut points = history.iter().copied().filter(|v| v.is_finite());
    let mut mean = points.next()?;
    let mut var = 0.0;
    for x in points {
        let diff = x - mean;
        let incr = alpha * diff;
        mean += incr;
        var = (1.0 - alpha) * (var + diff * incr);
    }
    let sd = var.sqrt();
    if !(sd.is_finite() && sd > 0.0) {
        return None;
    }
    let score = (value - mean) / sd;
    Some(Score {
        method: Method::Ewma,
        score,
        expected_range: (mean - threshold * sd, mean + threshold * sd),
        anomalous: score.abs() > threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outliers_in_history_do_not_mask_an_anomaly() {
        let mut history: Vec<f64> = (0..50).map(|i| 100.0 + f64::from(i % 5)).collect();
        history[10] = 10_000.0; // one spike in the past
        let Assessment::Scored { robust, .. } = assess(130.0, &history, &AnomalySettings::default()) else {
            panic!("expected a score");
        };
        assert!(robust.anomalous, "{robust:?}");
        assert!(robust.expected_range.0 < 100.0 && robust.expected_range.1 < 130.0);
    }

    #[test]
    fn mad_zero_falls_back_to_mean_absolute_deviation() {
        let mut history = vec![5.0; 9];
        history.push(6.0);
        let Assessment::Scored { robust, .. } = assess(6.0, &history, &AnomalySettings::default()) else {
            panic!("expected a score");
        };
        // mean AD = 0.1, sigma = 0.1253314, z = 1 / 0.1253314
        assert!((robust.score - 1.0 / 0.125_331_4).abs() < 1e-9);
    }

    #[test]
    fn nan_and_infinities_in_history_are_dropped_and_counted() {
        let history = [f64::NAN, 1.0, f64::INFINITY, 2.0];
        assert_eq!(
            assess(1.0, &history, &AnomalySettings::default()),
            Assessment::InsufficientHistory {
                usable: 2,
                needed: 8,
                dropped: 2
            }
        );
    }

    #[test]
    fn ewma_follows_a_trend() {
        // A steady climb: the median sits in the middle of the past, the EWMA near its end.
        let history: Vec<f64> = (0..100)
            .map(|i| f64::from(i) + if i % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let Assessment::Scored {
            robust,
            ewma: Some(e),
            ..
        } = assess(100.0, &history, &AnomalySettings::default())
        else {
            panic!("expected both scores");
        };
        let centre = |s: Score| (s.expected_range.0 + s.expected_range.1) / 2.0;
        assert!((centre(robust) - 49.5).abs() < 1.0, "{robust:?}");
        // The EWMA lags a unit-slope trend by (1 - alpha) / alpha = 2.33 steps.
        assert!((centre(e) - (99.0 - 7.0 / 3.0)).abs() < 0.5, "{e:?}");
    }
}
