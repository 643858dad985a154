//! Exact quantiles of an `f64` column (latencies), by counting equal `f32` buckets.
//!
//! [`crate::sample_quantiles`] runs this first: the same numbers as the general method of
//! `sample_quantile`, found with less work per value when the values come as a plain `&[f64]`:
//!
//! 1. **A range.** For a window (fewer than 32 768 values), the spread of 15 values sets it, as
//!    latencies are skewed to the right (from one spread below the lowest to four above the
//!    highest). For a larger column, the lowest and highest of 1 024 strided values set it
//!    (about one value in a thousand then lies outside, in the edge buckets).
//! 2. **One counting pass.** Every value is rounded to `f32` and given its bucket among `B` equal
//!    steps of the range (four values per instruction with the baseline x86-64 instructions);
//!    values below the range share the first bucket, values above it and NaN the last. Rounding
//!    to `f32` and each `f32` operation keep the order (they never swap two values), so the
//!    buckets keep the values' order. A histogram counts the bucket numbers, which are kept.
//! 3. **The wanted buckets.** A walk over the histogram finds the bucket of every wanted rank. A
//!    rank in an edge bucket, which also holds values from outside the range, sends the column
//!    to the general method (radix selection): the answer is the same, only the time differs.
//! 4. **One gathering pass** over the kept bucket numbers (sixteen at a time) lists the blocks
//!    that hold a wanted bucket; only those blocks' values are read and copied out, and the
//!    ranks are selected among those few.
//!
//! [`Scratch`] holds the buffers, so that a caller computing many windows allocates them once.

use std::ops::Range;

use crate::sample_quantile::{
    LARGE, Ranks, SORT_MAX, interpolate, key, key_to_f64, min_max, quantiles_by, select_keys,
};

/// Buckets for a window (`n < LARGE`): more than the values, so that the buckets holding the
/// ranks hold few of them, and few enough to be cleared for every window.
const WINDOW_BUCKETS: usize = 2048;
/// Buckets for a large column.
const LARGE_BUCKETS: usize = 4096;
/// Values that choose a window's range.
const PROBES: usize = 15;
/// Values that choose a large column's range.
const SAMPLE: usize = 1024;
/// Values per step of the counting pass.
const STEP: usize = 512;
/// Bucket numbers compared at once by the gathering pass.
const BLOCK: usize = 16;
/// Most distinct buckets the ranks may fall in (two per quantile for up to four quantiles); more
/// send the column to the general method.
const MAX_WANTED: usize = 8;

/// Buffers reused from one column to the next.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    buckets: Vec<u16>,
    hist: Vec<u32>,
    candidates: Vec<u64>,
    blocks: Vec<u32>,
}

/// `B` equal steps over a range, computed in `f32`; the first and last buckets also hold
/// everything below and above it (and NaN, in the last).
#[derive(Debug, Clone, Copy)]
struct LinearBuckets<const B: usize> {
    lo: f32,
    scale: f32,
}

impl<const B: usize> LinearBuckets<B> {
    /// Buckets `1..B - 1` over `lo..=hi`; `None` unless `lo < hi` with a finite, positive scale.
    fn over(lo: f32, hi: f32) -> Option<Self> {
        let scale = (B - 3) as f32 / (hi - lo);
        let lo = lo - 1.0 / scale;
        (lo.is_finite() && hi.is_finite() && scale.is_finite() && scale > 0.0).then_some(Self { lo, scale })
    }

    /// From one spread below the lowest of [`PROBES`] strided values to four spreads above the
    /// highest.
    fn probe(values: &[f64]) -> Option<Self> {
        let step = (values.len() / PROBES).max(1);
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        for x in values.iter().step_by(step).take(PROBES).map(|&x| x as f32) {
            if x.is_finite() {
                min = min.min(x);
                max = max.max(x);
            }
        }
        let spread = max - min;
        (spread > 0.0)
            .then(|| Self::over(min - spread, max + 4.0 * spread))
            .flatten()
    }

