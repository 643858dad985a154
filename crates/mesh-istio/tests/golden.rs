//! Golden tests for the spec's examples: the rendered YAML of each plan is compared with
//! `tests/golden/<name>.yaml`, and every object is validated against the pinned Istio schema.
//! Run with `UPDATE_GOLDEN=1` to rewrite the files after an intended change.

use crate::support;

use mesh_core::{Plan, RenderFormat};
use mesh_istio::Snapshot;
use mesh_kube::schema::SchemaSet;
use support::*;

fn check_golden(name: &str, plans: &[Plan]) {
    for plan in plans {
        for w in &plan.writes {
            if let Some(body) = &w.body {
                SchemaSet::bundled()
                    .validate(body)
                    .unwrap_or_else(|v| panic!("{} is invalid: {v:#?}", w.target));
            }
        }
    }
    let rendered: String = plans
        .iter()
        .map(|p| p.render(RenderFormat::Yaml).unwrap())
        .collect();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.yaml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
    assert_eq!(rendered, expected, "{name} differs from its golden file");
}

#[test]
fn canary_90_10() {
    let mut snap = Snapshot::default();
    check_golden("canary-90-10", &[run(&mut snap, &canary())]);
}

#[test]
fn circuit_breaker_field_by_field() {
    let mut snap = Snapshot::default();
    check_golden("circuit-breaker", &[run(&mut snap, &circuit_breaker())]);
}

#[test]
fn mtls_with_authorization() {
    let mut snap = Snapshot::default();
    let plans = [run(&mut snap, &mtls()), run(&mut snap, &authz())];
    check_golden("mtls-authorization", &plans);
}

#[test]
fn latency_fault_10_percent_3s() {
    let mut snap = Snapshot::default();
    run(&mut snap, &canary());
    check_golden("latency-fault", &[run(&mut snap, &latency_fault())]);
}

#[test]
fn retries_and_timeout() {
    let mut snap = Snapshot::default();
    run(&mut snap, &canary());
    check_golden("retries", &[run(&mut snap, &retries())]);
}
