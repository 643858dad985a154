//! The controller against the in-memory mesh, with tokio's clock paused: many declared rollouts
//! run side by side in one task set, each exactly once, sharded over replicas, one replica killed.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use futures_util::stream;
use mesh::{Mesh, MeshKind, testing::FakeMesh};
use mesh_rollout::{Controller, ControllerReport, Declared, Outcome, RolloutSpec, Shard, Strategy};

use crate::support::{Scripted, healthy};

const INTERVAL: Duration = Duration::from_secs(60);

fn declared(i: usize) -> Declared {
    let service = format!("prod/svc-{i}");
    Declared::Rollout {
        name: service.clone(),
        spec: Box::new(RolloutSpec {
            interval: INTERVAL,
            ..RolloutSpec::new(&service, "v1", "v2", Strategy::steps(&[10, 50]).unwrap()).unwrap()
        }),
    }
}

fn controller(mesh: &Mesh, runner: &str, shard: Shard) -> Controller {
    Controller::new(mesh.clone(), runner)
        .unwrap()
        .with_metrics(Scripted::new(healthy))
        .with_shard(shard)
}

/// Route writes per service: one per stage (10 %, 50 %) and the promotion (100 %).
fn route_writes(fake: &FakeMesh, service: &str) -> usize {
    let name = service.rsplit('/').next().unwrap();
    fake.write_log()
        .iter()
        .filter(|(_, r)| r.kind == "Routes" && r.name == name)
        .count()
}

#[tokio::test(start_paused = true)]
async fn declared_rollouts_run_side_by_side_each_once_and_bad_ones_are_reported() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let mut all: Vec<Declared> = (0..200).map(declared).collect();
    // Declared twice (a watch's resync): still one run.
    all.push(declared(7));
    all.push(Declared::Invalid {
        name: "prod/broken".into(),
        error: "steps: 120 is not a weight".into(),
    });
    let start = tokio::time::Instant::now();
    let report = controller(&mesh, "controller-0", Shard::ALL)
        .run(stream::iter(all.clone()))
        .await;
    assert_eq!(report.count(Outcome::Promoted), 200, "{:?}", report.failed);
    assert_eq!(
        report.failed.keys().collect::<Vec<_>>(),
        ["prod/broken"],
        "only the invalid declaration failed"
    );
    // Side by side: 200 rollouts of two stages take two intervals, not 400.
    assert_eq!(start.elapsed(), INTERVAL * 2);
    for i in 0..200 {
        assert_eq!(route_writes(&fake, &format!("prod/svc-{i}")), 3, "svc-{i}");
    }

    // A restarted controller meets the same declarations: every rollout is reported as it
    // ended, and nothing is written again.
    let writes = fake.write_log().len();
    let again = controller(&mesh, "controller-0", Shard::ALL)
        .run(stream::iter(all))
        .await;
    assert_eq!(again.count(Outcome::Promoted), 200);
    assert_eq!(
        fake.write_log().len(),
        writes,
        "a finished rollout is not run again"
    );
    assert_eq!(start.elapsed(), INTERVAL * 2, "and no time passes");
}

#[tokio::test(start_paused = true)]
async fn three_replicas_share_the_rollouts_and_a_killed_ones_are_finished_by_its_successor() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Consul));
    let mesh = Mesh::from_dyn(fake.clone());
    let all: Vec<Declared> = (0..60).map(declared).collect();
    let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
    let replica = |i: usize| {
        let c = controller(&mesh, &format!("replica-{i}"), shards[i]);
        let declarations = all.clone();
        tokio::spawn(async move { c.run(stream::iter(declarations)).await })
    };
    let (zero, one, two) = (replica(0), replica(1), replica(2));
    // Replica 1 dies halfway through the first stage's wait.
    tokio::time::sleep(INTERVAL / 2).await;
    one.abort();
    assert!(one.await.unwrap_err().is_cancelled());
    // Its successor (same runner name, same shard) resumes its rollouts from the stored state.
    let successor = replica(1);
    let reports: Vec<ControllerReport> =
        vec![zero.await.unwrap(), successor.await.unwrap(), two.await.unwrap()];

    let mut finished = BTreeSet::new();
    for r in &reports {
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        for (name, outcome) in &r.finished {
            assert_eq!(*outcome, Outcome::Promoted);
            assert!(finished.insert(name.clone()), "{name} finished twice");
        }
    }
    assert_eq!(
        finished.len(),
        60,
        "every rollout finished, by exactly one replica"
    );
    assert!(
        reports.iter().all(|r| !r.finished.is_empty()),
        "each replica had a share"
    );
    // The killed replica's stage was found in place on resume: no write is repeated.
    for i in 0..60 {
        assert_eq!(route_writes(&fake, &format!("prod/svc-{i}")), 3, "svc-{i}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_removed_declaration_stops_its_rollout_where_it_is() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let c = controller(&mesh, "controller-0", Shard::ALL);
    let run = tokio::spawn(async move { c.run(tokio_stream_from(rx)).await });
    tx.send(declared(1)).unwrap();
    tokio::time::sleep(INTERVAL / 2).await;
    tx.send(Declared::Removed {
        name: "prod/svc-1".into(),
    })
    .unwrap();
    drop(tx);
    let report = run.await.unwrap();
    assert_eq!(report.removed, ["prod/svc-1"]);
    assert!(report.finished.is_empty());
    // Held at the first stage: 10 % on the canary.
    assert_eq!(route_writes(&fake, "prod/svc-1"), 1);
}

/// The receiving half of a channel as a stream.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Declared>,
) -> impl futures_util::Stream<Item = Declared> {
    stream::poll_fn(move |cx| rx.poll_recv(cx))
}
