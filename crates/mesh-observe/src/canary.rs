//! Canary judgement: the canary compared with a baseline running at the same time.
//!
//! Rules, in order:
//! 1. **Enough traffic first.** If either window has fewer than
//!    [`JudgeSettings::min_requests`] requests (default 50, Kayenta's advice of at least 50 data
//!    points), or a count is not a number, the verdict is [`Verdict::Inconclusive`] and no test is
//!    run. Too little traffic is never a failure.
//! 2. **Error rate**: a one-sided test of "the canary fails more often". Fisher's exact test when
//!    any expected cell of the 2x2 table is below 5, the pooled two-proportion z-test otherwise.
//!    It fails when `p < alpha` **and** the canary's rate exceeds the baseline's by more than
//!    [`JudgeSettings::max_error_rate_increase`].
//! 3. **Latency** (only when latency data is given for either side): a one-sided Mann-Whitney U
//!    test of "the canary is slower", on raw observations when both sides have them, otherwise on
//!    latency histograms (Prometheus buckets over the window, each bucket a group of ties, medians
//!    by [`crate::histogram_quantile`]). It needs at least [`JudgeSettings::min_latency_samples`]
//!    observations per side (otherwise inconclusive), and fails when `p < alpha` **and** the
//!    canary's median exceeds the baseline's by more than [`JudgeSettings::max_latency_increase`]
//!    (relative).
//! 4. Any failed check fails the canary; otherwise any inconclusive check makes it inconclusive;
//!    otherwise it passes.
//!
//! Errors are counted as in [`crate::sli`]: 5xx and no response, 4xx only if asked.

use mesh_core::TrafficSample;
use serde::{Deserialize, Serialize};

use crate::{
    Bucket, SliSettings,
    error::{InvalidSetting, check_range},
    histogram_quantile,
    quantile::{coalesce, ensure_monotonic, sort_by_bound},
    sli::quantiles_in_place,
    stats::{
        MannWhitney, ProportionTest, fisher_exact_greater, mann_whitney_greater, mann_whitney_greater_binned,
        two_proportion_z,
    },
};

/// Thresholds of the judgement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JudgeSettings {
    /// Fewest requests per window, each side; default 50.
    pub min_requests: f64,
    /// Significance level of each one-sided test; default 0.05.
    pub alpha: f64,
    /// Largest tolerated absolute error-rate increase (0.001 = 0.1 percentage point); default 0.001.
    pub max_error_rate_increase: f64,
    /// Fewest latency observations per side; default 50.
    pub min_latency_samples: usize,
    /// Largest tolerated relative median-latency increase (0.1 = 10 %); default 0.1.
    pub max_latency_increase: f64,
    /// What counts as an error.
    pub sli: SliSettings,
}

impl JudgeSettings {
    /// Checks every threshold. [`judge_canary`] answers `Inconclusive` with this reason when the
    /// settings are invalid, rather than a verdict a NaN threshold would silently skew.
    ///
    /// ```
    /// use mesh_observe::JudgeSettings;
    /// assert!(JudgeSettings::default().validate().is_ok());
    /// let bad = JudgeSettings { alpha: f64::NAN, ..Default::default() };
    /// assert_eq!(bad.validate().unwrap_err().field, "alpha");
    /// ```
    ///
    /// # Errors
    /// [`InvalidSetting`] naming the first bad field.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_range("min_requests", self.min_requests, 1.0, f64::INFINITY, false)?;
        check_range("alpha", self.alpha, 0.0, 1.0, true)?;
        check_range(
            "max_error_rate_increase",
            self.max_error_rate_increase,
            0.0,
            1.0,
            false,
        )?;
        check_range(
            "max_latency_increase",
            self.max_latency_increase,
            0.0,
            f64::INFINITY,
            false,
        )?;
        if self.min_latency_samples == 0 {
            return Err(InvalidSetting::new("min_latency_samples", "must be at least 1"));
        }
        Ok(())
    }
}

impl Default for JudgeSettings {
    fn default() -> Self {
        Self {
            min_requests: 50.0,
            alpha: 0.05,
            max_error_rate_increase: 0.001,
            min_latency_samples: 50,
            max_latency_increase: 0.1,
            sli: SliSettings::default(),
        }
    }
}

/// One side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryInput<'a> {
    /// Request and error counts of the window.
    pub traffic: &'a TrafficSample,
    /// Latency observations in ms (per request, or per scrape interval); may be empty.
    pub latency_ms: &'a [f64],
    /// The window's latency histogram (cumulative buckets, e.g. `increase(..._bucket[w])`), used
    /// when raw observations are missing; may be empty. Both sides need the same bounds.
    pub latency_buckets: &'a [Bucket],
}

