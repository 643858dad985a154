//! Service level indicators: availability, error rate, throughput and latency quantiles.
//!
//! # What counts as an error
//! One definition, used everywhere in this crate:
//! - a **5xx** response is an error;
//! - **no response at all** (status `0`: proxy error, reset, timeout before headers) is an error;
//! - a **4xx** response is *not* an error by default — it is the client's fault, and counting it
//!   would let one bad caller fail a release. It is counted apart (`client_errors`) and becomes an
//!   error when [`SliSettings::count_client_errors`] is set.
//!
//! This matches Flagger and Consul's UI for 5xx, adds the "no response" case that Kiali and
//! Linkerd count (Linkerd's `classification="failure"` includes proxy errors), and makes Kiali's
//! 4xx counting an explicit opt-in.

use std::time::Duration;

use mesh_core::{LatencyQuantiles, ServiceMetrics, TrafficSample};
use serde::{Deserialize, Serialize};

use crate::sample_quantile::quantiles_by;

/// How requests are classified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliSettings {
    /// Count 4xx responses as errors too (Kiali's definition). Default `false`.
    pub count_client_errors: bool,
}

/// What a request's status says, under given settings.
///
/// ```
/// use mesh_observe::{classify_status, Outcome, SliSettings};
/// let s = SliSettings::default();
/// assert_eq!(classify_status(503, s), Outcome::Error);
/// assert_eq!(classify_status(0, s), Outcome::Error); // no response
/// assert_eq!(classify_status(404, s), Outcome::ClientError);
/// assert_eq!(classify_status(404, SliSettings { count_client_errors: true }), Outcome::Error);
/// assert_eq!(classify_status(200, s), Outcome::Success);
/// ```
#[must_use]
pub fn classify_status(status: u16, settings: SliSettings) -> Outcome {
    match status {
        0 | 500..=599 => Outcome::Error,
        400..=499 if settings.count_client_errors => Outcome::Error,
        400..=499 => Outcome::ClientError,
        _ => Outcome::Success,
    }
}

/// The class of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Served (1xx, 2xx, 3xx, or 4xx when 4xx do not count).
    Success,
    /// A 4xx that does not count as an error.
    ClientError,
    /// A 5xx, no response, or a 4xx when 4xx count.
    Error,
}

/// One observed request: its status (`0` = no response) and latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The HTTP status; `0` when no response arrived.
    pub status: u16,
    /// The latency in milliseconds.
    pub latency_ms: f64,
}

/// Service level indicators over one window.
///
/// Ratios are `None` when there was no traffic: "no data" is never turned into 0 % or 100 %.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sli {
    /// Requests in the window.
    pub requests: f64,
    /// Requests counted as errors (see the module documentation).
    pub errors: f64,
    /// `1 - error_rate`, in `[0, 1]`.
    pub availability: Option<f64>,
    /// `errors / requests`, in `[0, 1]`.
    pub error_rate: Option<f64>,
    /// Requests per second.
    pub throughput_rps: f64,
    /// Latency quantiles in milliseconds.
    pub latency: LatencyQuantiles,
}

/// The SLIs of an aggregated [`TrafficSample`] (what `get_service_metrics` returns).
///
/// Negative, NaN or infinite counts are treated as "no usable data" (ratios `None`); error counts
/// are clamped into `[0, requests]` so the ratios always stay in `[0, 1]`.
///
/// ```
/// use mesh_core::TrafficSample;
/// use mesh_observe::{calculate_sli, SliSettings};
/// let sample = TrafficSample { requests: 1000.0, errors: 5.0, client_errors: 20.0, request_rate: 3.3, ..Default::default() };
/// let sli = calculate_sli(&sample, SliSettings::default());
/// assert_eq!(sli.error_rate, Some(0.005));
/// assert_eq!(sli.availability, Some(0.995));
/// let strict = calculate_sli(&sample, SliSettings { count_client_errors: true });
/// assert_eq!(strict.error_rate, Some(0.025));
/// let idle = calculate_sli(&TrafficSample::default(), SliSettings::default());
/// assert_eq!(idle.availability, None);
/// ```
#[must_use]
pub fn calculate_sli(sample: &TrafficSample, settings: SliSettings) -> Sli {
    let requests = finite_non_negative(sample.requests);
    let mut errors = finite_non_negative(sample.errors);
    if settings.count_client_errors {
        errors += finite_non_negative(sample.client_errors);
    }
    let errors = errors.min(requests);
    let usable = requests > 0.0 && sample.errors.is_finite() && sample.requests.is_finite();
    let error_rate = usable.then(|| (errors / requests).clamp(0.0, 1.0));
    Sli {
        requests,
        errors,
        availability: error_rate.map(|e| 1.0 - e),
        error_rate,
        throughput_rps: finite_non_negative(sample.request_rate),
        latency: sample.latency,
    }
}

