//! Object references, names and ownership marks of everything the backend writes.
//!
//! Public: the references of the objects users look up after a change (the apex and per-version
//! Services, the Namespace, the HTTPRoute, the ServiceProfile, the TrafficSplit and the
//! ExternalWorkloads), the annotation that marks the library's rules on an HTTPRoute it shares
//! with users, and [`contains`], to check an object read back. The other names, annotations and
//! ownership marks are the crate's own.

use mesh_core::{ObjectRef, ServiceId, Version};
use serde_json::{Map, Value, json};

pub(crate) use mesh_kube::{MANAGED_BY_LABEL, MANAGED_BY_VALUE as MANAGED_BY, is_owned};
/// Annotation on an HTTPRoute holding the rules the library wrote, as JSON, so that a later change
/// recognises them and keeps every other rule (the user's) untouched.
///
/// ```
/// assert_eq!(mesh_linkerd::objects::OWNED_RULES_ANNOTATION, "meshctl.dev/owned-rules");
/// ```
pub const OWNED_RULES_ANNOTATION: &str = "meshctl.dev/owned-rules";
/// Annotation marking a Service that `register` created (and `unregister` may delete). The
/// ownership label alone is not enough: annotation writes on a user's Service carry it too.
pub(crate) const REGISTERED_ANNOTATION: &str = "meshctl.dev/registered";
/// Annotation on a registered Service naming the ExternalWorkloads created with it.
pub(crate) const EXTERNAL_WORKLOADS_ANNOTATION: &str = "meshctl.dev/external-workloads";
/// Prefix of the annotation on an HTTPRoute that records the rules as they were before a fault
/// (the suffix is the fault's marker, `mesh-fault-<key>`).
pub(crate) const FAULT_ANNOTATION_PREFIX: &str = mesh_kube::keys::KEY_PREFIX;
/// Marker annotation of the failure-accrual annotations on a Service (the settings, as JSON).
pub(crate) const CIRCUIT_BREAKER_MARKER: &str = "meshctl.dev/circuit-breaker";
/// Marker annotation of the retry and timeout annotations on a Service (the policy, as JSON).
pub(crate) const RETRY_POLICY_MARKER: &str = "meshctl.dev/retry-policy";
/// Marker annotation of the default inbound policy on a Namespace.
pub(crate) const INBOUND_POLICY_MARKER: &str = "meshctl.dev/inbound-policy";
/// Every marker of an annotation-only write.
pub(crate) const ANNOTATION_MARKERS: [&str; 3] =
    [CIRCUIT_BREAKER_MARKER, RETRY_POLICY_MARKER, INBOUND_POLICY_MARKER];

/// The field manager of an annotation-only write (`mesh-circuit-breaker`, `mesh-retry-policy`,
/// `mesh-inbound-policy`), found from the marker annotation it carries; `None` for other writes.
///
/// Each concept is server-side applied by a manager of its own, which owns only its annotations:
/// the rest of the user's (or the library's) Service stays with its owner, and a later apply of
/// the same concept removes exactly the annotations it no longer sets.
pub(crate) fn annotation_field_manager(body: &Value) -> Option<String> {
    if body.get("spec").is_some() {
        return None;
    }
    let annotations = &body["metadata"]["annotations"];
    ANNOTATION_MARKERS
        .iter()
        .find(|m| mesh_kube::keys::present(annotations, m).is_some())
        .and_then(|m| mesh_kube::keys::name_of(m))
        .map(|name| format!("mesh-{name}"))
}

/// The namespace annotation that sets the default inbound policy.
pub(crate) const DEFAULT_INBOUND_POLICY: &str = "config.linkerd.io/default-inbound-policy";

/// `linkerd.io/v1alpha2` (ServiceProfile).
pub(crate) const SERVICE_PROFILE_API: &str = "linkerd.io/v1alpha2";
/// `workload.linkerd.io/v1beta1` (ExternalWorkload).
pub(crate) const EXTERNAL_WORKLOAD_API: &str = "workload.linkerd.io/v1beta1";
/// `policy.linkerd.io/v1alpha1` (AuthorizationPolicy and the authentications).
pub(crate) const POLICY_V1ALPHA1: &str = "policy.linkerd.io/v1alpha1";
/// `split.smi-spec.io/v1alpha2` (TrafficSplit).
pub(crate) const SMI_API: &str = "split.smi-spec.io/v1alpha2";

/// The apex `v1/Service` of a service.
pub fn service(id: &ServiceId) -> ObjectRef {
    ObjectRef::new("v1", "Service", Some(id.namespace.as_str()), id.name.as_str())
}

/// The per-version Service `<service>-<version>`.
pub fn version_service(id: &ServiceId, version: &Version) -> ObjectRef {
    ObjectRef::new(
        "v1",
        "Service",
        Some(id.namespace.as_str()),
        &version_service_name(id, version),
    )
}

/// The name of the per-version Service.
pub(crate) fn version_service_name(id: &ServiceId, version: &Version) -> String {
    format!("{}-{}", id.name, version)
}

/// A Service in the namespace of `id`.
pub(crate) fn sibling_service(id: &ServiceId, name: &str) -> ObjectRef {
    ObjectRef::new("v1", "Service", Some(id.namespace.as_str()), name)
}

