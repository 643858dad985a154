//! `histogram_quantile` for classic (bucketed) histograms, bit-for-bit as Prometheus 2.42 computes it.
//!
//! The steps, in Prometheus' order (`promql/quantile.go`, `bucketQuantile`, v2.42.0):
//! 1. `q` NaN gives NaN, `q < 0` gives `-inf`, `q > 1` gives `+inf`;
//! 2. buckets are sorted by upper bound; if the highest bound is not `+inf` the result is NaN;
//! 3. buckets with equal upper bounds are merged (counts summed);
//! 4. counts are made monotonic with a running maximum (a count below the maximum so far is raised);
//! 5. fewer than two buckets, or zero observations in the `+inf` bucket, give NaN;
//! 6. `rank = q * observations`; the bucket is the first finite one whose count is `>= rank`, found
//!    with the same binary search as Go's `sort.Search`; a rank in the `+inf` bucket returns the
//!    highest finite bound, a first bucket with a bound `<= 0` returns that bound;
//! 7. otherwise linear interpolation `start + (end - start) * (rank / count)`, in exactly that order.

use serde::{Deserialize, Serialize};

/// One cumulative histogram bucket: the number of observations less than or equal to `upper_bound`
/// (the `le` label), as a rate or a count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The inclusive upper bound (`le`); the last bucket of a complete histogram has `f64::INFINITY`.
    pub upper_bound: f64,
    /// The cumulative count (or rate) of observations `<= upper_bound`.
    pub count: f64,
}

impl Bucket {
    /// A bucket with the given upper bound and cumulative count.
    ///
    /// ```
    /// let b = mesh_observe::Bucket::new(0.5, 3.0);
    /// assert_eq!((b.upper_bound, b.count), (0.5, 3.0));
    /// ```
    #[must_use]
    pub const fn new(upper_bound: f64, count: f64) -> Self {
        Self { upper_bound, count }
    }
}

/// The `q`-quantile of a classic histogram, exactly as Prometheus 2.42's `histogram_quantile`.
///
/// Buckets may come in any order, may repeat an upper bound (their counts are added) and may be
/// non-monotonic (repaired with a running maximum). Returns NaN when the input cannot give a
/// quantile: no `+inf` bucket, fewer than two distinct bounds, zero observations, or an empty slice.
/// A NaN upper bound has no defined sort position (in Prometheus either), so only for such input
/// the result is not guaranteed to match Prometheus'.
///
/// ```
/// use mesh_observe::{histogram_quantile, Bucket};
/// let b = [Bucket::new(100.0, 8.0), Bucket::new(250.0, 9.9), Bucket::new(f64::INFINITY, 10.0)];
/// assert_eq!(histogram_quantile(0.5, &b), 62.5);
/// assert_eq!(histogram_quantile(0.99, &b), 250.0); // rank 9.9 == count 9.9: the upper bound
/// assert_eq!(histogram_quantile(0.999, &b), 250.0); // +inf bucket: the highest finite bound
/// assert_eq!(histogram_quantile(1.5, &b), f64::INFINITY);
/// assert!(histogram_quantile(0.5, &b[..2]).is_nan()); // no +inf bucket
/// ```
#[must_use]
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if buckets.is_empty() {
        return f64::NAN;
    }
    // Small histograms (every real one) are copied to the stack: no allocation per call.
    if buckets.len() <= STACK_BUCKETS {
        let mut local = [Bucket::new(0.0, 0.0); STACK_BUCKETS];
        let local = &mut local[..buckets.len()];
        local.copy_from_slice(buckets);
        sort_by_bound(local);
        return quantile_of_sorted(q, local);
    }
    let mut sorted = buckets.to_vec();
    sort_by_bound(&mut sorted);
    quantile_of_sorted(q, &mut sorted)
}

/// Histograms up to this many buckets are handled without allocating.
const STACK_BUCKETS: usize = 64;

/// Like [`histogram_quantile`] but for buckets already sorted by upper bound, working in the
/// caller's buffer: equal bounds are merged to the front and counts repaired in place, so the
/// buffer's contents are unspecified afterwards. No allocation.
///
/// ```
/// use mesh_observe::{histogram_quantile_sorted, Bucket};
/// let mut b = [Bucket::new(1.0, 4.0), Bucket::new(2.0, 3.0), Bucket::new(f64::INFINITY, 8.0)];
/// // the count 3 at bound 2 is raised to 4, so rank 4 ends in the first bucket
/// assert_eq!(histogram_quantile_sorted(0.5, &mut b), 1.0);
/// ```
#[must_use]
pub fn histogram_quantile_sorted(q: f64, buckets: &mut [Bucket]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if buckets.is_empty() {
        return f64::NAN;
    }
    quantile_of_sorted(q, buckets)
}

