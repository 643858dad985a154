//! Plans, renders (multi-document YAML) and validates against the pinned schemas the full Istio
//! policy set of N services: registration (ServiceEntry + WorkloadEntry), DestinationRule with a
//! circuit breaker and subsets, VirtualService with a 90/10 split and retries, PeerAuthentication
//! per namespace and an AuthorizationPolicy per service. Compares 1k and 10k services for
//! linearity.
//!
//! Rendering uses the library's YAML emitter ([`mesh_core::yaml`]); validation is
//! [`SchemaSet::validate`] per object. The bench runs on mimalloc, the allocator `meshctl` uses:
//! the work is allocation-bound (JSON maps), and with glibc's malloc it takes about 40 % longer.
//!
//! `cargo bench -p mesh-istio --bench render_10k -- --quick`

use std::{hint::black_box, time::Duration};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, CircuitBreaker, Endpoint,
    HttpMethod, ObjectRef, Percent, Port, RetryOn, RetryPolicy, ServiceDefinition, ServiceId, TrafficSplit,
};
use mesh_istio::{Config, Snapshot};
use mesh_kube::schema::SchemaSet;

const SERVICES_PER_NAMESPACE: usize = 50;
/// Services planned before their objects are validated and rendered.
const BATCH: usize = 100;

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

/// What a run does on top of planning.
#[derive(Clone, Copy)]
enum Work {
    Plan,
    PlanRender,
    PlanRenderValidate,
}

/// Plans the policy set of services `range` (and renders and validates the resulting objects, per
/// `work`); returns the YAML size and the number of objects.
///
/// Services are planned in batches of [`BATCH`]; each batch's objects are then validated and
/// rendered, grouped by kind, while they are still in the cache. Walking all the objects once
/// every service is planned is the same work but bound by memory latency (a quarter slower at
/// 10k services); validating them in plan order, kinds interleaved, keeps evicting each kind's
/// compiled schema. Every final object is still validated and rendered exactly once: a
/// service's objects are final after its own changes.
fn policy_set(range: std::ops::Range<usize>, work: Work) -> (usize, usize) {
    let config = Config::default();
    let schemas = SchemaSet::bundled();
    let mut snapshot = Snapshot::default();
    let mut yaml = String::new();
    let mut touched: Vec<ObjectRef> = Vec::new();
    for i in range.clone() {
        for change in changes(i) {
            let plan = mesh_istio::plan(&change, &snapshot, &config).unwrap();
            touched.extend(plan.writes.iter().map(|w| w.target.clone()));
            snapshot.apply_owned(plan).unwrap();
        }
        let batch_done = (i + 1 - range.start).is_multiple_of(BATCH) || i + 1 == range.end;
        if matches!(work, Work::Plan) || !batch_done {
            continue;
        }
        touched.sort_unstable(); // by apiVersion and kind first
        touched.dedup();
        for target in &touched {
            let Some(obj) = snapshot.get(target) else {
                continue; // deleted
            };
            if matches!(work, Work::PlanRenderValidate) {
                schemas.validate(obj).unwrap();
            }
            yaml.push_str("---\n");
            mesh_core::yaml::write_value(&mut yaml, obj);
        }
        touched.clear();
    }
    (yaml.len(), snapshot.len())
}

/// [`policy_set`] of `n` services split over `threads` threads (services are independent).
fn parallel(n: usize, threads: usize, work: Work) -> (usize, usize) {
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || policy_set(t * chunk..((t + 1) * chunk).min(n), work)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    })
}

fn bench(c: &mut Criterion) {
    // Compile the schemas outside the measurement.
    policy_set(0..1, Work::PlanRenderValidate);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (bytes, objects) = policy_set(0..1_000, Work::PlanRender);
    eprintln!("1k services: {objects} objects, {bytes} bytes of YAML; {cores} cores");
    let mut phases = c.benchmark_group("istio_phases_1k");
    phases.sample_size(10);
    for (name, work) in [("plan", Work::Plan), ("plan_render", Work::PlanRender)] {
        phases.bench_function(name, |b| b.iter(|| black_box(policy_set(0..1_000, work))));
    }
    phases.finish();
    let mut group = c.benchmark_group("istio_policy_set");
    group.sample_size(10);
    for n in [1_000usize, 10_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("one_thread", n), &n, |b, &n| {
            b.iter(|| black_box(policy_set(0..n, Work::PlanRenderValidate)));
        });
        group.bench_with_input(BenchmarkId::new("all_cores", n), &n, |b, &n| {
            b.iter(|| black_box(parallel(n, cores, Work::PlanRenderValidate)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
