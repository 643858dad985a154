//! Criterion benches over one million inputs each: `histogram_quantile` (100 000 histograms of 10
//! buckets), `calculate_sli_from_requests` (1 000 000 requests as one window, and as 1 000 windows
//! of 1 000), the same requests as columns (`calculate_sli_from_columns`, `sli_windows`),
//! `sample_quantiles` (1 000 000 values), `ewma` and `detect_anomalies` (a history of 1 000 000
//! points).

use std::{collections::BTreeMap, hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_observe::{
    AnomalySettings, RequestColumns, SliSettings, calculate_sli_from_columns, calculate_sli_from_requests,
    detect_anomalies, ewma, histogram_quantile, sample_quantiles, sli_windows,
};

#[allow(dead_code, unreachable_pub)]
mod data;

fn quantile(c: &mut Criterion) {
    let hists = data::histograms(100_000, 1);
    c.bench_function("histogram_quantile/100k_hist_x10_buckets", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for h in &hists {
                acc += histogram_quantile(black_box(0.99), h);
            }
            acc
        });
    });
}

fn sli(c: &mut Criterion) {
    let reqs = data::requests(1_000_000, 2);
    c.bench_function("calculate_sli_from_requests/1M", |b| {
        b.iter(|| {
            calculate_sli_from_requests(black_box(&reqs), Duration::from_secs(300), SliSettings::default())
        });
    });
    c.bench_function("calculate_sli_from_requests/1k_windows_x1k", |b| {
        b.iter(|| {
            black_box(&reqs)
                .chunks(1000)
                .map(|w| calculate_sli_from_requests(w, Duration::from_secs(300), SliSettings::default()))
                .collect::<Vec<_>>()
        });
    });
    let latencies: Vec<f64> = reqs.iter().map(|r| r.latency_ms).collect();
    let status: Vec<u16> = reqs.iter().map(|r| r.status).collect();
    let columns = RequestColumns::new(&status, &latencies).unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("calculate_sli_from_columns/1M", |b| {
        b.iter(|| {
            calculate_sli_from_columns(
                black_box(columns),
                Duration::from_secs(300),
                SliSettings::default(),
            )
        });
    });
    c.bench_function("sli_windows/1k_windows_x1k", |b| {
        b.iter(|| {
            sli_windows(
                black_box(columns),
                1000,
                Duration::from_secs(300),
                SliSettings::default(),
            )
        });
    });
    c.bench_function("sample_quantiles/1M_p50_p90_p99", |b| {
        b.iter(|| sample_quantiles(black_box(&latencies), [0.5, 0.9, 0.99]));
    });
}

fn anomalies(c: &mut Criterion) {
    let history = BTreeMap::from([("p99_ms".to_owned(), data::history(1_000_000, 3))]);
    let current = BTreeMap::from([("p99_ms".to_owned(), 180.0)]);
    let settings = AnomalySettings::default();
    c.bench_function("ewma/1M_history", |b| {
        b.iter(|| ewma(black_box(&history["p99_ms"]), settings.ewma_alpha));
    });
    c.bench_function("detect_anomalies/1M_history", |b| {
        b.iter(|| detect_anomalies(black_box(&current), black_box(&history), &settings));
    });
}

criterion_group!(benches, quantile, sli, anomalies);
criterion_main!(benches);
