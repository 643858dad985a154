//! Settings of the Linkerd backend: the release, the trust domain and every opt-in.

use crate::{HttpRouteFlavour, LinkerdVersion};

/// How the backend addresses Linkerd, and which emulations the caller accepts.
///
/// Every emulation is off by default: a feature Linkerd lacks is refused with a typed
/// [`mesh_core::Error::Unsupported`] unless the matching setter below was called.
///
/// ```
/// use mesh_linkerd::{Config, LinkerdVersion};
/// let config = Config::default()
///     .version(LinkerdVersion::V2_15)
///     .smi(true)
///     .fault_error_backend("error-injector", 8080);
/// assert_eq!(config.version, Some(LinkerdVersion::V2_15));
/// assert!(config.smi && !config.service_profile_retries);
/// assert_eq!(config.fault_error_backend, Some(("error-injector".to_owned(), 8080)));
/// assert_eq!(Config::default().trust_domain, "cluster.local");
/// assert_eq!(Config::default().conflict_retries(1).conflict_retries, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The release; `None` means "detect it from the served CRD versions" (2.20 when offline).
    pub version: Option<LinkerdVersion>,
    /// The HTTPRoute group written.
    pub http_route_flavour: HttpRouteFlavour,
    /// The identity trust domain (`identity.linkerd.<trust domain>` in identities).
    pub trust_domain: String,
    /// Opt-in: write weights as an SMI TrafficSplit (needs the linkerd-smi extension, which turns it
    /// into a ServiceProfile and so disables HTTPRoute features on that Service).
    pub smi: bool,
    /// Opt-in, 2.14–2.15: express retries through a ServiceProfile (`isRetryable` and a retry
    /// budget), which disables HTTPRoute splits, timeouts and circuit breaking on that Service.
    pub service_profile_retries: bool,
    /// Opt-in: emulate abort faults by sending the fault's share of requests to this Service (in the
    /// target's namespace) on this port. The status returned is whatever it answers. Checked when a
    /// fault is planned.
    pub fault_error_backend: Option<(String, u16)>,
    /// How many times a change is planned again when a guarded read-modify-write (an HTTPRoute
    /// shared with users) loses a race to another writer (409 Conflict).
    pub conflict_retries: u32,
    /// The instance label keys of a service and a version (`app`, `version`).
    pub selector_labels: mesh_core::SelectorLabels,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: None,
            http_route_flavour: HttpRouteFlavour::Policy,
            trust_domain: "cluster.local".to_owned(),
            smi: false,
            service_profile_retries: false,
            fault_error_backend: None,
            conflict_retries: 3,
            selector_labels: mesh_core::SelectorLabels::default(),
        }
    }
}

impl Config {
    /// Fixes the release instead of detecting it.
    #[must_use]
    pub fn version(mut self, version: LinkerdVersion) -> Self {
        self.version = Some(version);
        self
    }

    /// Chooses the HTTPRoute group.
    #[must_use]
    pub fn http_route_flavour(mut self, flavour: HttpRouteFlavour) -> Self {
        self.http_route_flavour = flavour;
        self
    }

    /// Sets the trust domain.
    #[must_use]
    pub fn trust_domain(mut self, trust_domain: impl Into<String>) -> Self {
        self.trust_domain = trust_domain.into();
        self
    }

    /// Opts in to (or out of) SMI TrafficSplit for weights.
    #[must_use]
    pub fn smi(mut self, on: bool) -> Self {
        self.smi = on;
        self
    }

    /// Opts in to (or out of) ServiceProfile retries on 2.14–2.15.
    #[must_use]
    pub fn service_profile_retries(mut self, on: bool) -> Self {
        self.service_profile_retries = on;
        self
    }

    /// Opts in to abort faults through an error backend Service you deployed (a name in the
    /// target's namespace, and its port). A bad name or port 0 is refused when a fault is planned.
    #[must_use]
    pub fn fault_error_backend(mut self, service: impl Into<String>, port: u16) -> Self {
        self.fault_error_backend = Some((service.into(), port));
        self
    }

    /// Sets the instance label keys of a service and a version.
    #[must_use]
    pub fn selector_labels(mut self, keys: mesh_core::SelectorLabels) -> Self {
        self.selector_labels = keys;
        self
    }

    /// Sets how many times a change that lost a race is planned again.
    #[must_use]
    pub fn conflict_retries(mut self, retries: u32) -> Self {
        self.conflict_retries = retries;
        self
    }

    /// The release in force: the configured one, else 2.20.
    pub fn effective_version(&self) -> LinkerdVersion {
        self.version.unwrap_or_default()
    }
}
