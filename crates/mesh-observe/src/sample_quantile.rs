//! Exact sample quantiles, numpy's default definition, found by selection instead of sorting.
//!
//! The `q`-quantile of `n` values is `v[lo] + (v[hi] - v[lo]) * frac`, where `v` is the sorted
//! data, `pos = q * (n - 1)`, `lo = floor(pos)`, `hi = lo + 1` and `frac = pos - lo`: linear
//! interpolation between closest ranks, `numpy.percentile(..., method="linear")`. NaN values are
//! left out (as `numpy.nanpercentile` does).
//!
//! Only the wanted order statistics are searched for, in one read of the data.
//!
//! - **Small inputs** (`n < 32 768`, such as one window of requests): 1 024 equal buckets over a
//!   range guessed from 15 of the values, computed in `f32` four values per instruction with the
//!   baseline x86-64 instruction set. Rounding to `f32` and each `f32` operation keep the order
//!   (they never swap two values), so a histogram of the buckets shows which bucket holds each
//!   rank, and only those buckets' values (a handful) are then selected. A rank in an edge
//!   bucket (which also holds the values outside the range, and NaN) sends the data to the
//!   general method below, as do inputs of at most 48 values: the answer is the same, only the
//!   time differs.
//! - **The general method** maps each value to a `u64` whose unsigned order is
//!   [`f64::total_cmp`]'s; a histogram of the high bits shows which bucket holds each wanted
//!   rank, only those buckets' values are kept, and the search repeats inside them with a
//!   histogram over their own, narrower range (MSD radix selection). Every level reads the kept
//!   values twice and cuts their range by a factor of at least 128, so there are at most ten
//!   levels and the work stays linear in `n` whatever the data.
//! - **Large inputs** (`n >= 32 768`) take the general method with a first level that avoids a
//!   second read of the data: a strided sample of 4 096 values predicts the buckets around each
//!   wanted rank, and the one pass that builds the histogram keeps the values falling there. When
//!   the histogram shows that a rank fell outside the prediction (unusual data, or a sample that
//!   misled), the missing buckets are collected by a second pass: the answer is exact either
//!   way, only the time differs.

/// From this many items on, the large-input method runs.
pub(crate) const LARGE: usize = 1 << 15;
/// Values drawn to predict where the wanted ranks fall.
const SAMPLE: usize = 4096;
/// High key bits of the first-level buckets of the large radix selection.
const TOP_BITS: u32 = 16;
/// Up to this many keys are simply sorted.
pub(crate) const SORT_MAX: usize = 48;
/// Most buckets per histogram level after the first (`2^MAX_LEVEL_BITS`).
const MAX_LEVEL_BITS: u32 = 11;
/// Items per step of the small-input method's pass, which its vectorised loops work on.
const CHUNK: usize = 256;
/// Buckets of the small-input method.
const FINE_BUCKETS: usize = 1024;
/// Values that choose the small-input method's range.
const FINE_PROBES: usize = 15;

/// Quantiles of `values`, NaN values left out, each `q` in `[0, 1]` (clamped): linear
/// interpolation between closest ranks, as `numpy.percentile(values, 100 * q)` defines them (the
/// order statistics are exactly numpy's; the interpolation may round the last bit differently,
/// numpy evaluates the same formula in another order). `None` for every `q` when no value is
/// left. Linear time; `values` is not reordered.
///
/// ```
/// use mesh_observe::sample_quantiles;
/// let latencies = [12.0, f64::NAN, 3.0, 7.0, 5.0, 40.0];
/// // numpy.nanpercentile(latencies, [50, 90, 100]) == [7.0, 28.8, 40.0]
/// let [p50, p90, max] = sample_quantiles(&latencies, [0.5, 0.9, 1.0]);
/// assert_eq!(p50, Some(7.0));
/// assert!((p90.unwrap() - 28.8).abs() < 1e-12);
/// assert_eq!(max, Some(40.0));
/// assert_eq!(sample_quantiles(&[f64::NAN], [0.5]), [None]);
/// ```
#[must_use]
pub fn sample_quantiles<const N: usize>(values: &[f64], qs: [f64; N]) -> [Option<f64>; N] {
    crate::column_select::column_quantiles(values, qs, &mut crate::column_select::Scratch::default())
}

/// [`sample_quantiles`] of `value(item)` over `items`, calling `visit` on every item (in order,
/// exactly once) during the same pass, so a caller can count or classify without a second read.
pub(crate) fn quantiles_by<T, const N: usize>(
    items: &[T],
    value: impl Fn(&T) -> f64,
    mut visit: impl FnMut(&T),
    qs: [f64; N],
) -> [Option<f64>; N] {
    let (ranks, keys) = if items.len() < LARGE {
        select_by_buckets(items, &value, &mut visit, &qs)
    } else if u32::try_from(items.len()).is_ok() {
        // The first-level counts of `select_large` are `u32`.
        select_large(items, &value, visit, &qs)
    } else {
        let bits = items
            .iter()
            .map(|item| {
                visit(item);
                value(item).to_bits()
            })
            .collect();
        select_small(bits, &qs)
    };
    let mut out = [None; N];
    if let Some(ranks) = ranks {
        for (o, &q) in out.iter_mut().zip(&qs) {
            *o = Some(interpolate(q, ranks.n, |r| key_to_f64(keys[ranks.index_of(r)])));
        }
    }
    out
}

