//! `histogram_quantile` checked against a real Prometheus 2.42 (Debian's `prometheus` package).
//!
//! A few hundred seeded random bucket sets (unsorted, duplicated bounds spelled `1` and `1.0`,
//! non-monotonic and negative counts, NaN and infinite counts, missing `+Inf`, non-positive first
//! bounds) are written as one OpenMetrics file, backfilled with `promtool tsdb
//! create-blocks-from openmetrics`, and served by `prometheus` on a free loopback port. For several
//! `q`, `histogram_quantile(q, hq)` from Prometheus' HTTP API must equal ours bit for bit. The
//! server comes from `mesh-testkit`.
//!
//! The test fails when the binaries are missing, unless `MESH_SKIP_PROMETHEUS=1`.

use std::{collections::BTreeMap, fmt::Write as _};

use mesh_observe::{Bucket, histogram_quantile};
use mesh_testkit::Prometheus;

/// 2024-01-01T00:00:00Z: every sample sits here and every query evaluates here.
const T: u64 = 1_704_067_200;
const SETS: usize = 300;

/// SplitMix64, seeded: the same bucket sets on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One series: the `le` label as written, and the value as written.
struct Series {
    le: String,
    value: String,
}

fn random_set(rng: &mut Rng) -> Vec<Series> {
    const BOUNDS: [&str; 12] = [
        "-1", "0", "0.005", "0.1", "1", "2.5", "5", "10", "25", "100", "250", "1e3",
    ];
    let n = 1 + rng.below(7) as usize;
    let mut picked: Vec<&str> = Vec::new();
    while picked.len() < n {
        let b = BOUNDS[rng.below(BOUNDS.len() as u64) as usize];
        if !picked.contains(&b) {
            picked.push(b);
        }
    }
    let mut les: Vec<String> = picked.iter().map(|s| (*s).to_owned()).collect();
    // One bound spelled twice ("1" and "1.0" are different series, one bucket after parsing).
    if rng.below(5) == 0 && picked.contains(&"1") {
        les.push("1.0".to_owned());
    }
    // Most sets are complete; some lack the +Inf bucket.
    if rng.below(8) != 0 {
        les.push("+Inf".to_owned());
    }
    // Cumulative counts in sorted-bound order, then damaged on purpose now and then.
    les.sort_by(|a, b| le_value(a).total_cmp(&le_value(b)));
    let mut total = 0.0f64;
    let mut values: Vec<f64> = les
        .iter()
        .map(|_| {
            total += match rng.below(6) {
                0 => 0.0,
                1 => (rng.unit() * 1000.0).floor() / 7.0,
                2 => rng.unit(),
                _ => (rng.unit() * 50.0).floor(),
            };
            total
        })
        .collect();
    match rng.below(12) {
        0 | 1 => {
            let i = rng.below(values.len() as u64) as usize;
            values[i] *= rng.unit(); // non-monotonic
        }
        2 => {
            let i = rng.below(values.len() as u64) as usize;
            values[i] = -values[i] - 1.0;
        }
        3 => values.iter_mut().for_each(|v| *v = 0.0),
        4 => {
            let i = rng.below(values.len() as u64) as usize;
            values[i] = f64::NAN;
        }
        5 => {
            let last = values.len() - 1;
            values[last] = f64::INFINITY;
        }
        _ => {}
    }
    let mut set: Vec<Series> = les
        .into_iter()
        .zip(values)
        .map(|(le, v)| Series {
            le,
            value: format_value(v),
        })
        .collect();
    // Shuffle: Prometheus sorts, so must we.
    for i in (1..set.len()).rev() {
        set.swap(i, rng.below(i as u64 + 1) as usize);
    }
    set
}

fn le_value(le: &str) -> f64 {
    le.parse().unwrap_or(f64::INFINITY)
}

/// A value as OpenMetrics text: Rust's shortest round-trip decimal, Go-style specials.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// Parses a Prometheus value string (`"NaN"`, `"+Inf"`, `"-Inf"`, `"1.5"`, `"1e-07"`).
fn parse_value(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .unwrap_or_else(|e| panic!("bad value {other:?}: {e}")),
    }
}

fn query(prom: &Prometheus, promql: &str) -> BTreeMap<String, String> {
    let (status, body) = prom.query(promql, T).expect("query prometheus");
    assert_eq!(status, 200, "{promql}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON response");
    assert_eq!(json["status"], "success", "{body}");
    json["data"]["result"]
        .as_array()
        .expect("vector result")
        .iter()
        .map(|r| {
            let set = r["metric"]["set"].as_str().expect("set label").to_owned();
            let value = r["value"][1].as_str().expect("value string").to_owned();
            (set, value)
        })
        .collect()
}

#[test]
fn histogram_quantile_matches_prometheus_2_42_bit_for_bit() {
    let mut rng = Rng(0x5eed_2042);
    let sets: Vec<Vec<Series>> = (0..SETS).map(|_| random_set(&mut rng)).collect();
    let mut om = String::from("# TYPE hq gauge\n");
    for (i, set) in sets.iter().enumerate() {
        for s in set {
            let _ = writeln!(om, "hq{{set=\"{i}\",le=\"{}\"}} {} {T}", s.le, s.value);
        }
    }
    om.push_str("# EOF\n");
    let Some(prom) = Prometheus::start(&om) else {
        return;
    };

    let ours_for = |q: f64, set: &[Series]| {
        let buckets: Vec<Bucket> = set
            .iter()
            .map(|s| Bucket::new(s.le.parse().expect("le parses"), parse_value(&s.value)))
            .collect();
        histogram_quantile(q, &buckets)
    };
    let mut compared = 0;
    let mut non_nan = 0;
    for (q_text, q) in [
        ("0", 0.0),
        ("0.01", 0.01),
        ("0.25", 0.25),
        ("0.5", 0.5),
        ("0.75", 0.75),
        ("0.9", 0.9),
        ("0.95", 0.95),
        ("0.99", 0.99),
        ("0.999", 0.999),
        ("1", 1.0),
        ("-0.5", -0.5),
        ("1.5", 1.5),
        ("NaN", f64::NAN),
    ] {
        let theirs = query(&prom, &format!("histogram_quantile({q_text}, hq)"));
        assert_eq!(theirs.len(), SETS, "one result per bucket set for q={q_text}");
        for (i, set) in sets.iter().enumerate() {
            let expected = parse_value(&theirs[&i.to_string()]);
            let ours = ours_for(q, set);
            let same = (expected.is_nan() && ours.is_nan()) || expected.to_bits() == ours.to_bits();
            let described: Vec<String> = set.iter().map(|s| format!("le={} {}", s.le, s.value)).collect();
            assert!(
                same,
                "q={q_text} set {i} [{}]: prometheus {:?}, ours {ours:?}",
                described.join(", "),
                theirs[&i.to_string()]
            );
            compared += 1;
            non_nan += usize::from(!expected.is_nan());
        }
    }
    eprintln!("compared {compared} quantiles with Prometheus, {non_nan} of them numbers");
    assert_eq!(compared, 13 * SETS);
    assert!(
        non_nan > 6 * SETS,
        "most comparisons must be numbers, got {non_nan}"
    );
}
