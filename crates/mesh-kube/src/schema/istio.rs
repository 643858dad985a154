//! Istio's own validation where it is stricter than Istio's CRD schemas: rules that istiod's
//! validating webhook and `istioctl validate` enforce and no `openAPIV3Schema` or CEL rule of the
//! pinned CRDs carries, so that the API server's schema accepts the object and istiod refuses it.
//! Each rule here was found by the admission agreement (`meshctl`'s `admission_agreement` test,
//! against a real istiod as the API server's webhook). They run on objects that pass the schema,
//! as the API server calls validating webhooks only after its own validation.
//!
//! Istio's validation has many more rules; the ones not learned yet (so accepted offline and
//! refused by istiod) include regular expressions RE2 does not compile, duplicate or overlapping
//! VirtualService hosts, a `*` host on a mesh VirtualService, and invalid IP blocks and
//! service-account names in AuthorizationPolicy sources.
//!
//! ```
//! use mesh_kube::schema::istio::check;
//! let mut v = Vec::new();
//! check(&serde_json::json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
//!     "metadata": {"name": "reviews"}, "spec": {"hosts": ["reviews"]}}), &mut v);
//! assert_eq!(v[0].path, "spec");
//! ```

use std::collections::BTreeSet;

use serde_json::Value;

use super::Violation;

fn is_empty_list(v: &Value) -> bool {
    v.as_array().is_none_or(Vec::is_empty)
}

/// Appends a violation for every rule of Istio's own validation `obj` breaks (nothing for kinds
/// that are not Istio's).
pub fn check(obj: &Value, violations: &mut Vec<Violation>) {
    let group = obj["apiVersion"]
        .as_str()
        .and_then(|a| a.split_once('/'))
        .map_or("", |(g, _)| g);
    let spec = &obj["spec"];
    match (group, obj["kind"].as_str().unwrap_or_default()) {
        ("networking.istio.io", "VirtualService")
            if ["http", "tcp", "tls"].iter().all(|k| is_empty_list(&spec[k])) =>
        {
            violations.push(Violation::new(
                "spec",
                "a VirtualService needs at least one http, tcp or tls route (Istio refuses it without)",
            ));
        }
        ("networking.istio.io", "DestinationRule") => {
            let mut seen = BTreeSet::new();
            for (i, subset) in spec["subsets"].as_array().into_iter().flatten().enumerate() {
                if let Some(name) = subset["name"].as_str()
                    && !seen.insert(name)
                {
                    violations.push(Violation::new(
                        format!("spec.subsets[{i}].name"),
                        format!("subset {name:?} is defined twice (Istio refuses duplicate subset names)"),
                    ));
                }
            }
        }
        ("security.istio.io", "AuthorizationPolicy") => {
            // Absent, null and `[]` are alike once Istio has read the object: no rules.
            let action = spec["action"].as_str().unwrap_or("ALLOW");
            if matches!(action, "DENY" | "CUSTOM") && is_empty_list(&spec["rules"]) {
                violations.push(Violation::new(
                    "spec.rules",
                    format!(
                        "a {action} policy without rules never triggers, and Istio refuses it; one empty rule `{{}}` \
                         matches every request"
                    ),
                ));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn violations(obj: &Value) -> Vec<Violation> {
        let mut v = Vec::new();
        check(obj, &mut v);
        v
    }

    #[test]
    fn a_virtual_service_needs_a_route() {
        let vs = |spec: Value| json!({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "spec": spec});
        assert_eq!(violations(&vs(json!({"hosts": ["a"]})))[0].path, "spec");
        assert_eq!(violations(&vs(json!({"hosts": ["a"], "http": []}))).len(), 1);
        assert!(violations(&vs(json!({"hosts": ["a"], "tcp": [{}]}))).is_empty());
        assert!(violations(&vs(json!({"hosts": ["a"], "tls": [{}]}))).is_empty());
    }

    #[test]
    fn subset_names_are_unique() {
        let dr = json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "spec": {"host": "a", "subsets": [{"name": "v1"}, {"name": "v2"}, {"name": "v1"}]}});
        let v = violations(&dr);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].path, "spec.subsets[2].name");
    }

    #[test]
    fn deny_and_custom_policies_need_rules() {
        let ap = |spec: Value| json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "spec": spec});
        // Found by the admission agreement's property samples: istiod refused a DENY policy
        // without rules that the CRD schema accepts.
        assert_eq!(violations(&ap(json!({"action": "DENY"}))).len(), 1);
        assert_eq!(
            violations(&ap(json!({"action": "DENY", "rules": []})))[0].path,
            "spec.rules"
        );
        assert_eq!(
            violations(&ap(json!({"action": "CUSTOM", "rules": null}))).len(),
            1
        );
        assert!(violations(&ap(json!({"action": "DENY", "rules": [{}]}))).is_empty());
        // ALLOW without rules allows nothing: meaningful, and accepted.
        assert!(violations(&ap(json!({}))).is_empty());
        assert!(violations(&ap(json!({"action": "ALLOW"}))).is_empty());
    }

    #[test]
    fn other_kinds_are_not_checked() {
        let route =
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "VirtualService", "spec": {}});
        assert!(violations(&route).is_empty());
    }
}
