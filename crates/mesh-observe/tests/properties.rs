//! Property tests: quantiles are monotone and bounded, SLIs stay in [0, 1], anomaly scores ignore
//! shifts and scales, and nothing panics on NaN, infinities or empty input.

use std::time::Duration;

use mesh_core::{LatencyQuantiles, TrafficSample};
use mesh_observe::{
    AnomalySettings, Assessment, Bucket, CanaryInput, JudgeSettings, RequestRecord, SliSettings, Slo, assess,
    calculate_sli, calculate_sli_from_requests, histogram_quantile, is_within_slo, judge_canary,
};
use proptest::prelude::*;

/// A valid classic histogram: distinct finite bounds plus `+Inf`, non-negative counts, any order.
fn histogram() -> impl Strategy<Value = Vec<Bucket>> {
    (
        prop::collection::btree_set(-1000i32..10_000, 1..10),
        prop::collection::vec(0.0f64..1000.0, 11),
    )
        .prop_map(|(bounds, increments)| {
            let mut total = 0.0;
            let mut buckets: Vec<Bucket> = bounds
                .into_iter()
                .map(f64::from)
                .chain([f64::INFINITY])
                .zip(increments)
                .map(|(ub, inc)| {
                    total += inc;
                    Bucket::new(ub, total)
                })
                .collect();
            buckets.reverse();
            buckets
        })
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::ANY,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        -10.0f64..10.0,
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #[test]
    fn quantile_is_monotone_in_q(h in histogram(), q1 in 0.0f64..=1.0, q2 in 0.0f64..=1.0) {
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let (a, b) = (histogram_quantile(lo, &h), histogram_quantile(hi, &h));
        if a.is_nan() || b.is_nan() {
            // only a histogram without observations gives NaN
            prop_assert!(h.iter().all(|b| b.count == 0.0));
        } else {
            // Prometheus' interpolation may land one rounding step past a bucket edge.
            prop_assert!(a <= b + 4.0 * f64::EPSILON * a.abs().max(b.abs()), "q {lo} -> {a}, q {hi} -> {b}");
        }
    }

    #[test]
    fn quantile_stays_within_the_bucket_bounds(h in histogram(), q in 0.0f64..=1.0) {
        let v = histogram_quantile(q, &h);
        prop_assume!(!v.is_nan());
        let finite: Vec<f64> = h.iter().map(|b| b.upper_bound).filter(|u| u.is_finite()).collect();
        let lowest = finite.iter().copied().fold(0.0f64, f64::min);
        let highest = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let slack = 4.0 * f64::EPSILON * highest.abs().max(lowest.abs());
        prop_assert!(v >= lowest - slack && v <= highest + slack, "{v} outside [{lowest}, {highest}]");
    }

    #[test]
    fn quantile_never_panics(
        q in any_f64(),
        raw in prop::collection::vec((any_f64(), any_f64()), 0..12),
    ) {
        let buckets: Vec<Bucket> = raw.into_iter().map(|(u, c)| Bucket::new(u, c)).collect();
        let _ = histogram_quantile(q, &buckets);
    }

    #[test]
    fn sli_ratios_stay_in_unit_interval(
        requests in any_f64(), errors in any_f64(), client in any_f64(), rate in any_f64(), strict: bool,
    ) {
        let sample = TrafficSample {
            requests, errors, client_errors: client, request_rate: rate, latency: LatencyQuantiles::default(),
        };
        let sli = calculate_sli(&sample, SliSettings { count_client_errors: strict });
        for r in [sli.availability, sli.error_rate].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&r), "{r}");
        }
        prop_assert!(sli.throughput_rps.is_finite() && sli.throughput_rps >= 0.0);
        let _ = is_within_slo(&sli, &Slo { availability: Some(99.9), latency_p99: Some(200.0), ..Default::default() });
    }

    #[test]
    fn request_slis_stay_in_unit_interval(
        recs in prop::collection::vec((0u16..700, any_f64()), 0..200),
        window_ms in 0u64..100_000,
    ) {
        let recs: Vec<RequestRecord> = recs.into_iter().map(|(status, latency_ms)| RequestRecord { status, latency_ms }).collect();
        let sli = calculate_sli_from_requests(&recs, Duration::from_millis(window_ms), SliSettings::default());
        for r in [sli.availability, sli.error_rate].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&r));
        }
        if let (Some(p50), Some(p99)) = (sli.latency.p50_ms, sli.latency.p99_ms) {
            prop_assert!(p50 <= p99 || p50.is_nan() || p99.is_nan());
        }
    }

    #[test]
    fn anomaly_scores_ignore_power_of_two_scaling_exactly(
        history in prop::collection::vec(-1000i32..1000, 8..200),
        current in -5000i32..5000,
        k in -20i32..20,
    ) {
        let s = AnomalySettings::default();
        let scale = 2f64.powi(k);
        let h: Vec<f64> = history.iter().map(|&v| f64::from(v)).collect();
        let scaled: Vec<f64> = h.iter().map(|v| v * scale).collect();
        let a = assess(f64::from(current), &h, &s);
        let b = assess(f64::from(current) * scale, &scaled, &s);
        match (a, b) {
            (Assessment::Scored { robust: r1, ewma: e1, .. }, Assessment::Scored { robust: r2, ewma: e2, .. }) => {
                prop_assert_eq!(r1.score, r2.score);
                prop_assert_eq!(r1.anomalous, r2.anomalous);
                prop_assert_eq!(e1.map(|e| e.score), e2.map(|e| e.score));
            }
            (Assessment::ConstantHistory { .. }, Assessment::ConstantHistory { .. }) => {}
            other => prop_assert!(false, "different assessments: {other:?}"),
        }
    }

    #[test]
    fn anomaly_scores_ignore_shift_and_scale(
        history in prop::collection::vec(-1000i32..1000, 8..200),
        current in -5000i32..5000,
        shift in -1_000_000i32..1_000_000,
        scale in 0.001f64..1000.0,
    ) {
        let s = AnomalySettings::default();
        let h: Vec<f64> = history.iter().map(|&v| f64::from(v)).collect();
        let moved: Vec<f64> = h.iter().map(|v| v * scale + f64::from(shift)).collect();
        let a = assess(f64::from(current), &h, &s);
        let b = assess(f64::from(current) * scale + f64::from(shift), &moved, &s);
        if let (Assessment::Scored { robust: r1, ewma: e1, .. }, Assessment::Scored { robust: r2, ewma: e2, .. }) = (a, b) {
            prop_assert!(close(r1.score, r2.score), "{} vs {}", r1.score, r2.score);
            if let (Some(e1), Some(e2)) = (e1, e2) {
                prop_assert!(close(e1.score, e2.score), "{} vs {}", e1.score, e2.score);
            }
        }
    }

    #[test]
    fn anomalies_never_panic(current in any_f64(), history in prop::collection::vec(any_f64(), 0..40)) {
        let _ = assess(current, &history, &AnomalySettings::default());
        let _ = assess(current, &history, &AnomalySettings { min_history: 0, ..Default::default() });
        let bad = AnomalySettings { ewma_alpha: f64::NAN, ..Default::default() };
        prop_assert_eq!(assess(current, &history, &bad), Assessment::InvalidSettings);
    }

    #[test]
    fn low_traffic_is_never_a_failure(
        b_req in 0.0f64..50.0, b_err in 0.0f64..50.0, c_req in any_f64(), c_err in any_f64(),
        lat in prop::collection::vec(any_f64(), 0..80),
    ) {
        let base = TrafficSample { requests: b_req, errors: b_err, ..Default::default() };
        let canary = TrafficSample { requests: c_req, errors: c_err, ..Default::default() };
        let j = judge_canary(
            CanaryInput { traffic: &base, latency_ms: &lat, latency_buckets: &[] },
            CanaryInput { traffic: &canary, latency_ms: &lat, latency_buckets: &[] },
            &JudgeSettings::default(),
        );
        prop_assert_eq!(j.verdict, mesh_observe::Verdict::Inconclusive);
    }
}
