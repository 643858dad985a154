//! Small pieces of state the library keeps on the control plane itself (rollout progress, runner
//! locks), so that a restarted process resumes and two processes never act on the same service.
//!
//! Kubernetes backends keep it in a ConfigMap per key, Consul in its KV store; both guard writes
//! with compare-and-swap on the stored version ([`StateStore`]).

use std::{fmt, future::Future};

use serde::{Deserialize, Serialize};

use crate::{BoxFuture, Error, Result, ServiceId};

/// Where a piece of state lives: a service and a short name (`rollout`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StateKey {
    /// The service the state is about.
    pub service: ServiceId,
    /// The state's name: lower-case letters, digits and `-`.
    pub name: String,
}

impl StateKey {
    /// Builds a key.
    ///
    /// ```
    /// use mesh_core::StateKey;
    /// let key = StateKey::new("prod/api".parse().unwrap(), "rollout").unwrap();
    /// assert_eq!(key.to_string(), "prod/api/rollout");
    /// assert!(StateKey::new("prod/api".parse().unwrap(), "Roll Out").is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `name` is not a label.
    pub fn new(service: ServiceId, name: &str) -> Result<Self, Error> {
        crate::names::check_rfc1123_label(name).map_err(|r| Error::invalid("state.name", r))?;
        Ok(Self {
            service,
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.name)
    }
}

/// A stored value and the version to pass back when replacing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredState {
    /// The value (JSON text, by convention).
    pub value: String,
    /// The opaque version (`resourceVersion`, Consul `ModifyIndex`).
    pub version: String,
}

/// State kept on the control plane, every write a compare-and-swap: the contract of a mesh that
/// keeps state (a ConfigMap per key on Kubernetes, a KV entry on Consul). A backend that keeps
/// state hands its store out through [`MeshBackend::state_store`](crate::MeshBackend::state_store).
pub trait StateStore: Send + Sync + 'static {
    /// Reads the state at `key`, `None` when there is none.
    fn read_state(&self, key: &StateKey) -> impl Future<Output = Result<Option<StoredState>>> + Send;

    /// Writes state with compare-and-swap: `expected` is the version read, `None` means "must not
    /// exist yet". Returns the new version. A lost race is [`Error::Conflict`].
    fn write_state(
        &self,
        key: &StateKey,
        value: &str,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<String>> + Send;

    /// Deletes state if it is still at `expected`. A lost race is [`Error::Conflict`]; state that
    /// is gone is [`Error::NotFound`].
    fn delete_state(&self, key: &StateKey, expected: &str) -> impl Future<Output = Result<()>> + Send;
}

/// The object-safe form of [`StateStore`]. Every `T: StateStore` implements it.
pub trait DynStateStore: Send + Sync + 'static {
    /// See [`StateStore::read_state`].
    fn read_state_dyn<'a>(&'a self, key: &'a StateKey) -> BoxFuture<'a, Result<Option<StoredState>>>;
    /// See [`StateStore::write_state`].
    fn write_state_dyn<'a>(
        &'a self,
        key: &'a StateKey,
        value: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String>>;
    /// See [`StateStore::delete_state`].
    fn delete_state_dyn<'a>(&'a self, key: &'a StateKey, expected: &'a str) -> BoxFuture<'a, Result<()>>;
}

impl<T: StateStore> DynStateStore for T {
    fn read_state_dyn<'a>(&'a self, key: &'a StateKey) -> BoxFuture<'a, Result<Option<StoredState>>> {
        Box::pin(self.read_state(key))
    }
    fn write_state_dyn<'a>(
        &'a self,
        key: &'a StateKey,
        value: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(self.write_state(key, value, expected))
    }
    fn delete_state_dyn<'a>(&'a self, key: &'a StateKey, expected: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.delete_state(key, expected))
    }
}
