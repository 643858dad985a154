//! Kubernetes Events (`events.k8s.io/v1`) about an object, best effort: what `kubectl describe`
//! and `kubectl events --for` show a user.
//!
//! [`EventRecorder::record`] never waits and never fails: it puts the [`Note`] on a bounded queue
//! and returns. One task per recorder publishes the queue in order through kube-runtime's
//! [`Recorder`] (which creates the Event, or counts a repeat of the same reason and action on
//! the same object within six minutes into the first one's `series`), each request bounded by a
//! timeout; a failure is logged and counted, never raised. A full queue drops the note (counted
//! and logged) rather than hold the caller. So a slow or refusing API server can cost a caller
//! nothing but its Events.
//!
//! Requests: one per note (a `POST`, or a `PATCH` of the series), plus one `GET` per regarded
//! object and recorder for its `uid`, which `kubectl describe` selects Events by (an object that
//! cannot be read is regarded without it, and `kubectl events --for` still lists them).
//! [`EventRecorder::stats`] counts them.
//!
//! Notes carry no secret: [`redact`] takes credentials, query strings and bearer tokens out of
//! every message (reasons can quote an error, and errors can quote a URL), and cuts it to the
//! API server's 1 KiB.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use mesh_core::ObjectRef;
//! use mesh_kube::{events::{EventRecorder, Note}, testing::FakeApiServer};
//! let server = FakeApiServer::new();
//! let recorder = EventRecorder::new(server.client(), "meshctl.dev/rollout", "ci-1");
//! let state = ObjectRef::new("v1", "ConfigMap", Some("prod"), "mesh-state-api-rollout");
//! recorder.record(Note::normal(&state, "StageApplied", "ShiftTraffic", "stage 1 (10 % to the canary): applied"));
//! assert!(recorder.flush(Duration::from_secs(5)).await);
//! let events = server.objects();
//! assert_eq!(events[0]["reason"], "StageApplied");
//! assert_eq!(events[0]["reportingController"], "meshctl.dev/rollout");
//! assert_eq!(recorder.stats().published, 1);
//! # }
//! ```

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use mesh_core::ObjectRef;
use tokio::sync::{Notify, mpsc};

use crate::ResourceType;

/// The longest note the API server takes (`note` of an `events.k8s.io/v1` Event).
pub const MAX_NOTE_BYTES: usize = 1024;
/// The longest reason, action, reporting controller or instance the API server takes.
pub const MAX_FIELD_CHARS: usize = 128;

/// One Event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The object the Event is about: where `kubectl describe` shows it.
    pub regarding: ObjectRef,
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    /// Why, in one PascalCase word (`StageApplied`, `RolledBack`).
    pub reason: String,
    /// What was done, in one PascalCase word: a repeat of the same reason and action on the
    /// same object within six minutes counts into the first Event's series instead of making one
    /// more.
    pub action: String,
    /// The message, with the numbers. Redacted and cut to [`MAX_NOTE_BYTES`] when published.
    pub message: String,
    /// A second object the Event concerns (the Event's `related`, as it is given: its uid is
    /// not looked up), such as the Lease of the shard a controller replica ran it under.
    pub related: Option<ObjectRef>,
}

impl Note {
    /// A `Normal` Event.
    #[must_use]
    pub fn normal(regarding: &ObjectRef, reason: &str, action: &str, message: &str) -> Self {
        Self {
            regarding: regarding.clone(),
            warning: false,
            reason: reason.to_owned(),
            action: action.to_owned(),
            message: message.to_owned(),
            related: None,
        }
    }

    /// This note, also about `related` (the Event's `related` object).
    #[must_use]
    pub fn with_related(self, related: &ObjectRef) -> Self {
        Self {
            related: Some(related.clone()),
            ..self
        }
    }

    /// A `Warning` Event.
    #[must_use]
    pub fn warning(regarding: &ObjectRef, reason: &str, action: &str, message: &str) -> Self {
        Self {
            warning: true,
            ..Self::normal(regarding, reason, action, message)
        }
    }
}

