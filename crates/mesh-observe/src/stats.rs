//! The statistical tests behind the canary judgement, usable on their own.
//!
//! All tests are **one-sided**: they ask whether the canary is *worse* than the baseline (more
//! errors, higher latency), so a better canary is never flagged.

use serde::{Deserialize, Serialize};

pub use crate::hypergeom::hypergeom_ln_pmf;

/// `P(Z > z)` for a standard normal `Z`.
///
/// ```
/// use mesh_observe::stats::normal_sf;
/// assert_eq!(normal_sf(0.0), 0.5);
/// assert!((normal_sf(1.959_963_984_540_054) - 0.025).abs() < 1e-15);
/// ```
#[must_use]
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// Which test produced an error-rate p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProportionTest {
    /// Pooled two-proportion z-test (large counts).
    TwoProportionZ,
    /// Fisher's exact test (small expected counts).
    FisherExact,
}

/// The result of a one-sided test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The test statistic (z for z-tests; the canary's error count for Fisher's test).
    pub statistic: f64,
    /// The one-sided p-value.
    pub p_value: f64,
}

/// One-sided pooled two-proportion z-test: is `errors_b / n_b` greater than `errors_a / n_a`?
///
/// With no errors at all, or only errors, there is no evidence of a difference: `z = 0`, `p = 1`.
///
/// ```
/// use mesh_observe::stats::two_proportion_z;
/// let r = two_proportion_z(10, 1000, 30, 1000);
/// assert!(r.statistic > 3.0 && r.p_value < 0.001);
/// assert_eq!(two_proportion_z(0, 100, 0, 100).p_value, 1.0);
/// ```
#[must_use]
pub fn two_proportion_z(errors_a: u64, n_a: u64, errors_b: u64, n_b: u64) -> TestResult {
    let (ea, na, eb, nb) = (errors_a as f64, n_a as f64, errors_b as f64, n_b as f64);
    let pooled = (ea + eb) / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se.is_nan() || se <= 0.0 {
        return TestResult {
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    let z = (eb / nb - ea / na) / se;
    TestResult {
        statistic: z,
        p_value: normal_sf(z),
    }
}

/// One-sided Fisher exact test on the 2x2 table (errors/successes x baseline/canary):
/// `P(X >= errors_b)` for the hypergeometric count of canary errors given the margins.
///
/// ```
/// use mesh_observe::stats::fisher_exact_greater;
/// // scipy.stats.fisher_exact([[3, 47], [0, 50]], alternative="greater") -> p = 0.12121...
/// let r = fisher_exact_greater(0, 50, 3, 50);
/// assert!((r.p_value - 0.121_212_121_212_121_2).abs() < 1e-12);
/// assert_eq!(fisher_exact_greater(0, 50, 0, 50).p_value, 1.0);
/// ```
#[must_use]
pub fn fisher_exact_greater(errors_a: u64, n_a: u64, errors_b: u64, n_b: u64) -> TestResult {
    let errors_a = errors_a.min(n_a);
    let errors_b = errors_b.min(n_b);
    let total = n_a + n_b;
    let errors = errors_a + errors_b;
    let hi = errors.min(n_b);
    let statistic = errors_b as f64;
    if errors_b == 0 {
        return TestResult {
            statistic,
            p_value: 1.0,
        };
    }
    // Sum the tail from its mode side outward with the term ratio, scaled by the first term,
    // P(X = errors_b) for X ~ Hypergeometric(total, errors, n_b), accurate at any count.
    let first = crate::hypergeom::hypergeom_ln_pmf(errors_b, errors, total - errors, n_b);
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    let mut x = errors_b;
    while x < hi {
        let num = (errors - x) as f64 * (n_b - x) as f64;
        // `total - errors + x + 1 - n_b` is at least 1 (x >= errors_b); the earlier order
        // `total - errors - n_b` underflowed when canary errors exceeded baseline successes.
        let den = (x + 1) as f64 * (total - errors + x + 1 - n_b) as f64;
        term *= num / den;
        sum += term;
        x += 1;
        if term < sum * 1e-17 {
            break;
        }
    }
    TestResult {
        statistic,
        p_value: (first.exp() * sum).min(1.0),
    }
}

#[cfg(test)]
fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

#[cfg(test)]
fn ln_factorial(n: u64) -> f64 {
    libm::lgamma(n as f64 + 1.0)
}

/// The result of [`mann_whitney_greater`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// `U` of the second sample (the number of pairs where it is larger, ties counting half).
    pub u: f64,
    /// The normal-approximation z, with continuity and tie corrections.
    pub z: f64,
    /// One-sided p-value: the second sample tends to be larger.
    pub p_value: f64,
}

/// One-sided Mann-Whitney U test (normal approximation with tie and continuity corrections, as
/// `scipy.stats.mannwhitneyu(b, a, alternative="greater", method="asymptotic")`): does `b` tend
/// to be larger than `a`? NaN values are ignored; `None` when either side is empty.
///
/// ```
/// use mesh_observe::stats::mann_whitney_greater;
/// let a: Vec<f64> = (0..60).map(f64::from).collect();
/// let b: Vec<f64> = (30..90).map(f64::from).collect();
/// let r = mann_whitney_greater(&a, &b).unwrap();
/// assert!(r.p_value < 1e-6);
/// assert!(mann_whitney_greater(&b, &a).unwrap().p_value > 0.99);
/// assert!(mann_whitney_greater(&[], &b).is_none());
/// ```
#[must_use]
pub fn mann_whitney_greater(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| (v, false))
        .chain(b.iter().filter(|v| !v.is_nan()).map(|&v| (v, true)))
        .collect();
    let nb = all.iter().filter(|(_, is_b)| *is_b).count() as f64;
    let na = all.len() as f64 - nb;
    if na == 0.0 || nb == 0.0 {
        return None;
    }
    all.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut rank_sum_b = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && all[j].0 == all[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0; // ranks i+1 ..= j
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        rank_sum_b += avg_rank * all[i..j].iter().filter(|(_, is_b)| *is_b).count() as f64;
        i = j;
    }
    let u = rank_sum_b - nb * (nb + 1.0) / 2.0;
    Some(u_to_z(u, na, nb, tie_term))
}

