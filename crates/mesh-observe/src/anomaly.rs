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
    let Ewma { mean, variance } = ewma(history, alpha)?;
    let sd = variance.sqrt();
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

/// An exponentially weighted mean and variance, see [`ewma`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    /// The weighted mean after the last point.
    pub mean: f64,
    /// The weighted variance after the last point (0 after a single point).
    pub variance: f64,
}

/// The exponentially weighted mean and variance of the finite points of `values`, in order
/// (Finch's incremental form, the one [`Method::Ewma`] scores with): starting from the first
/// finite point `m = x0, v = 0`, each further finite point `x` does
/// `d = x - m; m += alpha * d; v = (1 - alpha) * (v + d * alpha * d)`. NaN and infinite points
/// are skipped. `None` when no point is finite or `alpha` is outside `(0, 1]`.
///
/// Long series are computed in blocks rather than point after point: eight stretches of the series
/// advance side by side (their recurrences are independent once each stretch's starting mean is
/// known), which keeps the processor busy instead of waiting on one long chain of dependent
/// operations. The recurrence is linear in the mean, so a first pass runs each stretch from zero
/// and chains the stretches' results into their starting means: over `k` finite points,
/// `m_end = (1 - alpha)^k * m_start + local_end`. A second pass runs the exact update above from
/// those starts, and the stretches' variances are chained the same way. The result equals the
/// plain point-by-point loop up to rounding (the starting means differ from the loop's by a few
/// units in the last place; within 1e-12 relative in the tests).
///
/// ```
/// use mesh_observe::{ewma, Ewma};
/// let Ewma { mean, variance } = ewma(&[10.0, f64::NAN, 20.0], 0.5).unwrap();
/// assert_eq!((mean, variance), (15.0, 25.0)); // d = 10, m = 15, v = 0.5 * (0 + 10 * 5)
/// let long: Vec<f64> = (0..100_000).map(|i| f64::from(i % 10)).collect();
/// let e = ewma(&long, 0.3).unwrap();
/// assert!(e.mean > 4.0 && e.mean < 9.0 && e.variance > 0.0);
/// assert_eq!(ewma(&[f64::NAN, f64::INFINITY], 0.3), None);
/// assert_eq!(ewma(&[1.0, 2.0], 0.0), None);
/// ```
#[must_use]
pub fn ewma(values: &[f64], alpha: f64) -> Option<Ewma> {
    if !(alpha > 0.0 && alpha <= 1.0) {
        return None;
    }
    let first = values.iter().position(|v| v.is_finite())?;
    let start = Ewma {
        mean: values[first],
        variance: 0.0,
    };
    let rest = &values[first + 1..];
    let blocked = ewma_blocked(start, rest, alpha);
    if blocked.mean.is_finite() && blocked.variance.is_finite() {
        Some(blocked)
    } else {
        // Overflow: the point-by-point loop says exactly where the infinities come from.
        Some(ewma_sequential(start, rest, alpha))
    }
}

/// The plain recurrence, one finite point after the other, from `state`.
fn ewma_sequential(state: Ewma, values: &[f64], alpha: f64) -> Ewma {
    let Ewma {
        mut mean,
        mut variance,
    } = state;
    for &x in values {
        if x.is_finite() {
            let diff = x - mean;
            let incr = alpha * diff;
            mean += incr;
            variance = (1.0 - alpha) * (variance + diff * incr);
        }
    }
    Ewma { mean, variance }
}

/// Stretches advanced side by side.
const LANES: usize = 8;
/// Points of each stretch per tile; the tile loops below run over `LANES` x `TILE` points.
const TILE: usize = 16;
/// Tiles per stretch in one segment: a segment (`LANES * TILE * SEGMENT_TILES` points, 256 KiB)
/// is still in the L2 cache when the second pass reads it.
const SEGMENT_TILES: usize = 256;

/// One tile of stretches: `LANES` slices of `TILE` consecutive points.
type Tile<'a> = [&'a [f64; TILE]; LANES];

/// [`ewma_sequential`] computed segment by segment, in blocks of `LANES` stretches.
fn ewma_blocked(state: Ewma, values: &[f64], alpha: f64) -> Ewma {
    let mut state = state;
    let mut rest = values;
    while rest.len() >= LANES * TILE {
        let tiles = SEGMENT_TILES.min(rest.len() / (LANES * TILE));
        let (segment, tail) = rest.split_at(LANES * TILE * tiles);
        state = ewma_segment(state, segment, tiles, alpha);
        rest = tail;
    }
    ewma_sequential(state, rest, alpha)
}

