//! Criterion benches over one million inputs each: `histogram_quantile` (100 000 histograms of 10
//! buckets), `calculate_sli_from_requests` (1 000 000 requests) and `detect_anomalies` (a history of
//! 1 000 000 points).

use std::{collections::BTreeMap, hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_observe::{
    AnomalySettings, SliSettings, calculate_sli_from_requests, detect_anomalies, histogram_quantile,
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
}

fn anomalies(c: &mut Criterion) {
    let history = BTreeMap::from([("p99_ms".to_owned(), data::history(1_000_000, 3))]);
    let current = BTreeMap::from([("p99_ms".to_owned(), 180.0)]);
    let settings = AnomalySettings::default();
    c.bench_function("detect_anomalies/1M_history", |b| {
        b.iter(|| detect_anomalies(black_box(&current), black_box(&history), &settings));
    });
}

criterion_group!(benches, quantile, sli, anomalies);
criterion_main!(benches);
