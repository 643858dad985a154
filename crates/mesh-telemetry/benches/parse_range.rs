//! Parsing a 10 MB `query_range` response.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mesh_telemetry::prometheus::parse_response;

#[path = "support/range_body.rs"]
mod support;

fn parse_10mb(c: &mut Criterion) {
    let (body, series, samples) = support::range_body(10 * 1024 * 1024);
    let mut group = c.benchmark_group("query_range");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(10);
    group.bench_function(
        format!("parse {} B, {series} series, {samples} samples", body.len()),
        |b| {
            b.iter(|| {
                let r = parse_response(std::hint::black_box(body.as_bytes()), 200).unwrap();
                std::hint::black_box(r);
            });
        },
    );
    group.finish();
}

criterion_group!(benches, parse_10mb);
criterion_main!(benches);
