//! `metadata` as the API server validates it for every object, which no CRD schema says:
//! the name (a DNS-1123 subdomain, required unless `generateName` is set), the namespace (a
//! DNS-1123 label), label keys and values, and annotation keys.
//!
//! ```
//! use mesh_kube::schema::metadata::check;
//! let mut v = Vec::new();
//! check(&serde_json::json!({"metadata": {"name": "Bad_Name", "namespace": "prod"}}), &mut v);
//! assert_eq!(v[0].path, "metadata.name");
//! ```

use serde_json::Value;

use super::Violation;

/// The longest DNS-1123 subdomain.
const SUBDOMAIN_MAX: usize = 253;
/// The longest DNS-1123 label, label name or label value.
const LABEL_MAX: usize = 63;

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= LABEL_MAX
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_subdomain(s: &str) -> bool {
    s.len() <= SUBDOMAIN_MAX && s.split('.').all(is_label)
}

use mesh_core::selector::{is_label_key as is_qualified_name, is_label_name as is_qualified_part};

/// Appends a violation for every `metadata` rule `obj` breaks.
pub fn check(obj: &Value, violations: &mut Vec<Violation>) {
    let meta = &obj["metadata"];
    match meta["name"].as_str() {
        Some(name) if !is_subdomain(name) => violations.push(Violation::new(
            "metadata.name",
            format!(
                "{name:?} is not a lowercase RFC 1123 subdomain (at most {SUBDOMAIN_MAX} characters of a-z, 0-9, '-' and '.', alphanumeric at both ends)"
            ),
        )),
        Some(_) => {}
        None if meta["generateName"].is_string() => {}
        None => violations.push(Violation::new("metadata.name", "name or generateName is required")),
    }
    if let Some(ns) = meta["namespace"].as_str()
        && !is_label(ns)
    {
        violations.push(Violation::new(
            "metadata.namespace",
            format!("{ns:?} is not a lowercase RFC 1123 label (at most {LABEL_MAX} characters)"),
        ));
    }
    for (key, value) in meta["labels"].as_object().into_iter().flatten() {
        if !is_qualified_name(key) {
            violations.push(Violation::new(
                format!("metadata.labels[{key}]"),
                "the key is not a qualified name ([prefix/]name, name at most 63 characters)",
            ));
        }
        if let Some(v) = value.as_str()
            && !v.is_empty()
            && !is_qualified_part(v)
        {
            violations.push(Violation::new(
                format!("metadata.labels[{key}]"),
                format!(
                    "{v:?} is not a valid label value (at most 63 characters, alphanumeric at both ends)"
                ),
            ));
        }
    }
    for key in meta["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if !is_qualified_name(key) {
            violations.push(Violation::new(
                format!("metadata.annotations[{key}]"),
                "the key is not a qualified name ([prefix/]name, name at most 63 characters)",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn violations(meta: serde_json::Value) -> Vec<String> {
        let mut v = Vec::new();
        super::check(&json!({ "metadata": meta }), &mut v);
        v.into_iter().map(|v| v.path).collect()
    }

    #[test]
    fn names_namespaces_and_labels_follow_the_api_servers_rules() {
        assert!(
            violations(json!({"name": "reviews.v1-canary", "namespace": "prod",
            "labels": {"app.kubernetes.io/managed-by": "mesh", "version": ""},
            "annotations": {"meshctl.dev/circuit-breaker": "{}"}}))
            .is_empty()
        );
        assert_eq!(violations(json!({})), ["metadata.name"]);
        assert!(violations(json!({"generateName": "x-"})).is_empty());
        assert_eq!(violations(json!({"name": "a".repeat(300)})), ["metadata.name"]);
        assert_eq!(
            violations(json!({"name": "ok", "namespace": "Prod"})),
            ["metadata.namespace"]
        );
        assert_eq!(
            violations(json!({"name": "ok", "labels": {"-bad": "x"}})),
            ["metadata.labels[-bad]"]
        );
        assert_eq!(
            violations(json!({"name": "ok", "labels": {"k": "bad value"}})),
            ["metadata.labels[k]"]
        );
    }
}
