//! The controller against the in-memory mesh, with tokio's clock paused: many declared rollouts
//! run side by side in one task set, each exactly once, sharded over replicas, one replica killed.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use futures_util::{StreamExt, stream};
use mesh::{Mesh, MeshKind, testing::FakeMesh};
use mesh_rollout::{
    Controller, ControllerReport, Declared, LeaseStore, MemoryLeases, Outcome, RolloutSpec, Shard,
    ShardLeases, Strategy,
};

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

/// Promotions reported by leased replicas: (replica, declaration).
type Promotions = Arc<std::sync::Mutex<Vec<(usize, String)>>>;

/// How many shard leases `replica` holds.
async fn shards_held_by(store: &MemoryLeases, replica: &str) -> usize {
    let holders = store.holders("rollouts-shard-").await.unwrap();
    holders.iter().filter(|h| *h == replica).count()
}

/// Replica `i` of a leased controller group over `store`, until aborted.
fn leased_replica(
    mesh: &Mesh,
    store: &Arc<MemoryLeases>,
    i: usize,
    all: &[Declared],
    promotions: &Promotions,
) -> tokio::task::JoinHandle<ControllerReport> {
    let store: Arc<dyn LeaseStore> = store.clone();
    let mut leases = ShardLeases::new(
        store,
        "rollouts",
        &format!("replica-{i}"),
        8,
        Duration::from_secs(15),
    )
    .unwrap();
    let promotions = Arc::clone(promotions);
    let c = controller(mesh, "ctl", Shard::ALL).with_reporter(move |name, ended| {
        assert_eq!(ended, Ok(Outcome::Promoted), "{name}");
        promotions.lock().unwrap().push((i, name.to_owned()));
    });
    // A watch: the declarations, then nothing more, never ending.
    let declarations = stream::iter(all.to_vec()).chain(stream::pending());
    tokio::spawn(async move { c.run_leased(declarations, &mut leases).await })
}

#[tokio::test(start_paused = true)]
async fn three_leased_replicas_share_the_rollouts_and_take_a_killed_ones_over() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let store = Arc::new(MemoryLeases::default());
    let all: Vec<Declared> = (0..60).map(declared).collect();
    let promotions: Promotions = Arc::default();
    let start = tokio::time::Instant::now();
    let replicas: Vec<_> = (0..3)
        .map(|i| leased_replica(&mesh, &store, i, &all, &promotions))
        .collect();
    // Replica 1 dies halfway through the first stage's wait, its leases held: they expire.
    tokio::time::sleep(INTERVAL / 2).await;
    let held_by_one = shards_held_by(&store, "replica-1").await;
    assert!(held_by_one > 0, "replica 1 had taken shards over from replica 0");
    replicas[1].abort();
    while promotions.lock().unwrap().len() < 60 && start.elapsed() < INTERVAL * 10 {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let promotions = promotions.lock().unwrap().clone();
    let names: BTreeSet<&String> = promotions.iter().map(|(_, n)| n).collect();
    assert_eq!(names.len(), 60, "every rollout promoted: {promotions:?}");
    assert_eq!(promotions.len(), 60, "each exactly once");
    assert!(
        promotions.iter().all(|(i, _)| *i != 1),
        "the killed replica finished none; its rollouts were taken over"
    );
    for survivor in [0, 2] {
        assert!(
            promotions.iter().any(|(i, _)| *i == survivor),
            "replica {survivor} had a share"
        );
    }
    // Taken over mid-stage, twice (the surplus handed to replica 1, then from it when it died):
    // each stage was found in place, no write repeated.
    for i in 0..60 {
        assert_eq!(route_writes(&fake, &format!("prod/svc-{i}")), 3, "svc-{i}");
    }
    // Two stages of one interval each, plus the time for the killed replica's leases to expire
    // and a full interval again for a stage resumed (its analysis window starts at resume).
    assert!(start.elapsed() <= INTERVAL * 3, "{:?}", start.elapsed());
    for r in &replicas {
        r.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn a_replica_that_gains_a_shard_does_not_report_its_kept_shards_again() {
    let fake = Arc::new(FakeMesh::new(MeshKind::Istio));
    let mesh = Mesh::from_dyn(fake.clone());
    let store = Arc::new(MemoryLeases::default());
    let all: Vec<Declared> = (0..20).map(declared).collect();
    let promotions: Promotions = Arc::default();
    let zero = leased_replica(&mesh, &store, 0, &all, &promotions);
    tokio::time::sleep(INTERVAL * 3).await;
    assert_eq!(
        promotions.lock().unwrap().len(),
        20,
        "replica 0 alone ran them all"
    );
    // Replica 1 joins and takes its share (whose rollouts it finds ended), then dies: replica 0
    // takes that share back after the leases expire.
    let one = leased_replica(&mesh, &store, 1, &all, &promotions);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let held_by_one = shards_held_by(&store, "replica-1").await;
    assert_eq!(held_by_one, 4, "replica 1 took half of the 8 shards");
    one.abort();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let reports = promotions.lock().unwrap().clone();
    let by = |replica: usize| -> Vec<&String> {
        reports
            .iter()
            .filter(|(i, _)| *i == replica)
            .map(|(_, n)| n)
            .collect()
    };
    let (by_zero, by_one) = (by(0), by(1));
    assert!(!by_one.is_empty(), "replica 1 found its share's rollouts ended");
    for name in by_zero.iter().collect::<BTreeSet<_>>() {
        let times = by_zero.iter().filter(|n| *n == name).count();
        // Reported again only for the shards replica 0 gave up and took back.
        let expected = if by_one.contains(name) { 2 } else { 1 };
        assert_eq!(times, expected, "{name}");
    }
    zero.abort();
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
    // And released: no runner holds it, so an operator may end it at once and another runner
    // may resume it (it was left "running" under the controller's name).
    let service: mesh::ServiceId = "prod/svc-1".parse().unwrap();
    let st = mesh_rollout::lifecycle::status(&mesh, &service)
        .await
        .unwrap()
        .unwrap();
    assert!(st.released && st.is_running(), "{st:?}");
    assert_eq!(st.traffic(), mesh_rollout::Stage::Weight(10));
}

/// The receiving half of a channel as a stream.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Declared>,
) -> impl futures_util::Stream<Item = Declared> {
    stream::poll_fn(move |cx| rx.poll_recv(cx))
}