impl<'a> CanaryInput<'a> {
    /// A side with counts only, no latency data.
    ///
    /// ```
    /// use mesh_core::TrafficSample;
    /// let t = TrafficSample::default();
    /// assert!(mesh_observe::CanaryInput::counts(&t).latency_ms.is_empty());
    /// ```
    #[must_use]
    pub fn counts(traffic: &'a TrafficSample) -> Self {
        Self {
            traffic,
            latency_ms: &[],
            latency_buckets: &[],
        }
    }
}

/// Where the latency evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencySource {
    /// Raw observations.
    Samples,
    /// Histogram buckets.
    Histogram,
}

/// A verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The canary is not measurably worse.
    Pass,
    /// The canary is significantly and materially worse.
    Fail,
    /// Not enough data to say.
    Inconclusive,
}

/// The error-rate check and its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErrorRateCheck {
    /// Baseline requests and errors (rounded to whole requests for the test).
    pub baseline: (u64, u64),
    /// Canary requests and errors.
    pub canary: (u64, u64),
    /// Baseline error rate.
    pub baseline_rate: Option<f64>,
    /// Canary error rate.
    pub canary_rate: Option<f64>,
    /// The test used; `None` when no test ran.
    pub test: Option<ProportionTest>,
    /// Its statistic.
    pub statistic: Option<f64>,
    /// Its one-sided p-value.
    pub p_value: Option<f64>,
    /// The check's verdict.
    pub verdict: Verdict,
}

/// The latency check and its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyCheck {
    /// What the test ran on; `None` when the data could not be used at all.
    pub source: Option<LatencySource>,
    /// Usable observations, baseline and canary (histogram totals rounded).
    pub samples: (usize, usize),
    /// Median latency of each side, ms.
    pub medians: (Option<f64>, Option<f64>),
    /// Mann-Whitney U of the canary.
    pub u: Option<f64>,
    /// Its z.
    pub z: Option<f64>,
    /// Its one-sided p-value.
    pub p_value: Option<f64>,
    /// The check's verdict.
    pub verdict: Verdict,
}

/// The judgement with every number behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// The overall verdict.
    pub verdict: Verdict,
    /// The error-rate check.
    pub error_rate: ErrorRateCheck,
    /// The latency check, when latency observations were given.
    pub latency: Option<LatencyCheck>,
    /// Why the verdict is what it is, in plain words.
    pub reasons: Vec<String>,
}