    /// The range of a strided sample's finite values (the values outside it, about one in
    /// [`SAMPLE`], share the edge buckets).
    fn sample(values: &[f64]) -> Option<Self> {
        let step = values.len() / SAMPLE;
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        let mut finite = 0;
        for x in (0..SAMPLE).map(|i| values[i * step + step / 2] as f32) {
            if x.is_finite() {
                min = min.min(x);
                max = max.max(x);
                finite += 1;
            }
        }
        (finite >= SAMPLE / 8).then(|| Self::over(min, max)).flatten()
    }

    /// The bucket of `x`: a subtraction, a multiplication, a minimum, a maximum and an addition,
    /// all of which vectorise.
    #[inline(always)]
    fn bucket(self, x: f32) -> u16 {
        let top = (B - 1) as f32;
        // Adding 2^23 to a value in `0..2^23` leaves it rounded to an integer in the low mantissa
        // bits (a conversion that vectorises, unlike the saturating `as`).
        const ROUND: f32 = 8_388_608.0;
        let t = (x - self.lo) * self.scale;
        // NaN fails the comparison: the last bucket.
        let t = if t < top { t } else { top };
        let t = if t > 0.0 { t } else { 0.0 };
        (t + ROUND).to_bits() as u16
    }
}

/// [`crate::sample_quantiles`] of `values`, reusing `scratch`; the general method when the bucket
/// path cannot answer.
pub(crate) fn column_quantiles<const N: usize>(
    values: &[f64],
    qs: [f64; N],
    scratch: &mut Scratch,
) -> [Option<f64>; N] {
    column_quantiles_visiting(values, qs, scratch, &mut |_| {})
}

/// [`column_quantiles`], calling `visit` with consecutive index ranges that cover `values`
/// exactly once, in order, as the counting pass reaches them: a caller reading a second column
/// of the same rows (the statuses beside the latencies) reads it in the same pass.
pub(crate) fn column_quantiles_visiting<const N: usize>(
    values: &[f64],
    qs: [f64; N],
    scratch: &mut Scratch,
    visit: &mut dyn FnMut(Range<usize>),
) -> [Option<f64>; N] {
    let mut seen = 0usize;
    let mut visit_step = |range: Range<usize>| {
        seen = range.end;
        visit(range);
    };
    let found = if values.len() <= SORT_MAX || u32::try_from(values.len()).is_err() {
        None
    } else if values.len() < LARGE {
        LinearBuckets::<WINDOW_BUCKETS>::probe(values)
            .and_then(|b| select_in(values, &qs, b, scratch, &mut visit_step))
    } else {
        LinearBuckets::<LARGE_BUCKETS>::sample(values)
            .and_then(|b| select_in(values, &qs, b, scratch, &mut visit_step))
    };
    if seen < values.len() {
        visit(seen..values.len());
    }
    found.unwrap_or_else(|| {
        #[cfg(test)]
        tests::GENERAL.with(|c| c.set(c.get() + 1));
        quantiles_by(values, |v| *v, |_| {}, qs)
    })
}

/// Steps 2 to 4 of the module documentation; `None` when a rank falls in an edge bucket.
fn select_in<const N: usize, const B: usize>(
    values: &[f64],
    qs: &[f64; N],
    buckets: LinearBuckets<B>,
    scratch: &mut Scratch,
    visit: &mut dyn FnMut(Range<usize>),
) -> Option<[Option<f64>; N]> {
    let Scratch {
        buckets: numbers,
        hist,
        candidates,
        blocks,
    } = scratch;
    let hist = cleared::<B>(hist)?;
    let nan = count(values, buckets, hist, numbers, visit);
    let Some(located) = Located::new(hist, qs, values.len() - nan) else {
        return Some([None; N]);
    };
    let (wanted, k) = located.wanted()?;
    candidates.clear();
    gather(numbers, values, &wanted[..k], blocks, candidates);
    Some(located.select(qs, hist, &wanted[..k], candidates))
}

