//! The bundled schemas accept valid objects of every mesh and catch each kind of mistake.

use mesh_kube::schema::{SchemaSet, Violation};
use serde_json::{Value, json};

fn set() -> &'static SchemaSet {
    SchemaSet::bundled()
}

fn errors(obj: &Value) -> Vec<Violation> {
    set().validate(obj).expect_err("the object should be rejected")
}

fn ok(obj: &Value) {
    if let Err(v) = set().validate(obj) {
        panic!("{} {} rejected: {v:?}", obj["apiVersion"], obj["kind"]);
    }
}

fn vs(http: Value) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "hosts": ["reviews.prod.svc.cluster.local"], "http": http }
    })
}

fn canary() -> Value {
    vs(json!([{
        "name": "mesh-split",
        "timeout": "2s",
        "retries": { "attempts": 3, "perTryTimeout": "500ms", "retryOn": "5xx,reset" },
        "route": [
            { "destination": { "host": "reviews.prod.svc.cluster.local", "subset": "v1" }, "weight": 90 },
            { "destination": { "host": "reviews.prod.svc.cluster.local", "subset": "v2" }, "weight": 10 }
        ]
    }]))
}

#[test]
fn valid_objects_of_every_mesh_pass() {
    ok(&canary());
    ok(&json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": { "name": "reviews", "namespace": "prod", "labels": { "app.kubernetes.io/managed-by": "mesh" } },
        "spec": {
            "host": "reviews.prod.svc.cluster.local",
            "trafficPolicy": {
                "connectionPool": { "tcp": { "maxConnections": 100 }, "http": { "http1MaxPendingRequests": 10, "maxRetries": 3 } },
                "outlierDetection": { "consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50 }
            },
            "subsets": [ { "name": "v1", "labels": { "version": "v1" } }, { "name": "v2", "labels": { "version": "v2" } } ]
        }
    }));
    ok(&json!({
        "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": { "name": "billing", "namespace": "prod" },
        "spec": { "hosts": ["billing.prod.mesh"], "location": "MESH_INTERNAL", "resolution": "STATIC",
                  "ports": [{ "number": 8080, "name": "http", "protocol": "HTTP" }],
                  "workloadSelector": { "labels": { "app": "billing" } } }
    }));
    ok(&json!({
        "apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
        "metadata": { "name": "billing-1", "namespace": "prod" },
        "spec": { "address": "10.0.0.7", "labels": { "app": "billing" }, "ports": { "http": 8080 } }
    }));
    ok(&json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": "prod" },
        "spec": { "mtls": { "mode": "STRICT" } }
    }));
    ok(&json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": { "name": "allow-frontend", "namespace": "prod" },
        "spec": { "selector": { "matchLabels": { "app": "reviews" } }, "action": "ALLOW",
                  "rules": [{ "from": [{ "source": { "principals": ["cluster.local/ns/prod/sa/frontend"] } }],
                              "to": [{ "operation": { "methods": ["GET"], "paths": ["/api/*"], "ports": ["8080"] } }] }] }
    }));
    ok(&json!({
        "apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server",
        "metadata": { "name": "reviews-http", "namespace": "prod" },
        "spec": { "podSelector": { "matchLabels": { "app": "reviews" } }, "port": "http", "proxyProtocol": "HTTP/1" }
    }));
    ok(&json!({
        "apiVersion": "split.smi-spec.io/v1alpha2", "kind": "TrafficSplit",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "service": "reviews", "backends": [{ "service": "reviews-v1", "weight": 90 }, { "service": "reviews-v2", "weight": 10 }] }
    }));
    ok(&json!({
        "apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
        "metadata": { "name": "reviews.prod.svc.cluster.local", "namespace": "prod" },
        "spec": { "routes": [{ "name": "GET /api", "condition": { "method": "GET", "pathRegex": "/api" }, "isRetryable": true, "timeout": "2s" }],
                  "retryBudget": { "retryRatio": 0.2, "minRetriesPerSecond": 10, "ttl": "10s" } }
    }));
    ok(&json!({
        "apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceDefaults",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "protocol": "http" }
    }));
}