/// Both passes over one segment of `LANES` stretches of `tiles * TILE` points each.
fn ewma_segment(state: Ewma, segment: &[f64], tiles: usize, alpha: f64) -> Ewma {
    let beta = 1.0 - alpha;
    let stretch = tiles * TILE;
    let tile = |t: usize| -> Tile<'_> {
        std::array::from_fn(|lane| {
            let start = lane * stretch + t * TILE;
            segment[start..start + TILE]
                .try_into()
                .expect("a tile is TILE points")
        })
    };
    // Pass 1: each stretch's mean from zero, and its number of finite points. A tile is run
    // without any NaN handling first; non-finite points poison the result (NaN and infinity
    // absorb every later operation), and then the tile is run again point by point.
    let mut local = [0.0; LANES];
    let mut finite = [0u32; LANES];
    let mut clean = [false; SEGMENT_TILES];
    for (t, clean) in clean.iter_mut().enumerate().take(tiles) {
        let xs = tile(t);
        let before = local;
        mean_tile(&mut local, &xs, alpha, beta);
        if local.iter().all(|m| m.is_finite()) {
            *clean = true;
            for f in &mut finite {
                *f += TILE as u32;
            }
        } else {
            local = before;
            mean_tile_skipping(&mut local, &mut finite, &xs, alpha);
        }
    }
    // Chain the stretches: m_end = (1 - alpha)^k * m_start + local_end over k finite points.
    // The mean's factor is the exact (1 - alpha) the update `m += alpha * d` applies, the
    // variance's the rounded `1.0 - alpha` its update multiplies by; both powers come from
    // logarithms, accurate to a few units in the last place for any k (`powi` of the rounded
    // factor would be off by k half-units for a small alpha).
    let power = |log_factor: f64| -> [f64; LANES] {
        std::array::from_fn(|lane| match finite[lane] {
            0 => 1.0,
            k => (f64::from(k) * log_factor).exp(),
        })
    };
    let mean_decay = power((-alpha).ln_1p());
    let variance_decay = power((beta - 1.0).ln_1p());
    let mut mean = [0.0; LANES];
    let mut m = state.mean;
    for lane in 0..LANES {
        mean[lane] = m;
        m = mean_decay[lane] * m + local[lane];
    }
    // Pass 2: the exact recurrence of every stretch from its starting mean, variance from zero.
    let mut variance = [0.0; LANES];
    for (t, &clean) in clean.iter().enumerate().take(tiles) {
        let xs = tile(t);
        if clean {
            ewma_tile(&mut mean, &mut variance, &xs, alpha);
        } else {
            ewma_tile_skipping(&mut mean, &mut variance, &xs, alpha);
        }
    }
    let mut v = state.variance;
    for lane in 0..LANES {
        v = variance_decay[lane] * v + variance[lane];
    }
    Ewma {
        mean: mean[LANES - 1],
        variance: v,
    }
}

// The four tile loops are kept out of line: each then keeps its `LANES` running values in
// registers, which LLVM turns into SIMD operations across the stretches. They index by point
// (`t`) in the outer loop and by stretch (`lane`) in the inner one, on purpose: the stretches of
// one step are the independent operations that run side by side.

/// `m = beta * m + alpha * x` over a tile of finite points, two points per step
/// (`m = beta^2 * m + (alpha * beta * x1 + alpha * x2)`) to halve the dependency chain.
#[inline(never)]
fn mean_tile(state: &mut [f64; LANES], xs: &Tile<'_>, alpha: f64, beta: f64) {
    let (beta2, alpha_beta) = (beta * beta, alpha * beta);
    let mut m = *state;
    for t in (0..TILE).step_by(2) {
        for lane in 0..LANES {
            m[lane] = beta2 * m[lane] + (alpha_beta * xs[lane][t] + alpha * xs[lane][t + 1]);
        }
    }
    *state = m;
}

/// `x` when it is finite, else 0; `alpha` when `x` is finite, else 0; whether it is finite.
/// With a zero weight the updates below leave the state exactly as it was.
#[inline(always)]
fn finite_or_zero(x: f64, alpha: f64) -> (f64, f64, u32) {
    let finite = x.is_finite();
    let mask = u64::from(finite).wrapping_neg();
    (
        f64::from_bits(x.to_bits() & mask),
        f64::from_bits(alpha.to_bits() & mask),
        u32::from(finite),
    )
}

/// [`mean_tile`] for a tile with non-finite points, which leave the mean as it was.
#[allow(clippy::needless_range_loop)]
#[inline(never)]
fn mean_tile_skipping(state: &mut [f64; LANES], finite: &mut [u32; LANES], xs: &Tile<'_>, alpha: f64) {
    let mut m = *state;
    for t in 0..TILE {
        for lane in 0..LANES {
            let (x, a, f) = finite_or_zero(xs[lane][t], alpha);
            m[lane] = (1.0 - a) * m[lane] + a * x;
            finite[lane] += f;
        }
    }
    *state = m;
}

