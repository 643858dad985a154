//! Did a write land? After an answer is lost, the object read back is compared with what the
//! write carried.

use serde_json::Value;

/// True when `current` holds every field of `sent` with the same value: objects may carry more
/// (server-set metadata, defaults), lists and scalars must be equal.
///
/// ```
/// use serde_json::json;
/// use mesh_kube::landed::holds;
/// let sent = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"hosts": ["h"]}});
/// let current = json!({"metadata": {"name": "a", "labels": {"x": "1"}, "resourceVersion": "7"},
///     "spec": {"hosts": ["h"], "exportTo": ["*"]}});
/// assert!(holds(&current, &sent));
/// assert!(!holds(&json!({"spec": {"hosts": ["h", "g"]}}), &json!({"spec": {"hosts": ["h"]}})));
/// assert!(!holds(&json!({"data": {"value": "theirs"}}), &json!({"data": {"value": "ours"}})));
/// ```
pub fn holds(current: &Value, sent: &Value) -> bool {
    match (current, sent) {
        (Value::Object(have), Value::Object(want)) => {
            want.iter().all(|(k, v)| have.get(k).is_some_and(|h| holds(h, v)))
        }
        _ => current == sent,
    }
}
