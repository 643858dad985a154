//! The kopium-generated [`types`](crate::types) as a check on the objects the backends build as
//! JSON: an object is *typed-exact* when the generated struct of its kind reads it and writes it
//! back unchanged. That proves every field is one the upstream types know, spelled as they spell
//! it, with the JSON type they use (an integer where they hold an `i64`, a string for a duration),
//! so a caller who prefers typed objects can convert losslessly.
//!
//! ```
//! use mesh_kube::typed::{TypedMismatch, round_trip};
//! let pa = serde_json::json!({
//!     "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
//!     "metadata": { "name": "default", "namespace": "prod" },
//!     "spec": { "mtls": { "mode": "STRICT" } }
//! });
//! assert_eq!(round_trip(&pa), Ok(()));
//! let mut typo = pa.clone();
//! typo["spec"]["mtls"]["mdoe"] = "STRICT".into();
//! assert!(matches!(round_trip(&typo), Err(TypedMismatch::Lossy { path, .. }) if path == "spec.mtls.mdoe"));
//! ```

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::types::{gateway, istio, linkerd};

/// Why an object is not typed-exact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypedMismatch {
    /// No generated struct covers this `apiVersion` and kind.
    #[error("no generated type for {api_version} {kind}")]
    NoType {
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// The generated struct cannot read the object (a wrong JSON type, a missing required field).
    #[error("{kind} does not read as its generated type: {reason}")]
    Unreadable {
        /// The object's kind.
        kind: String,
        /// serde's message.
        reason: String,
    },
    /// Reading and writing back changes the object, first at `path` (a field the type does
    /// not have, dropped on the way).
    #[error("{kind} changes through its generated type at {path}")]
    Lossy {
        /// The object's kind.
        kind: String,
        /// The first differing field, as a dotted path.
        path: String,
    },
}

/// Reads `obj` as the generated struct of its kind and checks that writing it back gives `obj`.
///
/// # Errors
/// A [`TypedMismatch`] saying why not.
pub fn round_trip(obj: &Value) -> Result<(), TypedMismatch> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    match (api_version, kind) {
        ("networking.istio.io/v1", "VirtualService") => exact::<istio::virtual_service::VirtualService>(obj),
        ("networking.istio.io/v1", "DestinationRule") => {
            exact::<istio::destination_rule::DestinationRule>(obj)
        }
        ("networking.istio.io/v1", "ServiceEntry") => exact::<istio::service_entry::ServiceEntry>(obj),
        ("networking.istio.io/v1", "WorkloadEntry") => exact::<istio::workload_entry::WorkloadEntry>(obj),
        ("security.istio.io/v1", "PeerAuthentication") => {
            exact::<istio::peer_authentication::PeerAuthentication>(obj)
        }
        ("security.istio.io/v1", "AuthorizationPolicy") => {
            exact::<istio::authorization_policy::AuthorizationPolicy>(obj)
        }
        ("gateway.networking.k8s.io/v1", "HTTPRoute") => exact::<gateway::http_route::HttpRoute>(obj),
        ("policy.linkerd.io/v1beta3", "HTTPRoute") => exact::<linkerd::http_route::HttpRoute>(obj),
        ("policy.linkerd.io/v1beta3", "Server") => exact::<linkerd::server::Server>(obj),
        ("policy.linkerd.io/v1alpha1", "AuthorizationPolicy") => {
            exact::<linkerd::authorization_policy::AuthorizationPolicy>(obj)
        }
        ("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication") => {
            exact::<linkerd::mesh_tls_authentication::MeshTlsAuthentication>(obj)
        }
        ("policy.linkerd.io/v1alpha1", "NetworkAuthentication") => {
            exact::<linkerd::network_authentication::NetworkAuthentication>(obj)
        }
        ("workload.linkerd.io/v1beta1", "ExternalWorkload") => {
            exact::<linkerd::external_workload::ExternalWorkload>(obj)
        }
        ("linkerd.io/v1alpha2", "ServiceProfile") => exact::<linkerd::service_profile::ServiceProfile>(obj),
        ("split.smi-spec.io/v1alpha2", "TrafficSplit") => exact::<linkerd::traffic_split::TrafficSplit>(obj),
        _ => Err(TypedMismatch::NoType {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        }),
    }
}

