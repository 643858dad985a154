//! A scripted in-memory Kubernetes API server, for testing backends without a cluster.
//!
//! [`FakeApiServer::client`] returns a real [`kube::Client`] whose HTTP requests the fake answers
//! (through `tower_test::mock`, no sockets). The fake serves every bundled CRD and a few built-in
//! kinds, keeps objects in memory with `resourceVersion` semantics, validates written objects
//! against the bundled schemas (422 like the API server), honours `dryRun=All`, records every
//! request, and can be told to fail chosen requests ([`Fault`]: any status, 429 with
//! `Retry-After`, hanging, dropped connections).
//!
//! Server-side apply is modelled per field manager at the level of object keys: a manager's
//! apply replaces lists and scalars it sets, merges maps, and removes keys it set before but no
//! longer sends. With [`FakeApiServer::with_field_ownership`] it also tracks which manager owns
//! which field and answers an apply that would change another manager's field with the API
//! server's 409; a conflict can also be scripted with [`Fault::apply_conflict`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> mesh_core::Result<()> {
//! use mesh_core::{MeshKind, ObjectRef};
//! use mesh_kube::{KubeEngine, testing::FakeApiServer};
//! let server = FakeApiServer::new();
//! server.insert(serde_json::json!({
//!     "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
//!     "metadata": { "name": "reviews", "namespace": "prod" },
//!     "spec": { "hosts": ["reviews"] }
//! }));
//! let engine = KubeEngine::new(server.client(), MeshKind::Istio, "mesh");
//! let vs = ObjectRef::new("networking.istio.io/v1", "VirtualService", Some("prod"), "reviews");
//! let got = engine.get(&vs).await?.unwrap();
//! assert_eq!(got["metadata"]["resourceVersion"], "1");
//! assert_eq!(server.requests()[0].line(), "GET /apis/networking.istio.io/v1/namespaces/prod/virtualservices/reviews");
//! # Ok(()) }
//! ```

mod answers;
mod discovery;
mod fault;
mod live;
mod managed;
mod record;
mod server_side_apply;
mod state;
mod storage;
mod validation;
mod verbs;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard},
};

use http::{Request, Response};
use kube::client::Body;
use mesh_core::ObjectRef;
use serde_json::Value;

pub use self::fault::{Fault, Match};
pub use self::live::live_client;
use self::{answers::Reply, state::State};

/// A request the fake server received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `PATCH`, …
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body, when it is JSON.
    pub body: Option<Value>,
}

impl RecordedRequest {
    /// The `fieldManager` query parameter.
    pub fn field_manager(&self) -> Option<&str> {
        self.query.get("fieldManager").map(String::as_str)
    }

    /// True for `dryRun=All`.
    pub fn is_dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|v| v == "All")
    }

    /// True for anything but `GET`.
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }

    /// `METHOD /path`, plus ` (dry run)` for dry runs: handy to compare request sequences.
    pub fn line(&self) -> String {
        let dry = if self.is_dry_run() { " (dry run)" } else { "" };
        format!("{} {}{dry}", self.method, self.path)
    }
}

/// The fake API server; clones share the same state.
#[derive(Clone)]
pub struct FakeApiServer {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer").finish_non_exhaustive()
    }
}

impl Default for FakeApiServer {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeApiServer {
    /// A server with every bundled CRD (each served version) and the built-in kinds installed,
    /// validating writes against the bundled schemas.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State::new())),
        }
    }

    /// Uninstalls the CRD `<plural>.<group>`: its URLs answer 404 as for an unknown type.
    #[must_use]
    pub fn without_crd(self, plural: &str, group: &str) -> Self {
        self.lock().uninstall(plural, group);
        self
    }

    /// Keeps only these versions of `<plural>.<group>` served (a cluster with an older mesh).
    #[must_use]
    pub fn serving_only(self, plural: &str, group: &str, versions: &[&str]) -> Self {
        self.lock().serve_only(plural, group, versions);
        self
    }

    /// Turns schema validation of written objects off (it is on by default).
    #[must_use]
    pub fn without_validation(self) -> Self {
        self.lock().validate = false;
        self
    }

    /// A client whose requests this server answers. Needs a tokio runtime: it spawns the task
    /// that serves requests, which ends when every clone of the client is dropped.
    pub fn client(&self) -> kube::Client {
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = self.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let (parts, body) = req.into_parts();
                let bytes = body.collect_bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                let reply = server.lock().handle(&parts, &bytes);
                match reply {
                    Reply::Respond(resp) => send.send_response(resp),
                    Reply::Drop => send.send_error(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "connection reset by the fake API server",
                    )),
                    Reply::Hang => {
                        tokio::spawn(async move {
                            let _never_answered = send;
                            std::future::pending::<()>().await;
                        });
                    }
                }
            }
        });
        kube::Client::new(svc, "default")
    }

    /// Tracks which field manager owns which field, so that a server-side apply changing a field
    /// another manager owns gets the API server's 409 (naming that manager) unless forced.
    /// Objects stored before this call have no owners.
    #[must_use]
    pub fn with_field_ownership(self) -> Self {
        self.lock().track_ownership();
        self
    }

    /// Refuses writes into a namespace that does not exist, as the real API server does: 404
    /// `namespaces "NAME" not found`, dry runs included. Off by default, so that tests can write
    /// into any namespace without creating it first.
    #[must_use]
    pub fn with_namespaces_required(self) -> Self {
        self.lock().require_namespaces = true;
        self
    }

    /// Stores an object as if a user had created it (assigning `resourceVersion`, `uid`,
    /// `generation`), and returns it as stored. With [`with_field_ownership`](Self::with_field_ownership),
    /// its fields belong to the manager `user`.
    ///
    /// # Panics
    /// If the object has no `apiVersion`, `kind` or `metadata.name`, or its type is not served.
    pub fn insert(&self, obj: Value) -> Value {
        self.insert_as(obj, "user")
    }

    /// Like [`insert`](Self::insert), with the fields owned by `manager` (such as
    /// `kubectl-client-side-apply`).
    ///
    /// # Panics
    /// As [`insert`](Self::insert).
    pub fn insert_as(&self, obj: Value, manager: &str) -> Value {
        self.lock()
            .insert(obj, manager)
            .unwrap_or_else(|e| panic!("FakeApiServer::insert: {e}"))
    }

    /// The stored object, if any.
    pub fn object(&self, r: &ObjectRef) -> Option<Value> {
        self.lock().get(r)
    }

    /// Every stored object.
    pub fn objects(&self) -> Vec<Value> {
        self.lock().all_objects()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The requests that changed state or would have: non-`GET`, not dry runs.
    pub fn writes(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_write() && !r.is_dry_run())
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Makes the next request that matches `when` fail with `fault` (once). Faults are tried in
    /// the order they were added.
    pub fn fail_next(&self, when: Match, fault: Fault) {
        self.lock().faults.push((when, fault));
    }

    /// Makes the next `times` requests that match `when` fail with `fault`.
    pub fn fail_times(&self, times: usize, when: Match, fault: Fault) {
        for _ in 0..times {
            self.fail_next(when.clone(), fault.clone());
        }
    }

    /// Scripted faults not yet used.
    pub fn pending_faults(&self) -> usize {
        self.lock().faults.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock only happens in a failing test; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
