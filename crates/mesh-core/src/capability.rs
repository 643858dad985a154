//! What each mesh can do: natively, by opt-in emulation, or not at all.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use crate::MeshKind;

macro_rules! features {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// A fine-grained feature: one operation, or one field of an operation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum Feature {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl Feature {
            /// Every feature, in declaration order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)*];

            /// The dotted name (`circuit_breaker.max_connections`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Feature::$variant => $name,)*
                }
            }
        }
    };
}

features! {
    /// Registering a service discovered by Kubernetes or an agent.
    RegisterService => "register",
    /// Registering instances outside Kubernetes (VMs, external nodes).
    RegisterExternalWorkload => "register.external_workload",
    /// Routing on an exact path.
    RoutePathExact => "route.match.path_exact",
    /// Routing on a path prefix.
    RoutePathPrefix => "route.match.path_prefix",
    /// Routing on a path regex.
    RoutePathRegex => "route.match.path_regex",
    /// Routing on headers.
    RouteHeaders => "route.match.headers",
    /// Routing on the method.
    RouteMethod => "route.match.method",
    /// Routing on query parameters.
    RouteQuery => "route.match.query",
    /// A per-route request timeout.
    RouteTimeout => "route.timeout",
    /// Weighted split between versions.
    TrafficSplit => "traffic.split",
    /// Version subsets.
    Subsets => "destination.subsets",
    /// Choosing the load-balancing algorithm.
    LoadBalancer => "destination.load_balancer",
    /// TLS settings towards the destination.
    DestinationTls => "destination.tls",
    /// Connection limit.
    CircuitBreakerMaxConnections => "circuit_breaker.max_connections",
    /// Connect timeout.
    CircuitBreakerTimeout => "circuit_breaker.timeout",
    /// Cap on concurrent retries.
    CircuitBreakerMaxRetries => "circuit_breaker.max_retries",
    /// Ejection after consecutive errors.
    CircuitBreakerConsecutiveErrors => "circuit_breaker.consecutive_errors",
    /// Ejection sweep interval.
    CircuitBreakerInterval => "circuit_breaker.interval",
    /// Base ejection time.
    CircuitBreakerBaseEjectionTime => "circuit_breaker.base_ejection_time",
    /// Maximum ejected share.
    CircuitBreakerMaxEjectionPercent => "circuit_breaker.max_ejection_percent",
    /// Retry attempt count.
    RetryAttempts => "retry.attempts",
    /// Per-try timeout.
    RetryPerTryTimeout => "retry.per_try_timeout",
    /// Retry conditions.
    RetryOn => "retry.retry_on",
    /// Overall timeout including retries.
    RetryOverallTimeout => "retry.overall_timeout",
    /// Enforcing strict mTLS.
    MtlsStrict => "mtls.strict",
    /// Reading the mTLS status.
    MtlsStatus => "mtls.status",
    /// ALLOW authorization rules.
    AuthzAllow => "authz.allow",
    /// DENY authorization rules.
    AuthzDeny => "authz.deny",
    /// Matching peers by identity.
    AuthzPrincipals => "authz.from.principals",
    /// Matching peers by namespace.
    AuthzNamespaces => "authz.from.namespaces",
    /// Matching requests by method.
    AuthzMethods => "authz.to.methods",
    /// Matching requests by path.
    AuthzPaths => "authz.to.paths",
    /// Matching requests by port.
    AuthzPorts => "authz.to.ports",
    /// Delay faults.
    FaultDelay => "fault.delay",
    /// Abort faults.
    FaultAbort => "fault.abort",
    /// Request metrics.
    Metrics => "observe.metrics",
    /// Traces.
    Traces => "observe.traces",
    /// The service graph.
    Graph => "observe.graph",
    /// State kept on the control plane (rollout progress, runner locks).
    StateStore => "state.store",
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a mesh supports a feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "support", rename_all = "lowercase")]
pub enum Support {
    /// Done with the mesh's own objects or API calls.
    Native {
        /// The objects or calls used (`VirtualService http[].fault`).
        objects: String,
    },
    /// Approximated; only done when the caller opts in.
    Emulated {
        /// How it is approximated, and what differs.
        how: String,
    },
    /// Not possible on this mesh.
    Unsupported {
        /// Why.
        reason: String,
    },
}

impl Support {
    /// [`Support::Native`].
    pub fn native(objects: impl Into<String>) -> Self {
        Self::Native {
            objects: objects.into(),
        }
    }

