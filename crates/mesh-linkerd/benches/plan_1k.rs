//! Plans (against an in-memory snapshot, applying as it goes), renders and validates against the
//! pinned schemas the full Linkerd policy set of N services: registration of an ExternalWorkload
//! (2.20), per-version Services and an HTTPRoute with a 90/10 split, failure accrual, retries and
//! timeouts, the namespace's inbound policy and an ALLOW policy per service. Compares 1k and 5k
//! services for linearity.
//!
//! `cargo bench -p mesh-linkerd --bench plan_1k -- --quick`

use std::{hint::black_box, time::Duration};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_core::*;
use mesh_kube::schema::SchemaSet;
use mesh_linkerd::{Config, LinkerdVersion, Snapshot};

const PER_NAMESPACE: usize = 50;

fn changes(i: usize) -> Vec<Change> {
    let ns = format!("team{}", i / PER_NAMESPACE);
    let name = format!("svc{i}");
    let service: ServiceId = format!("{ns}/{name}").parse().unwrap();
    let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
    let def = ServiceDefinition::builder(&name, &ns, 8080)
        .unwrap()
        .version("v1")
        .unwrap()
        .endpoint(Endpoint::new(ip, Port::new(8080).unwrap()).unwrap());
    let mut out = vec![
        Change::RegisterService(def),
        Change::SetTrafficWeight {
            service: service.clone(),
            split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
        },
        Change::ConfigureCircuitBreaker {
            service: service.clone(),
            circuit_breaker: CircuitBreaker {
                consecutive_errors: Some(5),
                base_ejection_time: Some(Duration::from_secs(30)),
                ..Default::default()
            },
            callers: vec![],
        },
        Change::SetRetryPolicy {
            service: service.clone(),
            policy: RetryPolicy {
                attempts: 2,
                per_try_timeout: Some(Duration::from_millis(500)),
                retry_on: vec![RetryOn::GatewayError],
                retry_on_status: vec![],
                overall_timeout: Some(Duration::from_secs(5)),
            },
        },
        Change::CreateAuthorizationPolicy(AuthorizationPolicy {
            name: format!("allow-{name}").parse().unwrap(),
            namespace: ns.parse().unwrap(),
            target: Some(name.parse().unwrap()),
            action: AuthzAction::Allow,
            rules: vec![AuthzRule {
                from: vec![AuthzSource {
                    principals: vec![format!("{ns}/frontend").parse().unwrap()],
                    ..Default::default()
                }],
                to: vec![AuthzTarget {
                    methods: vec![HttpMethod::Get],
                    ..Default::default()
                }],
            }],
        }),
    ];
    if i.is_multiple_of(PER_NAMESPACE) {
        out.push(Change::EnableMtls {
            namespace: ns.parse().unwrap(),
        });
    }
    out
}

/// Plans every change, applies it to the snapshot, renders YAML and validates every CRD object.
fn run(n: usize, config: &Config) -> usize {
    let set = SchemaSet::bundled();
    let mut snap = Snapshot::default();
    let mut bytes = 0;
    {
        for i in 0..n {
            for change in changes(i) {
                let plan = mesh_linkerd::plan(&change, &snap, config, LinkerdVersion::V2_20).unwrap();
                bytes += plan.render(RenderFormat::Yaml).unwrap().len();
                for w in &plan.writes {
                    if w.target.api_version != "v1" && w.action != WriteAction::ApplyStatus {
                        let obj = mesh_kube::object_for(w).unwrap();
                        set.validate(&obj).unwrap();
                    }
                }
                snap.apply(&plan).unwrap();
            }
        }
    }
    bytes
}

fn bench(c: &mut Criterion) {
    let config = Config::default().version(LinkerdVersion::V2_20);
    let mut group = c.benchmark_group("linkerd_policy_set");
    group.sample_size(10);
    for n in [1_000, 5_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| black_box(run(n, &config)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