/// Judges a canary against a baseline.
///
/// ```
/// use mesh_core::TrafficSample;
/// use mesh_observe::{judge_canary, CanaryInput, JudgeSettings, Verdict};
/// let s = JudgeSettings::default();
/// let base = TrafficSample { requests: 5000.0, errors: 5.0, ..Default::default() };
/// let bad = TrafficSample { requests: 5000.0, errors: 60.0, ..Default::default() };
/// let ok = TrafficSample { requests: 5000.0, errors: 6.0, ..Default::default() };
/// let input = CanaryInput::counts;
/// assert_eq!(judge_canary(input(&base), input(&bad), &s).verdict, Verdict::Fail);
/// assert_eq!(judge_canary(input(&base), input(&ok), &s).verdict, Verdict::Pass);
/// // 20 requests, all failed: not enough traffic to judge, so never Fail
/// let tiny = TrafficSample { requests: 20.0, errors: 20.0, ..Default::default() };
/// let j = judge_canary(input(&base), input(&tiny), &s);
/// assert_eq!(j.verdict, Verdict::Inconclusive);
/// assert!(j.reasons[0].contains("20"));
/// ```
#[must_use]
pub fn judge_canary(
    baseline: CanaryInput<'_>,
    canary: CanaryInput<'_>,
    settings: &JudgeSettings,
) -> Judgement {
    let mut reasons = Vec::new();
    if let Err(e) = settings.validate() {
        reasons.push(e.to_string());
    }
    let counts = |t: &TrafficSample| {
        let sli = crate::calculate_sli(t, settings.sli);
        let usable = sli.error_rate.is_some();
        (usable, whole(sli.requests), whole(sli.errors), sli.error_rate)
    };
    let (b_ok, b_n, b_e, b_rate) = counts(baseline.traffic);
    let (c_ok, c_n, c_e, c_rate) = counts(canary.traffic);
    let mut error_rate = ErrorRateCheck {
        baseline: (b_n, b_e),
        canary: (c_n, c_e),
        baseline_rate: b_rate,
        canary_rate: c_rate,
        test: None,
        statistic: None,
        p_value: None,
        verdict: Verdict::Inconclusive,
    };
    let enough = |ok: bool, t: &TrafficSample| ok && t.requests >= settings.min_requests;
    let enough_traffic = enough(b_ok, baseline.traffic) && enough(c_ok, canary.traffic);
    if !reasons.is_empty() {
        // Invalid settings: report the numbers, judge nothing.
        return Judgement {
            verdict: Verdict::Inconclusive,
            error_rate,
            latency: None,
            reasons,
        };
    }
    if enough_traffic {
        judge_errors(&mut error_rate, settings, &mut reasons);
    } else {
        reasons.push(format!(
            "not enough traffic: baseline {} and canary {} requests, {} needed in each window",
            baseline.traffic.requests, canary.traffic.requests, settings.min_requests
        ));
    }
    let has_latency = |i: &CanaryInput<'_>| !i.latency_ms.is_empty() || !i.latency_buckets.is_empty();
    let latency = (has_latency(&baseline) || has_latency(&canary))
        .then(|| judge_latency(&baseline, &canary, enough_traffic, settings, &mut reasons));
    let checks = std::iter::once(error_rate.verdict).chain(latency.map(|l| l.verdict));
    let verdict = if !enough_traffic {
        Verdict::Inconclusive
    } else {
        checks.fold(Verdict::Pass, |acc, v| match (acc, v) {
            (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
            (Verdict::Inconclusive, _) | (_, Verdict::Inconclusive) => Verdict::Inconclusive,
            _ => Verdict::Pass,
        })
    };
    Judgement {
        verdict,
        error_rate,
        latency,
        reasons,
    }
}

fn judge_errors(check: &mut ErrorRateCheck, settings: &JudgeSettings, reasons: &mut Vec<String>) {
    let ((b_n, b_e), (c_n, c_e)) = (check.baseline, check.canary);
    let total = (b_n + c_n) as f64;
    let errors = (b_e + c_e) as f64;
    let min_expected = [b_n as f64, c_n as f64]
        .into_iter()
        .flat_map(|n| [n * errors / total, n * (total - errors) / total])
        .fold(f64::INFINITY, f64::min);
    let (test, result) = if min_expected < 5.0 {
        (
            ProportionTest::FisherExact,
            fisher_exact_greater(b_e, b_n, c_e, c_n),
        )
    } else {
        (
            ProportionTest::TwoProportionZ,
            two_proportion_z(b_e, b_n, c_e, c_n),
        )
    };
    let increase = c_e as f64 / c_n as f64 - b_e as f64 / b_n as f64;
    let significant = result.p_value < settings.alpha;
    let material = increase > settings.max_error_rate_increase;
    check.test = Some(test);
    check.statistic = Some(result.statistic);
    check.p_value = Some(result.p_value);
    check.verdict = if significant && material {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    reasons.push(format!(
        "error rate {:.4} vs baseline {:.4} (increase {:.4}, tolerated {}): {test:?} p = {:.3e} {} alpha {}",
        c_e as f64 / c_n as f64,
        b_e as f64 / b_n as f64,
        increase,
        settings.max_error_rate_increase,
        result.p_value,
        if significant { "<" } else { ">=" },
        settings.alpha,
    ));
}

/// The latency evidence of both sides: raw samples when both have them, else histograms.
struct Evidence {
    source: Option<LatencySource>,
    samples: (usize, usize),
    medians: (Option<f64>, Option<f64>),
    test: Option<MannWhitney>,
}

fn latency_evidence(
    baseline: &CanaryInput<'_>,
    canary: &CanaryInput<'_>,
    reasons: &mut Vec<String>,
) -> Evidence {
    let raw = !baseline.latency_ms.is_empty() && !canary.latency_ms.is_empty();
    let binned = !baseline.latency_buckets.is_empty() && !canary.latency_buckets.is_empty();
    if raw || !binned {
        let mut b: Vec<f64> = baseline
            .latency_ms
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        let mut c: Vec<f64> = canary
            .latency_ms
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        let test = mann_whitney_greater(&b, &c);
        let [b_med] = quantiles_in_place(&mut b, [0.5]);
        let [c_med] = quantiles_in_place(&mut c, [0.5]);
        return Evidence {
            source: Some(LatencySource::Samples),
            samples: (b.len(), c.len()),
            medians: (b_med, c_med),
            test,
        };
    }
    let median = |h: &[Bucket]| Some(histogram_quantile(0.5, h)).filter(|m| !m.is_nan());
    let medians = (median(baseline.latency_buckets), median(canary.latency_buckets));
    let unusable = |why: &str, reasons: &mut Vec<String>| {
        reasons.push(format!("latency: {why}"));
        Evidence {
            source: None,
            samples: (0, 0),
            medians,
            test: None,
        }
    };
    match (
        per_bucket(baseline.latency_buckets),
        per_bucket(canary.latency_buckets),
    ) {
        (Some((b_bounds, b)), Some((c_bounds, c))) if b_bounds == c_bounds => {
            let total = |v: &[f64]| usize::try_from(whole(v.iter().sum())).unwrap_or(usize::MAX);
            Evidence {
                source: Some(LatencySource::Histogram),
                samples: (total(&b), total(&c)),
                medians,
                test: mann_whitney_greater_binned(&b, &c),
            }
        }
        (Some(_), Some(_)) => unusable("the two histograms have different bucket bounds", reasons),
        _ => unusable(
            "a histogram lacks the +Inf bucket or holds non-finite counts",
            reasons,
        ),
    }
}

/// Sorted distinct bounds and the count in each bucket (not cumulative), after the same repairs
/// as `histogram_quantile`; `None` without a `+Inf` bucket or with non-finite counts.
fn per_bucket(buckets: &[Bucket]) -> Option<(Vec<f64>, Vec<f64>)> {
    let mut sorted = buckets.to_vec();
    sort_by_bound(&mut sorted);
    if sorted.last()?.upper_bound != f64::INFINITY || sorted.iter().any(|b| !b.count.is_finite()) {
        return None;
    }
    let kept = coalesce(&mut sorted);
    sorted.truncate(kept);
    ensure_monotonic(&mut sorted);
    let bounds = sorted.iter().map(|b| b.upper_bound).collect();
    let mut below = 0.0f64;
    let counts = sorted
        .iter()
        .map(|b| {
            let c = (b.count - below).max(0.0);
            below = b.count;
            c
        })
        .collect();
    Some((bounds, counts))
}

fn judge_latency(
    baseline: &CanaryInput<'_>,
    canary: &CanaryInput<'_>,
    enough_traffic: bool,
    settings: &JudgeSettings,
    reasons: &mut Vec<String>,
) -> LatencyCheck {
    let Evidence {
        source,
        samples,
        medians,
        test: mw,
    } = latency_evidence(baseline, canary, reasons);
    let (b_med, c_med) = medians;
    let mut check = LatencyCheck {
        source,
        samples,
        medians,
        u: mw.map(|m| m.u),
        z: mw.map(|m| m.z),
        p_value: mw.map(|m| m.p_value),
        verdict: Verdict::Inconclusive,
    };
    if source.is_none() {
        return check;
    }
    let min = settings.min_latency_samples.max(1);
    if samples.0 < min || samples.1 < min {
        reasons.push(format!(
            "latency: {} baseline and {} canary observations, {min} needed on each side",
            samples.0, samples.1
        ));
        return check;
    }
    if !enough_traffic {
        return check;
    }
    let (Some(m), Some(bm), Some(cm)) = (mw, b_med, c_med) else {
        return check;
    };
    let material = if bm > 0.0 {
        cm / bm - 1.0 > settings.max_latency_increase
    } else {
        cm > bm
    };
    let significant = m.p_value < settings.alpha;
    check.verdict = if significant && material {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    reasons.push(format!(
        "latency median {cm} ms vs baseline {bm} ms (tolerated +{}%): Mann-Whitney p = {:.3e} {} alpha {}",
        settings.max_latency_increase * 100.0,
        m.p_value,
        if significant { "<" } else { ">=" },
        settings.alpha,
    ));
    check
}

/// Rounds a non-negative count to a whole number of requests.
fn whole(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(requests: f64, errors: f64) -> TrafficSample {
        TrafficSample {
            requests,
            errors,
            ..Default::default()
        }
    }

    fn judge(b: &TrafficSample, c: &TrafficSample) -> Judgement {
        judge_canary(
            CanaryInput::counts(b),
            CanaryInput::counts(c),
            &JudgeSettings::default(),
        )
    }

    #[test]
    fn small_counts_use_fisher() {
        let j = judge(&t(100.0, 0.0), &t(100.0, 8.0));
        assert_eq!(j.error_rate.test, Some(ProportionTest::FisherExact));
        assert_eq!(j.verdict, Verdict::Fail);
        let j = judge(&t(100.0, 0.0), &t(100.0, 1.0));
        assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    }

    #[test]
    fn nan_or_missing_traffic_is_inconclusive() {
        for c in [
            t(f64::NAN, 1.0),
            t(0.0, 0.0),
            t(49.0, 49.0),
            t(f64::INFINITY, 0.0),
        ] {
            let j = judge(&t(1000.0, 0.0), &c);
            assert_eq!(j.verdict, Verdict::Inconclusive, "{c:?}");
            assert_eq!(j.error_rate.p_value, None);
        }
    }

    #[test]
    fn a_better_canary_passes() {
        assert_eq!(
            judge(&t(10_000.0, 500.0), &t(10_000.0, 10.0)).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn latency_regression_fails_and_few_samples_are_inconclusive() {
        let traffic = t(1000.0, 1.0);
        let base: Vec<f64> = (0..200).map(|i| 100.0 + f64::from(i % 20)).collect();
        let slow: Vec<f64> = base.iter().map(|v| v * 1.5).collect();
        let s = JudgeSettings::default();
        let j = judge_canary(
            CanaryInput {
                traffic: &traffic,
                latency_ms: &base,
                latency_buckets: &[],
            },
            CanaryInput {
                traffic: &traffic,
                latency_ms: &slow,
                latency_buckets: &[],
            },
            &s,
        );
        assert_eq!(j.verdict, Verdict::Fail);
        assert_eq!(j.latency.unwrap().verdict, Verdict::Fail);
        let j = judge_canary(
            CanaryInput {
                traffic: &traffic,
                latency_ms: &base,
                latency_buckets: &[],
            },
            CanaryInput {
                traffic: &traffic,
                latency_ms: &slow[..10],
                latency_buckets: &[],
            },
            &s,
        );
        assert_eq!(j.verdict, Verdict::Inconclusive);
        let same = judge_canary(
            CanaryInput {
                traffic: &traffic,
                latency_ms: &base,
                latency_buckets: &[],
            },
            CanaryInput {
                traffic: &traffic,
                latency_ms: &base,
                latency_buckets: &[],
            },
            &s,
        );
        assert_eq!(same.verdict, Verdict::Pass);
    }

    fn cumulative(bounds: &[f64], per_bucket: &[f64]) -> Vec<Bucket> {
        let mut total = 0.0;
        bounds
            .iter()
            .zip(per_bucket)
            .map(|(&ub, &c)| {
                total += c;
                Bucket::new(ub, total)
            })
            .collect()
    }

    #[test]
    fn latency_histograms_are_judged_with_the_binned_test() {
        let bounds = [50.0, 100.0, 250.0, 500.0, f64::INFINITY];
        let traffic = t(1000.0, 0.0);
        let base = cumulative(&bounds, &[600.0, 300.0, 80.0, 15.0, 5.0]);
        let slow = cumulative(&bounds, &[100.0, 300.0, 400.0, 150.0, 50.0]);
        let side = |buckets| CanaryInput {
            traffic: &traffic,
            latency_ms: &[],
            latency_buckets: buckets,
        };
        let s = JudgeSettings::default();
        let j = judge_canary(side(&base), side(&slow), &s);
        let latency = j.latency.unwrap();
        assert_eq!(latency.source, Some(LatencySource::Histogram));
        assert_eq!(latency.samples, (1000, 1000));
        assert_eq!(latency.verdict, Verdict::Fail, "{j:?}");
        assert_eq!(judge_canary(side(&base), side(&base), &s).verdict, Verdict::Pass);
        let other_bounds = cumulative(&[10.0, f64::INFINITY], &[500.0, 500.0]);
        let j = judge_canary(side(&base), side(&other_bounds), &s);
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reasons.iter().any(|r| r.contains("different bucket bounds")));
    }

    #[test]
    fn invalid_settings_are_inconclusive_with_the_reason() {
        let s = JudgeSettings {
            alpha: f64::NAN,
            ..Default::default()
        };
        let (b, c) = (t(10_000.0, 0.0), t(10_000.0, 5_000.0));
        let j = judge_canary(CanaryInput::counts(&b), CanaryInput::counts(&c), &s);
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reasons[0].contains("alpha"), "{:?}", j.reasons);
    }
}
