//! Golden files for the spec's examples: what the backend writes, rendered as `kubectl apply`
//! YAML (with the plan's warnings as comments, as the renderer writes them), or the refusal. `UPDATE_GOLDEN=1` rewrites them.

use crate::support;

use std::path::PathBuf;

use mesh_core::Change;
use mesh_linkerd::{Config, HttpRouteFlavour, LinkerdVersion, Snapshot};
use support::*;

async fn render(snap: &Snapshot, changes: &[Change], config: &Config) -> String {
    let mut out = String::new();
    let mut snap = snap.clone();
    for change in changes {
        out.push_str(&format!(
            "# {} on Linkerd {}\n",
            change.operation(),
            config.effective_version()
        ));
        match plan(&snap, change, config) {
            Ok(p) => {
                validate(&p, &snap, config.effective_version());
                p.check_safe_prefixes().unwrap();
                let mut yaml = Vec::new();
                mesh_kube::render::to_yaml(&p, &mut yaml).unwrap();
                out.push_str(&String::from_utf8(yaml).unwrap());
                snap.apply(&p).unwrap();
            }
            Err(e) => out.push_str(&format!("# error: {e}\n")),
        }
    }
    out
}

fn check(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.yaml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
    assert_eq!(actual, expected, "{name} differs from {}", path.display());
}

fn v(version: LinkerdVersion) -> Config {
    Config::default().version(version)
}

#[tokio::test]
async fn canary_90_10() {
    check(
        "canary-90-10",
        &render(&seeded(), &[canary()], &v(LinkerdVersion::V2_20)).await,
    );
    let gateway = v(LinkerdVersion::V2_16).http_route_flavour(HttpRouteFlavour::GatewayApi);
    check(
        "canary-90-10-gateway-api-2.16",
        &render(&seeded(), &[canary()], &gateway).await,
    );
    check(
        "canary-90-10-smi",
        &render(&seeded(), &[canary()], &v(LinkerdVersion::V2_20).smi(true)).await,
    );
}

#[tokio::test]
async fn routes_then_subsets() {
    check(
        "routes",
        &render(&seeded(), &[subsets(), routes()], &v(LinkerdVersion::V2_20)).await,
    );
}

#[tokio::test]
async fn circuit_breaker() {
    check(
        "circuit-breaker",
        &render(&seeded(), &[breaker()], &v(LinkerdVersion::V2_20)).await,
    );
}

#[tokio::test]
async fn retries() {
    check(
        "retries-2.20",
        &render(&seeded(), &[support::retries()], &v(LinkerdVersion::V2_20)).await,
    );
    check(
        "retries-2.14",
        &render(&seeded(), &[support::retries()], &opted_in(LinkerdVersion::V2_14)).await,
    );
}

#[tokio::test]
async fn mtls_with_authorization() {
    check(
        "mtls-with-authorization",
        &render(&seeded(), &[mtls(), authz()], &v(LinkerdVersion::V2_20)).await,
    );
    check(
        "mtls-with-authorization-2.14",
        &render(&seeded(), &[mtls(), authz()], &v(LinkerdVersion::V2_14)).await,
    );
}

#[tokio::test]
async fn faults() {
    check(
        "latency-fault",
        &render(&seeded(), &[delay()], &opted_in(LinkerdVersion::V2_20)).await,
    );
    let remove = Change::RemoveFault {
        fault_id: abort().fault_id(mesh_core::MeshKind::Linkerd).unwrap(),
    };
    check(
        "error-fault",
        &render(
            &seeded(),
            &[canary(), abort(), remove],
            &opted_in(LinkerdVersion::V2_20),
        )
        .await,
    );
    check(
        "error-fault-without-opt-in",
        &render(&seeded(), &[abort()], &v(LinkerdVersion::V2_20)).await,
    );
}

#[tokio::test]
async fn registration() {
    let unregister = Change::UnregisterService {
        service: "prod/ratings".parse().unwrap(),
    };
    check(
        "register-vm",
        &render(&seeded(), &[register_vm(), unregister], &v(LinkerdVersion::V2_20)).await,
    );
    check(
        "register-vm-2.14",
        &render(&seeded(), &[register_vm()], &v(LinkerdVersion::V2_14)).await,
    );
}
