//! Fisher's one-sided exact test at the counts a busy service produces (10^6 to 10^7 requests):
//! exact to about 1e-12 relative against 50-digit references (mpmath, summing the exact
//! hypergeometric tail), and no `u64` underflow when the canary's errors exceed the baseline's
//! requests (a panic in debug builds before).

use mesh_observe::stats::fisher_exact_greater;

#[test]
fn p_values_are_exact_at_large_counts() {
    for (errors_a, n_a, errors_b, n_b, exact) in [
        (
            1_000u64,
            1_000_000u64,
            1_100u64,
            1_000_000u64,
            0.01531653887096932f64,
        ),
        (10_000, 5_000_000, 10_250, 5_000_000, 0.03992278214601028),
        (40, 2_000_000, 70, 3_000_000, 0.24907341305556457),
    ] {
        let p = fisher_exact_greater(errors_a, n_a, errors_b, n_b).p_value;
        assert!(
            ((p - exact) / exact).abs() < 1e-12,
            "{errors_a}/{n_a} vs {errors_b}/{n_b}: {p} vs {exact} (relative {:e})",
            ((p - exact) / exact).abs()
        );
    }
}

#[test]
fn canary_errors_beyond_the_baselines_requests_do_not_underflow() {
    for (errors_a, n_a, errors_b, n_b, exact) in [
        (0u64, 10u64, 50u64, 100u64, 0.0016076295735433165f64),
        // 5 baseline successes, 50 canary errors: the tail sum runs past x = 50.
        (5, 10, 50, 100, 0.6290233257610767),
    ] {
        let p = fisher_exact_greater(errors_a, n_a, errors_b, n_b).p_value;
        assert!(((p - exact) / exact).abs() < 1e-12, "{p} vs {exact}");
    }
}