/// `v[lo] + (v[hi] - v[lo]) * frac` for the sorted values `v` given by `at(rank)`.
pub(crate) fn interpolate(q: f64, n: usize, at: impl Fn(usize) -> f64) -> f64 {
    let (lo, hi, frac) = position(q, n);
    let lo_value = at(lo);
    if frac == 0.0 {
        lo_value
    } else {
        lo_value + (at(hi) - lo_value) * frac
    }
}

/// The two closest ranks of `q` among `n > 0` sorted values, and the weight of the upper one.
fn position(q: f64, n: usize) -> (usize, usize, f64) {
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = (pos.floor() as usize).min(n - 1);
    let frac = pos - lo as f64;
    (lo, (lo + 1).min(n - 1), frac)
}

/// The distinct ranks the quantiles need, ascending.
pub(crate) struct Ranks {
    /// How many (non-NaN) values there are.
    pub(crate) n: usize,
    /// The ranks, ascending and distinct.
    pub(crate) list: Vec<usize>,
}

impl Ranks {
    pub(crate) fn new(qs: &[f64], n: usize) -> Self {
        let mut list = Vec::with_capacity(qs.len() * 2);
        for &q in qs {
            let (lo, hi, frac) = position(q, n);
            list.push(lo);
            if frac != 0.0 {
                list.push(hi);
            }
        }
        list.sort_unstable();
        list.dedup();
        Self { n, list }
    }

    pub(crate) fn index_of(&self, rank: usize) -> usize {
        self.list.partition_point(|&r| r < rank)
    }
}

/// An order-preserving map: `key(a) < key(b)` exactly when `a.total_cmp(&b)` is `Less`.
#[inline(always)]
pub(crate) fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    bits ^ ((((bits as i64) >> 63) as u64) | (1 << 63))
}

/// The inverse of [`key`].
pub(crate) fn key_to_f64(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k ^ (1 << 63) } else { !k })
}

/// Selects among the raw bits of all values (NaN included, left out here): the general method.
fn select_small(bits: Vec<u64>, qs: &[f64]) -> (Option<Ranks>, Vec<u64>) {
    let mut keys = bits;
    let (mut n, mut lo, mut hi) = (0usize, u64::MAX, 0u64);
    for i in 0..keys.len() {
        let x = f64::from_bits(keys[i]);
        let k = key(x);
        let keep = !x.is_nan();
        // Branch-free compaction: `n <= i`, so the slot is read before it is overwritten.
        keys[n] = k;
        n += usize::from(keep);
        lo = if keep { lo.min(k) } else { lo };
        hi = if keep { hi.max(k) } else { hi };
    }
    if n == 0 {
        return (None, Vec::new());
    }
    keys.truncate(n);
    let ranks = Ranks::new(qs, n);
    let mut out = vec![0u64; ranks.list.len()];
    select_keys(&mut keys, lo, hi, &ranks.list, 0, &mut out);
    (Some(ranks), out)
}

