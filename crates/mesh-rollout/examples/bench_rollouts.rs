//! Many concurrent canary rollouts through one [`Controller`], on the in-memory mesh: peak RSS,
//! the controller's average cores, control-plane requests per stage, and the time against the
//! ideal. Run by `cargo xtask bench-rollouts [--rollouts N] [--interval-ms MS]`, or directly:
//! `cargo run --release -p mesh-rollout --example bench_rollouts -- --rollouts 10000`.
//!
//! "Requests" are the backend's control-plane operations (an apply, a state read or write), each
//! one API request on a real server; each rollout runs two stages (10 %, 50 %) and the
//! promotion. The last line is machine-readable. Reads /proc (Linux).

#![allow(clippy::print_stdout)] // A benchmark reports on stdout.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use mesh::{
    ApplyReport, BoxFuture, Capabilities, Change, DynMeshBackend, Mesh, MeshKind, MtlsStatus, Namespace,
    Plan, Result, ServiceId, ServiceMetrics, StateKey, StoredState, TimeRange, TrafficSample,
    testing::FakeMesh,
};
use mesh_rollout::{Controller, Declared, MetricsSource, Outcome, RolloutSpec, Strategy};

/// The in-memory mesh, counting what would be API requests on a real server.
struct Counted {
    inner: FakeMesh,
    applies: AtomicUsize,
    state_reads: AtomicUsize,
    state_writes: AtomicUsize,
}

impl DynMeshBackend for Counted {
    fn kind(&self) -> MeshKind {
        DynMeshBackend::kind(&self.inner)
    }
    fn capabilities(&self) -> Capabilities {
        DynMeshBackend::capabilities(&self.inner)
    }
    fn plan_dyn<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<Plan>> {
        self.inner.plan_dyn(change)
    }
    fn apply_dyn<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<ApplyReport>> {
        self.applies.fetch_add(plan.writes.len(), Ordering::Relaxed);
        self.inner.apply_dyn(plan)
    }
    fn execute_dyn<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<ApplyReport>> {
        Box::pin(async move {
            let plan = self.plan_dyn(change).await?;
            self.apply_dyn(&plan).await
        })
    }
    fn mtls_status_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<MtlsStatus>> {
        self.inner.mtls_status_dyn(namespace)
    }
    fn metrics_dyn<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        self.inner.metrics_dyn(service, range)
    }
    fn traces_dyn<'a>(
        &'a self,
        service: &'a ServiceId,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<mesh::Trace>>> {
        self.inner.traces_dyn(service, limit)
    }
    fn graph_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<mesh::ServiceGraph>> {
        self.inner.graph_dyn(namespace)
    }
    fn read_state_dyn<'a>(&'a self, key: &'a StateKey) -> BoxFuture<'a, Result<Option<StoredState>>> {
        self.state_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read_state_dyn(key)
    }
    fn write_state_dyn<'a>(
        &'a self,
        key: &'a StateKey,
        value: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String>> {
        self.state_writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write_state_dyn(key, value, expected)
    }
    fn delete_state_dyn<'a>(&'a self, key: &'a StateKey, expected: &'a str) -> BoxFuture<'a, Result<()>> {
        self.inner.delete_state_dyn(key, expected)
    }
}

/// Every canary as healthy as its stable version.
struct Healthy;

impl MetricsSource for Healthy {
    fn metrics<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        Box::pin(async move {
            let sample = |requests, errors| TrafficSample {
                requests,
                errors,
                ..Default::default()
            };
            Ok(ServiceMetrics {
                service: service.clone(),
                range,
                overall: sample(10_000.0, 10.0),
                by_version: [
                    ("v1".parse().expect("a version"), sample(9000.0, 9.0)),
                    ("v2".parse().expect("a version"), sample(1000.0, 1.0)),
                ]
                .into(),
            })
        })
    }
}

/// `(peak RSS KiB, user + system CPU seconds)` of this process, from /proc (100 ticks a second,
/// Linux's USER_HZ).
fn usage() -> (u64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the 3rd field, utime the
    // 14th and stime the 15th of the whole line.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (peak, (ticks(11) + ticks(12)) / 100.0)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rollouts = usize::try_from(arg("--rollouts", 10_000)).unwrap_or(10_000);
    let interval = Duration::from_millis(arg("--interval-ms", 2_000));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let counted = Arc::new(Counted {
        inner: FakeMesh::new(MeshKind::Istio),
        applies: AtomicUsize::new(0),
        state_reads: AtomicUsize::new(0),
        state_writes: AtomicUsize::new(0),
    });
    let mesh = Mesh::from_dyn(counted.clone());
    let declarations: Vec<Declared> = (0..rollouts)
        .map(|i| {
            let service = format!("prod/svc-{i}");
            let spec = RolloutSpec {
                interval,
                ..RolloutSpec::new(&service, "v1", "v2", Strategy::steps(&[10, 50]).expect("steps"))
                    .expect("a spec")
            };
            Declared::Rollout {
                name: service,
                spec: Box::new(spec),
            }
        })
        .collect();
    let (_, cpu_before) = usage();
    let started = Instant::now();
    let report = runtime.block_on(async {
        Controller::new(mesh, "bench")
            .expect("a controller")
            .with_metrics(Arc::new(Healthy))
            .run(futures_util::stream::iter(declarations))
            .await
    });
    let seconds = started.elapsed().as_secs_f64();
    let (peak_kib, cpu_after) = usage();
    let stages_per_rollout = 3; // 10 %, 50 %, then the promotion to 100 %
    let stages = (rollouts * stages_per_rollout) as f64;
    let applies = counted.applies.load(Ordering::Relaxed);
    let reads = counted.state_reads.load(Ordering::Relaxed);
    let writes = counted.state_writes.load(Ordering::Relaxed);
    let ideal = interval.as_secs_f64() * 2.0;
    println!(
        "object writes={applies} state reads={reads} state writes={writes} (per rollout: {:.2}, {:.2}, {:.2})",
        applies as f64 / rollouts as f64,
        reads as f64 / rollouts as f64,
        writes as f64 / rollouts as f64
    );
    println!(
        "rollouts={rollouts} promoted={} failed={} peak_rss_mib={:.0} avg_cores={:.2} requests_per_stage={:.2} seconds={seconds:.2} ideal_seconds={ideal:.2}",
        report.count(Outcome::Promoted),
        report.failed.len(),
        peak_kib as f64 / 1024.0,
        (cpu_after - cpu_before) / seconds,
        (applies + reads + writes) as f64 / stages,
    );
}