#[test]
fn nullable_fields_accept_null() {
    // `nullable: true` is a Kubernetes keyword plain JSON Schema would reject.
    let mut obj = canary();
    obj["spec"]["http"][0]["retries"]["retryRemoteLocalities"] = Value::Null;
    ok(&obj);
}

#[test]
fn wrong_types_are_caught() {
    let mut obj = canary();
    obj["spec"]["http"][0]["route"][0]["weight"] = json!("eighty");
    let v = errors(&obj);
    assert_eq!(v[0].path, "spec.http[0].route[0].weight");
    assert!(v[0].rule.is_none());
}

#[test]
fn bad_enums_are_caught() {
    let obj = json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": "prod" },
        "spec": { "mtls": { "mode": "STRICTEST" } }
    });
    let v = errors(&obj);
    assert_eq!(v[0].path, "spec.mtls.mode");
    assert!(v[0].message.contains("STRICT"), "{}", v[0].message);
}

#[test]
fn unknown_fields_are_caught() {
    let mut obj = canary();
    obj["spec"]["hostz"] = json!(["x"]);
    let v = errors(&obj);
    assert_eq!(v[0].path, "spec");
    assert!(v[0].message.contains("hostz"), "{}", v[0].message);
}

#[test]
fn missing_required_fields_are_caught() {
    let obj = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "subsets": [{ "name": "v1", "labels": { "version": "v1" } }] }
    });
    let v = errors(&obj);
    assert!(v[0].message.contains("host"), "{}", v[0].message);
}

#[test]
fn int_or_string_accepts_both() {
    let mut obj = json!({
        "apiVersion": "split.smi-spec.io/v1alpha1", "kind": "TrafficSplit",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "service": "reviews", "backends": [{ "service": "reviews-v1", "weight": "900m" }, { "service": "reviews-v2", "weight": 100 }] }
    });
    ok(&obj);
    obj["spec"]["backends"][0]["weight"] = json!(true);
    assert_eq!(errors(&obj)[0].path, "spec.backends[0].weight");
}

#[test]
fn cel_duration_rule_catches_sub_millisecond_timeouts() {
    let mut obj = canary();
    obj["spec"]["http"][0]["timeout"] = json!("500us");
    let v = errors(&obj);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].path, "spec.http[0].timeout");
    assert!(
        v[0].rule.as_deref().unwrap().contains("duration"),
        "{:?}",
        v[0].rule
    );
}

#[test]
fn cel_rules_on_authorization_policy_labels() {
    let obj = json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": { "name": "deny", "namespace": "prod" },
        "spec": { "selector": { "matchLabels": { "app": "web*" } }, "action": "DENY" }
    });
    let v = errors(&obj);
    assert!(v.iter().any(|v| v.message.contains("wildcard")), "{v:?}");
}

#[test]
fn cel_rules_on_service_entry_ports() {
    let se = |ports: Value| {
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": { "name": "billing", "namespace": "prod" },
            "spec": { "hosts": ["billing.prod.mesh"], "location": "MESH_INTERNAL", "resolution": "STATIC",
                      "ports": ports, "workloadSelector": { "labels": { "app": "billing" } } }
        })
    };
    let too_big = errors(&se(
        json!([{ "number": 70000, "name": "http", "protocol": "HTTP" }]),
    ));
    assert!(too_big.iter().all(|v| v.rule.is_some()), "{too_big:?}");
    let dup = errors(&se(json!([
        { "number": 80, "name": "http", "protocol": "HTTP" },
        { "number": 80, "name": "http2", "protocol": "HTTP" }
    ])));
    assert!(
        dup.iter()
            .any(|v| v.rule.as_deref().is_some_and(|r| r.contains("exists_one"))),
        "{dup:?}"
    );
}