/// The small-input method (see the module documentation): one pass calls `visit` and gives
/// every value its bucket, a histogram places the ranks, and the values of the buckets holding
/// them are selected.
fn select_by_buckets<T, const N: usize>(
    items: &[T],
    value: &impl Fn(&T) -> f64,
    visit: &mut impl FnMut(&T),
    qs: &[f64; N],
) -> (Option<Ranks>, Vec<u64>) {
    const LAST: usize = FINE_BUCKETS - 1;
    // Buckets hold `u16` counts.
    const _: () = assert!(LARGE <= u16::MAX as usize);
    let copy_all = |visit: &mut dyn FnMut(&T)| -> Vec<u64> {
        items
            .iter()
            .map(|item| {
                visit(item);
                value(item).to_bits()
            })
            .collect()
    };
    let Some(range) = (items.len() > SORT_MAX)
        .then(|| FineRange::probe(items, value))
        .flatten()
    else {
        return select_small(copy_all(visit), qs);
    };
    // The window's memory is requested all at once (the pass's own loads wait behind its work).
    std::hint::black_box(items.chunks(CHUNK).fold(0, |t, chunk| t | touch(chunk, value)));
    // Each value's bucket (NaN values go to the last bucket, and are counted), from the values
    // rounded to `f32`: vectorised loops, four values at a time (the first also calls `visit`).
    let mut buckets = vec![0u16; items.len()];
    let mut nan = 0usize;
    let mut rounded = [0f32; CHUNK];
    for (chunk, out) in items.chunks(CHUNK).zip(buckets.chunks_mut(CHUNK)) {
        let rounded = &mut rounded[..chunk.len()];
        for (r, item) in rounded.iter_mut().zip(chunk) {
            visit(item);
            *r = value(item) as f32;
        }
        let mut nans = 0u32;
        for (b, &x) in out.iter_mut().zip(rounded.iter()) {
            nans += u32::from(x.is_nan());
            *b = range.bucket(x);
        }
        nan += nans as usize;
    }
    let n = items.len() - nan;
    if n == 0 {
        return (None, Vec::new());
    }
    let mut hist = [0u16; FINE_BUCKETS];
    for &b in &buckets {
        hist[usize::from(b) & LAST] += 1;
    }
    let ranks = Ranks::new(qs, n);
    // Where each rank falls: (rank, bucket, values in lower buckets). The ranks are ascending,
    // so one walk finds them all: runs of 32 buckets wholly below the rank are skipped with one
    // (vectorised) sum each. Every rank is below the total count, so the walk stays in bounds.
    let mut located = Vec::with_capacity(ranks.list.len());
    let (mut bucket, mut below) = (0usize, 0usize);
    for &r in &ranks.list {
        while let Some(run) = hist.get(bucket..bucket + 32) {
            let total: usize = run.iter().map(|&c| usize::from(c)).sum();
            if below + total > r {
                break;
            }
            below += total;
            bucket += 32;
        }
        while below + usize::from(hist[bucket]) <= r {
            below += usize::from(hist[bucket]);
            bucket += 1;
        }
        located.push((r, bucket, below));
    }
    if located.iter().any(|&(_, b, _)| b == 0 || b == LAST) {
        // The edge buckets also hold the values outside the range: select among all keys.
        #[cfg(test)]
        tests::EDGE.with(|m| m.set(m.get() + 1));
        return select_small(items.iter().map(|item| value(item).to_bits()).collect(), qs);
    }
    // The values of the buckets holding ranks (at most two per quantile): sixteen buckets at a
    // time are compared with the wanted ones (padded with a bucket that never occurs),
    // vectorised; the few blocks holding one are looked at value by value.
    let mut wanted: Vec<u16> = located.iter().map(|&(_, b, _)| b as u16).collect();
    wanted.dedup();
    let mut targets = [[u16::MAX; 2]; N];
    for (t, &w) in targets.as_flattened_mut().iter_mut().zip(&wanted) {
        *t = w;
    }
    let is_wanted = |b: u16| {
        targets
            .as_flattened()
            .iter()
            .fold(false, |hit, &t| hit | (b == t))
    };
    let mut candidates = Vec::with_capacity(wanted.iter().map(|&b| usize::from(hist[usize::from(b)])).sum());
    for (bs, chunk) in buckets.chunks(16).zip(items.chunks(16)) {
        if bs.iter().fold(false, |hit, &b| hit | is_wanted(b)) {
            for (&b, item) in bs.iter().zip(chunk) {
                if is_wanted(b) {
                    candidates.push(key(value(item)));
                }
            }
        }
    }
    // A rank's place among the candidates: the candidates of lower wanted buckets come first.
    let local: Vec<usize> = located
        .iter()
        .map(|&(r, b, below)| {
            let lower: usize = wanted
                .iter()
                .take_while(|&&w| usize::from(w) < b)
                .map(|&w| usize::from(hist[usize::from(w)]))
                .sum();
            lower + r - below
        })
        .collect();
    let (lo, hi) = min_max(&candidates);
    let mut out = vec![0u64; local.len()];
    select_keys(&mut candidates, lo, hi, &local, 0, &mut out);
    (Some(ranks), out)
}

/// The small-input method's buckets: [`FINE_BUCKETS`] equal steps over a range guessed from a
/// few values (from their spread below the lowest to four spreads above the highest, as latencies
/// are skewed to the right), computed in `f32`. Values below the range share the first bucket,
/// values above it (and NaN) the last. Rounding to `f32`, and each `f32` operation, keeps the
/// order (never swaps two values), so the buckets keep the values' order.
#[derive(Debug, Clone, Copy)]
struct FineRange {
    lo: f32,
    scale: f32,
}

impl FineRange {
    /// `None` when the probed values have no finite spread in `f32`.
    fn probe<T>(items: &[T], value: &impl Fn(&T) -> f64) -> Option<Self> {
        let step = (items.len() / FINE_PROBES).max(1);
        let mut probes = [0f32; FINE_PROBES];
        let mut found = 0;
        for x in items
            .iter()
            .step_by(step)
            .take(FINE_PROBES)
            .map(|item| value(item) as f32)
        {
            if x.is_finite() {
                probes[found] = x;
                found += 1;
            }
        }
        let probes = &probes[..found];
        let min = probes.iter().copied().fold(f32::INFINITY, f32::min);
        let max = probes.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let spread = max - min;
        let (lo, hi) = (min - spread, max + 4.0 * spread);
        let scale = FINE_BUCKETS as f32 / (hi - lo);
        (spread > 0.0 && scale.is_finite() && scale > 0.0 && lo.is_finite()).then_some(Self { lo, scale })
    }

