//! Small pieces of state the library keeps on the control plane itself (rollout progress, runner
//! locks), so that a restarted process resumes and two processes never act on the same service.
//!
//! Kubernetes backends keep it in an annotation, Consul in its KV store; both guard writes with
//! compare-and-swap on the stored version.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, ServiceId};

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