/// `hist` as `B` zeroed counts.
fn cleared<const B: usize>(hist: &mut Vec<u32>) -> Option<&mut [u32; B]> {
    hist.clear();
    hist.resize(B, 0);
    hist.as_mut_slice().try_into().ok()
}

/// The counting pass: every value's bucket counted in `hist` and its number written to
/// `numbers` (cleared first), each step's index range handed to `visit`; returns how many values
/// are NaN (they are not in `hist`).
fn count<const B: usize>(
    values: &[f64],
    buckets: LinearBuckets<B>,
    hist: &mut [u32; B],
    numbers: &mut Vec<u16>,
    visit: &mut dyn FnMut(Range<usize>),
) -> usize {
    const { assert!(B.is_power_of_two() && B < u16::MAX as usize) };
    numbers.clear();
    numbers.reserve(values.len());
    let mut nan = 0usize;
    let (mut rounded, mut step) = ([0f32; STEP], [0u16; STEP]);
    for (i, chunk) in values.chunks(STEP).enumerate() {
        visit(i * STEP..i * STEP + chunk.len());
        // Three simple loops, each of which vectorises on its own (four lanes for the `f32`
        // arithmetic, where one fused loop would leave half of each register empty).
        let rounded = &mut rounded[..chunk.len()];
        for (r, &x) in rounded.iter_mut().zip(chunk) {
            *r = x as f32;
        }
        let out = &mut step[..chunk.len()];
        let mut nans = 0u32;
        for (o, &x) in out.iter_mut().zip(rounded.iter()) {
            nans += u32::from(x.is_nan());
            *o = buckets.bucket(x);
        }
        nan += nans as usize;
        for &b in out.iter() {
            hist[usize::from(b) & (B - 1)] += 1;
        }
        numbers.extend_from_slice(out);
    }
    // NaN values were counted in the last bucket.
    hist[B - 1] -= nan as u32;
    nan
}

/// Where the wanted ranks fall in the histogram.
struct Located {
    ranks: Ranks,
    /// `(rank, bucket, values in lower buckets)`, ascending.
    at: Vec<(usize, usize, usize)>,
    /// The last bucket.
    top: usize,
}

impl Located {
    /// `None` when no value is left (`n == 0`).
    fn new<const B: usize>(hist: &[u32; B], qs: &[f64], n: usize) -> Option<Self> {
        if n == 0 {
            return None;
        }
        let ranks = Ranks::new(qs, n);
        // The walk skips runs of 32 buckets at once; every rank is below `n`, so it stays in
        // bounds.
        let mut at = Vec::with_capacity(ranks.list.len());
        let (mut bucket, mut below) = (0usize, 0usize);
        for &r in &ranks.list {
            while let Some(run) = hist.get(bucket..bucket + 32) {
                let total: usize = run.iter().map(|&c| c as usize).sum();
                if below + total > r {
                    break;
                }
                below += total;
                bucket += 32;
            }
            while below + hist[bucket] as usize <= r {
                below += hist[bucket] as usize;
                bucket += 1;
            }
            at.push((r, bucket, below));
        }
        Some(Self {
            ranks,
            at,
            top: B - 1,
        })
    }

    /// The distinct buckets holding the ranks, ascending, and how many there are; `None` when
    /// one is an edge bucket (`0` or `B - 1`, which also hold values from outside the range) or
    /// there are more than [`MAX_WANTED`].
    fn wanted(&self) -> Option<([u16; MAX_WANTED], usize)> {
        let mut wanted = [0u16; MAX_WANTED];
        let mut k = 0;
        for &(_, b, _) in &self.at {
            if b == 0 || b == self.top {
                return None;
            }
            if k == 0 || usize::from(wanted[k - 1]) != b {
                *wanted.get_mut(k)? = b as u16;
                k += 1;
            }
        }
        Some((wanted, k))
    }