    /// The bucket of `x`: vectorises as a subtraction, a multiplication, a minimum, a maximum and
    /// an addition.
    #[inline(always)]
    fn bucket(self, x: f32) -> u16 {
        const TOP: f32 = (FINE_BUCKETS - 1) as f32;
        // Adding 2^23 to a value in `0..2^23` leaves it rounded to an integer in the low mantissa
        // bits (a conversion that vectorises, unlike the saturating `as`).
        const ROUND: f32 = 8_388_608.0;
        let t = (x - self.lo) * self.scale;
        // NaN fails the comparison: the last bucket.
        let t = if t < TOP { t } else { TOP };
        let t = if t > 0.0 { t } else { 0.0 };
        (t + ROUND).to_bits() as u16
    }
}

/// Reads one value per 64 bytes of the first [`CHUNK`] items: independent loads, which the
/// processor overlaps, so that the memory is on its way to the cache when a pass needs it. The
/// result only keeps the loads from being optimised out.
#[inline(always)]
fn touch<T>(items: &[T], value: &impl Fn(&T) -> f64) -> u64 {
    let step = (64 / size_of::<T>().max(1)).max(1);
    items
        .iter()
        .take(CHUNK)
        .step_by(step)
        .fold(0, |t, item| t | value(item).to_bits())
}

/// One pass builds the histogram of the top key bits, counts NaN-free values, calls `visit`, and
/// keeps the keys in the buckets a sample predicted; a second pass runs only for ranks that fell
/// outside the prediction.
fn select_large<T>(
    items: &[T],
    value: &impl Fn(&T) -> f64,
    mut visit: impl FnMut(&T),
    qs: &[f64],
) -> (Option<Ranks>, Vec<u64>) {
    const BUCKETS: usize = 1 << TOP_BITS;
    // NaN values are all counted in the last bucket, which holds nothing else (its keys are those
    // of positive NaNs), so that no other bucket, and no kept key, is a NaN.
    const NAN_BUCKET: usize = BUCKETS - 1;
    let bucket = |k: u64| (k >> (64 - TOP_BITS)) as usize & (BUCKETS - 1);
    let (ranges, share) = predict(items, value, qs, &bucket);
    let mut want: Box<[bool; BUCKETS]> = boxed_array();
    for r in &ranges {
        want[r.clone()].fill(true);
    }
    want[NAN_BUCKET] = false;
    // The loop counts by the raw top bits of the values (one shift, no key), in `raw`; `want_raw`
    // is `want` in that order (see `raw_bucket`).
    let mut want_raw: Box<[bool; BUCKETS]> = boxed_array();
    for (b, &w) in want.iter().enumerate() {
        want_raw[raw_bucket(b)] = w;
    }
    let raw_nan = raw_bucket(NAN_BUCKET);
    // The kept values, written branch-free: every value is stored at the next free slot, which
    // only advances past the wanted ones. The buffer is made large enough for a whole chunk of
    // items before the chunk, so the inner loop never grows it (the sample's estimate makes
    // growing rare).
    const CHUNK: usize = 4096;
    let mut kept = vec![0u64; (items.len() as f64 * share * 1.25) as usize + CHUNK];
    let mut len = 0usize;
    let mut raw: Box<[u32; BUCKETS]> = boxed_array();
    for chunk in items.chunks(CHUNK) {
        if kept.len() < len + chunk.len() {
            kept.resize((len + chunk.len()).max(kept.len() * 2), 0);
        }
        let free = &mut kept[len..len + chunk.len()];
        let mut taken = 0usize;
        for item in chunk {
            visit(item);
            let x = value(item);
            let bits = x.to_bits();
            let b = if x.is_nan() {
                raw_nan
            } else {
                (bits >> (64 - TOP_BITS)) as usize
            };
            raw[b] += 1;
            // `taken` counts kept items of this chunk before this one: always in bounds.
            free[taken] = bits;
            taken += usize::from(want_raw[b]);
        }
        len += taken;
    }
    kept.truncate(len);
    for k in &mut kept {
        *k = key(f64::from_bits(*k));
    }
    let mut hist: Box<[u32; BUCKETS]> = boxed_array();
    for (b, count) in hist.iter_mut().enumerate() {
        *count = raw[raw_bucket(b)];
    }
    let n = items.len() - hist[NAN_BUCKET] as usize;
    hist[NAN_BUCKET] = 0;
    if n == 0 {
        return (None, Vec::new());
    }
    let ranks = Ranks::new(qs, n);
    // Where each rank falls: its bucket, and how many values lie in lower buckets. Runs of 256
    // buckets below the next rank are skipped with one (vectorised) sum each.
    const RUN: usize = 256;
    let mut located = Vec::with_capacity(ranks.list.len());
    let mut below = 0usize;
    let mut next = ranks.list.iter().copied().peekable();
    'runs: for (i, run) in hist.chunks_exact(RUN).enumerate() {
        let Some(&r) = next.peek() else { break };
        let total: usize = run.iter().map(|&c| c as usize).sum();
        if below + total <= r {
            below += total;
            continue;
        }
        for (b, &count) in run.iter().enumerate() {
            let end = below + count as usize;
            while let Some(r) = next.next_if(|&r| r < end) {
                located.push((r, i * RUN + b, below));
            }
            if next.peek().is_none() {
                break 'runs;
            }
            below = end;
        }
    }
    // A rank in a wanted bucket is a rank among the kept keys: the kept keys below its bucket
    // are those of the wanted buckets below it.
    let mut out = vec![0u64; ranks.list.len()];
    let (mut hit, mut hit_ranks, mut missed) = (Vec::new(), Vec::new(), Vec::new());
    for (j, &(r, b, below)) in located.iter().enumerate() {
        if want[b] {
            let kept_below: usize = ranges
                .iter()
                .map(|range| hist[range.start..range.end.min(b).max(range.start)].iter())
                .flat_map(|counts| counts.map(|&c| c as usize))
                .sum();
            hit.push(j);
            hit_ranks.push(r - below + kept_below);
        } else {
            missed.push(j);
        }
    }
    if !hit.is_empty() {
        // The kept keys lie in the wanted buckets, from the first to the last.
        let first = ranges.first().map_or(0, |r| r.start) as u64;
        let last = ranges.last().map_or(1, |r| r.end) as u64 - 1;
        let lo = first << (64 - TOP_BITS);
        let hi = (last << (64 - TOP_BITS)) | (u64::MAX >> TOP_BITS);
        let mut found = vec![0u64; hit.len()];
        select_keys(&mut kept, lo, hi, &hit_ranks, 0, &mut found);
        for (&j, f) in hit.iter().zip(found) {
            out[j] = f;
        }
    }
    if !missed.is_empty() {
        #[cfg(test)]
        tests::MISSED.with(|m| m.set(m.get() + 1));
        // The prediction missed: gather the buckets from the lowest to the highest missed one.
        drop(kept);
        let first = located[missed[0]].1;
        let last = located[missed[missed.len() - 1]].1;
        let offset = located[missed[0]].2;
        let mut keys = Vec::new();
        for item in items {
            let x = value(item);
            let k = key(x);
            if !x.is_nan() && (first..=last).contains(&bucket(k)) {
                keys.push(k);
            }
        }
        let local: Vec<usize> = missed.iter().map(|&j| located[j].0).collect();
        let (lo, hi) = min_max(&keys);
        let mut found = vec![0u64; local.len()];
        select_keys(&mut keys, lo, hi, &local, offset, &mut found);
        for (&j, f) in missed.iter().zip(found) {
            out[j] = f;
        }
    }
    (Some(ranks), out)
}

