//! YAML rendering of Kubernetes objects: `mesh_core::yaml` against `serde_saphyr::to_string`, on
//! an Istio VirtualService (two weighted routes, retries) and a DestinationRule (subsets and a
//! traffic policy). Throughput is in bytes of YAML.
//!
//! `cargo bench -p mesh-core --bench yaml -- --quick`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

fn virtual_service() -> Value {
    let host = "reviews.prod.svc.cluster.local";
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": "reviews",
            "namespace": "prod",
            "labels": { "app.kubernetes.io/managed-by": "mesh", "app.kubernetes.io/name": "reviews" },
        },
        "spec": {
            "hosts": [host],
            "http": [{
                "name": "mesh-split",
                "match": [{ "uri": { "prefix": "/api/" } }],
                "timeout": "10s",
                "retries": { "attempts": 3, "perTryTimeout": "2s", "retryOn": "connect-failure,gateway-error,5xx" },
                "route": [
                    { "destination": { "host": host, "subset": "v1", "port": { "number": 8080 } }, "weight": 90 },
                    { "destination": { "host": host, "subset": "v2", "port": { "number": 8080 } }, "weight": 10 },
                ],
            }],
        },
    })
}

fn destination_rule() -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {
            "name": "reviews",
            "namespace": "prod",
            "labels": { "app.kubernetes.io/managed-by": "mesh" },
        },
        "spec": {
            "host": "reviews.prod.svc.cluster.local",
            "trafficPolicy": {
                "loadBalancer": { "simple": "LEAST_REQUEST" },
                "connectionPool": {
                    "tcp": { "maxConnections": 100, "connectTimeout": "30ms" },
                    "http": { "http1MaxPendingRequests": 64, "maxRetries": 3 },
                },
                "outlierDetection": {
                    "consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50,
                },
                "tls": { "mode": "ISTIO_MUTUAL" },
            },
            "subsets": [
                { "name": "v1", "labels": { "version": "v1" } },
                { "name": "v2", "labels": { "version": "v2" }, "trafficPolicy": { "loadBalancer": { "simple": "ROUND_ROBIN" } } },
            ],
        },
    })
}

fn bench(c: &mut Criterion) {
    for (name, obj) in [
        ("VirtualService", virtual_service()),
        ("DestinationRule", destination_rule()),
    ] {
        let yaml = mesh_core::yaml::to_string(&obj);
        assert_eq!(
            yaml,
            serde_saphyr::to_string(&obj).unwrap(),
            "the emitters disagree"
        );
        let mut g = c.benchmark_group(format!("yaml/{name}"));
        g.throughput(Throughput::Bytes(yaml.len() as u64));
        g.bench_function("mesh_core::yaml::to_string", |b| {
            b.iter(|| mesh_core::yaml::to_string(black_box(&obj)))
        });
        g.bench_function("mesh_core::yaml::write_value", |b| {
            let mut out = String::with_capacity(4096);
            b.iter(|| {
                out.clear();
                mesh_core::yaml::write_value(&mut out, black_box(&obj));
                out.len()
            })
        });
        g.bench_function("serde_saphyr::to_string", |b| {
            b.iter(|| serde_saphyr::to_string(black_box(&obj)).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