/// The SLIs of a whole service (all versions together), see [`calculate_sli`].
///
/// ```
/// use std::{collections::BTreeMap, time::{Duration, UNIX_EPOCH}};
/// use mesh_core::{ServiceMetrics, TimeRange, TrafficSample};
/// use mesh_observe::{calculate_service_sli, SliSettings};
/// let end = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let metrics = ServiceMetrics {
///     service: "prod/api".parse()?,
///     range: TimeRange::ending_at(end, Duration::from_secs(300))?,
///     overall: TrafficSample { requests: 200.0, errors: 2.0, ..Default::default() },
///     by_version: BTreeMap::new(),
/// };
/// assert_eq!(calculate_service_sli(&metrics, SliSettings::default()).availability, Some(0.99));
/// # Ok::<(), mesh_core::Error>(())
/// ```
#[must_use]
pub fn calculate_service_sli(metrics: &ServiceMetrics, settings: SliSettings) -> Sli {
    calculate_sli(&metrics.overall, settings)
}

/// The SLIs of raw request records over a window of length `window`.
///
/// Quantiles are exact over the records (linear interpolation between order statistics, the
/// definition numpy's `percentile` uses by default); records with a NaN latency are left out of the
/// quantiles but still counted as requests. An empty slice gives no ratios and no quantiles.
///
/// ```
/// use std::time::Duration;
/// use mesh_observe::{calculate_sli_from_requests, RequestRecord, SliSettings};
/// let recs: Vec<RequestRecord> = (1..=100)
///     .map(|i| RequestRecord { status: if i % 50 == 0 { 503 } else { 200 }, latency_ms: f64::from(i) })
///     .collect();
/// let sli = calculate_sli_from_requests(&recs, Duration::from_secs(10), SliSettings::default());
/// assert_eq!(sli.error_rate, Some(0.02));
/// assert_eq!(sli.throughput_rps, 10.0);
/// assert_eq!(sli.latency.p50_ms, Some(50.5));
/// ```
#[must_use]
pub fn calculate_sli_from_requests(
    records: &[RequestRecord],
    window: Duration,
    settings: SliSettings,
) -> Sli {
    // One pass classifies the records and feeds the latency selection.
    let is_error = &ERRORS[usize::from(settings.count_client_errors)];
    let mut errors = 0u64;
    let [p50, p90, p99] = quantiles_by(
        records,
        |r| r.latency_ms,
        |r| errors += u64::from(is_error[usize::from(r.status).min(STATUSES - 1)]),
        [0.5, 0.9, 0.99],
    );
    crate::sli_columns::sli_of(records.len(), errors as usize, window, [p50, p90, p99])
}

/// Statuses in [`ERRORS`]; every higher one is a success.
const STATUSES: usize = 1000;

/// `classify_status(status, settings) == Outcome::Error` for every status below [`STATUSES`],
/// indexed by `count_client_errors`: one load instead of three comparisons per request.
static ERRORS: [[bool; STATUSES]; 2] = [error_statuses(false), error_statuses(true)];

const fn error_statuses(count_client_errors: bool) -> [bool; STATUSES] {
    let mut table = [false; STATUSES];
    let mut status = 0;
    while status < STATUSES {
        table[status] = status == 0
            || (status >= 500 && status <= 599)
            || (count_client_errors && status >= 400 && status <= 499);
        status += 1;
    }
    table
}

/// Quantiles (linear interpolation between closest ranks, numpy's default) of `values`, which
/// must hold no NaN. `None` for an empty slice. Runs in linear time ([`crate::sample_quantiles`]).
pub(crate) fn quantiles_in_place<const N: usize>(values: &mut [f64], qs: [f64; N]) -> [Option<f64>; N] {
    crate::sample_quantiles(values, qs)
}

