//! Every example of the spec, on every mesh, through the real planners (no cluster): each one
//! plans writes that pass the offline validator, or is refused with the typed reason this table
//! names. Inputs are written in the spec's own shape (JSON as a user would send it) and read
//! through the project's input types. Events and SLO checks have tests of their own
//! (`crates/mesh/tests/events_carry_the_spec_fields.rs`, `mesh-observe`).

#![cfg(all(feature = "istio", feature = "linkerd", feature = "consul"))]

use mesh::{
    AuthorizationPolicy, Change, CircuitBreaker, Error, MeshKind, Plan, ServiceDefinition, ServiceId,
    TrafficSplit,
};
use mesh_kube::schema::SchemaSet;
use serde_json::json;

/// What an example must do on a mesh.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Plans writes (or, `Nothing`, none: the mesh already has it), all valid.
    Writes,
    Nothing,
    /// Refused as unsupported on this mesh, naming this in the feature or the reason.
    Unsupported(&'static str),
}

/// Each mesh's state, carried from one example to the next as if the plans were applied.
struct Meshes {
    istio: mesh::istio::Snapshot,
    linkerd: mesh::linkerd::Snapshot,
}

impl Meshes {
    fn new() -> Self {
        // Linkerd routes name the apex Service's port: the services of the examples exist.
        let mut linkerd = mesh::linkerd::Snapshot::default();
        for (ns, name) in [
            ("default", "my-service"),
            ("default", "api"),
            ("default", "backend"),
        ] {
            let id: ServiceId = format!("{ns}/{name}").parse().unwrap();
            linkerd.insert(
                mesh::linkerd::objects::service(&id),
                json!({"metadata": {"name": name, "namespace": ns},
                       "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080}]}}),
            );
        }
        Self {
            istio: mesh::istio::Snapshot::default(),
            linkerd,
        }
    }

    fn plan(&mut self, kind: MeshKind, change: &Change) -> Result<Plan, Error> {
        match kind {
            MeshKind::Istio => {
                let plan = mesh::istio::plan(change, &self.istio, &mesh::istio::Config::default())?;
                self.istio.apply(&plan)?;
                Ok(plan)
            }
            MeshKind::Linkerd => {
                let config = mesh::linkerd::Config::default();
                let version = config.effective_version();
                let plan = mesh::linkerd::plan(change, &self.linkerd, &config, version)?;
                self.linkerd.apply(&plan)?;
                Ok(plan)
            }
            MeshKind::Consul => {
                let ctx = mesh::consul::translate::Context::new(mesh::consul::ConsulVersion::default());
                mesh::consul::translate::plan(change, &ctx, &mesh::consul::translate::Snapshot::default())
            }
        }
    }
}

#[track_caller]
fn check(meshes: &mut Meshes, kind: MeshKind, example: &str, change: &Change, expect: Expect) {
    let result = meshes.plan(kind, change);
    match (expect, result) {
        (Expect::Writes | Expect::Nothing, Ok(plan)) => {
            assert_eq!(
                plan.writes.is_empty(),
                expect == Expect::Nothing,
                "{example} on {kind}: {plan:#?}"
            );
            if kind != MeshKind::Consul {
                SchemaSet::bundled()
                    .validate_plan(&plan, None)
                    .unwrap_or_else(|bad| panic!("{example} on {kind}: invalid objects {bad:#?}"));
            }
        }
        (
            Expect::Unsupported(feature),
            Err(Error::Unsupported {
                mesh,
                feature: f,
                reason,
            }),
        ) => {
            assert_eq!(mesh, kind, "{example}");
            assert!(
                f.as_str().contains(feature) || reason.contains(feature),
                "{example} on {kind}: refused for {f}, not {feature}: {reason}"
            );
            assert!(!reason.is_empty());
        }
        (expect, got) => panic!("{example} on {kind}: expected {expect:?}, got {got:?}"),
    }
}

const ALL: [MeshKind; 3] = [MeshKind::Istio, MeshKind::Linkerd, MeshKind::Consul];

/// Quick Start: register `my-service` (port 8080, http, `metadata.version: v1`), split 90/10,
/// `enableMTLS('default')`.
#[test]
fn quick_start() {
    let def: ServiceDefinition = serde_json::from_value(json!({
        "name": "my-service", "namespace": "default", "port": 8080, "protocol": "http",
        "metadata": { "version": "v1" }
    }))
    .unwrap();
    let split: TrafficSplit =
        serde_json::from_value(json!([{ "version": "v1", "weight": 90 }, { "version": "v2", "weight": 10 }]))
            .unwrap();
    for kind in ALL {
        let mut m = Meshes::new();
        // Istio and Linkerd discover a plain Kubernetes Service on their own: nothing to write.
        let register = if kind == MeshKind::Consul {
            Expect::Writes
        } else {
            Expect::Nothing
        };
        check(
            &mut m,
            kind,
            "registerService",
            &Change::RegisterService(def.clone()),
            register,
        );
        let set = Change::SetTrafficWeight {
            service: "default/my-service".parse().unwrap(),
            split: split.clone(),
        };
        check(&mut m, kind, "setTrafficWeight", &set, Expect::Writes);
        let mtls = Change::EnableMtls {
            namespace: "default".parse().unwrap(),
        };
        check(&mut m, kind, "enableMTLS", &mtls, Expect::Writes);
        // getServiceMetrics: the mesh's PromQL for the last hour.
        let dialect = mesh::telemetry::promql::Dialect::for_mesh(kind);
        let q = dialect.service_requests_query("default", "my-service", std::time::Duration::from_secs(3600));
        assert!(q.contains("my-service") && q.contains("[3600s]"), "{kind}: {q}");
    }
}

/// Canary: `createCanaryDeployment('api', 'v1', 'v2', 10)`, then 25.
#[test]
fn canary_deployment() {
    let api: ServiceId = "default/api".parse().unwrap();
    for kind in ALL {
        let mut m = Meshes::new();
        for pct in [10, 25] {
            let s = mesh::patterns::create_canary_deployment(&api, "v1", "v2", pct).unwrap();
            let change = Change::SetTrafficWeight {
                service: s.service,
                split: s.split,
            };
            check(&mut m, kind, &format!("canary {pct}%"), &change, Expect::Writes);
        }
    }
}

/// Circuit breaker, verbatim: `interval: 30` and `baseEjectionTime: 30` are refused as ambiguous
/// on every mesh; written with units, each mesh does what it can.
#[test]
fn circuit_breaker() {
    let verbatim = json!({ "maxConnections": 100, "timeout": 5000, "maxRetries": 3,
        "consecutiveErrors": 5, "interval": 30, "baseEjectionTime": 30, "maxEjectionPercent": 50 });
    let err = serde_json::from_value::<CircuitBreaker>(verbatim)
        .unwrap_err()
        .to_string();
    assert!(err.contains("30s") && err.contains("30ms"), "{err}");

    let with_units: CircuitBreaker = serde_json::from_value(json!({ "maxConnections": 100, "timeout": 5000,
        "maxRetries": 3, "consecutiveErrors": 5, "interval": "30s", "baseEjectionTime": "30s",
        "maxEjectionPercent": 50 }))
    .unwrap();
    let change = Change::ConfigureCircuitBreaker {
        service: "default/backend".parse().unwrap(),
        circuit_breaker: with_units,
        // Consul sets breakers on the callers' upstream settings.
        callers: vec!["frontend".parse().unwrap()],
    };
    for (kind, expect) in [
        (MeshKind::Istio, Expect::Writes),
        (MeshKind::Linkerd, Expect::Unsupported("circuit_breaker")),
        (MeshKind::Consul, Expect::Unsupported("circuit_breaker")),
    ] {
        check(
            &mut Meshes::new(),
            kind,
            "configureCircuitBreaker",
            &change,
            expect,
        );
    }
}

/// mTLS and authorization in `production`, the spec's nested rule shape.
#[test]
fn mtls_and_authorization() {
    let policy: AuthorizationPolicy = serde_json::from_value(json!({
        "name": "api-auth", "namespace": "production", "action": "ALLOW",
        "rules": [{
            "from": [{ "source": { "principals": ["cluster.local/ns/production/sa/frontend"] } }],
            "to": [{ "operation": { "methods": ["GET", "POST"] } }]
        }]
    }))
    .unwrap();
    let mtls = Change::EnableMtls {
        namespace: "production".parse().unwrap(),
    };
    let authz = Change::CreateAuthorizationPolicy(policy.clone());
    let mut m = Meshes::new();
    check(&mut m, MeshKind::Istio, "enableMTLS", &mtls, Expect::Writes);
    check(
        &mut m,
        MeshKind::Istio,
        "createAuthorizationPolicy",
        &authz,
        Expect::Writes,
    );
    // Linkerd: method rules ride an HTTPRoute on a Server, which a namespace-wide policy (the
    // spec's, with no target) does not have; the capability table says so. With a target Service
    // the same policy is written.
    let mut m = Meshes::new();
    check(&mut m, MeshKind::Linkerd, "enableMTLS", &mtls, Expect::Writes);
    check(
        &mut m,
        MeshKind::Linkerd,
        "createAuthorizationPolicy",
        &authz,
        Expect::Unsupported("authz.to.methods"),
    );
    let api: ServiceId = "production/api".parse().unwrap();
    m.linkerd.insert(
        mesh::linkerd::objects::service(&api),
        json!({"metadata": {"name": "api", "namespace": "production"},
               "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 8080}]}}),
    );
    let targeted = Change::CreateAuthorizationPolicy(AuthorizationPolicy {
        target: Some("api".parse().unwrap()),
        ..policy
    });
    check(
        &mut m,
        MeshKind::Linkerd,
        "createAuthorizationPolicy (target api)",
        &targeted,
        Expect::Writes,
    );
    let caps = mesh::linkerd::capabilities(Default::default(), &mesh::linkerd::Config::default());
    let said = format!("{:?}", caps.support(mesh::Feature::AuthzMethods));
    assert!(said.contains("namespace-wide policy"), "{said}");
    // Consul CE has one namespace, `default`: `production` is an Enterprise namespace.
    let mut m = Meshes::new();
    check(
        &mut m,
        MeshKind::Consul,
        "enableMTLS",
        &mtls,
        Expect::Unsupported("namespace"),
    );
    check(
        &mut m,
        MeshKind::Consul,
        "createAuthorizationPolicy",
        &authz,
        Expect::Unsupported("namespace"),
    );
}

/// Fault injection: `createLatencyFault(10, 3000)` on `backend`, then `removeFault`.
#[test]
fn fault_injection() {
    let fault = mesh::patterns::latency_fault(10.0, std::time::Duration::from_millis(3000)).unwrap();
    let inject = Change::InjectFault {
        service: "default/backend".parse().unwrap(),
        fault,
    };
    for (kind, expect) in [
        (MeshKind::Istio, Expect::Writes),
        (MeshKind::Linkerd, Expect::Unsupported("fault.delay")),
        (MeshKind::Consul, Expect::Unsupported("fault.delay")),
    ] {
        let mut m = Meshes::new();
        check(&mut m, kind, "injectFault", &inject, expect);
        if expect == Expect::Writes {
            let plan = m.plan(kind, &inject).unwrap_or_else(|e| panic!("{kind}: {e}"));
            let mesh::MeshEvent::FaultInjected { fault_id, .. } = plan.event else {
                panic!("{kind}: {:?}", plan.event)
            };
            let remove = Change::RemoveFault { fault_id };
            check(&mut m, kind, "removeFault", &remove, Expect::Writes);
        }
    }
}
