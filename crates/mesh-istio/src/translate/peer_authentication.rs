//! `PeerAuthentication`: the namespace's mTLS mode. The library writes one named `default` with
//! `mtls.mode: STRICT`; in Istio's root namespace it applies mesh-wide.

use mesh_core::{MtlsMode, Namespace};
use serde_json::{Value, json};

use crate::objects;

/// The `default` PeerAuthentication of `namespace` with mode STRICT.
///
/// ```
/// let pa = mesh_istio::translate::peer_authentication::strict(&"prod".parse().unwrap());
/// assert_eq!(pa["metadata"]["name"], "default");
/// assert_eq!(pa["spec"]["mtls"]["mode"], "STRICT");
/// ```
pub fn strict(namespace: &Namespace) -> Value {
    super::new_object(
        &objects::peer_authentication(namespace),
        json!({ "mtls": { "mode": "STRICT" } }),
    )
}

/// The mode a PeerAuthentication sets, or `None` when it leaves it unset (inherit from the parent
/// scope).
///
/// ```
/// use mesh_core::MtlsMode;
/// use mesh_istio::translate::peer_authentication::mode_of;
/// assert_eq!(mode_of(&serde_json::json!({"spec": {"mtls": {"mode": "STRICT"}}})), Some(MtlsMode::Strict));
/// assert_eq!(mode_of(&serde_json::json!({"spec": {"mtls": {"mode": "UNSET"}}})), None);
/// assert_eq!(mode_of(&serde_json::json!({"spec": {}})), None);
/// ```
pub fn mode_of(pa: &Value) -> Option<MtlsMode> {
    match pa["spec"]["mtls"]["mode"].as_str()? {
        "STRICT" => Some(MtlsMode::Strict),
        "PERMISSIVE" => Some(MtlsMode::Permissive),
        "DISABLE" => Some(MtlsMode::Disable),
        _ => None,
    }
}
