//! SLIs of requests held as two columns: statuses and latencies.
//!
//! [`calculate_sli_from_requests`](crate::calculate_sli_from_requests) takes one 16-byte
//! [`RequestRecord`](crate::RequestRecord) per request. Request logs and metric exports usually
//! hold columns instead (a `u16` status column and an `f64` latency column, as a numpy or Arrow
//! user has them): 10 bytes per request. Reading the columns directly reads a third fewer bytes
//! and lets each column's loop run on its own, which the selection of a large window is bound by.
//! The numbers are the same as with records: same error definition, same exact quantiles.

use std::time::Duration;

use mesh_core::LatencyQuantiles;

use crate::{
    InvalidSetting, Sli, SliSettings,
    column_select::{Scratch, column_quantiles_visiting},
};

/// Requests as two parallel columns: `status[i]` and `latency_ms[i]` belong to request `i`.
///
/// ```
/// use mesh_observe::RequestColumns;
/// assert!(RequestColumns::new(&[200, 503], &[12.0, 40.0]).is_ok());
/// let err = RequestColumns::new(&[200], &[12.0, 40.0]).unwrap_err();
/// assert_eq!(err.field, "latency_ms");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestColumns<'a> {
    status: &'a [u16],
    latency_ms: &'a [f64],
}

impl<'a> RequestColumns<'a> {
    /// The columns of the same requests. `status` is the HTTP status, `0` when no response
    /// arrived; `latency_ms` the latency in milliseconds (NaN: unknown, left out of the
    /// quantiles but still a request).
    ///
    /// # Errors
    /// [`InvalidSetting`] on `latency_ms` when the columns differ in length.
    pub fn new(status: &'a [u16], latency_ms: &'a [f64]) -> Result<Self, InvalidSetting> {
        if status.len() != latency_ms.len() {
            return Err(InvalidSetting::new(
                "latency_ms",
                format!(
                    "{} latencies for {} statuses: the columns must be equally long",
                    latency_ms.len(),
                    status.len()
                ),
            ));
        }
        Ok(Self { status, latency_ms })
    }

    /// How many requests.
    #[must_use]
    pub fn len(&self) -> usize {
        self.status.len()
    }

    /// `true` when there are no requests.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
    }

    /// The requests `start..end` (clamped to the columns).
    fn slice(&self, start: usize, end: usize) -> Self {
        let end = end.min(self.len());
        let start = start.min(end);
        Self {
            status: &self.status[start..end],
            latency_ms: &self.latency_ms[start..end],
        }
    }
}

/// The SLIs of the requests in `columns`, over a window of length `window`: the same numbers as
/// [`calculate_sli_from_requests`](crate::calculate_sli_from_requests) on the same requests.
///
/// ```
/// use std::time::Duration;
/// use mesh_observe::{calculate_sli_from_columns, RequestColumns, SliSettings};
/// let status: Vec<u16> = (1..=100).map(|i| if i % 50 == 0 { 503 } else { 200 }).collect();
/// let latency: Vec<f64> = (1..=100).map(f64::from).collect();
/// let columns = RequestColumns::new(&status, &latency)?;
/// let sli = calculate_sli_from_columns(columns, Duration::from_secs(10), SliSettings::default());
/// assert_eq!(sli.error_rate, Some(0.02));
/// assert_eq!(sli.throughput_rps, 10.0);
/// assert_eq!(sli.latency.p50_ms, Some(50.5));
/// # Ok::<(), mesh_observe::InvalidSetting>(())
/// ```
#[must_use]
pub fn calculate_sli_from_columns(
    columns: RequestColumns<'_>,
    window: Duration,
    settings: SliSettings,
) -> Sli {
    sli_with(columns, window, settings, &mut Scratch::default())
}

/// [`calculate_sli_from_columns`] with the given buffers.
fn sli_with(
    columns: RequestColumns<'_>,
    window: Duration,
    settings: SliSettings,
    scratch: &mut Scratch,
) -> Sli {
    // The statuses are counted step by step as the latency pass reaches them: one pass over
    // both columns.
    let mut errors = 0usize;
    let quantiles = column_quantiles_visiting(columns.latency_ms, [0.5, 0.9, 0.99], scratch, &mut |rows| {
        errors += count_errors(&columns.status[rows], settings);
    });
    sli_of(columns.len(), errors, window, quantiles)
}

