//! Memory held by rollouts that nobody watches, against the same rollouts once each has a
//! subscriber (which makes the event channel), in one run:
//! `cargo run --release -p mesh-rollout --example rollout_memory [-- COUNT]`.
//! Reads the process's resident set from /proc (Linux).

#![allow(clippy::print_stdout)] // An example reports on stdout.

use mesh::{Mesh, MeshKind};
use mesh_rollout::{Rollout, RolloutSpec, Strategy};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let mesh = Mesh::fake(MeshKind::Istio);
    let make = |i: usize| {
        let spec = RolloutSpec::new(
            &format!("prod/svc-{i}"),
            "v1",
            "v2",
            Strategy::steps(&[10, 50]).unwrap(),
        )
        .unwrap();
        Rollout::new(mesh.clone(), spec, "bench").unwrap()
    };
    let base = rss_kib();
    let unwatched: Vec<Rollout> = (0..count).map(make).collect();
    let after_unwatched = rss_kib();
    let watched: Vec<(Rollout, _)> = (0..count)
        .map(|i| {
            let r = make(i);
            let rx = r.subscribe();
            (r, rx)
        })
        .collect();
    let after_watched = rss_kib();
    println!(
        "rollouts={count} unwatched_kib={} watched_kib={} per_unwatched_bytes={} per_watched_bytes={}",
        after_unwatched - base,
        after_watched - after_unwatched,
        (after_unwatched - base) * 1024 / count as u64,
        (after_watched - after_unwatched) * 1024 / count as u64,
    );
    drop((unwatched, watched));
}