/// How much a recorder holds and how long it tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderOptions {
    /// Notes waiting to be published; past that, new ones are dropped.
    pub queue: usize,
    /// The longest one request (a uid lookup, a publish) may take.
    pub timeout: Duration,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            queue: 1024,
            timeout: Duration::from_secs(5),
        }
    }
}

/// What a recorder did so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecorderStats {
    /// Notes published (created, or counted into a series).
    pub published: u64,
    /// Notes the API server refused or did not answer in time.
    pub failed: u64,
    /// Notes dropped because the queue was full.
    pub dropped: u64,
    /// Requests sent: one per note tried, plus the uid lookups.
    pub requests: u64,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    requests: AtomicU64,
    /// Notes queued and not yet published or given up on.
    pending: AtomicUsize,
    /// Woken when `pending` drops to zero.
    idle: Notify,
}

/// Records [`Note`]s as Kubernetes Events, best effort (see the module docs). Clones share the
/// queue; the publishing task ends when the last clone is dropped.
#[derive(Clone)]
pub struct EventRecorder {
    queue: mpsc::Sender<Note>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl EventRecorder {
    /// A recorder reporting as `controller` (`reportingController`, a qualified name such as
    /// `meshctl.dev/rollout`) and `instance` (`reportingInstance`: which replica or runner), with
    /// the default [`RecorderOptions`]. Spawns its publishing task: needs a tokio runtime.
    #[must_use]
    pub fn new(client: kube::Client, controller: &str, instance: &str) -> Self {
        Self::with_options(client, controller, instance, RecorderOptions::default())
    }

    /// As [`new`](Self::new), with `options`.
    #[must_use]
    pub fn with_options(
        client: kube::Client,
        controller: &str,
        instance: &str,
        options: RecorderOptions,
    ) -> Self {
        let (queue, notes) = mpsc::channel(options.queue.max(1));
        let counters = Arc::new(Counters::default());
        let reporter = Reporter {
            controller: cut_chars(controller, MAX_FIELD_CHARS),
            instance: Some(cut_chars(instance, MAX_FIELD_CHARS)),
        };
        let publisher = Publisher {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            uids: HashMap::new(),
            timeout: options.timeout,
            counters: Arc::clone(&counters),
        };
        tokio::spawn(publisher.run(notes));
        Self { queue, counters }
    }

    /// Queues `note` and returns at once. A full queue drops it (counted, and logged).
    pub fn record(&self, note: Note) {
        self.counters.pending.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.queue.try_send(note) {
            self.done();
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // The first drop and every hundredth: a flood of drops is one log line per hundred.
            if dropped == 1 || dropped.is_multiple_of(100) {
                let note = match &e {
                    mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n) => n,
                };
                tracing::warn!(
                    reason = %note.reason,
                    regarding = %note.regarding,
                    dropped,
                    "Kubernetes Event dropped: the recorder's queue is full"
                );
            }
        }
    }

    /// Waits until every queued note is published or given up on, at most `within`. True when
    /// none is left. A process that is about to exit calls it so that its last Events land.
    pub async fn flush(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let idle = self.counters.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.counters.pending.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.counters.pending.load(Ordering::SeqCst) == 0;
            }
        }
    }

    /// What the recorder did so far.
    #[must_use]
    pub fn stats(&self) -> RecorderStats {
        let c = &self.counters;
        RecorderStats {
            published: c.published.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
        }
    }

    fn done(&self) {
        self.counters.done();
    }
}

