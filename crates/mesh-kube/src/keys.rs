//! The annotation and label keys the project writes on Kubernetes objects: every one under
//! [`KEY_PREFIX`]. Releases before 0.1.0 wrote them under [`LEGACY_KEY_PREFIX`] (a domain the
//! project does not own); those are still read, so objects written then are still recognized, and
//! the next server-side apply by the same field manager drops them.

use serde_json::Value;

/// The prefix of every annotation and label key the project writes.
pub const KEY_PREFIX: &str = "meshctl.dev/";

/// The prefix earlier releases wrote; read, never written.
pub const LEGACY_KEY_PREFIX: &str = "mesh.io/";

/// The part of `key` after either prefix (`meshctl.dev/owned-rules` and `mesh.io/owned-rules`
/// both give `owned-rules`), or `None` for a key of someone else.
///
/// ```
/// assert_eq!(mesh_kube::keys::name_of("meshctl.dev/registered"), Some("registered"));
/// assert_eq!(mesh_kube::keys::name_of("mesh.io/registered"), Some("registered"));
/// assert_eq!(mesh_kube::keys::name_of("linkerd.io/inject"), None);
/// ```
pub fn name_of(key: &str) -> Option<&str> {
    key.strip_prefix(KEY_PREFIX)
        .or_else(|| key.strip_prefix(LEGACY_KEY_PREFIX))
}

/// The legacy spelling of one of the project's keys.
pub fn legacy(key: &str) -> Option<String> {
    key.strip_prefix(KEY_PREFIX)
        .map(|name| format!("{LEGACY_KEY_PREFIX}{name}"))
}

/// Of `keys` (an object's annotations or labels), the key under which `key` is set: `key`
/// itself, or else its legacy spelling.
///
/// ```
/// use serde_json::json;
/// let old = json!({"mesh.io/registered": "true"});
/// assert_eq!(mesh_kube::keys::present(&old, "meshctl.dev/registered").as_deref(), Some("mesh.io/registered"));
/// assert_eq!(mesh_kube::keys::get(&old, "meshctl.dev/registered"), Some(&json!("true")));
/// let both = json!({"mesh.io/registered": "false", "meshctl.dev/registered": "true"});
/// assert_eq!(mesh_kube::keys::get(&both, "meshctl.dev/registered"), Some(&json!("true")));
/// ```
pub fn present(keys: &Value, key: &str) -> Option<String> {
    if keys.get(key).is_some() {
        return Some(key.to_owned());
    }
    legacy(key).filter(|old| keys.get(old).is_some())
}

/// The value of `key` in `keys` (an object's annotations or labels), under its current or its
/// legacy spelling; the current one wins.
pub fn get<'a>(keys: &'a Value, key: &str) -> Option<&'a Value> {
    present(keys, key).and_then(|k| keys.get(k))
}

/// The value of annotation `key` on `obj`, under its current or legacy spelling.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    get(&obj["metadata"]["annotations"], key).and_then(Value::as_str)
}