/// [`mann_whitney_greater`] on binned data: `a[i]` and `b[i]` are how many observations of each
/// sample fall in bin `i` (bins in ascending order, the same for both). Observations in one bin
/// are ties, exactly as if every one of them had the same value; counts may be fractional (rates
/// times a window). `None` when the lengths differ, a count is negative or not finite, or a side
/// has no observations.
///
/// This is the latency test for Prometheus histograms: the per-bucket counts are the bins.
///
/// ```
/// use mesh_observe::stats::{mann_whitney_greater, mann_whitney_greater_binned};
/// // 3 observations in bin 0 and 1 in bin 1, against 1 and 3
/// let binned = mann_whitney_greater_binned(&[3.0, 1.0], &[1.0, 3.0]).unwrap();
/// let raw = mann_whitney_greater(&[0.0, 0.0, 0.0, 1.0], &[0.0, 1.0, 1.0, 1.0]).unwrap();
/// assert_eq!((binned.u, binned.z), (raw.u, raw.z));
/// assert!(mann_whitney_greater_binned(&[1.0], &[1.0, 2.0]).is_none());
/// ```
#[must_use]
pub fn mann_whitney_greater_binned(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    if a.len() != b.len() || a.iter().chain(b).any(|c| !c.is_finite() || *c < 0.0) {
        return None;
    }
    let (na, nb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    if na <= 0.0 || nb <= 0.0 {
        return None;
    }
    let mut below_a = 0.0;
    let mut u = 0.0;
    let mut tie_term = 0.0;
    for (&ca, &cb) in a.iter().zip(b) {
        u += cb * (below_a + ca / 2.0);
        below_a += ca;
        let t = ca + cb;
        tie_term += t * t * t - t;
    }
    Some(u_to_z(u, na, nb, tie_term))
}

/// The normal approximation shared by both forms of the test.
fn u_to_z(u: f64, na: f64, nb: f64, tie_term: f64) -> MannWhitney {
    let total = na + nb;
    let mean = na * nb / 2.0;
    let var = na * nb / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
    if var.is_nan() || var <= 0.0 {
        return MannWhitney {
            u,
            z: 0.0,
            p_value: 1.0,
        };
    }
    let z = (u - mean - 0.5) / var.sqrt();
    MannWhitney {
        u,
        z,
        p_value: normal_sf(z),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_matches_direct_summation() {
        // scipy: fisher_exact([[5, 95], [1, 99]], alternative="greater") = 0.10583...
        let r = fisher_exact_greater(1, 100, 5, 100);
        let direct: f64 = (5..=6u64)
            .map(|x| (ln_choose(6, x) + ln_choose(194, 100 - x) - ln_choose(200, 100)).exp())
            .sum();
        assert!((r.p_value - direct).abs() < 1e-12, "{} vs {direct}", r.p_value);
    }

    #[test]
    fn mann_whitney_all_ties_is_no_evidence() {
        let r = mann_whitney_greater(&[1.0; 10], &[1.0; 10]).unwrap();
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn mann_whitney_matches_scipy_reference() {
        // scipy.stats.mannwhitneyu([1,2,3,4,5], [3,4,5,6,7], alternative="greater",
        //                          method="asymptotic") on (b, a): U = 20.5
        let r = mann_whitney_greater(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 4.0, 5.0, 6.0, 7.0]).unwrap();
        assert_eq!(r.u, 20.5);
        let var = 25.0 / 12.0 * (11.0 - 18.0 / 90.0);
        assert!((r.z - (20.5 - 12.5 - 0.5) / f64::sqrt(var)).abs() < 1e-12);
    }

    #[test]
    fn binned_test_equals_the_raw_test_on_tied_values() {
        let a_bins = [5.0, 0.0, 7.0, 2.0, 1.0];
        let b_bins = [1.0, 3.0, 2.0, 6.0, 4.0];
        let expand = |bins: &[f64]| -> Vec<f64> {
            bins.iter()
                .enumerate()
                .flat_map(|(i, &c)| std::iter::repeat_n(i as f64, c as usize))
                .collect()
        };
        let raw = mann_whitney_greater(&expand(&a_bins), &expand(&b_bins)).unwrap();
        let binned = mann_whitney_greater_binned(&a_bins, &b_bins).unwrap();
        assert_eq!(raw.u, binned.u);
        assert!((raw.z - binned.z).abs() < 1e-12 && (raw.p_value - binned.p_value).abs() < 1e-12);
        assert!(mann_whitney_greater_binned(&[f64::NAN, 1.0], &[1.0, 1.0]).is_none());
        assert!(mann_whitney_greater_binned(&[0.0, 0.0], &[1.0, 1.0]).is_none());
    }
}