impl Counters {
    fn done(&self) {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// Regarded objects whose uid a recorder remembers; past that it forgets them all (a
/// controller's rollouts come and go).
const MAX_REMEMBERED_UIDS: usize = 10_000;

/// The publishing task's side.
struct Publisher {
    recorder: Recorder,
    client: kube::Client,
    /// The uid of each regarded object (`None`: it could not be read).
    uids: HashMap<ObjectRef, Option<String>>,
    timeout: Duration,
    counters: Arc<Counters>,
}

impl Publisher {
    async fn run(mut self, mut notes: mpsc::Receiver<Note>) {
        while let Some(note) = notes.recv().await {
            self.publish(&note).await;
            self.counters.done();
        }
    }

    async fn publish(&mut self, note: &Note) {
        let reference = self.reference(&note.regarding).await;
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: cut_chars(&note.reason, MAX_FIELD_CHARS),
            note: Some(redact(&note.message)),
            action: cut_chars(&note.action, MAX_FIELD_CHARS),
            secondary: note.related.as_ref().map(|r| ObjectReference {
                api_version: Some(r.api_version.clone()),
                kind: Some(r.kind.clone()),
                namespace: r.namespace.clone(),
                name: Some(r.name.clone()),
                ..ObjectReference::default()
            }),
        };
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let error = match tokio::time::timeout(self.timeout, self.recorder.publish(&event, &reference)).await
        {
            Ok(Ok(())) => {
                self.counters.published.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {:?}", self.timeout),
        };
        let failed = self.counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
        // The first failure and every hundredth: a recorder without RBAC for Events (it needs
        // `create` and `patch` on `events.k8s.io` `events`) says so without flooding the log.
        if failed == 1 || failed.is_multiple_of(100) {
            tracing::warn!(
                reason = %note.reason,
                regarding = %note.regarding,
                %error,
                failed,
                "Kubernetes Event not recorded"
            );
        } else {
            tracing::debug!(reason = %note.reason, regarding = %note.regarding, %error, "Kubernetes Event not recorded");
        }
    }

    /// The reference to `regarding`, with its uid when it can be read (one `GET`, once).
    async fn reference(&mut self, regarding: &ObjectRef) -> ObjectReference {
        if !self.uids.contains_key(regarding) {
            if self.uids.len() >= MAX_REMEMBERED_UIDS {
                self.uids.clear();
            }
            let uid = self.uid_of(regarding).await;
            self.uids.insert(regarding.clone(), uid);
        }
        ObjectReference {
            api_version: Some(regarding.api_version.clone()),
            kind: Some(regarding.kind.clone()),
            namespace: regarding.namespace.clone(),
            name: Some(regarding.name.clone()),
            uid: self.uids.get(regarding).cloned().flatten(),
            ..ObjectReference::default()
        }
    }

    async fn uid_of(&self, regarding: &ObjectRef) -> Option<String> {
        let rt = ResourceType::resolve(&regarding.api_version, &regarding.kind)?;
        let path = rt.object_path(regarding.namespace.as_deref(), &regarding.name);
        let request = http::Request::get(path).body(Vec::new()).ok()?;
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let read =
            tokio::time::timeout(self.timeout, self.client.request::<serde_json::Value>(request)).await;
        match read {
            Ok(Ok(object)) => object["metadata"]["uid"].as_str().map(str::to_owned),
            Ok(Err(e)) => {
                tracing::debug!(%regarding, error = %e, "the Events' object could not be read; regarded without its uid");
                None
            }
            Err(_) => None,
        }
    }
}

/// `text` with nothing secret left in it ([`mesh_core::redact::redact`]), cut to
/// [`MAX_NOTE_BYTES`].
///
/// ```
/// use mesh_kube::events::redact;
/// assert_eq!(
///     redact("metrics unavailable: error sending request for url (https://u:p@prom:9090/api/v1/query?query=up&token=abc)"),
///     "metrics unavailable: error sending request for url (https://prom:9090/api/v1/query)"
/// );
/// assert_eq!(redact("webhook said: Authorization: Bearer eyJh.x.y"), "webhook said: Authorization: Bearer <redacted>");
/// assert_eq!(redact(&"x".repeat(5000)).len(), 1024);
/// ```
#[must_use]
pub fn redact(text: &str) -> String {
    cut_bytes(&mesh_core::redact::redact(text), MAX_NOTE_BYTES)
}

fn cut_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

fn cut_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let text = "é".repeat(1000);
        let out = redact(&text);
        assert!(out.len() <= MAX_NOTE_BYTES);
        assert_eq!(out.len(), 1024);
        assert_eq!(cut_chars(&"x".repeat(300), MAX_FIELD_CHARS).len(), 128);
    }
}