/// The top [`TOP_BITS`] of the raw bits of the values whose keys have top bits `b`: a positive
/// value's key is its bits with the sign bit set, a negative value's key its bits inverted.
fn raw_bucket(b: usize) -> usize {
    const HALF: usize = 1 << (TOP_BITS - 1);
    if b >= HALF { b - HALF } else { 2 * HALF - 1 - b }
}

/// A zeroed array on the heap (too large for the stack).
fn boxed_array<V: Copy + Default, const B: usize>() -> Box<[V; B]> {
    match vec![V::default(); B].into_boxed_slice().try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("the vector has B elements"),
    }
}

/// Bucket ranges (disjoint, ascending) that likely hold each quantile's ranks, from a strided
/// sample of the data, and the share of the sample that fell in them. No ranges when the sample
/// has too few non-NaN values to say anything.
fn predict<T>(
    items: &[T],
    value: &impl Fn(&T) -> f64,
    qs: &[f64],
    bucket: &impl Fn(u64) -> usize,
) -> (Vec<std::ops::Range<usize>>, f64) {
    let step = items.len() / SAMPLE;
    let mut sample: Vec<u64> = (0..SAMPLE)
        .map(|i| value(&items[i * step + step / 2]))
        .filter(|x| !x.is_nan())
        .map(key)
        .collect();
    if sample.len() < SAMPLE / 8 {
        return (Vec::new(), 0.0);
    }
    let s = sample.len();
    // The sample ranks bounding each quantile's likely position: three standard deviations of
    // the sample rank, and a little for small tails.
    let bounds: Vec<(usize, usize)> = qs
        .iter()
        .filter(|q| !q.is_nan())
        .map(|&q| {
            let q = q.clamp(0.0, 1.0);
            let centre = q * (s - 1) as f64;
            let margin = 3.0 * (s as f64 * q * (1.0 - q)).sqrt() + 3.0;
            let lo = (centre - margin).floor().max(0.0) as usize;
            let hi = ((centre + margin).ceil() as usize).min(s - 1);
            (lo, hi)
        })
        .collect();
    let mut wanted: Vec<usize> = bounds.iter().flat_map(|&(lo, hi)| [lo, hi]).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let (lo, hi) = min_max(&sample);
    let mut at = vec![0u64; wanted.len()];
    select_keys(&mut sample, lo, hi, &wanted, 0, &mut at);
    let key_at = |rank: usize| at[wanted.partition_point(|&w| w < rank)];
    let mut ranges: Vec<std::ops::Range<usize>> = bounds
        .iter()
        .map(|&(lo, hi)| bucket(key_at(lo))..bucket(key_at(hi)) + 1)
        .collect();
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let inside = sample
        .iter()
        .filter(|&&k| merged.iter().any(|r| r.contains(&bucket(k))))
        .count();
    (merged, inside as f64 / s as f64)
}

