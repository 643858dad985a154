//! Times `histogram_quantile`, `calculate_sli_from_requests` and `detect_anomalies` on inputs
//! written by `xtask/bench_math.py`, writes the quantiles back for an exactness check, and prints
//! the timings as one JSON object on stdout.
//!
//! Usage: `cargo run --release -p mesh-observe --example bench_math -- <dir> <current> <reps>`,
//! where `<dir>` holds little-endian `hist_bounds.f64`, `hist_counts.f64`, `req_status.u16`,
//! `req_latency.f64` and `history.f64`.
#![allow(clippy::print_stdout)] // The JSON report is this tool's output.

use std::{
    collections::BTreeMap,
    hint::black_box,
    path::Path,
    time::{Duration, Instant},
};

use mesh_observe::{
    AnomalySettings, Assessment, Bucket, RequestRecord, SliSettings, calculate_sli_from_requests,
    detect_anomalies, histogram_quantile,
};

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

fn f64s(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect()
}

fn u16s(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes(c.try_into().unwrap_or([0; 2])))
        .collect()
}

/// The best wall-clock time over `reps` runs, and the last result.
fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let r = black_box(f());
        best = best.min(start.elapsed());
        out = Some(r);
    }
    (best.as_secs_f64(), out.unwrap_or_else(f))
}

fn json_f64(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:?}"),
        _ => "null".to_owned(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, current, reps] = args.as_slice() else {
        eprintln!("usage: bench_math <dir> <current> <reps>");
        std::process::exit(2);
    };
    let dir = Path::new(dir);
    let current: f64 = current.parse().unwrap_or_else(|e| panic!("current: {e}"));
    let reps: usize = reps.parse().unwrap_or_else(|e| panic!("reps: {e}"));

    let bounds = f64s(&read(dir, "hist_bounds.f64"));
    let counts = f64s(&read(dir, "hist_counts.f64"));
    let buckets: Vec<Bucket> = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| Bucket::new(bounds[i % bounds.len()], c))
        .collect();
    let (t_quantile, quantiles) = best(reps, || {
        buckets
            .chunks_exact(bounds.len())
            .map(|h| histogram_quantile(0.99, h))
            .collect::<Vec<f64>>()
    });
    let out: Vec<u8> = quantiles.iter().flat_map(|q| q.to_le_bytes()).collect();
    std::fs::write(dir.join("quantiles_rust.f64"), out).unwrap_or_else(|e| panic!("write quantiles: {e}"));

    let status = u16s(&read(dir, "req_status.u16"));
    let latency = f64s(&read(dir, "req_latency.f64"));
    let records: Vec<RequestRecord> = status
        .iter()
        .zip(&latency)
        .map(|(&status, &latency_ms)| RequestRecord { status, latency_ms })
        .collect();
    let (t_sli, sli) = best(reps, || {
        calculate_sli_from_requests(&records, Duration::from_secs(300), SliSettings::default())
    });

    let history = BTreeMap::from([("metric".to_owned(), f64s(&read(dir, "history.f64")))]);
    let now = BTreeMap::from([("metric".to_owned(), current)]);
    let settings = AnomalySettings::default();
    let (t_anomaly, report) = best(reps, || detect_anomalies(&now, &history, &settings));
    let (robust, ewma) = match report.metrics.first().map(|(_, a)| *a) {
        Some(Assessment::Scored { robust, ewma, .. }) => (Some(robust.score), ewma.map(|e| e.score)),
        _ => (None, None),
    };

    println!(
        "{{\"histogram_quantile\":{{\"seconds\":{t_quantile:?},\"inputs\":{}}},\
         \"calculate_sli\":{{\"seconds\":{t_sli:?},\"inputs\":{},\"error_rate\":{},\"p50\":{},\"p90\":{},\"p99\":{}}},\
         \"detect_anomalies\":{{\"seconds\":{t_anomaly:?},\"inputs\":{},\"robust_score\":{},\"ewma_score\":{}}}}}",
        buckets.len(),
        records.len(),
        json_f64(sli.error_rate),
        json_f64(sli.latency.p50_ms),
        json_f64(sli.latency.p90_ms),
        json_f64(sli.latency.p99_ms),
        history["metric"].len(),
        json_f64(robust),
        json_f64(ewma),
    );
}