    /// The quantiles, from the keys of the wanted buckets' values (in any order).
    fn select<const N: usize, const B: usize>(
        &self,
        qs: &[f64; N],
        hist: &[u32; B],
        wanted: &[u16],
        candidates: &mut [u64],
    ) -> [Option<f64>; N] {
        // A rank's place among the candidates: those of lower wanted buckets come first.
        let local: Vec<usize> = self
            .at
            .iter()
            .map(|&(r, b, below)| {
                let lower: usize = wanted
                    .iter()
                    .take_while(|&&w| usize::from(w) < b)
                    .map(|&w| hist[usize::from(w)] as usize)
                    .sum();
                lower + r - below
            })
            .collect();
        let (lo, hi) = min_max(candidates);
        let mut found = vec![0u64; local.len()];
        select_keys(candidates, lo, hi, &local, 0, &mut found);
        let n = self.ranks.n;
        std::array::from_fn(|i| {
            Some(interpolate(qs[i], n, |r| {
                key_to_f64(found[self.ranks.index_of(r)])
            }))
        })
    }
}

/// Appends the keys of the values whose bucket number is one of `wanted` (at most
/// [`MAX_WANTED`]); `blocks` is a buffer.
fn gather(numbers: &[u16], values: &[f64], wanted: &[u16], blocks: &mut Vec<u32>, out: &mut Vec<u64>) {
    match *wanted {
        [a] => gather_k(numbers, values, [a], blocks, out),
        [a, b] => gather_k(numbers, values, [a, b], blocks, out),
        [a, b, c] => gather_k(numbers, values, [a, b, c], blocks, out),
        [a, b, c, d] => gather_k(numbers, values, [a, b, c, d], blocks, out),
        _ => {
            // Padded with a number no value has (`B - 1 < u16::MAX`).
            let mut all = [u16::MAX; MAX_WANTED];
            let k = wanted.len().min(MAX_WANTED);
            all[..k].copy_from_slice(&wanted[..k]);
            gather_k(numbers, values, all, blocks, out);
        }
    }
}