/// The exact update of [`ewma_sequential`] over a tile of finite points.
#[allow(clippy::needless_range_loop)]
#[inline(never)]
fn ewma_tile(mean: &mut [f64; LANES], variance: &mut [f64; LANES], xs: &Tile<'_>, alpha: f64) {
    let (mut m, mut v) = (*mean, *variance);
    for t in 0..TILE {
        for lane in 0..LANES {
            let diff = xs[lane][t] - m[lane];
            let incr = alpha * diff;
            m[lane] += incr;
            v[lane] = (1.0 - alpha) * (v[lane] + diff * incr);
        }
    }
    (*mean, *variance) = (m, v);
}

/// [`ewma_tile`] for a tile with non-finite points, which leave mean and variance as they were.
#[allow(clippy::needless_range_loop)]
#[inline(never)]
fn ewma_tile_skipping(mean: &mut [f64; LANES], variance: &mut [f64; LANES], xs: &Tile<'_>, alpha: f64) {
    let (mut m, mut v) = (*mean, *variance);
    for t in 0..TILE {
        for lane in 0..LANES {
            let (x, a, _) = finite_or_zero(xs[lane][t], alpha);
            let diff = x - m[lane];
            let incr = a * diff;
            m[lane] += incr;
            v[lane] = (1.0 - a) * (v[lane] + diff * incr);
        }
    }
    (*mean, *variance) = (m, v);
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

    /// Relative agreement, measured against the size of the data where the value is near zero.
    fn agrees(blocked: f64, plain: f64, scale: f64) -> bool {
        (blocked - plain).abs() <= 1e-12 * blocked.abs().max(plain.abs()).max(scale)
    }

    fn splitmix(state: &mut u64) -> f64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn blocked_ewma_equals_the_plain_recurrence_over_many_segments() {
        // 2.4 segments: full segments, a partial one, and a tail shorter than a tile.
        let n = LANES * TILE * SEGMENT_TILES * 12 / 5 + 77;
        let mut s = 9u64;
        let history: Vec<f64> = (0..n)
            .map(|i| match splitmix(&mut s) {
                u if u < 0.0005 => f64::NAN,
                u if u < 0.0006 => f64::INFINITY,
                u if u < 0.0007 => f64::NEG_INFINITY,
                _ => 100.0 + 10.0 * (i as f64 / 1440.0).sin() + 5.0 * splitmix(&mut s),
            })
            .collect();
        for alpha in [1.0, 0.9, 0.3, 0.01, 1e-4, 1e-6] {
            let blocked = ewma(&history, alpha).unwrap();
            let first = history.iter().position(|v| v.is_finite()).unwrap();
            let start = Ewma {
                mean: history[first],
                variance: 0.0,
            };
            let plain = ewma_sequential(start, &history[first + 1..], alpha);
            assert!(
                agrees(blocked.mean, plain.mean, 100.0),
                "{alpha}: {blocked:?} {plain:?}"
            );
            assert!(
                agrees(blocked.variance, plain.variance, 0.0),
                "{alpha}: {blocked:?} {plain:?}"
            );
        }
    }

    #[test]
    fn overflowing_history_gives_what_the_plain_recurrence_gives() {
        let mut history = vec![1.0; 5000];
        history[3000] = f64::MAX;
        history[3001] = -f64::MAX;
        let plain = ewma_sequential(
            Ewma {
                mean: 1.0,
                variance: 0.0,
            },
            &history[1..],
            0.5,
        );
        let got = ewma(&history, 0.5).unwrap();
        assert_eq!(format!("{got:?}"), format!("{plain:?}"));
        assert_eq!(ewma_score(0.0, &history, 0.5, 3.0), None);
    }

    proptest::proptest! {
        #[test]
        fn blocked_ewma_equals_the_plain_recurrence(
            level in -1e4f64..1e4,
            points in proptest::collection::vec(
                proptest::prop_oneof![
                    40 => -1000.0f64..1000.0,
                    1 => proptest::strategy::Just(f64::NAN),
                    1 => proptest::strategy::Just(f64::INFINITY),
                    1 => proptest::strategy::Just(f64::NEG_INFINITY),
                ],
                0..3000,
            ),
            alpha in proptest::prop_oneof![
                1e-6f64..=1.0,
                proptest::strategy::Just(1.0),
                proptest::strategy::Just(0.3),
            ],
        ) {
            let history: Vec<f64> = points.iter().map(|p| level + p).collect();
            let got = ewma(&history, alpha);
            let first = history.iter().position(|v| v.is_finite());
            proptest::prop_assert_eq!(got.is_some(), first.is_some());
            if let (Some(got), Some(first)) = (got, first) {
                let start = Ewma { mean: history[first], variance: 0.0 };
                let plain = ewma_sequential(start, &history[first + 1..], alpha);
                proptest::prop_assert!(agrees(got.mean, plain.mean, 1000.0), "{:?} vs {:?}", got, plain);
                proptest::prop_assert!(agrees(got.variance, plain.variance, 0.0), "{:?} vs {:?}", got, plain);
            }
        }
    }
}
