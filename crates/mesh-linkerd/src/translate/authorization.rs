//! ALLOW policies as Servers, per-route HTTPRoutes, AuthorizationPolicies and authentications.
//! Linkerd is allow-list only: DENY is refused before this is called.

use mesh_core::{AuthorizationPolicy, AuthzRule, AuthzTarget, Namespace, ObjectRef, Principal};
use serde_json::{Value, json};

use crate::{
    LinkerdVersion,
    objects::{self, POLICY_V1ALPHA1},
    translate::http_route::regex_escape,
};

/// The Server port and pod selector for one policy, from the target Service (or the namespace).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServerSpec {
    /// The Server's name.
    pub(crate) name: String,
    /// The pod port (a number or a port name).
    pub(crate) port: Value,
    /// The port the caller names in `to.ports`, when it names one.
    pub(crate) service_port: Option<u16>,
    /// `matchLabels` of the pods.
    pub(crate) selector: Value,
}

/// Every object of one policy, in the groups the plan writes them in.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AuthzObjects {
    /// MeshTLSAuthentications and NetworkAuthentications.
    pub(crate) authentications: Vec<(ObjectRef, Value)>,
    /// HTTPRoutes attached to Servers, carrying method and path matches.
    pub(crate) routes: Vec<(ObjectRef, Value)>,
    /// AuthorizationPolicies, with the objects each refers to.
    pub(crate) policies: Vec<(ObjectRef, Value, Vec<ObjectRef>)>,
    /// Servers, written last: a Server makes its port default-deny.
    pub(crate) servers: Vec<(ObjectRef, Value)>,
    /// Facts the caller should know.
    pub(crate) warnings: Vec<String>,
}

/// A Linkerd identity for a principal: `<sa>.<ns>.serviceaccount.identity.linkerd.<trust domain>`.
pub(crate) fn identity(p: &Principal, trust_domain: &str) -> String {
    format!(
        "{}.{}.serviceaccount.identity.linkerd.{trust_domain}",
        p.name, p.namespace
    )
}

/// Every identity of a namespace: `*.<ns>.serviceaccount.identity.linkerd.<trust domain>`.
pub(crate) fn namespace_identities(ns: &Namespace, trust_domain: &str) -> String {
    format!("*.{ns}.serviceaccount.identity.linkerd.{trust_domain}")
}

