//! Plans, renders (multi-document YAML) and validates against the pinned schemas the full Istio
//! policy set of N services: registration (ServiceEntry + WorkloadEntry), DestinationRule with a
//! circuit breaker and subsets, VirtualService with a 90/10 split and retries, PeerAuthentication
//! per namespace and an AuthorizationPolicy per service. Compares 1k and 10k services for
//! linearity.
//!
//! `cargo bench -p mesh-istio --bench render_10k -- --quick`

use std::{hint::black_box, time::Duration};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, CircuitBreaker, Endpoint,
    HttpMethod, Percent, Port, RenderFormat, RetryOn, RetryPolicy, ServiceDefinition, ServiceId,
    TrafficSplit,
};
use mesh_istio::{Config, Snapshot};
use mesh_kube::schema::SchemaSet;

const SERVICES_PER_NAMESPACE: usize = 50;

fn changes(i: usize) -> Vec<Change> {
    let ns = format!("team{}", i / SERVICES_PER_NAMESPACE);
    let name = format!("svc{i}");
    let service: ServiceId = format!("{ns}/{name}").parse().unwrap();
    let def = ServiceDefinition::builder(&name, &ns, 8080)
        .unwrap()
        .version("v1")
        .unwrap()
        .endpoint(
            Endpoint::new(
                format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                Port::new(8080).unwrap(),
            )
            .unwrap(),
        );
    let mut out = vec![
        Change::RegisterService(def),
        Change::ConfigureCircuitBreaker {
            service: service.clone(),
            circuit_breaker: CircuitBreaker {
                max_connections: Some(100),
                max_retries: Some(3),
                consecutive_errors: Some(5),
                interval: Some(Duration::from_secs(10)),
                base_ejection_time: Some(Duration::from_secs(30)),
                max_ejection_percent: Some(Percent::new(50.0).unwrap()),
                ..Default::default()
            },
            callers: vec![],
        },
        Change::SetTrafficWeight {
            service: service.clone(),
            split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
        },
        Change::SetRetryPolicy {
            service: service.clone(),
            policy: RetryPolicy {
                attempts: 3,
                per_try_timeout: Some(Duration::from_secs(2)),
                retry_on: vec![RetryOn::ConnectFailure, RetryOn::GatewayError],
                retry_on_status: vec![],
                overall_timeout: Some(Duration::from_secs(10)),
            },
        },
        Change::CreateAuthorizationPolicy(AuthorizationPolicy {
            name: format!("{name}-allow").parse().unwrap(),
            namespace: service.namespace.clone(),
            target: Some(service.name.clone()),
            action: AuthzAction::Allow,
            rules: vec![AuthzRule {
                from: vec![AuthzSource {
                    principals: vec![format!("{ns}/frontend").parse().unwrap()],
                    namespaces: vec![],
                }],
                to: vec![AuthzTarget {
                    methods: vec![HttpMethod::Get],
                    paths: vec!["/api/*".into()],
                    ports: vec![],
                }],
            }],
        }),
    ];
    if i.is_multiple_of(SERVICES_PER_NAMESPACE) {
        out.push(Change::EnableMtls {
            namespace: service.namespace,
        });
    }
    out
}

/// Plans, renders and validates the policy set of `n` services; returns the YAML size and the
/// number of objects.
fn render_and_validate(n: usize) -> (usize, usize) {
    let config = Config::default();
    let schemas = SchemaSet::bundled();
    let mut snapshot = Snapshot::default();
    let (mut bytes, mut objects) = (0, 0);
    for i in 0..n {
        for change in changes(i) {
            let plan = mesh_istio::plan(&change, &snapshot, &config).unwrap();
            for body in plan.writes.iter().filter_map(|w| w.body.as_ref()) {
                schemas.validate(body).unwrap();
                objects += 1;
            }
            bytes += plan.render(RenderFormat::Yaml).unwrap().len();
            snapshot.apply(&plan).unwrap();
        }
    }
    (bytes, objects)
}

fn bench(c: &mut Criterion) {
    // Compile the schemas outside the measurement.
    render_and_validate(1);
    let mut group = c.benchmark_group("istio_policy_set");
    group.sample_size(10);
    for n in [1_000usize, 10_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| black_box(render_and_validate(n)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
