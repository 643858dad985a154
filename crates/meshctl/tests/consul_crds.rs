//! `--consul-crds`: a Consul render as consul-k8s custom resources. Every change subcommand
//! renders resources that pass `meshctl validate` against the pinned consul-k8s CRDs (their
//! admission on a real API server is checked by `admission_agreement`), and writes no resource
//! declares (agent registrations) are said on stderr.

use crate::support;

use support::{change_commands, meshctl, render_consul_crds as render, validate};

#[test]
fn every_change_renders_resources_that_validate() {
    let mut rendered = 0;
    let mut failures = Vec::new();
    for args in change_commands() {
        let r = render(&args);
        if args[0] == "rollout" {
            // A rollout drives a control plane: refused before anything runs.
            assert_eq!(r.code, 2, "{}", r.stderr);
            assert!(r.stderr.contains("--consul-crds renders changes"), "{}", r.stderr);
            continue;
        }
        if r.code == 1 && r.stderr.contains("consul does not support") {
            continue; // a typed refusal (cli_matrix checks them)
        }
        if r.code != 0 {
            failures.push(format!("{}: exit {}: {}", args.join(" "), r.code, r.stderr));
            continue;
        }
        if r.stdout.trim().is_empty() {
            continue; // nothing a resource declares (an agent registration)
        }
        assert!(
            !r.stdout.contains("Kind: service-"),
            "{}: an entry, not a resource",
            args.join(" ")
        );
        rendered += 1;
        if let Err(report) = validate(&r.stdout) {
            failures.push(format!("{}: {report}", args.join(" ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(rendered >= 10, "{rendered} renders");
}

#[test]
fn resources_carry_the_namespace_and_consul_k8s_names() {
    let r = render(&["split", "reviews", "v1=90", "v2=10", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ServiceDefaults", "ServiceResolver", "ServiceSplitter"]);
    let splitter = &list["items"][2];
    assert_eq!(splitter["apiVersion"], "consul.hashicorp.com/v1alpha1");
    assert_eq!(splitter["metadata"]["namespace"], "default");
    assert_eq!(
        splitter["spec"]["splits"],
        serde_json::json!([{"weight": 90, "serviceSubset": "v1"}, {"weight": 10, "serviceSubset": "v2"}])
    );
}

#[test]
fn a_registration_is_said_not_rendered() {
    let r = render(&[
        "register",
        "ratings",
        "--port",
        "9080",
        "--endpoint",
        "10.0.0.12:9080",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("consul-k8s registers"), "{}", r.stderr);
    assert!(!r.stdout.contains("agent"), "{}", r.stdout);
}

#[test]
fn crds_are_for_consul_and_exclude_files() {
    let istio = meshctl(
        &["--mesh", "istio", "--consul-crds", "split", "reviews", "v1=100"],
        &[],
    );
    assert_eq!(istio.code, 2, "{}", istio.stderr);
    assert!(
        istio.stderr.contains("--consul-crds is for Consul"),
        "{}",
        istio.stderr
    );
    let both = meshctl(
        &[
            "--mesh",
            "consul",
            "--consul-crds",
            "--consul-files",
            "/tmp/x",
            "split",
            "reviews",
            "v1=100",
        ],
        &[],
    );
    assert_eq!(both.code, 2, "{}", both.stderr);
    // Only rendering renders resources: applying, planning and diffing refuse the flag before
    // contacting anything.
    for args in [
        &["--target", "apply", "split", "reviews", "v1=100"][..],
        &["plan", "split", "reviews", "v1=100"],
        &["diff", "split", "reviews", "v1=100"],
    ] {
        let r = meshctl(&[&["--mesh", "consul", "--consul-crds"][..], args].concat(), &[]);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("--consul-crds"), "{}", r.stderr);
    }
}

/// On Consul CE the entries live in Consul's one namespace, and `-n` is the Kubernetes namespace
/// the resources go to (it once was refused as a Consul Enterprise namespace). A removal renders
/// no resources: refused.
#[test]
fn the_kubernetes_namespace_is_not_a_consul_namespace_on_ce() {
    let r = meshctl(
        &[
            "--mesh",
            "consul",
            "-n",
            "prod",
            "--consul-crds",
            "split",
            "api",
            "v1=90",
            "v2=10",
            "-o",
            "json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    assert!(
        items.iter().all(|i| i["metadata"]["namespace"] == "prod"),
        "{list}"
    );
    validate(&r.stdout).unwrap();
    for args in [
        &["unregister", "api"][..],
        &["fault", "remove", "fault:consul:default/api:2a136372"],
    ] {
        let r = meshctl(&[&["--mesh", "consul", "--consul-crds"][..], args].concat(), &[]);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
}
