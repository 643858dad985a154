//! Plans read from watched copies: with [`KubeEngine::with_watch_cache`], the first read of a
//! kind in a namespace starts kube-runtime's watcher and reflector for it (one list, then one
//! long-lived watch; the reads until it has listed go to the server), and every later read of
//! that kind there is served from the reflector's store, without a request. A long-running process (the rollout controller) then spends no
//! request per stage on reads: only its writes reach the server.
//!
//! Safety: every replace the engine sends carries the `resourceVersion` it planned on, so a plan
//! made on a copy that is behind loses with a 409 and is planned again on fresh GETs
//! ([`KubeEngine::execute_change`]). While a watch is failing (a server without watch, lost
//! permissions), reads go to the server as before.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use futures_util::{FutureExt, StreamExt};
use kube::{
    Api,
    api::DynamicObject,
    runtime::{WatchStreamExt, reflector, watcher},
};
use mesh_core::{ObjectRef, Result};
use serde_json::Value;
use tokio::task::AbortHandle;

use crate::{KubeEngine, resources::ResourceType};

/// One watched kind in one namespace.
struct Watched {
    store: reflector::Store<DynamicObject>,
    /// False while the watch is failing: its copies may be behind by more than a moment.
    healthy: Arc<AtomicBool>,
    task: AbortHandle,
}

/// The watched kinds of one engine (and its clones); their watches end with it.
#[derive(Default)]
pub(crate) struct WatchCache {
    watched: Mutex<HashMap<(String, String, String), Arc<Watched>>>,
}

impl Drop for WatchCache {
    fn drop(&mut self) {
        let watched = self.watched.get_mut().map(std::mem::take).unwrap_or_default();
        for w in watched.values() {
            w.task.abort();
        }
    }
}

impl WatchCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String, String), Arc<Watched>>> {
        self.watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The store of `rt` in `namespace`, started on first use.
    fn watched(&self, client: &kube::Client, rt: &ResourceType, namespace: Option<&str>) -> Arc<Watched> {
        let key = (
            rt.api_version(),
            rt.kind.clone(),
            namespace.unwrap_or_default().to_owned(),
        );
        let mut watched = self.lock();
        if let Some(w) = watched.get(&key) {
            return Arc::clone(w);
        }
        let resource = rt.resource.clone();
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if rt.namespaced => Api::namespaced_with(client.clone(), ns, &resource),
            _ => Api::all_with(client.clone(), &resource),
        };
        let writer = reflector::store::Writer::new(resource);
        let store = writer.as_reader();
        let healthy = Arc::new(AtomicBool::new(true));
        let health = Arc::clone(&healthy);
        // Any resourceVersion will do for the first list (served by the API server's cache at
        // once): a copy that is behind only costs a 409 and a fresh plan.
        let config = watcher::Config::default().any_semantic();
        let events = reflector(writer, watcher(api, config)).default_backoff();
        let task = tokio::spawn(events.for_each(move |event| {
            health.store(event.is_ok(), Ordering::Relaxed);
            std::future::ready(())
        }))
        .abort_handle();
        let w = Arc::new(Watched { store, healthy, task });
        watched.insert(key, Arc::clone(&w));
        w
    }
}

impl KubeEngine {
    /// Serves the reads of plans from watched copies: the first read of a kind in a namespace
    /// starts kube-runtime's watcher and reflector for it, reads go to the server until it has
    /// listed (and while it fails), and later reads cost no request. Writes are unchanged: a
    /// replace carries the `resourceVersion` it planned on, so a copy that is behind loses with
    /// a 409 and [`KubeEngine::execute_change`] plans again on fresh reads. The watches end when
    /// the last clone of this engine is dropped.
    ///
    /// ```no_run
    /// # async fn f() -> mesh_core::Result<()> {
    /// use mesh_core::MeshKind;
    /// let engine = mesh_kube::KubeEngine::try_default(MeshKind::Istio).await?.with_watch_cache();
    /// # let _ = engine; Ok(()) }
    /// ```
    #[must_use]
    pub fn with_watch_cache(mut self) -> Self {
        self.watched = Some(Arc::default());
        self
    }

    /// `r` as the watch last saw it (`Some(None)`: absent), when this engine watches and the
    /// watch of its kind has listed and is healthy; `None` when the read must go to the server.
    pub(crate) async fn watched_copy(&self, r: &ObjectRef) -> Result<Option<Option<Value>>> {
        let Some(cache) = &self.watched else {
            return Ok(None);
        };
        let rt = self.resource_type(&r.api_version, &r.kind).await?;
        let namespace = self.namespace_of(r).filter(|_| rt.namespaced);
        let w = cache.watched(self.client(), &rt, namespace);
        // Not listed yet (the first read of a kind starts its watch): this read goes to the
        // server rather than wait; so does every read while the watch is failing.
        let listed = w
            .store
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok());
        if !listed || !w.healthy.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let key = reflector::ObjectRef::<DynamicObject>::new_with(&r.name, rt.resource.clone())
            .within(namespace.unwrap_or_default());
        let object = w.store.get(&key).map(|o| serde_json::to_value(&*o)).transpose();
        Ok(Some(object.unwrap_or(None)))
    }
}
