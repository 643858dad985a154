//! Settings of the Istio backend.

/// How the backend addresses the mesh.
///
/// ```
/// use mesh_istio::Config;
/// let config = Config::default().root_namespace("istio-config").trust_domain("example.org");
/// assert_eq!(config.root_namespace, "istio-config");
/// assert_eq!(Config::default().trust_domain, "cluster.local");
/// assert_eq!(Config::default().conflict_retries, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Istio's root namespace, which holds mesh-wide policy (`istio-system`).
    pub root_namespace: String,
    /// The trust domain used in principals (`cluster.local/ns/<ns>/sa/<sa>`).
    pub trust_domain: String,
    /// How many times a read-modify-write is planned again after a 409 Conflict (another writer
    /// changed the VirtualService or DestinationRule in between).
    pub conflict_retries: u32,
    /// The instance label keys of a service and a version (`app`, `version`).
    pub selector_labels: mesh_core::SelectorLabels,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            root_namespace: "istio-system".to_owned(),
            trust_domain: "cluster.local".to_owned(),
            conflict_retries: 3,
            selector_labels: mesh_core::SelectorLabels::default(),
        }
    }
}

impl Config {
    /// Sets the root namespace for mesh-wide policy.
    #[must_use]
    pub fn root_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.root_namespace = namespace.into();
        self
    }

    /// Sets the trust domain.
    #[must_use]
    pub fn trust_domain(mut self, trust_domain: impl Into<String>) -> Self {
        self.trust_domain = trust_domain.into();
        self
    }

    /// Sets the instance label keys of a service and a version.
    #[must_use]
    pub fn selector_labels(mut self, keys: mesh_core::SelectorLabels) -> Self {
        self.selector_labels = keys;
        self
    }

    /// Sets how many times a conflicting read-modify-write is re-planned.
    #[must_use]
    pub fn conflict_retries(mut self, retries: u32) -> Self {
        self.conflict_retries = retries;
        self
    }
}