/// The Servers a policy needs: one per port named in `to.ports`, or per port of the target Service.
pub(crate) fn servers(policy: &AuthorizationPolicy, target_service: Option<&Value>) -> Vec<ServerSpec> {
    let base = policy
        .target
        .as_ref()
        .map_or("mesh-all".to_owned(), |t| t.to_string());
    let selector = target_service
        .and_then(|s| s["spec"]["selector"].as_object().cloned())
        .map_or(json!({}), Value::Object);
    let mut named: Vec<u16> = policy
        .rules
        .iter()
        .flat_map(|r| &r.to)
        .flat_map(|t| &t.ports)
        .map(|p| p.get())
        .collect();
    named.sort_unstable();
    named.dedup();
    let service_ports: Vec<&Value> = target_service
        .and_then(|s| s["spec"]["ports"].as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if !named.is_empty() {
        return named
            .into_iter()
            .map(|p| {
                // A named Service port maps to its pod port; other numbers are pod ports already.
                let pod = service_ports
                    .iter()
                    .find(|sp| sp["port"].as_u64() == Some(u64::from(p)))
                    .map_or(json!(p), |sp| pod_port(sp));
                ServerSpec {
                    name: format!("{base}-{p}"),
                    port: pod,
                    service_port: Some(p),
                    selector: selector.clone(),
                }
            })
            .collect();
    }
    service_ports
        .into_iter()
        .filter_map(|sp| {
            let port = u16::try_from(sp["port"].as_u64()?).ok()?;
            Some(ServerSpec {
                name: format!("{base}-{port}"),
                port: pod_port(sp),
                service_port: Some(port),
                selector: selector.clone(),
            })
        })
        .collect()
}

fn pod_port(service_port: &Value) -> Value {
    match &service_port["targetPort"] {
        Value::Null => service_port["port"].clone(),
        t => t.clone(),
    }
}

fn path_match(p: &str) -> Value {
    if p == "*" {
        json!({ "type": "PathPrefix", "value": "/" })
    } else if let Some(prefix) = p.strip_suffix('*') {
        json!({ "type": "PathPrefix", "value": prefix })
    } else if let Some(suffix) = p.strip_prefix('*') {
        json!({ "type": "RegularExpression", "value": format!(".*{}", regex_escape(suffix)) })
    } else {
        json!({ "type": "Exact", "value": p })
    }
}

/// The matches of one target: every method with every path (either list may be empty).
fn target_matches(t: &AuthzTarget) -> Vec<Value> {
    let paths: Vec<Option<&String>> = if t.paths.is_empty() {
        vec![None]
    } else {
        t.paths.iter().map(Some).collect()
    };
    let methods: Vec<Option<&str>> = if t.methods.is_empty() {
        vec![None]
    } else {
        t.methods.iter().map(|m| Some(m.as_str())).collect()
    };
    let mut out = Vec::new();
    for path in &paths {
        for method in &methods {
            let mut m = json!({});
            if let Some(p) = path {
                m["path"] = path_match(p);
            }
            if let Some(me) = method {
                m["method"] = json!(me);
            }
            out.push(m);
        }
    }
    out
}

fn authentication(
    policy: &AuthorizationPolicy,
    i: usize,
    rule: &AuthzRule,
    trust_domain: &str,
) -> (ObjectRef, Value) {
    let ns = policy.namespace.as_str();
    let name = format!("{}-r{i}", policy.name);
    let any_peer = rule.from.is_empty()
        || rule
            .from
            .iter()
            .any(|s| s.principals.is_empty() && s.namespaces.is_empty());
    if any_peer {
        let target = ObjectRef::new(POLICY_V1ALPHA1, "NetworkAuthentication", Some(ns), &name);
        let body = objects::owned_object(
            &target,
            json!({ "networks": [{ "cidr": "0.0.0.0/0" }, { "cidr": "::/0" }] }),
        );
        return (target, body);
    }
    let mut identities: Vec<String> = Vec::new();
    for s in &rule.from {
        identities.extend(s.principals.iter().map(|p| identity(p, trust_domain)));
        identities.extend(s.namespaces.iter().map(|n| namespace_identities(n, trust_domain)));
    }
    identities.sort();
    identities.dedup();
    let target = ObjectRef::new(POLICY_V1ALPHA1, "MeshTLSAuthentication", Some(ns), &name);
    let body = objects::owned_object(&target, json!({ "identities": identities }));
    (target, body)
}

fn authz_policy(
    ns: &str,
    name: &str,
    target: &ObjectRef,
    authn: &ObjectRef,
) -> (ObjectRef, Value, Vec<ObjectRef>) {
    let me = ObjectRef::new(POLICY_V1ALPHA1, "AuthorizationPolicy", Some(ns), name);
    // A core kind (the Namespace) is referred to without a group, as Gateway API does.
    let mut target_ref = json!({ "kind": target.kind, "name": target.name });
    if let Some((group, _)) = target.api_version.split_once('/') {
        target_ref["group"] = json!(group);
    }
    let body = objects::owned_object(
        &me,
        json!({
            "targetRef": target_ref,
            "requiredAuthenticationRefs": [{ "group": "policy.linkerd.io", "kind": authn.kind, "name": authn.name }],
        }),
    );
    (me, body, vec![authn.clone()])
}

/// Every object of an ALLOW policy. `servers` come from [`servers`]; with none, policies target
/// the namespace (every Server in it).
pub(crate) fn objects(
    policy: &AuthorizationPolicy,
    servers: &[ServerSpec],
    version: LinkerdVersion,
    trust_domain: &str,
) -> AuthzObjects {
    let ns = policy.namespace.as_str();
    let mut out = AuthzObjects::default();
    let server_refs: Vec<(ObjectRef, &ServerSpec)> = servers
        .iter()
        .map(|s| {
            (
                ObjectRef::new(version.server_api_version(), "Server", Some(ns), &s.name),
                s,
            )
        })
        .collect();
    for (i, rule) in policy.rules.iter().enumerate() {
        let (authn_ref, authn) = authentication(policy, i, rule, trust_domain);
        out.authentications.push((authn_ref.clone(), authn));
        if server_refs.is_empty() {
            let target = ObjectRef::new("v1", "Namespace", None, ns);
            out.policies.push(authz_policy(
                ns,
                &format!("{}-r{i}", policy.name),
                &target,
                &authn_ref,
            ));
            continue;
        }
        let everything = [AuthzTarget::default()];
        let targets: &[AuthzTarget] = if rule.to.is_empty() { &everything } else { &rule.to };
        for (j, t) in targets.iter().enumerate() {
            let chosen: Vec<&ObjectRef> = server_refs
                .iter()
                .filter(|(_, s)| {
                    t.ports.is_empty() || t.ports.iter().any(|p| Some(p.get()) == s.service_port)
                })
                .map(|(r, _)| r)
                .collect();
            if t.methods.is_empty() && t.paths.is_empty() {
                for server in chosen {
                    let name = format!("{}-r{i}-{j}-{}", policy.name, server.name);
                    out.policies.push(authz_policy(ns, &name, server, &authn_ref));
                }
                continue;
            }
            let route_ref = ObjectRef::new(
                "policy.linkerd.io/v1beta3",
                "HTTPRoute",
                Some(ns),
                &format!("{}-r{i}-{j}", policy.name),
            );
            let parents: Vec<Value> = chosen
                .iter()
                .map(|s| json!({ "group": "policy.linkerd.io", "kind": "Server", "name": s.name }))
                .collect();
            let rules: Vec<Value> = target_matches(t)
                .chunks(8)
                .map(|c| json!({ "matches": c }))
                .collect();
            out.routes.push((
                route_ref.clone(),
                objects::owned_object(&route_ref, json!({ "parentRefs": parents, "rules": rules })),
            ));
            out.policies
                .push(authz_policy(ns, &route_ref.name, &route_ref, &authn_ref));
        }
    }
    for (r, s) in &server_refs {
        let body = objects::owned_object(
            r,
            json!({ "podSelector": { "matchLabels": s.selector }, "port": s.port }),
        );
        out.servers.push((r.clone(), body));
    }
    if !out.servers.is_empty() {
        out.warnings.push(
            "a Server makes its port default-deny: only traffic an AuthorizationPolicy allows gets \
             through, including kubelet probes"
                .to_owned(),
        );
    } else {
        out.warnings
            .push("the policy targets the namespace and governs only ports that have a Server".to_owned());
    }
    if !out.routes.is_empty() {
        out.warnings.push(
            "once an HTTPRoute is attached to a Server, requests matching no route are refused and the \
             default probe route disappears: give liveness and readiness probes their own HTTPRoute and \
             AuthorizationPolicy"
                .to_owned(),
        );
    }
    out
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn identity_example() {
        let p = "prod/frontend".parse().unwrap();
        assert_eq!(
            crate::translate::authorization::identity(&p, "cluster.local"),
            "frontend.prod.serviceaccount.identity.linkerd.cluster.local"
        );
    }

    #[test]
    fn objects_example() {
        use crate::{LinkerdVersion, translate::authorization::*};
        use mesh_core::*;
        use serde_json::json;
        let policy = AuthorizationPolicy {
            name: "allow-frontend".parse().unwrap(),
            namespace: "prod".parse().unwrap(),
            target: Some("api".parse().unwrap()),
            action: AuthzAction::Allow,
            rules: vec![AuthzRule {
                from: vec![AuthzSource {
                    principals: vec!["prod/frontend".parse().unwrap()],
                    ..Default::default()
                }],
                to: vec![],
            }],
        };
        let svc = json!({"spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}});
        let objs = objects(
            &policy,
            &servers(&policy, Some(&svc)),
            LinkerdVersion::V2_20,
            "cluster.local",
        );
        assert_eq!(objs.servers[0].1["spec"]["port"], 8080);
        assert_eq!(objs.authentications[0].0.kind, "MeshTLSAuthentication");
        assert_eq!(objs.policies[0].1["spec"]["targetRef"]["kind"], "Server");
    }
}
