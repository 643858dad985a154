//! Cross-object checks that no single schema can express, run by `meshctl validate` over every
//! object of every file given:
//!
//! - Istio: a VirtualService route to a subset that no DestinationRule for the same host defines
//!   (the 503 `NR` of istio/istio#6335);
//! - consul-k8s: a ServiceSplitter or ServiceRouter for a service whose ServiceDefaults (when given)
//!   does not set an L7 protocol, and a split or route to a subset that the service's
//!   ServiceResolver (when given) does not define — the writes Consul rejects.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A problem spanning several objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// The object at fault, `Kind namespace/name`.
    pub(crate) object: String,
    /// What is wrong.
    pub(crate) message: String,
}

fn ns(doc: &Value) -> &str {
    doc["metadata"]["namespace"].as_str().unwrap_or("default")
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or("?")
}

fn label(doc: &Value) -> String {
    format!(
        "{} {}/{}",
        doc["kind"].as_str().unwrap_or("?"),
        ns(doc),
        name(doc)
    )
}

/// Expands a short Istio host to its FQDN in `namespace` (short names resolve in the rule's namespace).
fn fqdn(host: &str, namespace: &str) -> String {
    match host.matches('.').count() {
        0 => format!("{host}.{namespace}.svc.cluster.local"),
        1 => format!("{host}.svc.cluster.local"),
        _ => host.to_owned(),
    }
}

fn is(doc: &Value, group: &str, kind: &str) -> bool {
    doc["kind"] == kind && doc["apiVersion"].as_str().is_some_and(|v| v.starts_with(group))
}

/// Runs every check over `docs`.
///
/// ```text
/// VS reviews -> subset v3, DR reviews defines v1, v2  =>  "routes to subset v3 of reviews..., which no DestinationRule defines"
/// ```
pub(crate) fn check(docs: &[Value]) -> Vec<Finding> {
    let mut out = istio_subsets(docs);
    out.extend(consul_chains(docs));
    out
}

fn istio_subsets(docs: &[Value]) -> Vec<Finding> {
    let mut subsets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for dr in docs
        .iter()
        .filter(|d| is(d, "networking.istio.io/", "DestinationRule"))
    {
        let host = fqdn(dr["spec"]["host"].as_str().unwrap_or_default(), ns(dr));
        let names = dr["spec"]["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str());
        subsets.entry(host).or_default().extend(names.map(str::to_owned));
    }
    let mut out = Vec::new();
    for vs in docs
        .iter()
        .filter(|d| is(d, "networking.istio.io/", "VirtualService"))
    {
        let routes = vs["spec"]["http"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|h| h["route"].as_array().into_iter().flatten());
        for dest in routes.map(|r| &r["destination"]) {
            let (Some(host), Some(subset)) = (dest["host"].as_str(), dest["subset"].as_str()) else {
                continue;
            };
            let host = fqdn(host, ns(vs));
            if !subsets.get(&host).is_some_and(|s| s.contains(subset)) {
                out.push(Finding {
                    object: label(vs),
                    message: format!(
                        "routes to subset {subset} of {host}, which no DestinationRule in these files defines (Envoy answers 503 NR)"
                    ),
                });
            }
        }
    }
    out
}

fn consul_chains(docs: &[Value]) -> Vec<Finding> {
    let group = "consul.hashicorp.com/";
    let key = |d: &Value| (ns(d).to_owned(), name(d).to_owned());
    let protocols: BTreeMap<_, _> = docs
        .iter()
        .filter(|d| is(d, group, "ServiceDefaults"))
        .map(|d| (key(d), d["spec"]["protocol"].as_str().unwrap_or("tcp").to_owned()))
        .collect();
    let resolvers: BTreeMap<_, BTreeSet<String>> = docs
        .iter()
        .filter(|d| is(d, group, "ServiceResolver"))
        .map(|d| {
            (
                key(d),
                d["spec"]["subsets"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for doc in docs
        .iter()
        .filter(|d| is(d, group, "ServiceSplitter") || is(d, group, "ServiceRouter"))
    {
        if let Some(p) = protocols.get(&key(doc))
            && !matches!(p.as_str(), "http" | "http2" | "grpc")
        {
            out.push(Finding {
                object: label(doc),
                message: format!(
                    "its ServiceDefaults sets protocol {p:?}; splitters and routers need http, http2 or grpc"
                ),
            });
        }
        let targets: Vec<&Value> = if doc["kind"] == "ServiceSplitter" {
            doc["spec"]["splits"].as_array().into_iter().flatten().collect()
        } else {
            doc["spec"]["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| &r["destination"])
                .collect()
        };
        for t in targets {
            let Some(subset) = t["serviceSubset"].as_str().filter(|s| !s.is_empty()) else {
                continue;
            };
            let service = t["service"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or(name(doc));
            if let Some(defined) = resolvers.get(&(ns(doc).to_owned(), service.to_owned()))
                && !defined.contains(subset)
            {
                out.push(Finding {
                    object: label(doc),
                    message: format!(
                        "uses subset {subset} of {service}, which its ServiceResolver does not define"
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_route_to_an_undefined_subset_is_found_across_files() {
        let dr = json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "reviews", "namespace": "prod"},
            "spec": {"host": "reviews", "subsets": [{"name": "v1"}, {"name": "v2"}]}});
        let vs = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "prod"},
            "spec": {"hosts": ["reviews"], "http": [{"route": [
                {"destination": {"host": "reviews.prod.svc.cluster.local", "subset": "v2"}},
                {"destination": {"host": "reviews", "subset": "v3"}}]}]}});
        let findings = check(&[dr, vs]);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0]
                .message
                .contains("subset v3 of reviews.prod.svc.cluster.local"),
            "{findings:?}"
        );
    }

    #[test]
    fn a_consul_splitter_needs_l7_and_resolver_subsets() {
        let defaults = json!({"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceDefaults",
            "metadata": {"name": "api"}, "spec": {"protocol": "tcp"}});
        let resolver = json!({"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceResolver",
            "metadata": {"name": "api"}, "spec": {"subsets": {"v1": {"filter": "Service.Meta.version == v1"}}}});
        let splitter = json!({"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceSplitter",
            "metadata": {"name": "api"}, "spec": {"splits": [{"weight": 90, "serviceSubset": "v1"}, {"weight": 10, "serviceSubset": "v2"}]}});
        let findings = check(&[defaults, resolver, splitter]);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("protocol \"tcp\""));
        assert!(messages[1].contains("subset v2 of api"));
    }
}
