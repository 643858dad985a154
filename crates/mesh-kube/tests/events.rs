//! `mesh_kube::events::EventRecorder` on the double: what it records (one request per Event, a
//! repeat counted into the first one's series, the regarded object's uid looked up once,
//! secrets redacted, notes cut to 1 KiB), and that it never holds or fails its caller: a refused
//! Event is counted, a silent server costs a bounded flush, a full queue drops.
//! `events_live.rs` runs [`records_events_about_an_object`] on the real API server.

use std::time::Duration;

use http::Method;
use mesh_core::ObjectRef;
use mesh_kube::{
    events::{EventRecorder, MAX_NOTE_BYTES, Note, RecorderOptions, RecorderStats},
    testing::{FakeApiServer, Fault, Match},
};
use serde_json::{Value, json};

/// The rollout's object in `ns`, as a user made it.
pub(crate) fn declaration(ns: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "api-rollout", "namespace": ns},
        "data": {"rollout.yaml": "service: prod/api"}
    })
}

/// Records three notes about the ConfigMap `api-rollout` of `ns` (whose uid is `uid`) through
/// `client`, then returns the `events.k8s.io/v1` Events it finds about it, oldest first, after
/// checking what both servers must agree on.
pub(crate) async fn records_events_about_an_object(client: kube::Client, ns: &str, uid: &str) -> Vec<Value> {
    let recorder = EventRecorder::new(client.clone(), "meshctl.dev/rollout", "runner-1");
    let regarding = ObjectRef::new("v1", "ConfigMap", Some(ns), "api-rollout");
    let secret = "https://reader:s3cr3t@prometheus.example:9090/api/v1/query?query=up&token=t0k3n";
    recorder.record(Note::normal(
        &regarding,
        "StageApplied",
        "ShiftTrafficStage1",
        "stage 1 (10 % to the canary): applied",
    ));
    let failed = format!(
        "stage 1 (10 % to the canary): Fail; canary 120 requests, stable 980; metrics from {secret}; {}",
        "and so on ".repeat(200)
    );
    recorder.record(Note::warning(
        &regarding,
        "AnalysisFailed",
        "AnalyzeStage1",
        &failed,
    ));
    // The same reason and action again: counted into the first one's series.
    recorder.record(Note::warning(
        &regarding,
        "AnalysisFailed",
        "AnalyzeStage1",
        &failed,
    ));
    assert!(
        recorder.flush(Duration::from_secs(20)).await,
        "{:?}",
        recorder.stats()
    );
    assert_eq!(
        recorder.stats(),
        RecorderStats {
            published: 3,
            failed: 0,
            dropped: 0,
            // One per note, and one GET for the ConfigMap's uid.
            requests: 4,
        }
    );
    let list = client
        .request::<Value>(
            http::Request::get(format!("/apis/events.k8s.io/v1/namespaces/{ns}/events"))
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut events: Vec<Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["regarding"]["name"] == "api-rollout")
        .cloned()
        .collect();
    events.sort_by_key(|e| e["eventTime"].as_str().unwrap_or_default().to_owned());
    assert_eq!(events.len(), 2, "{events:#?}");
    let (applied, failed) = (&events[0], &events[1]);
    assert_eq!(applied["reason"], "StageApplied");
    assert_eq!(applied["type"], "Normal");
    assert_eq!(applied["action"], "ShiftTrafficStage1");
    assert_eq!(applied["note"], "stage 1 (10 % to the canary): applied");
    assert_eq!(applied["reportingController"], "meshctl.dev/rollout");
    assert_eq!(applied["reportingInstance"], "runner-1");
    assert_eq!(
        applied["regarding"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "namespace": ns, "name": "api-rollout", "uid": uid})
    );
    assert_eq!(failed["reason"], "AnalysisFailed");
    assert_eq!(failed["type"], "Warning");
    assert_eq!(failed["series"]["count"], 2, "{failed:#}");
    let note = failed["note"].as_str().unwrap();
    assert!(
        note.starts_with(
            "stage 1 (10 % to the canary): Fail; canary 120 requests, stable 980; metrics from \
             https://prometheus.example:9090/api/v1/query; and so on"
        ),
        "{note}"
    );
    assert!(!note.contains("s3cr3t") && !note.contains("t0k3n"), "{note}");
    assert_eq!(note.len(), MAX_NOTE_BYTES);
    events
}