    /// [`Support::Emulated`].
    pub fn emulated(how: impl Into<String>) -> Self {
        Self::Emulated { how: how.into() }
    }

    /// [`Support::Unsupported`].
    pub fn unsupported(reason: impl Into<String>) -> Self {
        Self::Unsupported {
            reason: reason.into(),
        }
    }

    /// True for [`Support::Native`].
    pub fn is_native(&self) -> bool {
        matches!(self, Self::Native { .. })
    }
}

/// The support table of one mesh (and one version of it).
///
/// ```
/// use mesh_core::{Capabilities, Feature, MeshKind, Support};
/// let caps = Capabilities::new(MeshKind::Linkerd)
///     .with(Feature::FaultDelay, Support::unsupported("no delay filter"));
/// assert!(!caps.support(Feature::FaultDelay).is_native());
/// // Features that were never listed read as unsupported.
/// assert!(matches!(caps.support(Feature::Traces), Support::Unsupported { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The mesh described.
    pub mesh: MeshKind,
    /// Per feature.
    pub features: BTreeMap<Feature, Support>,
}

impl Capabilities {
    /// An empty table.
    pub fn new(mesh: MeshKind) -> Self {
        Self {
            mesh,
            features: BTreeMap::new(),
        }
    }

    /// Adds or replaces one row.
    #[must_use]
    pub fn with(mut self, feature: Feature, support: Support) -> Self {
        self.features.insert(feature, support);
        self
    }

    /// The support of `feature`; unlisted features are unsupported.
    pub fn support(&self, feature: Feature) -> Support {
        self.features
            .get(&feature)
            .cloned()
            .unwrap_or_else(|| Support::unsupported(format!("{} does not list {feature}", self.mesh)))
    }

    /// One typed refusal naming **every** feature of `features` the mesh refuses (the first as the
    /// error's feature, all of them in the reason), or `None` when none is refused. A user who
    /// sends the spec's circuit breaker to Linkerd learns every field that does not map at once.
    ///
    /// ```
    /// use mesh_core::{Capabilities, Error, Feature, MeshKind, Support};
    /// let caps = Capabilities::new(MeshKind::Linkerd)
    ///     .with(Feature::CircuitBreakerConsecutiveErrors, Support::native("failure accrual"))
    ///     .with(Feature::CircuitBreakerMaxConnections, Support::unsupported("no pool limits"))
    ///     .with(Feature::CircuitBreakerMaxRetries, Support::unsupported("no retry budget cap"));
    /// let features = [
    ///     Feature::CircuitBreakerMaxConnections,
    ///     Feature::CircuitBreakerConsecutiveErrors,
    ///     Feature::CircuitBreakerMaxRetries,
    /// ];
    /// let Some(Error::Unsupported { feature, reason, .. }) = caps.refusal_of_all(&features, |_| false) else {
    ///     panic!()
    /// };
    /// assert_eq!(feature, Feature::CircuitBreakerMaxConnections);
    /// assert!(reason.contains("circuit_breaker.max_retries"), "{reason}");
    /// ```
    pub fn refusal_of_all(
        &self,
        features: &[Feature],
        opted_in: impl Fn(Feature) -> bool,
    ) -> Option<crate::Error> {
        let mut refused = features
            .iter()
            .filter_map(|f| match self.refusal(*f, opted_in(*f)) {
                Some(crate::Error::Unsupported { feature, reason, .. }) => Some((feature, reason)),
                _ => None,
            })
            .collect::<Vec<_>>();
        refused.dedup_by_key(|(f, _)| *f);
        let (first, first_reason) = refused.first().cloned()?;
        let reason = if refused.len() == 1 {
            first_reason
        } else {
            let all: Vec<String> = refused.iter().map(|(f, r)| format!("{f} ({r})")).collect();
            format!("{} fields do not map: {}", refused.len(), all.join("; "))
        };
        Some(crate::Error::unsupported(self.mesh, first, reason))
    }

    /// The typed refusal for `feature`, or `None` when it is native (or emulated and `opted_in`).
    pub fn refusal(&self, feature: Feature, opted_in: bool) -> Option<crate::Error> {
        match self.support(feature) {
            Support::Native { .. } => None,
            Support::Emulated { .. } if opted_in => None,
            Support::Emulated { how } => Some(crate::Error::unsupported(
                self.mesh,
                feature,
                format!("not native; an emulation exists but needs an explicit opt-in ({how})"),
            )),
            Support::Unsupported { reason } => Some(crate::Error::unsupported(self.mesh, feature, reason)),
        }
    }
}
