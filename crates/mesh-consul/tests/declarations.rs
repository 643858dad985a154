//! Blocking queries on the double: `ConsulClient::kv_list_blocking` waits at the agent until the
//! prefix's index moves (or the wait runs out, past the client's own request timeout), and
//! `declarations::watch_declarations` reports each declaration, change and removal from one
//! waiting request, restarts at index 0 when the index goes backwards, and backs off on errors.
//! `declarations_live.rs` runs [`blocking_queries_wait_for_a_change`] and
//! [`the_watch_reports_each_change`] on the real agent.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{Stream, StreamExt};
use mesh_consul::{
    ConsulBackend, ConsulVersion,
    client::ConsulClient,
    declarations::{DeclarationEvent, WatchOptions, next_index, watch_declarations},
    testing::FakeConsul,
};

/// The next event, within 10 s.
pub(crate) async fn next(stream: &mut (impl Stream<Item = DeclarationEvent> + Unpin)) -> DeclarationEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("a watch never ends")
}

fn applied(name: &str, text: &str) -> DeclarationEvent {
    DeclarationEvent::Applied {
        name: name.to_owned(),
        text: Some(text.to_owned()),
    }
}

/// A query at the prefix's index waits until a write under it; one at the new index waits its
/// whole wait and answers the same index.
pub(crate) async fn blocking_queries_wait_for_a_change(backend: Arc<ConsulBackend>, prefix: &str) {
    let client = backend.client();
    let first = client
        .kv_list_blocking(prefix, 0, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(first.pairs.is_empty(), "{first:?}");
    assert!(first.index >= 1, "never 0: {first:?}");
    let key = format!("{prefix}api");
    let writer = {
        let (backend, key) = (Arc::clone(&backend), key.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let put = backend.client().kv_put(&key, b"service: default/api", None).await;
            assert!(put.unwrap());
        })
    };
    // An empty prefix answers the KV table's index, which any write elsewhere moves: an answer
    // may come without the change, and the next query waits again.
    let start = Instant::now();
    let mut index = first.index;
    let changed = loop {
        let answer = client
            .kv_list_blocking(prefix, index, Duration::from_secs(30))
            .await
            .unwrap();
        if !answer.pairs.is_empty() {
            break answer;
        }
        index = next_index(index, answer.index);
    };
    let waited = start.elapsed();
    writer.await.unwrap();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(10),
        "answered on the write, not before and not at the end of the wait: {waited:?}"
    );
    assert_eq!(changed.pairs.len(), 1, "{changed:?}");
    assert_eq!(changed.pairs[0].key, key);
    assert!(changed.index > first.index, "{changed:?} after {first:?}");

    let start = Instant::now();
    let quiet = client
        .kv_list_blocking(prefix, changed.index, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(quiet.index, changed.index);
    assert_eq!(quiet.pairs, changed.pairs);
    assert!(client.kv_delete(&key, None).await.unwrap());
}

/// Declared, declared again when changed, removed; a second entry on its own.
pub(crate) async fn the_watch_reports_each_change(backend: Arc<ConsulBackend>, prefix: &str) {
    let b = Arc::clone(&backend);
    let put = |key: &str, value: &str| {
        let (b, key, value) = (Arc::clone(&b), format!("{prefix}{key}"), value.to_owned());
        async move { assert!(b.client().kv_put(&key, value.as_bytes(), None).await.unwrap()) }
    };
    put("api", "one").await;
    let options = WatchOptions {
        wait: Duration::from_secs(30),
        refill: Duration::from_millis(100),
        ..WatchOptions::default()
    };
    let mut watch = Box::pin(watch_declarations(backend, prefix, options));
    assert_eq!(next(&mut watch).await, applied(&format!("{prefix}api"), "one"));
    put("web", "two").await;
    assert_eq!(next(&mut watch).await, applied(&format!("{prefix}web"), "two"));
    put("api", "three").await;
    assert_eq!(next(&mut watch).await, applied(&format!("{prefix}api"), "three"));
    assert!(b.client().kv_delete(&format!("{prefix}web"), None).await.unwrap());
    assert_eq!(
        next(&mut watch).await,
        DeclarationEvent::Deleted {
            name: format!("{prefix}web")
        }
    );
    // The same value again changes nothing (the agent keeps its ModifyIndex): not declared
    // again; the next change is the next event.
    put("api", "three").await;
    put("zeta", "four").await;
    assert_eq!(next(&mut watch).await, applied(&format!("{prefix}zeta"), "four"));
    for key in ["api", "zeta"] {
        assert!(
            b.client()
                .kv_delete(&format!("{prefix}{key}"), None)
                .await
                .unwrap()
        );
    }
}

