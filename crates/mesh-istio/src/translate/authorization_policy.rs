//! `AuthorizationPolicy`: ALLOW or DENY rules on peers (principals, namespaces) and requests
//! (methods, paths, ports), one to one with the library model.
//!
//! Inside one source or operation the lists are ANDed and each list's entries ORed; `from[]`,
//! `to[]` and `rules[]` entries are ORed. No rule with ALLOW allows nothing; a rule with no `from`
//! and no `to` matches every request.

use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Principal, SelectorLabels,
};
use serde_json::{Map, Value, json};

use crate::objects;

/// Istio's principal form: `<trust-domain>/ns/<ns>/sa/<sa>` (no `spiffe://`).
pub(crate) fn principal(p: &Principal, trust_domain: &str) -> String {
    format!("{trust_domain}/ns/{}/sa/{}", p.namespace, p.name)
}

/// The policy object. A policy with a target selects the target's pods with `app: <target>`;
/// without one it covers the whole namespace.
pub(crate) fn authorization_policy(
    policy: &AuthorizationPolicy,
    trust_domain: &str,
    keys: &SelectorLabels,
) -> Value {
    let target = objects::authorization_policy(&policy.namespace, policy.name.as_str());
    let mut spec = Map::new();
    if let Some(t) = &policy.target {
        spec.insert(
            "selector".to_owned(),
            json!({ "matchLabels": { keys.app(): t.as_str() } }),
        );
    }
    let action = match policy.action {
        AuthzAction::Allow => "ALLOW",
        AuthzAction::Deny => "DENY",
    };
    spec.insert("action".to_owned(), json!(action));
    if !policy.rules.is_empty() {
        let rules = policy.rules.iter().map(|r| rule(r, trust_domain)).collect();
        spec.insert("rules".to_owned(), Value::Array(rules));
    }
    super::new_object(&target, Value::Object(spec))
}

fn rule(r: &AuthzRule, trust_domain: &str) -> Value {
    let mut out = Map::new();
    if !r.from.is_empty() {
        let from = r
            .from
            .iter()
            .map(|s| json!({ "source": source(s, trust_domain) }));
        out.insert("from".to_owned(), Value::Array(from.collect()));
    }
    if !r.to.is_empty() {
        let to = r.to.iter().map(|t| json!({ "operation": operation(t) }));
        out.insert("to".to_owned(), Value::Array(to.collect()));
    }
    Value::Object(out)
}

fn source(s: &AuthzSource, trust_domain: &str) -> Value {
    let mut out = Map::new();
    if !s.principals.is_empty() {
        let p: Vec<String> = s.principals.iter().map(|p| principal(p, trust_domain)).collect();
        out.insert("principals".to_owned(), json!(p));
    }
    if !s.namespaces.is_empty() {
        out.insert("namespaces".to_owned(), json!(s.namespaces));
    }
    Value::Object(out)
}

fn operation(t: &AuthzTarget) -> Value {
    let mut out = Map::new();
    if !t.methods.is_empty() {
        let m: Vec<&str> = t.methods.iter().map(|m| m.as_str()).collect();
        out.insert("methods".to_owned(), json!(m));
    }
    if !t.paths.is_empty() {
        out.insert("paths".to_owned(), json!(t.paths));
    }
    if !t.ports.is_empty() {
        // Istio takes ports as strings.
        let p: Vec<String> = t.ports.iter().map(ToString::to_string).collect();
        out.insert("ports".to_owned(), json!(p));
    }
    Value::Object(out)
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn principal_example() {
        let p = "prod/frontend".parse().unwrap();
        assert_eq!(
            crate::translate::authorization_policy::principal(&p, "cluster.local"),
            "cluster.local/ns/prod/sa/frontend"
        );
    }

    #[test]
    fn authorization_policy_example() {
        use mesh_core::{AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource};
        let policy = AuthorizationPolicy {
            name: "allow-web".parse().unwrap(),
            namespace: "prod".parse().unwrap(),
            target: Some("api".parse().unwrap()),
            action: AuthzAction::Allow,
            rules: vec![AuthzRule {
                from: vec![AuthzSource {
                    principals: vec!["prod/web".parse().unwrap()],
                    ..Default::default()
                }],
                to: vec![],
            }],
        };
        let ap = crate::translate::authorization_policy::authorization_policy(
            &policy,
            "cluster.local",
            &Default::default(),
        );
        assert_eq!(ap["spec"]["action"], "ALLOW");
        assert_eq!(ap["spec"]["selector"]["matchLabels"]["app"], "api");
        assert_eq!(
            ap["spec"]["rules"][0]["from"][0]["source"]["principals"][0],
            "cluster.local/ns/prod/sa/web"
        );
    }
}