/// The `v1/Namespace`.
pub fn namespace(name: &str) -> ObjectRef {
    ObjectRef::new("v1", "Namespace", None, name)
}

/// An `ExternalWorkload` (`workload.linkerd.io/v1beta1`), as `register_service` writes one per
/// endpoint of a service outside the cluster (named `<service>-<address>-<port>`).
///
/// ```
/// let ew = mesh_linkerd::objects::external_workload("prod", "ratings-10-0-0-5-9080");
/// assert_eq!((ew.api_version.as_str(), ew.kind.as_str()), ("workload.linkerd.io/v1beta1", "ExternalWorkload"));
/// ```
pub fn external_workload(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::new(EXTERNAL_WORKLOAD_API, "ExternalWorkload", Some(namespace), name)
}

/// The library's HTTPRoute for a service, named like the service, at `api_version`.
pub fn http_route(id: &ServiceId, api_version: &str) -> ObjectRef {
    ObjectRef::new(
        api_version,
        "HTTPRoute",
        Some(id.namespace.as_str()),
        id.name.as_str(),
    )
}

/// The ServiceProfile of a service, named by its FQDN.
///
/// ```
/// let sp = mesh_linkerd::objects::service_profile(&"prod/api".parse().unwrap());
/// assert_eq!(sp.name, "api.prod.svc.cluster.local");
/// ```
pub fn service_profile(id: &ServiceId) -> ObjectRef {
    ObjectRef::new(
        SERVICE_PROFILE_API,
        "ServiceProfile",
        Some(id.namespace.as_str()),
        &id.fqdn(),
    )
}

/// The SMI TrafficSplit of a service.
pub fn traffic_split(id: &ServiceId) -> ObjectRef {
    ObjectRef::new(
        SMI_API,
        "TrafficSplit",
        Some(id.namespace.as_str()),
        id.name.as_str(),
    )
}

/// `metadata` with the ownership label.
pub(crate) fn owned_metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({ "name": name, "labels": { MANAGED_BY_LABEL: MANAGED_BY } });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

/// A full body for `target` with the ownership label and `spec`.
pub(crate) fn owned_object(target: &ObjectRef, spec: Value) -> Value {
    json!({
        "apiVersion": target.api_version,
        "kind": target.kind,
        "metadata": owned_metadata(&target.name, target.namespace.as_deref()),
        "spec": spec,
    })
}

/// True when `register` created this Service.
pub(crate) fn is_registered(obj: &Value) -> bool {
    mesh_kube::keys::annotation(obj, REGISTERED_ANNOTATION) == Some("true")
}

/// The annotations of `obj` (empty when none).
pub(crate) fn annotations(obj: &Value) -> Map<String, Value> {
    obj["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// True when every field in `want` has the same value in `have`; lists must have the same length
/// and match element by element. Server-added fields (defaults, status, resourceVersion) are
/// ignored, so a plan can skip writes that would change nothing, and a caller can check that an
/// object read back still holds what was written.
///
/// ```
/// use serde_json::json;
/// use mesh_linkerd::objects::contains;
/// assert!(contains(&json!({"a": 1, "b": [{"x": 1, "y": 2}]}), &json!({"b": [{"x": 1}]})));
/// assert!(!contains(&json!({"a": 1}), &json!({"a": 2})));
/// assert!(!contains(&json!({"b": [1, 2]}), &json!({"b": [1]})));
/// ```
pub fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(hv, wv)| contains(hv, wv))
        }
        (Value::Number(h), Value::Number(w)) => h.as_f64() == w.as_f64(),
        _ => have == want,
    }
}

/// A label-safe rendering of an address (`10.0.0.5` → `10-0-0-5`, `fd00::1` → `fd00--1`).
pub(crate) fn address_label(address: &str) -> String {
    address
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// An annotation-only body for `target`: applied server-side by a field manager of its own, it
/// owns nothing but these annotations, so the rest of a user's Service is left alone.
pub(crate) fn annotation_patch(target: &ObjectRef, annotations: Map<String, Value>) -> Value {
    let mut metadata = json!({ "name": target.name, "annotations": annotations });
    if let Some(ns) = &target.namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({ "apiVersion": target.api_version, "kind": target.kind, "metadata": metadata })
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn annotation_field_manager_example() {
        use crate::objects::annotation_field_manager;
        use serde_json::json;
        let patch = json!({"metadata": {"annotations": {"meshctl.dev/retry-policy": "{}", "retry.linkerd.io/limit": "2"}}});
        assert_eq!(
            annotation_field_manager(&patch).as_deref(),
            Some("mesh-retry-policy")
        );
        // Objects written before the key prefix changed keep their manager.
        let old = json!({"metadata": {"annotations": {"mesh.io/retry-policy": "{}"}}});
        assert_eq!(
            annotation_field_manager(&old).as_deref(),
            Some("mesh-retry-policy")
        );
        assert_eq!(annotation_field_manager(&json!({"spec": {}})), None);
    }

    #[test]
    fn version_service_name_example() {
        let id = "prod/reviews".parse().unwrap();
        let v2 = mesh_core::Version::new("v2").unwrap();
        assert_eq!(crate::objects::version_service_name(&id, &v2), "reviews-v2");
    }

    #[test]
    fn address_label_example() {
        assert_eq!(crate::objects::address_label("fd00::1"), "fd00--1");
    }
}