/// Sorts like Go's `sort.Sort` with `Less = a.upper_bound < b.upper_bound` for every non-NaN
/// bound; the sort is stable so that merged counts are added in input order.
pub(crate) fn sort_by_bound(buckets: &mut [Bucket]) {
    if buckets.is_sorted_by(|a, b| a.upper_bound <= b.upper_bound) {
        return;
    }
    buckets.sort_by(|a, b| {
        a.upper_bound
            .partial_cmp(&b.upper_bound)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

fn quantile_of_sorted(q: f64, buckets: &mut [Bucket]) -> f64 {
    let Some(last) = buckets.last() else {
        return f64::NAN;
    };
    if last.upper_bound != f64::INFINITY {
        return f64::NAN;
    }
    let kept = coalesce(buckets);
    let buckets = &mut buckets[..kept];
    ensure_monotonic(buckets);
    let n = buckets.len();
    if n < 2 {
        return f64::NAN;
    }
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = go_sort_search(n - 1, |i| buckets[i].count >= rank);
    if b == n - 1 {
        return buckets[n - 2].upper_bound;
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return buckets[0].upper_bound;
    }
    let mut start = 0.0;
    let end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

/// Merges neighbours with equal upper bounds, summing counts left to right, into the front of
/// the slice; returns how many buckets remain.
pub(crate) fn coalesce(buckets: &mut [Bucket]) -> usize {
    let mut last = buckets[0];
    let mut kept = 0;
    for i in 1..buckets.len() {
        let b = buckets[i];
        if b.upper_bound == last.upper_bound {
            last.count += b.count;
        } else {
            buckets[kept] = last;
            last = b;
            kept += 1;
        }
    }
    buckets[kept] = last;
    kept + 1
}

/// Raises every count below the running maximum to that maximum (NaN counts stay NaN, as in Go).
pub(crate) fn ensure_monotonic(buckets: &mut [Bucket]) {
    let mut max = f64::NEG_INFINITY;
    for b in buckets {
        if b.count > max {
            max = b.count;
        } else if b.count < max {
            b.count = max;
        }
    }
}

/// Go's `sort.Search(n, f)`: the same probe sequence, so a non-monotonic predicate (NaN counts)
/// lands on the same index as in Prometheus.
fn go_sort_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = (i + j) / 2;
        if f(h) {
            j = h;
        } else {
            i = h + 1;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn b(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs.iter().map(|&(u, c)| Bucket::new(u, c)).collect()
    }

    #[test]
    fn live_prometheus_examples_from_the_reference() {
        let buckets = b(&[(100.0, 8.0), (250.0, 9.9), (INF, 10.0)]);
        assert_eq!(histogram_quantile(0.5, &buckets), 62.5);
        assert_eq!(
            histogram_quantile(0.95, &buckets).to_string(),
            "218.42105263157893"
        );
        assert_eq!(histogram_quantile(0.99, &buckets), 250.0);
        assert_eq!(histogram_quantile(0.999, &buckets), 250.0);
    }

    #[test]
    fn q_out_of_range_and_nan() {
        let buckets = b(&[(1.0, 1.0), (INF, 2.0)]);
        assert_eq!(histogram_quantile(-0.1, &buckets), f64::NEG_INFINITY);
        assert_eq!(histogram_quantile(1.1, &buckets), INF);
        assert!(histogram_quantile(f64::NAN, &buckets).is_nan());
        // q out of range wins even over an empty input, as in Prometheus
        assert_eq!(histogram_quantile(2.0, &[]), INF);
    }

    #[test]
    fn degenerate_inputs_are_nan() {
        assert!(histogram_quantile(0.5, &[]).is_nan());
        assert!(histogram_quantile(0.5, &b(&[(INF, 5.0)])).is_nan());
        assert!(histogram_quantile(0.5, &b(&[(1.0, 5.0), (2.0, 6.0)])).is_nan());
        assert!(histogram_quantile(0.5, &b(&[(1.0, 0.0), (INF, 0.0)])).is_nan());
        // two +inf buckets coalesce into one: fewer than 2 buckets
        assert!(histogram_quantile(0.5, &b(&[(INF, 1.0), (INF, 2.0)])).is_nan());
    }

    #[test]
    fn unsorted_duplicates_and_non_monotonic_are_repaired() {
        let buckets = b(&[(INF, 10.0), (2.0, 2.0), (1.0, 3.0), (1.0, 1.0)]);
        // sorted+coalesced: (1,4) (2,2->4) (inf,10); rank 5 falls in +inf -> 2
        assert_eq!(histogram_quantile(0.5, &buckets), 2.0);
        // rank 2 in the first bucket: 0 + 1 * (2/4)
        assert_eq!(histogram_quantile(0.2, &buckets), 0.5);
    }

    #[test]
    fn non_positive_first_bound_is_returned_as_is() {
        let buckets = b(&[(-1.0, 5.0), (1.0, 8.0), (INF, 10.0)]);
        assert_eq!(histogram_quantile(0.1, &buckets), -1.0);
        assert_eq!(histogram_quantile(0.65, &buckets), 0.0); // -1 + 2 * (1.5/3)
    }

    #[test]
    fn go_search_matches_linear_search_for_monotone_predicates() {
        let counts = [1.0, 2.0, 2.0, 5.0, 9.0];
        for rank in [0.0, 1.0, 1.5, 2.0, 4.0, 9.0, 10.0] {
            let linear = counts.iter().position(|&c| c >= rank).unwrap_or(counts.len());
            assert_eq!(go_sort_search(counts.len(), |i| counts[i] >= rank), linear);
        }
    }
}
