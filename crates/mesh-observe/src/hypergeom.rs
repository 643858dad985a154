//! The hypergeometric probability mass, accurate to about 1e-14 relative at any count.
//!
//! `ln C(n, k)` through `lgamma` loses about `|lgamma(n)| * ε` to cancellation: at 10^7 requests
//! that is a relative error near 1e-8 in the p-value. Here the mass is a ratio of three binomial
//! masses, each written with Stirling's-series remainders and the deviance `bd0` (Loader, "Fast
//! and accurate computation of binomial probabilities", 2000), whose terms stay small.
//!
//! ```
//! // P(X = 1), X ~ Hypergeometric(population 10, 3 marked, 4 drawn) = C(3,1) C(7,3) / C(10,4) = 0.5
//! let p = mesh_observe::stats::hypergeom_ln_pmf(1, 3, 7, 4).exp();
//! assert!((p - 0.5).abs() < 1e-15);
//! ```

use std::f64::consts::PI;

/// `stirlerr(n) = ln(n!) - ln(sqrt(2πn) (n/e)^n)` for n = 0..=15, computed with 40-digit arithmetic.
const STIRLERR_SMALL: [f64; 16] = [
    0.0,
    0.08106146679532726,
    0.0413406959554093,
    0.02767792568499834,
    0.020790672103765093,
    0.016644691189821193,
    0.013876128823070748,
    0.01189670994589177,
    0.010411265261972096,
    0.009255462182712733,
    0.00833056343336287,
    0.007573675487951841,
    0.00694284010720953,
    0.006408994188004207,
    0.0059513701127588475,
    0.005554733551962801,
];

/// Stirling's-series remainder of `ln(n!)`.
fn stirlerr(n: u64) -> f64 {
    if let Some(v) = usize::try_from(n).ok().and_then(|i| STIRLERR_SMALL.get(i)) {
        return *v;
    }
    let n = n as f64;
    let nn = n * n;
    // 1/12n - 1/360n^3 + 1/1260n^5 - 1/1680n^7 + 1/1188n^9
    (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - 1.0 / 1188.0 / nn) / nn) / nn) / nn) / n
}

/// The deviance `x ln(x/m) + m - x`, without cancellation when `x` is close to `m`.
fn bd0(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let mut s = (x - m) * v;
        let mut ej = 2.0 * x * v;
        let v2 = v * v;
        for j in 1..1000 {
            ej *= v2;
            let next = s + ej / f64::from(2 * j + 1);
            if next == s {
                return s;
            }
            s = next;
        }
        return s;
    }
    x * (x / m).ln() + m - x
}

/// `ln P(X = x)` for `X ~ Binomial(n, p)`, `q = 1 - p` given separately for accuracy.
fn ln_binom(x: u64, n: u64, p: f64, q: f64) -> f64 {
    if x == 0 {
        return if n == 0 { 0.0 } else { n as f64 * q.ln() };
    }
    if x == n {
        return n as f64 * p.ln();
    }
    let (xf, nf) = (x as f64, n as f64);
    let lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(xf, nf * p) - bd0(nf - xf, nf * q);
    let lf = (2.0 * PI).ln() + xf.ln() + (-xf / nf).ln_1p();
    lc - 0.5 * lf
}

/// `ln P(X = x)` for `X ~ Hypergeometric`: `x` marked items among `n` drawn from `marked`
/// marked and `unmarked` unmarked ones. `-inf` outside the support.
#[must_use]
pub fn hypergeom_ln_pmf(x: u64, marked: u64, unmarked: u64, n: u64) -> f64 {
    let total = marked + unmarked;
    if n > total || x > marked || x > n || n - x > unmarked {
        return f64::NEG_INFINITY;
    }
    if n == 0 || n == total {
        // Every draw (or none) is taken: X is certain.
        let certain = if n == 0 { 0 } else { marked };
        return if x == certain { 0.0 } else { f64::NEG_INFINITY };
    }
    let p = n as f64 / total as f64;
    let q = (total - n) as f64 / total as f64;
    ln_binom(x, marked, p, q) + ln_binom(n - x, unmarked, p, q) - ln_binom(n, total, p, q)
}

#[cfg(test)]
mod tests {
    use super::hypergeom_ln_pmf;

    /// Exact values computed with 40-digit arithmetic (mpmath), as `ln P`.
    #[test]
    fn matches_exact_values_at_large_counts() {
        for (x, marked, unmarked, n, exact) in [
            // 10^6 / 10^7 requests with 0.1 % errors.
            (
                5_100u64,
                10_000u64,
                9_990_000u64,
                5_000_000u64,
                -6.832421618291984f64,
            ),
            (1_040, 2_000, 1_998_000, 1_000_000, -5.627095499547422),
        ] {
            let got = hypergeom_ln_pmf(x, marked, unmarked, n);
            assert!(((got - exact) / exact).abs() < 1e-12, "x={x}: {got} vs {exact}");
        }
    }

    #[test]
    fn outside_the_support_is_impossible() {
        assert_eq!(hypergeom_ln_pmf(5, 3, 7, 4), f64::NEG_INFINITY);
        assert_eq!(hypergeom_ln_pmf(3, 3, 7, 10), 0.0);
    }
}