fn exact<T: DeserializeOwned + Serialize>(obj: &Value) -> Result<(), TypedMismatch> {
    let kind = || obj["kind"].as_str().unwrap_or_default().to_owned();
    let unreadable = |e: serde_json::Error| TypedMismatch::Unreadable {
        kind: kind(),
        reason: e.to_string(),
    };
    let typed: T = serde_json::from_value(obj.clone()).map_err(unreadable)?;
    let back = serde_json::to_value(&typed).map_err(unreadable)?;
    match first_difference(obj, &back, String::new()) {
        None => Ok(()),
        Some(path) => Err(TypedMismatch::Lossy { kind: kind(), path }),
    }
}

/// The dotted path of the first place `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    let at = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .find_map(|(k, v)| match y.get(k) {
                Some(w) => first_difference(v, w, at(k)),
                None => Some(at(k)),
            })
            .or_else(|| y.keys().find(|k| !x.contains_key(*k)).map(|k| at(k))),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{path}[{i}]"))),
        (Value::Number(x), Value::Number(y)) => (!same_number(x, y)).then_some(path),
        _ => (a != b).then_some(path),
    }
}

/// Numbers are the same when they are equal as written, or as a float field reads them: `90`
/// read into an `f64` comes back as `90.0`, and kopium maps `format: float` to `f32`, so `0.2`
/// comes back as the nearest `f32`. Two integers are compared exactly.
fn same_number(x: &serde_json::Number, y: &serde_json::Number) -> bool {
    if x.is_f64() || y.is_f64() {
        let (Some(a), Some(b)) = (x.as_f64(), y.as_f64()) else {
            return false;
        };
        #[allow(
            clippy::cast_possible_truncation,
            reason = "comparing at f32 precision is the point"
        )]
        let same_f32 = (a as f32) == (b as f32);
        a == b || same_f32
    } else {
        x == y
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn differences_are_found_where_they_are() {
        let a = json!({ "spec": { "http": [{ "timeout": "1s" }, { "weight": 10 }] } });
        let float = json!({ "spec": { "http": [{ "timeout": "1s" }, { "weight": 10.0 }] } });
        let other = json!({ "spec": { "http": [{ "timeout": "1s" }, { "weight": 11 }] } });
        assert_eq!(first_difference(&a, &a, String::new()), None);
        assert_eq!(
            first_difference(&a, &float, String::new()),
            None,
            "the same number"
        );
        assert_eq!(
            first_difference(&a, &other, String::new()).as_deref(),
            Some("spec.http[1].weight")
        );
        assert_eq!(
            first_difference(&json!(0.2), &json!(f64::from(0.2f32)), String::new()),
            None,
            "f32 precision"
        );
        assert!(first_difference(&json!(0.2), &json!(0.3), String::new()).is_some());
        assert!(
            first_difference(
                &json!(9_007_199_254_740_993u64),
                &json!(9_007_199_254_740_992u64),
                String::new()
            )
            .is_some()
        );
        let extra = json!({ "spec": { "http": [{ "timeout": "1s" }, { "weight": 10 }] }, "status": {} });
        assert_eq!(
            first_difference(&a, &extra, String::new()).as_deref(),
            Some("status")
        );
    }

    #[test]
    fn kinds_without_a_type_and_wrong_json_types_are_named() {
        let svc = json!({ "apiVersion": "v1", "kind": "Service" });
        assert!(matches!(round_trip(&svc), Err(TypedMismatch::NoType { .. })));
        let vs = json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": { "name": "a" }, "spec": { "hosts": "not-a-list" }
        });
        assert!(matches!(round_trip(&vs), Err(TypedMismatch::Unreadable { .. })));
    }
}