#[test]
fn unknown_kinds_and_objects_without_kind_say_so() {
    let v = errors(&json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": "w" } }));
    assert_eq!(v[0].path, "kind");
    assert!(v[0].to_string().contains("example.com/v1 Widget"));
    let v = errors(&json!({ "metadata": { "name": "w" } }));
    assert!(v[0].message.contains("apiVersion"));
}

#[test]
fn gateway_api_bundles_differ() {
    let route = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": {
            "parentRefs": [{ "group": "", "kind": "Service", "name": "reviews", "port": 9080 }],
            "rules": [{ "backendRefs": [{ "name": "reviews-v1", "port": 9080, "weight": 90 },
                                        { "name": "reviews-v2", "port": 9080, "weight": 10 }],
                        "timeouts": { "request": "10s" } }]
        }
    });
    assert!(
        set()
            .validate_with_bundle(&route, Some("gateway-api-v1.6.1"))
            .is_ok()
    );
    assert!(
        set()
            .validate_with_bundle(&route, Some("linkerd-gateway-api-v1.1.1-experimental"))
            .is_ok()
    );
    let old = set()
        .validate_with_bundle(&route, Some("gateway-api-v1.1.1"))
        .unwrap_err();
    assert!(old[0].message.contains("timeouts"), "{old:?}");
    // The default bundle is the newest standard one.
    assert!(set().validate(&route).is_ok());
    let info = set()
        .lookup(
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            Some("gateway-api-v1.1.1"),
        )
        .unwrap();
    assert_eq!(info.bundle, Some("gateway-api-v1.1.1"));
}

#[test]
fn gateway_api_cel_rules_are_evaluated() {
    let route = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "rules": [{
            "filters": [
                { "type": "RequestRedirect", "requestRedirect": { "statusCode": 302 } },
                { "type": "URLRewrite", "urlRewrite": { "hostname": "x.example.com" } }
            ]
        }] }
    });
    let v = set()
        .validate_with_bundle(&route, Some("gateway-api-v1.1.1"))
        .unwrap_err();
    assert!(v.iter().all(|v| v.rule.is_some()), "{v:?}");
}

#[test]
fn every_cel_rule_compiles() {
    let set = set();
    assert!(
        set.unevaluated_rules().is_empty(),
        "{:?}",
        set.unevaluated_rules()
    );
    // Istio alone has 398 rules across its versions; Gateway API adds hundreds more.
    assert!(set.cel_rule_count() > 398, "{}", set.cel_rule_count());
}

#[test]
fn every_served_kind_of_every_mesh_is_known() {
    let set = set();
    for (api_version, kind) in [
        ("networking.istio.io/v1", "VirtualService"),
        ("networking.istio.io/v1beta1", "DestinationRule"),
        ("networking.istio.io/v1alpha3", "ServiceEntry"),
        ("security.istio.io/v1", "PeerAuthentication"),
        ("telemetry.istio.io/v1", "Telemetry"),
        ("policy.linkerd.io/v1beta3", "HTTPRoute"),
        ("policy.linkerd.io/v1alpha1", "AuthorizationPolicy"),
        ("workload.linkerd.io/v1beta1", "ExternalWorkload"),
        ("consul.hashicorp.com/v1alpha1", "ServiceIntentions"),
    ] {
        let info = set
            .lookup(api_version, kind, None)
            .unwrap_or_else(|| panic!("{api_version} {kind}"));
        assert!(info.served && info.namespaced, "{info:?}");
    }
}

#[test]
fn map_lists_refuse_duplicate_keys() {
    let route = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "rules": [{ "matches": [{ "headers": [
            { "name": "x-canary", "value": "1" }, { "name": "x-canary", "value": "2" }
        ] }] }] }
    });
    let v = errors(&route);
    assert_eq!(v[0].path, "spec.rules[0].matches[0].headers[1]");
    assert!(v[0].message.contains("duplicate"), "{}", v[0].message);
}
