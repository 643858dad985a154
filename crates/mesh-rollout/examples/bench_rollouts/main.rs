//! Many concurrent canary rollouts through one [`Controller`]: peak RSS, the controller's
//! average cores, control-plane requests per stage, and the time against the ideal. Run by
//! `cargo xtask bench-rollouts [--rollouts N] [--interval-ms MS] [--fake]`, or directly:
//! `cargo run --release -p mesh-rollout --example bench_rollouts -- --rollouts 10000 --fake`.
//!
//! By default the Istio backend runs against the real API server that `MESH_E2E_KUBECONFIG`
//! names (`cargo xtask testenv up`), which counts the requests itself. With `--fake`, on the
//! in-memory mesh, "requests" are the backend's control-plane operations (an object write, a
//! state read or write), each one API request on a real server; `--watch-cache` serves
//! the plans' reads from watched copies (`KubeEngine::with_watch_cache`). Each rollout runs two
//! stages (10 %, 50 %) and the promotion, or the stages `--steps 10,20,30,40,50` gives. The last
//! line is machine-readable; its `requests` is the total, so that two runs with different step
//! counts give the cost of one more steady stage (`cargo xtask bench-rollouts --steady`). Reads
//! /proc (Linux).

#![allow(clippy::print_stdout)] // A benchmark reports on stdout.

mod counted;
mod real_server;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use mesh::{BoxFuture, Mesh, MeshKind, Result, ServiceId, ServiceMetrics, TimeRange, TrafficSample};
use mesh_rollout::{Controller, Declared, MetricsSource, Outcome, RolloutSpec, Strategy};

use crate::counted::Counted;

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

/// What the run costs, by whom it was counted.
enum Counter {
    Operations(Arc<Counted>),
    ApiServer(kube::Client, f64),
}

/// The canary weights of `--steps` (comma-separated percentages), 10 % then 50 % by default.
fn steps() -> Vec<u8> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--steps")
        .and_then(|i| args.get(i + 1))
        .map_or_else(
            || vec![10, 50],
            |list| {
                list.split(',')
                    .map(|w| w.trim().parse().unwrap_or_else(|e| panic!("--steps {list}: {e}")))
                    .collect()
            },
        )
}

fn main() {
    let steps = steps();
    let rollouts = usize::try_from(arg("--rollouts", 10_000)).unwrap_or(10_000);
    let interval = Duration::from_millis(arg("--interval-ms", 2_000));
    let real = !std::env::args().any(|a| a == "--fake");
    // As `meshctl rollout controller` bounds them: the stages of rollouts declared together
    // fall due together.
    let max_in_flight = usize::try_from(arg("--max-in-flight", 64)).unwrap_or(64);
    let watch = std::env::args().any(|a| a == "--watch-cache");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (mesh, namespace, counter) = if real {
        runtime.block_on(async {
            let (client, namespace, mesh) = real_server::connect(watch).await;
            let before = real_server::requests_served(&client).await;
            (mesh, namespace, Counter::ApiServer(client, before))
        })
    } else {
        let counted = Arc::new(Counted::new(MeshKind::Istio));
        (
            Mesh::from_dyn(counted.clone()),
            "prod".to_owned(),
            Counter::Operations(counted),
        )
    };
    let declarations: Vec<Declared> = (0..rollouts)
        .map(|i| {
            let service = format!("{namespace}/svc-{i}");
            let spec = RolloutSpec {
                interval,
                ..RolloutSpec::new(&service, "v1", "v2", Strategy::steps(&steps).expect("steps"))
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
        Controller::new(mesh.with_max_in_flight(max_in_flight), "bench")
            .expect("a controller")
            .with_metrics(Arc::new(Healthy))
            .run(futures_util::stream::iter(declarations))
            .await
    });
    let seconds = started.elapsed().as_secs_f64();
    let (peak_kib, cpu_after) = usage();
    // Each step, then the promotion to 100 %.
    let stages_per_rollout = steps.len() + 1;
    let stages = (rollouts * stages_per_rollout) as f64;
    let requests = match counter {
        Counter::Operations(counted) => {
            let (writes, state_reads, state_writes) = counted.counts();
            println!(
                "per rollout: object writes {:.2}, state reads {:.2}, state writes {:.2}",
                writes as f64 / rollouts as f64,
                state_reads as f64 / rollouts as f64,
                state_writes as f64 / rollouts as f64
            );
            (writes + state_reads + state_writes) as f64
        }
        Counter::ApiServer(client, before) => runtime.block_on(async {
            let served = real_server::requests_served(&client).await - before;
            real_server::clean_up(&client, &namespace).await;
            println!("served by the API server: {served} requests on virtualservices, destinationrules and configmaps");
            served
        }),
    };
    println!(
        "rollouts={rollouts} promoted={} failed={} peak_rss_mib={:.0} avg_cores={:.2} requests_per_stage={:.2} seconds={seconds:.2} ideal_seconds={:.2} server={} stages_per_rollout={stages_per_rollout} requests={requests:.0}",
        report.count(Outcome::Promoted),
        report.failed.len(),
        peak_kib as f64 / 1024.0,
        (cpu_after - cpu_before) / seconds,
        requests / stages,
        interval.as_secs_f64() * steps.len() as f64,
        match (real, watch) {
            (false, _) => "in-memory",
            (true, false) => "kube-apiserver",
            (true, true) => "kube-apiserver+watch-cache",
        },
    );
    if let Some((name, error)) = report.failed.iter().next() {
        println!("first failure: {name}: {error}");
    }
}
