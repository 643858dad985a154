//! Deterministic inputs shared by the Criterion benches and the `bench_math` example.

use mesh_observe::{Bucket, RequestRecord};

/// SplitMix64: a tiny seeded generator, so runs are repeatable without a dependency.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Envoy-like bucket bounds in ms, `+Inf` last.
pub const BOUNDS: [f64; 10] = [
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    f64::INFINITY,
];

/// `n` cumulative histograms over [`BOUNDS`].
pub fn histograms(n: usize, seed: u64) -> Vec<[Bucket; 10]> {
    let mut rng = SplitMix(seed);
    (0..n)
        .map(|_| {
            let mut total = 0.0;
            std::array::from_fn(|i| {
                total += (rng.unit() * 100.0).floor();
                Bucket::new(BOUNDS[i], total)
            })
        })
        .collect()
}

/// `n` requests: 1 % 5xx, 0.2 % no response, 3 % 4xx; log-normal-ish latencies.
pub fn requests(n: usize, seed: u64) -> Vec<RequestRecord> {
    let mut rng = SplitMix(seed);
    (0..n)
        .map(|_| {
            let u = rng.unit();
            let status = if u < 0.002 {
                0
            } else if u < 0.012 {
                503
            } else if u < 0.042 {
                404
            } else {
                200
            };
            RequestRecord {
                status,
                latency_ms: (3.0 + 1.5 * (rng.unit() - 0.5)).exp() * (1.0 + rng.unit()),
            }
        })
        .collect()
}

/// `n` history points: a slow daily wave plus noise.
pub fn history(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix(seed);
    (0..n)
        .map(|i| 100.0 + 10.0 * (i as f64 / 1440.0 * std::f64::consts::TAU).sin() + 5.0 * rng.unit())
        .collect()
}