#[tokio::test]
async fn records_events_about_an_object_on_the_double() {
    let server = FakeApiServer::new();
    let stored = server.insert(declaration("prod"));
    let uid = stored["metadata"]["uid"].as_str().unwrap().to_owned();
    server.clear_requests();
    records_events_about_an_object(server.client(), "prod", &uid).await;
    let lines: Vec<String> = server
        .requests()
        .iter()
        .map(mesh_kube::testing::RecordedRequest::line)
        .collect();
    assert_eq!(
        lines[..4],
        [
            "GET /api/v1/namespaces/prod/configmaps/api-rollout",
            "POST /apis/events.k8s.io/v1/namespaces/prod/events",
            "POST /apis/events.k8s.io/v1/namespaces/prod/events",
            // The repeat: the series counted on the first Event.
            &format!(
                "PATCH /apis/events.k8s.io/v1/namespaces/prod/events/{}",
                server.requests()[3].path.rsplit('/').next().unwrap()
            ),
        ],
        "one request per Event, and the uid once"
    );
    assert!(server.requests()[3].path.contains("/events/api-rollout."));
}

#[tokio::test]
async fn a_refused_event_is_counted_and_logged_never_raised() {
    let server = FakeApiServer::new();
    server.fail_next(
        Match::method(Method::POST).path_contains("/events"),
        Fault::status(403, "Forbidden", "events.events.k8s.io is forbidden"),
    );
    let recorder = EventRecorder::new(server.client(), "meshctl.dev/rollout", "r");
    let regarding = ObjectRef::new("v1", "ConfigMap", Some("prod"), "missing");
    recorder.record(Note::normal(
        &regarding,
        "StageApplied",
        "ShiftTrafficStage1",
        "applied",
    ));
    recorder.record(Note::normal(
        &regarding,
        "AnalysisPassed",
        "AnalyzeStage1",
        "Pass",
    ));
    assert!(recorder.flush(Duration::from_secs(5)).await);
    let stats = recorder.stats();
    assert_eq!((stats.published, stats.failed, stats.dropped), (1, 1, 0));
    // The object is missing: regarded without a uid, looked up once all the same.
    let event = server
        .objects()
        .into_iter()
        .find(|o| o["kind"] == "Event")
        .unwrap();
    assert_eq!(event["regarding"].get("uid"), None, "{event:#}");
    assert_eq!(stats.requests, 3);
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_costs_the_caller_nothing_and_a_flush_at_most_its_bound() {
    let server = FakeApiServer::new();
    server.fail_times(10, Match::any(), Fault::Hang);
    let options = RecorderOptions {
        queue: 2,
        timeout: Duration::from_secs(5),
    };
    let recorder = EventRecorder::with_options(server.client(), "meshctl.dev/rollout", "r", options);
    let regarding = ObjectRef::new("v1", "ConfigMap", Some("prod"), "api-rollout");
    let start = tokio::time::Instant::now();
    for i in 0..10 {
        recorder.record(Note::normal(
            &regarding,
            "AnalysisPassed",
            &format!("AnalyzeStage{i}"),
            "Pass",
        ));
    }
    assert_eq!(start.elapsed(), Duration::ZERO, "recording never waits");
    // The first note is taken off the queue (its uid lookup hangs), two wait, seven are dropped.
    tokio::task::yield_now().await;
    assert!(recorder.stats().dropped >= 7, "{:?}", recorder.stats());
    assert!(
        !recorder.flush(Duration::from_secs(1)).await,
        "a bounded flush gives up"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    // Each request gives up after its timeout: the lookup, then each publish.
    assert!(recorder.flush(Duration::from_secs(60)).await);
    let stats = recorder.stats();
    assert_eq!(stats.published + stats.failed + stats.dropped, 10, "{stats:?}");
    assert_eq!(stats.published, 0);
}
