//! The typed event stream: one event per successful change.

use serde::{Deserialize, Serialize};

use crate::{
    AuthzAction, CircuitBreaker, Fault, FaultId, MeshKind, MtlsMode, Namespace, PolicyName, RetryPolicy,
    ServiceDefinition, ServiceId, TrafficSplit, Version,
};

/// A change that landed on the control plane.
///
/// Serialized with an `event` tag holding the spec's dotted name:
///
/// ```
/// use mesh_core::{MeshEvent, MeshKind, TrafficSplit};
/// let e = MeshEvent::TrafficWeightUpdated {
///     mesh: MeshKind::Istio,
///     service_id: "prod/api".parse().unwrap(),
///     weights: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
/// };
/// assert_eq!(e.name(), "traffic.weight.updated");
/// let json = serde_json::to_value(&e).unwrap();
/// assert_eq!(json["event"], "traffic.weight.updated");
/// assert_eq!(json["weights"][1]["weight"], 10);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
#[non_exhaustive]
pub enum MeshEvent {
    /// A service was registered.
    #[serde(rename = "service.registered")]
    ServiceRegistered {
        /// The mesh.
        mesh: MeshKind,
        /// The service.
        service_id: ServiceId,
        /// Its version, if given.
        version: Option<Version>,
        /// The definition registered (the spec's `{ serviceId, definition }`).
        definition: Box<ServiceDefinition>,
    },
    /// A service was unregistered.
    #[serde(rename = "service.unregistered")]
    ServiceUnregistered {
        /// The mesh.
        mesh: MeshKind,
        /// The service.
        service_id: ServiceId,
    },
    /// A split was applied.
    #[serde(rename = "traffic.weight.updated")]
    TrafficWeightUpdated {
        /// The mesh.
        mesh: MeshKind,
        /// The service.
        service_id: ServiceId,
        /// The new weights.
        weights: TrafficSplit,
    },
    /// Route rules were written.
    #[serde(rename = "virtualservice.created")]
    VirtualServiceCreated {
        /// The mesh.
        mesh: MeshKind,
        /// The service.
        service_id: ServiceId,
        /// How many rules.
        rules: usize,
    },
    /// A destination policy was written.
    #[serde(rename = "destinationrule.created")]
    DestinationRuleCreated {
        /// The mesh.
        mesh: MeshKind,
        /// The service.
        service_id: ServiceId,
        /// The subsets now defined.
        subsets: Vec<Version>,
    },
    /// A circuit breaker was configured.
    #[serde(rename = "circuitbreaker.configured")]
    CircuitBreakerConfigured {
        /// The mesh.
        mesh: MeshKind,
        /// The service.
        service_id: ServiceId,
        /// The settings.
        circuit_breaker: CircuitBreaker,
    },
    /// A retry policy was set.
    #[serde(rename = "retrypolicy.set")]
    RetryPolicySet {
        /// The mesh.
        mesh: MeshKind,
        /// The service.
        service_id: ServiceId,
        /// The policy.
        policy: RetryPolicy,
    },
    /// mTLS was enforced.
    #[serde(rename = "mtls.enabled")]
    MtlsEnabled {
        /// The mesh.
        mesh: MeshKind,
        /// The namespace.
        namespace: Namespace,
        /// The mode.
        mode: MtlsMode,
    },
    /// An authorization policy was written.
    #[serde(rename = "authorizationpolicy.created")]
    AuthorizationPolicyCreated {
        /// The mesh.
        mesh: MeshKind,
        /// The policy's namespace.
        namespace: Namespace,
        /// The policy's name.
        name: PolicyName,
        /// ALLOW or DENY.
        action: AuthzAction,
    },
    /// A fault was injected.
    #[serde(rename = "fault.injected")]
    FaultInjected {
        /// The mesh.
        mesh: MeshKind,
        /// The service the fault is on (the spec's `{ faultId, serviceId }`).
        service_id: ServiceId,
        /// The id to remove it with.
        fault_id: FaultId,
        /// The fault.
        fault: Fault,
    },
    /// A fault was removed.
    #[serde(rename = "fault.removed")]
    FaultRemoved {
        /// The mesh.
        mesh: MeshKind,
        /// The id.
        fault_id: FaultId,
    },
}

impl MeshEvent {
    /// The spec's dotted event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ServiceRegistered { .. } => "service.registered",
            Self::ServiceUnregistered { .. } => "service.unregistered",
            Self::TrafficWeightUpdated { .. } => "traffic.weight.updated",
            Self::VirtualServiceCreated { .. } => "virtualservice.created",
            Self::DestinationRuleCreated { .. } => "destinationrule.created",
            Self::CircuitBreakerConfigured { .. } => "circuitbreaker.configured",
            Self::RetryPolicySet { .. } => "retrypolicy.set",
            Self::MtlsEnabled { .. } => "mtls.enabled",
            Self::AuthorizationPolicyCreated { .. } => "authorizationpolicy.created",
            Self::FaultInjected { .. } => "fault.injected",
            Self::FaultRemoved { .. } => "fault.removed",
        }
    }
}

/// An event as it was published: when (`at`, wall-clock time of the change landing) and what.
/// Serialized as the event's own fields plus `at_unix_ms`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use mesh_core::{MeshEvent, MeshKind, MtlsMode, TimedEvent};
/// let e = TimedEvent {
///     at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
///     event: MeshEvent::MtlsEnabled {
///         mesh: MeshKind::Istio,
///         namespace: "prod".parse().unwrap(),
///         mode: MtlsMode::Strict,
///     },
/// };
/// let json = serde_json::to_value(&e).unwrap();
/// assert_eq!(json["event"], "mtls.enabled");
/// assert_eq!(json["at_unix_ms"], 1_700_000_000_123u64);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimedEvent {
    /// When the change landed.
    pub at: std::time::SystemTime,
    /// What happened.
    pub event: MeshEvent,
}

impl Serialize for TimedEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.event).map_err(serde::ser::Error::custom)?;
        let ms = self
            .at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        if let Some(map) = value.as_object_mut() {
            map.insert("at_unix_ms".into(), ms.into());
        }
        value.serialize(serializer)
    }
}
