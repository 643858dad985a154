//! Schema validation throughput: one object of each kind the Istio backend writes, structural
//! checks plus CEL rules, and a 1 000-object mix.
//!
//! `cargo bench -p mesh-kube --bench validate -- --quick`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mesh_kube::schema::SchemaSet;
use serde_json::{Value, json};

fn objects(i: usize) -> Vec<Value> {
    let ns = format!("team{}", i / 50);
    let host = format!("svc{i}.{ns}.svc.cluster.local");
    let meta = json!({ "name": format!("svc{i}"), "namespace": ns, "labels": { "app.kubernetes.io/managed-by": "mesh" } });
    vec![
        json!({ "apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": meta,
            "spec": { "hosts": [host], "http": [{ "name": "mesh-split", "timeout": "10s",
                "retries": { "attempts": 3, "perTryTimeout": "2s", "retryOn": "connect-failure,gateway-error" },
                "route": [{ "destination": { "host": host, "subset": "v1" }, "weight": 90 },
                          { "destination": { "host": host, "subset": "v2" }, "weight": 10 }] }] } }),
        json!({ "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": meta,
            "spec": { "host": host, "trafficPolicy": {
                "connectionPool": { "tcp": { "maxConnections": 100 }, "http": { "maxRetries": 3 } },
                "outlierDetection": { "consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50 } },
              "subsets": [{ "name": "v1", "labels": { "version": "v1" } }, { "name": "v2", "labels": { "version": "v2" } }] } }),
        json!({ "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": meta,
            "spec": { "hosts": [host], "location": "MESH_INTERNAL", "resolution": "STATIC",
                      "ports": [{ "number": 8080, "name": "http", "protocol": "HTTP" }],
                      "workloadSelector": { "labels": { "app": format!("svc{i}") } } } }),
        json!({ "apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry", "metadata": meta,
            "spec": { "address": "10.0.0.7", "labels": { "app": format!("svc{i}"), "version": "v1" } } }),
        json!({ "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta,
            "spec": { "selector": { "matchLabels": { "app": format!("svc{i}") } }, "action": "ALLOW",
                      "rules": [{ "from": [{ "source": { "principals": ["cluster.local/ns/x/sa/frontend"] } }],
                                  "to": [{ "operation": { "methods": ["GET"], "paths": ["/api/*"] } }] }] } }),
        json!({ "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta,
            "spec": { "mtls": { "mode": "STRICT" } } }),
    ]
}

fn bench(c: &mut Criterion) {
    let set = SchemaSet::bundled();
    let one = objects(1);
    for obj in &one {
        set.validate(obj).expect("bench objects are valid");
    }
    let mut g = c.benchmark_group("validate");
    for obj in &one {
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        g.bench_function(kind, |b| b.iter(|| set.validate(black_box(obj))));
    }
    let mix: Vec<Value> = (0..1000 / 6 + 1).flat_map(objects).take(1000).collect();
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("mix_1000", |b| {
        b.iter(|| mix.iter().filter(|o| set.validate(black_box(o)).is_ok()).count())
    });
    g.bench_function("mix_1000_validate_many", |b| {
        b.iter(|| {
            set.validate_many(black_box(&mix), None)
                .iter()
                .filter(|r| r.is_ok())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