pub(crate) fn min_max(keys: &[u64]) -> (u64, u64) {
    keys.iter()
        .fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)))
}

/// Writes the keys of the given ranks (ascending, distinct, each `base..base + keys.len()`) to
/// `out`; every key is in `lo..=hi`, and when `lo == hi` they are all that key. May reorder
/// `keys`.
pub(crate) fn select_keys(keys: &mut [u64], lo: u64, hi: u64, ranks: &[usize], base: usize, out: &mut [u64]) {
    if lo == hi {
        out.fill(lo);
    } else if keys.len() <= SORT_MAX
        || ranks.len() >= usize::from(u16::MAX)
        || u32::try_from(keys.len()).is_err()
    {
        // Few keys; or more ranks than the group slots count, or more keys than the bucket
        // counts hold (neither happens with the quantiles this crate asks for): sort.
        keys.sort_unstable();
        for (o, &r) in out.iter_mut().zip(ranks) {
            *o = keys[r - base];
        }
    } else if keys.len() < 4 * 256 * 2 {
        select_level::<256>(keys, lo, hi, ranks, base, out);
    } else {
        select_level::<{ 1 << MAX_LEVEL_BITS }>(keys, lo, hi, ranks, base, out);
    }
}

/// One level of [`select_keys`]: `B` buckets split `lo..=hi` evenly; the keys of the buckets
/// holding ranks are moved out in one pass and searched in turn.
fn select_level<const B: usize>(
    keys: &[u64],
    lo: u64,
    hi: u64,
    ranks: &[usize],
    base: usize,
    out: &mut [u64],
) {
    let span_bits = u64::BITS - (hi - lo).leading_zeros();
    let shift = span_bits.saturating_sub(B.trailing_zeros());
    let bucket = |k: u64| ((k - lo) >> shift) as usize & (B - 1);
    let mut hist = [0u32; B];
    for &k in keys {
        hist[bucket(k)] += 1;
    }
    // The buckets holding ranks: (bucket, keys below it, first rank index, rank count).
    let mut groups: Vec<(usize, usize, usize, usize)> = Vec::with_capacity(ranks.len());
    let mut below = base;
    let mut j = 0;
    for (b, &count) in hist.iter().enumerate() {
        let end = below + count as usize;
        let first = j;
        while j < ranks.len() && ranks[j] < end {
            j += 1;
        }
        if j > first {
            groups.push((b, below, first, j - first));
        }
        if j == ranks.len() {
            break;
        }
        below = end;
    }
    // One pass moves the groups' keys into one buffer, each group contiguous, with its range.
    let mut slot = [0u16; B];
    let mut cursor = Vec::with_capacity(groups.len());
    let mut total = 0usize;
    for (g, &(b, ..)) in groups.iter().enumerate() {
        slot[b] = g as u16 + 1; // fewer groups than ranks, so fewer than u16::MAX
        cursor.push((total, u64::MAX, 0u64));
        total += hist[b] as usize;
    }
    let mut moved = vec![0u64; total];
    for &k in keys {
        let s = slot[bucket(k)];
        if s != 0 {
            let (at, sub_lo, sub_hi) = &mut cursor[usize::from(s) - 1];
            moved[*at] = k;
            *at += 1;
            *sub_lo = (*sub_lo).min(k);
            *sub_hi = (*sub_hi).max(k);
        }
    }
    let mut start = 0usize;
    for (&(end, sub_lo, sub_hi), &(_, below, first, count)) in cursor.iter().zip(&groups) {
        let range = first..first + count;
        select_keys(
            &mut moved[start..end],
            sub_lo,
            sub_hi,
            &ranks[range.clone()],
            below,
            &mut out[range],
        );
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use proptest::prelude::*;

    use super::*;

    /// The general method alone (the public [`super::sample_quantiles`] takes the bucket path
    /// of `column_select` first, which is tested against this one there).
    fn sample_quantiles<const N: usize>(values: &[f64], qs: [f64; N]) -> [Option<f64>; N] {
        quantiles_by(values, |v| *v, |_| {}, qs)
    }

    thread_local! {
        /// How many times `select_large` needed its second pass on this thread.
        pub(super) static MISSED: Cell<usize> = const { Cell::new(0) };
        /// How many times `select_by_buckets` found a rank in an edge bucket on this thread.
        pub(super) static EDGE: Cell<usize> = const { Cell::new(0) };
    }

    /// numpy's linear quantile of sorted, NaN-free values, the way this crate interpolates.
    fn by_sorting(values: &[f64], q: f64) -> Option<f64> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(interpolate(q, v.len(), |r| v[r]))
    }

    fn same(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (None, None) => true,
            _ => false,
        }
    }

    const QS: [f64; 7] = [0.5, 0.9, 0.99, 0.0, 1.0, 0.25, 0.999];

    fn check(values: &[f64]) {
        let got = sample_quantiles(values, QS);
        for (q, g) in QS.into_iter().zip(got) {
            let want = by_sorting(values, q);
            assert!(
                same(g, want),
                "n={} q={q}: got {g:?}, sorting gives {want:?}",
                values.len()
            );
        }
    }

    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn keys_follow_total_order() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(key_to_f64(key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn large_inputs_match_sorting_whatever_their_shape() {
        let n = LARGE * 3 + 17;
        let mut s = 42u64;
        let unit = |s: &mut u64| (splitmix(s) >> 11) as f64 / (1u64 << 53) as f64;
        let shapes: Vec<(&str, Vec<f64>)> = vec![
            (
                "log-normal with NaN",
                (0..n)
                    .map(|_| {
                        let u = unit(&mut s);
                        if u < 0.001 {
                            f64::NAN
                        } else {
                            (3.0 + 4.0 * (unit(&mut s) - 0.5)).exp()
                        }
                    })
                    .collect(),
            ),
            ("ascending", (0..n).map(|i| i as f64).collect()),
            ("descending", (0..n).map(|i| -(i as f64)).collect()),
            // The strided sample sees only one value of a period-4096 pattern: it must miss.
            (
                "periodic against the sample",
                (0..n)
                    .map(|i| {
                        if i % (n / SAMPLE) == (n / SAMPLE) / 2 {
                            1.0
                        } else {
                            (i % 977) as f64 + 2.0
                        }
                    })
                    .collect(),
            ),
            (
                "few distinct values",
                (0..n).map(|_| (splitmix(&mut s) % 3) as f64).collect(),
            ),
            ("all equal", vec![7.5; n]),
            (
                "one huge outlier",
                (0..n)
                    .map(|i| if i == 5 { 1e300 } else { unit(&mut s) })
                    .collect(),
            ),
            (
                "signed with infinities",
                (0..n)
                    .map(|i| match i % 1000 {
                        0 => f64::INFINITY,
                        1 => f64::NEG_INFINITY,
                        2 => -0.0,
                        3 => 0.0,
                        _ => unit(&mut s) - 0.5,
                    })
                    .collect(),
            ),
            (
                "mostly NaN",
                (0..n)
                    .map(|i| if i % 97 == 0 { i as f64 } else { f64::NAN })
                    .collect(),
            ),
            ("only NaN", vec![f64::NAN; n]),
        ];
        for (name, values) in shapes {
            let missed_before = MISSED.with(Cell::get);
            let got = sample_quantiles(&values, QS);
            let missed = MISSED.with(Cell::get) > missed_before;
            // Both ways through `select_large` are taken: the sample of the periodic data sees
            // one value only, and a smooth distribution is predicted.
            if name == "periodic against the sample" {
                assert!(missed, "the prediction should have missed");
            }
            if name == "log-normal with NaN" {
                assert!(!missed, "the prediction should have held");
            }
            for (q, g) in QS.into_iter().zip(got) {
                let want = by_sorting(&values, q);
                assert!(same(g, want), "{name}: q={q}: got {g:?}, sorting gives {want:?}");
            }
        }
    }

    #[test]
    fn small_inputs_match_sorting() {
        let mut s = 7u64;
        for n in [0usize, 1, 2, 3, 10, 47, 48, 49, 101, 1000, 5000] {
            let v: Vec<f64> = (0..n).map(|_| (splitmix(&mut s) % 1000) as f64).collect();
            check(&v);
        }
    }

    #[test]
    fn visit_sees_every_item_once_in_order() {
        for n in [10usize, 1000, LARGE + 3] {
            let items: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let mut seen = Vec::new();
            let [p50] = quantiles_by(&items, |v| *v, |v| seen.push(*v), [0.5]);
            assert_eq!(seen, items);
            assert_eq!(p50, Some((n - 1) as f64 / 2.0));
        }
    }

    #[test]
    fn nan_quantile_gives_nan() {
        let [q] = sample_quantiles(&[1.0, 2.0, 3.0], [f64::NAN]);
        assert!(q.is_some_and(f64::is_nan));
    }

    #[test]
    fn small_inputs_take_every_way() {
        // A smooth window is selected in its buckets; one whose p99 lies far beyond the guessed
        // range lands in the last bucket and is selected among all keys.
        let mut s = 3u64;
        let unit = |s: &mut u64| (splitmix(s) >> 11) as f64 / (1u64 << 53) as f64;
        let smooth: Vec<f64> = (0..1000).map(|_| (3.0 + unit(&mut s)).exp()).collect();
        let far: Vec<f64> = (0..1000)
            .map(|i| {
                if i % 50 == 7 {
                    1e9 + f64::from(i)
                } else {
                    1.0 + unit(&mut s)
                }
            })
            .collect();
        for (values, edge) in [(smooth, false), (far, true)] {
            let before = EDGE.with(Cell::get);
            check(&values);
            assert_eq!(EDGE.with(Cell::get) > before, edge);
        }
    }

    /// Values of every kind: smooth positives, duplicates, negatives and signed zeros, infinities,
    /// NaN and extremes, drawn by `pick` in `0..100`.
    fn any_value(pick: u64, u: f64) -> f64 {
        match pick {
            0..=59 => (3.0 + 2.0 * (u - 0.5)).exp(),
            60..=69 => (u * 4.0).floor(),
            70..=77 => -(1.0 + 10.0 * u),
            78..=81 => f64::NAN,
            82..=83 => f64::INFINITY,
            84 => f64::NEG_INFINITY,
            85..=86 => -0.0,
            87..=88 => 0.0,
            89 => f64::MAX * u,
            90 => f64::MIN_POSITIVE * u,
            _ => u * 1e-300,
        }
    }

    proptest! {
        #[test]
        fn windows_of_any_values_equal_sort_based_quantiles(
            seed in any::<u64>(),
            n in 0usize..3000,
            smooth in 0u64..=100,
        ) {
            // `smooth` percent of the values are log-normal, the others of any kind.
            let mut s = seed;
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    let (p, u) = (splitmix(&mut s) % 100, (splitmix(&mut s) >> 11) as f64 / (1u64 << 53) as f64);
                    any_value(if p < smooth { 0 } else { splitmix(&mut s) % 100 }, u)
                })
                .collect();
            let got = sample_quantiles(&values, [0.5, 0.9, 0.99]);
            for (q, g) in [0.5, 0.9, 0.99].into_iter().zip(got) {
                let want = by_sorting(&values, q);
                prop_assert!(same(g, want), "n={} q={}: got {:?}, sorting gives {:?}", n, q, g, want);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn large_inputs_of_any_values_equal_sort_based_quantiles(
            seed in any::<u64>(),
            extra in 0usize..40_000,
            smooth in 0u64..=100,
            q in 0.0f64..=1.0,
        ) {
            let mut s = seed;
            let values: Vec<f64> = (0..LARGE + extra)
                .map(|_| {
                    let (p, u) = (splitmix(&mut s) % 100, (splitmix(&mut s) >> 11) as f64 / (1u64 << 53) as f64);
                    any_value(if p < smooth { 0 } else { splitmix(&mut s) % 100 }, u)
                })
                .collect();
            let got = sample_quantiles(&values, [0.5, 0.9, 0.99, q]);
            for (q, g) in [0.5, 0.9, 0.99, q].into_iter().zip(got) {
                let want = by_sorting(&values, q);
                prop_assert!(same(g, want), "q={}: got {:?}, sorting gives {:?}", q, g, want);
            }
        }
    }

    proptest! {
        #[test]
        fn equals_sort_based_quantiles(
            values in prop::collection::vec(prop_oneof![
                4 => -1000.0f64..1000.0,
                1 => (-5i32..5).prop_map(f64::from),
                1 => prop::num::f64::ANY,
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
            ], 0..600),
            q in 0.0f64..=1.0,
        ) {
            let [got] = sample_quantiles(&values, [q]);
            let want = by_sorting(&values, q);
            prop_assert!(same(got, want), "got {:?}, sorting gives {:?}", got, want);
        }

        #[test]
        fn large_random_inputs_equal_sort_based_quantiles(
            seed in any::<u64>(),
            spread in 0.0f64..40.0,
            nan_share in 0.0f64..0.5,
            q in 0.0f64..=1.0,
        ) {
            let mut s = seed;
            let unit = |s: &mut u64| (splitmix(s) >> 11) as f64 / (1u64 << 53) as f64;
            let values: Vec<f64> = (0..LARGE + 1000)
                .map(|_| {
                    if unit(&mut s) < nan_share { f64::NAN } else { (spread * (unit(&mut s) - 0.5)).exp() }
                })
                .collect();
            let [got, p99] = sample_quantiles(&values, [q, 0.99]);
            prop_assert!(same(got, by_sorting(&values, q)));
            prop_assert!(same(p99, by_sorting(&values, 0.99)));
        }
    }
}
