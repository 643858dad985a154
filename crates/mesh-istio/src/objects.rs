//! The Istio objects the backend writes: API versions, kinds, names and ownership marks.
//!
//! Public: the references of the objects users look up after a change, the name of a
//! registered endpoint's WorkloadEntry, and [`is_owned_route`], which tells the library's
//! `http[]` routes from the user's. The API versions, names and marks are the crate's own.

use mesh_core::{Endpoint, Namespace, ObjectRef, ServiceDefinition, ServiceId};

/// `networking.istio.io/v1`: VirtualService, DestinationRule, ServiceEntry, WorkloadEntry.
pub(crate) const NETWORKING_V1: &str = "networking.istio.io/v1";
/// `security.istio.io/v1`: PeerAuthentication, AuthorizationPolicy.
pub(crate) const SECURITY_V1: &str = "security.istio.io/v1";

/// The label every object the library creates carries.
pub(crate) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub(crate) const MANAGED_BY: &str = "mesh";
/// On a ServiceEntry: the comma-separated WorkloadEntry names registered with it, so that
/// unregistering (or re-registering with fewer endpoints) deletes exactly those.
pub(crate) const WORKLOAD_ENTRIES_ANNOTATION: &str = "meshctl.dev/workload-entries";

/// Every `http[]` route the library owns is named with this prefix; routes without it belong to
/// users and are never changed.
pub(crate) const OWNED_ROUTE_PREFIX: &str = "mesh-";
/// The library's catch-all route, which carries the traffic split, retries and timeout.
pub(crate) const DEFAULT_ROUTE: &str = "mesh-default";
/// The prefix of fault marker routes ([`mesh_core::FaultId::marker`]).
pub(crate) const FAULT_ROUTE_PREFIX: &str = "mesh-fault-";
/// The name of the namespace-wide PeerAuthentication.
pub(crate) const PEER_AUTHENTICATION_NAME: &str = "default";

/// The VirtualService of a host: one per host, named after the service.
///
/// ```
/// let r = mesh_istio::objects::virtual_service(&"prod/reviews".parse().unwrap());
/// assert_eq!(r.to_string(), "VirtualService prod/reviews");
/// ```
pub fn virtual_service(service: &ServiceId) -> ObjectRef {
    namespaced(NETWORKING_V1, "VirtualService", service)
}

/// The DestinationRule of a host: one per host, named after the service.
///
/// ```
/// let r = mesh_istio::objects::destination_rule(&"prod/reviews".parse().unwrap());
/// assert_eq!(r.kind, "DestinationRule");
/// ```
pub fn destination_rule(service: &ServiceId) -> ObjectRef {
    namespaced(NETWORKING_V1, "DestinationRule", service)
}

/// The ServiceEntry registering a service that runs outside Kubernetes.
///
/// ```
/// let r = mesh_istio::objects::service_entry(&"prod/legacy".parse().unwrap());
/// assert_eq!((r.kind.as_str(), r.name.as_str()), ("ServiceEntry", "legacy"));
/// ```
pub fn service_entry(service: &ServiceId) -> ObjectRef {
    namespaced(NETWORKING_V1, "ServiceEntry", service)
}

/// A WorkloadEntry called `name` in the namespace of `service`.
///
/// ```
/// let r = mesh_istio::objects::workload_entry(&"prod/legacy".parse().unwrap(), "legacy-1a2b3c4d");
/// assert_eq!(r.namespace.as_deref(), Some("prod"));
/// ```
pub fn workload_entry(service: &ServiceId, name: &str) -> ObjectRef {
    ObjectRef::new(
        NETWORKING_V1,
        "WorkloadEntry",
        Some(service.namespace.as_str()),
        name,
    )
}

/// The Kubernetes Service of `service` (read only, to report plain Services as registered).
///
/// ```
/// let r = mesh_istio::objects::kubernetes_service(&"prod/api".parse().unwrap());
/// assert_eq!((r.api_version.as_str(), r.kind.as_str()), ("v1", "Service"));
/// ```
pub fn kubernetes_service(service: &ServiceId) -> ObjectRef {
    namespaced("v1", "Service", service)
}

/// The PeerAuthentication `default` of a namespace.
///
/// ```
/// let r = mesh_istio::objects::peer_authentication(&"prod".parse().unwrap());
/// assert_eq!(r.to_string(), "PeerAuthentication prod/default");
/// ```
pub fn peer_authentication(namespace: &Namespace) -> ObjectRef {
    ObjectRef::new(
        SECURITY_V1,
        "PeerAuthentication",
        Some(namespace.as_str()),
        PEER_AUTHENTICATION_NAME,
    )
}

/// An AuthorizationPolicy.
///
/// ```
/// let r = mesh_istio::objects::authorization_policy(&"prod".parse().unwrap(), "allow-web");
/// assert_eq!(r.kind, "AuthorizationPolicy");
/// ```
pub fn authorization_policy(namespace: &Namespace, name: &str) -> ObjectRef {
    ObjectRef::new(SECURITY_V1, "AuthorizationPolicy", Some(namespace.as_str()), name)
}

/// The name of the WorkloadEntry `register_service` writes for `endpoint` of `def`: the service
/// name and a hash of the version, address and port, so that re-registering replaces it.
///
/// ```
/// use mesh_core::{Endpoint, Port, ServiceDefinition};
/// use mesh_istio::objects::workload_entry_name;
/// let def = ServiceDefinition::builder("legacy", "prod", 8080).unwrap();
/// let ep = Endpoint::new("10.0.0.5", Port::new(8080).unwrap()).unwrap();
/// assert_eq!(workload_entry_name(&def, &ep), workload_entry_name(&def, &ep.clone()));
/// assert!(workload_entry_name(&def, &ep).starts_with("legacy-"));
/// ```
pub fn workload_entry_name(def: &ServiceDefinition, endpoint: &Endpoint) -> String {
    crate::translate::workload_entry::name(def, endpoint)
}

/// True when `route_name` names a route the library owns.
///
/// ```
/// assert!(mesh_istio::objects::is_owned_route("mesh-default"));
/// assert!(!mesh_istio::objects::is_owned_route("my-canary"));
/// ```
pub fn is_owned_route(route_name: &str) -> bool {
    route_name.starts_with(OWNED_ROUTE_PREFIX)
}

fn namespaced(api_version: &str, kind: &str, service: &ServiceId) -> ObjectRef {
    ObjectRef::new(
        api_version,
        kind,
        Some(service.namespace.as_str()),
        service.name.as_str(),
    )
}