/// The `index` of each blocking query the double received for `prefix`.
fn indexes(fake: &FakeConsul, prefix: &str) -> Vec<u64> {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == format!("/v1/kv/{}", prefix.trim_end_matches('/')) + "/")
        .filter_map(|r| r.query.iter().find(|(k, _)| k == "index")?.1.parse().ok())
        .collect()
}

#[tokio::test]
async fn blocking_queries_wait_for_a_change_on_the_double() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 22, 7)).await;
    blocking_queries_wait_for_a_change(Arc::new(fake.backend(None)), "meshctl/rollouts/").await;
}

#[tokio::test]
async fn a_blocking_query_outlives_the_clients_request_timeout() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 22, 7)).await;
    let config = fake.client_config().request_timeout(Duration::from_millis(500));
    let client = ConsulClient::new(config).unwrap();
    let first = client
        .kv_list_blocking("p/", 0, Duration::from_secs(1))
        .await
        .unwrap();
    let start = Instant::now();
    let quiet = client
        .kv_list_blocking("p/", first.index, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(quiet, first);
}

#[tokio::test]
async fn the_watch_reports_each_change_on_the_double_from_one_waiting_request() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 22, 7)).await;
    the_watch_reports_each_change(Arc::new(fake.backend(None)), "meshctl/rollouts/").await;
    // One query per change, each waiting on the index the previous one answered: no polling.
    let seen = indexes(&fake, "meshctl/rollouts/");
    assert_eq!(seen[0], 0, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(seen.len() <= 7, "{seen:?}");
}

#[tokio::test]
async fn an_index_that_goes_backwards_restarts_the_watch_at_zero() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 22, 7)).await;
    let backend = Arc::new(fake.backend(None));
    for key in ["a", "b"] {
        assert!(
            backend
                .client()
                .kv_put(&format!("d/{key}"), b"x", None)
                .await
                .unwrap()
        );
    }
    let options = WatchOptions {
        wait: Duration::from_millis(500),
        refill: Duration::ZERO,
        ..WatchOptions::default()
    };
    let mut watch = Box::pin(watch_declarations(Arc::clone(&backend), "d/", options));
    next(&mut watch).await;
    next(&mut watch).await;
    // `b` has the prefix's highest index; deleted, its tombstone keeps the index; reaped, the
    // prefix answers `a`'s index: lower than the one the watch waits on.
    assert!(backend.client().kv_delete("d/b", None).await.unwrap());
    assert_eq!(
        next(&mut watch).await,
        DeclarationEvent::Deleted { name: "d/b".into() }
    );
    fake.reap_kv_tombstones();
    // The watch's query answers the lower index when its wait runs out: nothing to report.
    let quiet = tokio::time::timeout(Duration::from_millis(1500), watch.next()).await;
    assert!(quiet.is_err(), "{quiet:?}");
    let seen = indexes(&fake, "d/");
    let back = seen
        .windows(2)
        .position(|w| w[1] == 0 && w[0] > 0)
        .unwrap_or_else(|| panic!("no restart at 0: {seen:?}"));
    assert!(
        seen[back + 2] < seen[back],
        "waits on the lower index next: {seen:?}"
    );
    // Nothing is reported twice, and the next change is seen.
    assert!(backend.client().kv_put("d/c", b"y", None).await.unwrap());
    assert_eq!(next(&mut watch).await, applied("d/c", "y"));
}

#[tokio::test]
async fn failed_queries_are_reported_and_retried_with_backoff() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 22, 7)).await;
    let backend = Arc::new(fake.backend(None));
    assert!(backend.client().kv_put("f/a", b"x", None).await.unwrap());
    // The client retries a 500 three times: eight of them fail two queries.
    fake.fail_next(&[500; 8]);
    let start = Instant::now();
    let mut watch = Box::pin(watch_declarations(backend, "f/", WatchOptions::default()));
    assert!(matches!(next(&mut watch).await, DeclarationEvent::Failed { .. }));
    assert!(matches!(next(&mut watch).await, DeclarationEvent::Failed { .. }));
    assert_eq!(next(&mut watch).await, applied("f/a", "x"));
    // One second after the first failure, two after the second.
    assert!(start.elapsed() >= Duration::from_secs(3), "{:?}", start.elapsed());
}