/// One SLI per `per_window` consecutive requests (the last window may hold fewer), each over a
/// window of length `window`: what [`calculate_sli_from_columns`] gives on each slice, as numpy
/// users compute it on the rows of a reshaped array. `per_window` must be at least 1.
///
/// ```
/// use std::time::Duration;
/// use mesh_observe::{sli_windows, RequestColumns, SliSettings};
/// let status = [200, 503, 200, 200, 0];
/// let latency = [10.0, 20.0, 30.0, 40.0, f64::NAN];
/// let columns = RequestColumns::new(&status, &latency)?;
/// let slis = sli_windows(columns, 2, Duration::from_secs(1), SliSettings::default())?;
/// assert_eq!(slis.len(), 3);
/// assert_eq!(slis[0].error_rate, Some(0.5));
/// assert_eq!(slis[1].latency.p50_ms, Some(35.0));
/// assert_eq!((slis[2].error_rate, slis[2].latency.p50_ms), (Some(1.0), None));
/// # Ok::<(), mesh_observe::InvalidSetting>(())
/// ```
///
/// # Errors
/// [`InvalidSetting`] on `per_window` when it is 0.
pub fn sli_windows(
    columns: RequestColumns<'_>,
    per_window: usize,
    window: Duration,
    settings: SliSettings,
) -> Result<Vec<Sli>, InvalidSetting> {
    if per_window == 0 {
        return Err(InvalidSetting::new(
            "per_window",
            "a window holds at least one request",
        ));
    }
    let mut scratch = Scratch::default();
    Ok((0..columns.len().div_ceil(per_window))
        .map(|w| {
            let part = columns.slice(w * per_window, (w + 1) * per_window);
            sli_with(part, window, settings, &mut scratch)
        })
        .collect())
}

/// The SLI of `requests` requests of which `errors` failed, with the given latency quantiles.
pub(crate) fn sli_of(requests: usize, errors: usize, window: Duration, quantiles: [Option<f64>; 3]) -> Sli {
    let [p50_ms, p90_ms, p99_ms] = quantiles;
    let requests = requests as f64;
    let errors = errors as f64;
    let error_rate = (requests > 0.0).then(|| errors / requests);
    let secs = window.as_secs_f64();
    Sli {
        requests,
        errors,
        availability: error_rate.map(|e| 1.0 - e),
        error_rate,
        throughput_rps: if secs > 0.0 { requests / secs } else { 0.0 },
        latency: LatencyQuantiles {
            p50_ms,
            p90_ms,
            p99_ms,
        },
    }
}

/// How many statuses are errors under `settings` (see [`crate::sli`]): no response (`0`), a 5xx,
/// or a 4xx when those count. Range tests on wrapped differences, which vectorise, eight
/// statuses per instruction.
fn count_errors(status: &[u16], settings: SliSettings) -> usize {
    // 4xx and 5xx are one range when 4xx count.
    let (from, width) = if settings.count_client_errors {
        (400u16, 200u16)
    } else {
        (500, 100)
    };
    let mut total = 0usize;
    for chunk in status.chunks(1 << 15) {
        // `u16` lanes: a chunk never holds more than `u16::MAX` errors.
        let count: u16 = chunk
            .iter()
            .map(|&s| u16::from(s == 0) + u16::from(s.wrapping_sub(from) < width))
            .fold(0u16, u16::wrapping_add);
        total += usize::from(count);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, calculate_sli_from_requests, classify_status, sli::tests::any_records};

    #[test]
    fn error_count_agrees_with_classify_status() {
        let status: Vec<u16> = (0..=u16::MAX).collect();
        for count_client_errors in [false, true] {
            let settings = SliSettings { count_client_errors };
            let want = status
                .iter()
                .filter(|&&s| classify_status(s, settings) == Outcome::Error)
                .count();
            assert_eq!(count_errors(&status, settings), want);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn columns_give_the_records_sli(
            seed in proptest::prelude::any::<u64>(),
            n in proptest::prop_oneof![0usize..3000, 32_000usize..70_000],
            per_window in 1usize..1500,
            count_client_errors in proptest::prelude::any::<bool>(),
        ) {
            let records = any_records(seed, n);
            let status: Vec<u16> = records.iter().map(|r| r.status).collect();
            let latency: Vec<f64> = records.iter().map(|r| r.latency_ms).collect();
            let columns = RequestColumns::new(&status, &latency).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let settings = SliSettings { count_client_errors };
            let window = Duration::from_secs(30);
            let same = |a: &Sli, b: &Sli| format!("{a:?}") == format!("{b:?}");
            let whole = calculate_sli_from_columns(columns, window, settings);
            let want = calculate_sli_from_requests(&records, window, settings);
            proptest::prop_assert!(same(&whole, &want), "{:?} != {:?}", whole, want);
            let got = sli_windows(columns, per_window, window, settings).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let want: Vec<Sli> = records.chunks(per_window).map(|w| calculate_sli_from_requests(w, window, settings)).collect();
            proptest::prop_assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                proptest::prop_assert!(same(g, w), "window {}: {:?} != {:?}", i, g, w);
            }
        }
    }

    #[test]
    fn zero_requests_per_window_is_refused() {
        let columns = RequestColumns::new(&[], &[]).unwrap_or_else(|e| panic!("{e}"));
        let err = sli_windows(columns, 0, Duration::from_secs(1), SliSettings::default()).unwrap_err();
        assert_eq!(err.field, "per_window");
        assert!(
            sli_windows(columns, 5, Duration::from_secs(1), SliSettings::default())
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty()
        );
    }
}