fn finite_non_negative(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `n` seeded requests with every kind of status and latency: error and success classes at
    /// their edges, NaN, infinity, signed zeros, negatives, ties and a skewed spread.
    pub(crate) fn any_records(seed: u64, n: usize) -> Vec<RequestRecord> {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        (0..n)
            .map(|_| {
                let status = [0, 200, 204, 302, 404, 499, 500, 503, 599, 600, 65_535][(next() % 11) as usize];
                let u = next() as f64 / (1u64 << 53) as f64;
                let latency_ms = match next() % 60 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => -0.0,
                    3 => (u * 3.0).floor(),
                    4 => -u,
                    _ => (2.0 + 3.0 * u).exp(),
                };
                RequestRecord { status, latency_ms }
            })
            .collect()
    }

    fn numpy_linear(sorted: &[f64], q: f64) -> f64 {
        let pos = q * (sorted.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(sorted.len() - 1);
        let frac = pos - lo as f64;
        if frac == 0.0 {
            sorted[lo]
        } else {
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }

    #[test]
    fn selection_quantiles_match_sorting() {
        let mut state = 7u64;
        for n in [1usize, 2, 3, 10, 101, 1000] {
            let mut v: Vec<f64> = (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((state >> 11) % 1000) as f64
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let got = quantiles_in_place(&mut v, [0.5, 0.9, 0.99, 0.0, 1.0]);
            for (q, g) in [0.5, 0.9, 0.99, 0.0, 1.0].into_iter().zip(got) {
                assert_eq!(g, Some(numpy_linear(&sorted, q)), "n={n} q={q}");
            }
        }
    }

    #[test]
    fn error_table_agrees_with_classify_status() {
        for count_client_errors in [false, true] {
            let settings = SliSettings { count_client_errors };
            for status in 0..=u16::MAX {
                let table = ERRORS[usize::from(count_client_errors)][usize::from(status).min(STATUSES - 1)];
                assert_eq!(
                    table,
                    classify_status(status, settings) == Outcome::Error,
                    "{status}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn requests_give_the_sort_based_sli(
            seed in proptest::prelude::any::<u64>(),
            n in proptest::prop_oneof![0usize..2000, 32_000usize..50_000],
            count_client_errors in proptest::prelude::any::<bool>(),
        ) {
            let records = any_records(seed, n);
            let settings = SliSettings { count_client_errors };
            let sli = calculate_sli_from_requests(&records, Duration::from_secs(60), settings);
            let errors = records
                .iter()
                .filter(|r| classify_status(r.status, settings) == Outcome::Error)
                .count();
            proptest::prop_assert_eq!(sli.errors, errors as f64);
            let mut sorted: Vec<f64> = records.iter().map(|r| r.latency_ms).filter(|x| !x.is_nan()).collect();
            sorted.sort_by(f64::total_cmp);
            for (q, got) in [(0.5, sli.latency.p50_ms), (0.9, sli.latency.p90_ms), (0.99, sli.latency.p99_ms)] {
                let want = (!sorted.is_empty()).then(|| numpy_linear(&sorted, q));
                let same = match (got, want) {
                    (Some(a), Some(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    (a, b) => a == b,
                };
                proptest::prop_assert!(same, "n={} q={}: got {:?}, sorting gives {:?}", n, q, got, want);
            }
        }
    }

    #[test]
    fn nan_and_negative_counts_give_no_ratio() {
        let s = TrafficSample {
            requests: f64::NAN,
            errors: 1.0,
            ..Default::default()
        };
        assert_eq!(calculate_sli(&s, SliSettings::default()).error_rate, None);
        let s = TrafficSample {
            requests: 10.0,
            errors: f64::INFINITY,
            ..Default::default()
        };
        assert_eq!(calculate_sli(&s, SliSettings::default()).error_rate, None);
        let s = TrafficSample {
            requests: 10.0,
            errors: 50.0,
            ..Default::default()
        };
        assert_eq!(calculate_sli(&s, SliSettings::default()).error_rate, Some(1.0));
    }

    #[test]
    fn no_response_counts_as_error_and_4xx_only_on_request() {
        let recs = [
            RequestRecord {
                status: 0,
                latency_ms: 1.0,
            },
            RequestRecord {
                status: 404,
                latency_ms: 2.0,
            },
            RequestRecord {
                status: 200,
                latency_ms: f64::NAN,
            },
            RequestRecord {
                status: 302,
                latency_ms: 4.0,
            },
        ];
        let w = Duration::from_secs(2);
        let sli = calculate_sli_from_requests(&recs, w, SliSettings::default());
        assert_eq!((sli.errors, sli.error_rate), (1.0, Some(0.25)));
        assert_eq!(sli.latency.p50_ms, Some(2.0));
        let sli = calculate_sli_from_requests(
            &recs,
            w,
            SliSettings {
                count_client_errors: true,
            },
        );
        assert_eq!(sli.error_rate, Some(0.5));
        let empty = calculate_sli_from_requests(&[], w, SliSettings::default());
        assert_eq!((empty.availability, empty.latency.p99_ms), (None, None));
    }
}