/// [`gather`] with `K` wanted numbers, in two loops: the first compares sixteen bucket numbers
/// at a time with each (vectorised) and lists the blocks holding one; the second looks at those
/// blocks' values one by one. Apart, each loop keeps its own pace: the scan streams through the
/// numbers, and the value reads of the listed blocks, which miss the cache, overlap each other
/// instead of waiting behind the scan (a fifth less time than one fused loop on a 1M column).
fn gather_k<const K: usize>(
    numbers: &[u16],
    values: &[f64],
    wanted: [u16; K],
    blocks: &mut Vec<u32>,
    out: &mut Vec<u64>,
) {
    let is_wanted = |b: u16| wanted.iter().fold(false, |hit, &w| hit | (b == w));
    blocks.clear();
    // Block numbers fit in `u32`: the column has fewer than `u32::MAX` values.
    for (i, block) in (0u32..).zip(numbers.chunks(BLOCK)) {
        if block.iter().fold(false, |hit, &b| hit | is_wanted(b)) {
            blocks.push(i);
        }
    }
    for &i in blocks.iter() {
        let start = i as usize * BLOCK;
        let end = (start + BLOCK).min(numbers.len());
        for (&b, &x) in numbers[start..end].iter().zip(&values[start..end]) {
            if is_wanted(b) {
                out.push(key(x));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// The general method, and sorting: the references.
    fn sample_quantiles<const N: usize>(values: &[f64], qs: [f64; N]) -> [Option<f64>; N] {
        let general = quantiles_by(values, |v| *v, |_| {}, qs);
        let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let by_sorting =
            qs.map(|q| (!sorted.is_empty()).then(|| interpolate(q, sorted.len(), |r| sorted[r])));
        assert!(
            same(general, by_sorting),
            "the general method and sorting disagree"
        );
        general
    }

    thread_local! {
        /// How many columns went to the general method on this thread.
        pub(super) static GENERAL: Cell<usize> = const { Cell::new(0) };
    }

    fn same<const N: usize>(a: [Option<f64>; N], b: [Option<f64>; N]) -> bool {
        a.iter().zip(&b).all(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            (x, y) => x == y,
        })
    }

    fn lcg(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        }
    }

    /// Latency-like values (log-normal-ish, with NaN): the shape the fast path is for.
    fn latencies(n: usize, seed: u64) -> Vec<f64> {
        let mut next = lcg(seed);
        (0..n)
            .map(|_| {
                let u = (0..4).map(|_| next() as f64 / (1u64 << 53) as f64).sum::<f64>() - 2.0;
                if next().is_multiple_of(1000) {
                    f64::NAN
                } else {
                    (3.0 + 1.2 * u).exp()
                }
            })
            .collect()
    }

    #[test]
    fn latency_windows_and_columns_take_the_bucket_path_and_agree() {
        let mut scratch = Scratch::default();
        GENERAL.with(|c| c.set(0));
        for (n, seed) in [(1000, 1), (1000, 2), (5000, 3), (40_000, 4), (1_000_000, 5)] {
            let values = latencies(n, seed);
            let qs = [0.5, 0.9, 0.99];
            assert!(
                same(
                    column_quantiles(&values, qs, &mut scratch),
                    sample_quantiles(&values, qs)
                ),
                "n={n}"
            );
        }
        assert_eq!(
            GENERAL.with(Cell::get),
            0,
            "a latency column went to the general method"
        );
    }

    #[test]
    fn a_rank_in_an_edge_bucket_goes_to_the_general_method() {
        let mut values = latencies(2000, 7);
        values.push(1e12); // the maximum lies far above every probe
        let mut scratch = Scratch::default();
        GENERAL.with(|c| c.set(0));
        let got = column_quantiles(&values, [0.5, 1.0], &mut scratch);
        assert_eq!(GENERAL.with(Cell::get), 1);
        assert!(same(got, sample_quantiles(&values, [0.5, 1.0])));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]
        #[test]
        fn columns_give_the_general_methods_quantiles(
            seed in proptest::prelude::any::<u64>(),
            n in proptest::prop_oneof![0usize..3000, 32_000usize..120_000],
            shape in 0u64..6,
        ) {
            let mut next = lcg(seed);
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    let u = next() as f64 / (1u64 << 53) as f64;
                    match (shape, next() % 100) {
                        (_, 0) => f64::NAN,
                        (0, 1) => f64::INFINITY,
                        (0, 2) => -0.0,
                        (1, _) => (u * 4.0).floor(),
                        (2, _) => 1e300 * (u - 0.5),
                        (3, k) if k < 60 => f64::NAN,
                        (4, _) => 1.0 + u * 1e-12,
                        _ => (2.0 + 3.0 * u).exp(),
                    }
                })
                .collect();
            let mut scratch = Scratch::default();
            for qs in [[0.5, 0.9, 0.99, 0.75], [0.5, 0.9, 0.99, 0.0], [0.001, 0.5, 0.999, 1.0]] {
                let mut visited = Vec::new();
                let got = column_quantiles_visiting(&values, qs, &mut scratch, &mut |r| visited.push(r));
                // The visits cover every row once, in order, whichever path answered.
                let mut next = 0;
                for r in &visited {
                    proptest::prop_assert_eq!(r.start, next);
                    next = r.end;
                }
                proptest::prop_assert_eq!(next, n);
                let want = sample_quantiles(&values, qs);
                proptest::prop_assert!(same(got, want), "n={} shape={} qs={:?}: {:?} != {:?}", n, shape, qs, got, want);
                // The scratch of a larger column serves a smaller one.
                let half = &values[..n / 2];
                proptest::prop_assert!(same(column_quantiles(half, qs, &mut scratch), sample_quantiles(half, qs)));
            }
        }
    }
}
