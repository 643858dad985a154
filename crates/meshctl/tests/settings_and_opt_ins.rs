//! Every documented emulation opt-in and backend setting is reachable from the command line,
//! and does what it says in the render (the same settings reach `Mesh::connect_with` through
//! `mesh::ConnectOptions`): the trust domain, Istio's root namespace, Linkerd's fault error
//! backend, Consul's Lua abort emulation and its version/edition.

use crate::support;

fn meshctl(args: &[&str]) -> (i32, String, String) {
    let r = support::meshctl(args, &[]);
    (r.code, r.stdout, r.stderr)
}

#[test]
fn the_trust_domain_names_the_principals_on_istio_and_linkerd() {
    let authz = [
        "authz",
        "pol",
        "--service",
        "reviews",
        "--from-principal",
        "prod/frontend",
    ];
    let (code, out, err) =
        meshctl(&[&["--mesh", "istio", "--trust-domain", "example.org"][..], &authz].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("example.org/ns/prod/sa/frontend"), "{out}");
    support::validate(&out).unwrap();
    let (code, out, err) = meshctl(
        &[
            &["--mesh", "linkerd", "--trust-domain", "example.org"][..],
            &authz,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("frontend.prod.serviceaccount.identity.linkerd.example.org"),
        "{out}"
    );
    support::validate(&out).unwrap();
}

#[test]
fn istios_root_namespace_holds_mesh_wide_policy() {
    let (code, out, err) = meshctl(&[
        "--mesh",
        "istio",
        "--istio-root-namespace",
        "istio-config",
        "mtls",
        "istio-config",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("namespace: istio-config"), "{out}");
    support::validate(&out).unwrap();
}

#[test]
fn abort_emulations_are_refused_until_opted_into() {
    let abort = ["fault", "inject", "reviews", "--abort", "503", "--percent", "10"];
    let (code, _, err) = meshctl(&[&["--mesh", "linkerd"][..], &abort].concat());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("opt-in"), "{err}");
    let (code, out, err) = meshctl(
        &[
            &[
                "--mesh",
                "linkerd",
                "--linkerd-fault-backend",
                "error-injector:8080",
            ][..],
            &abort,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("name: error-injector"), "{out}");
    support::validate(&out).unwrap();

    let (code, _, err) = meshctl(&[&["--mesh", "consul"][..], &abort].concat());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("opt-in"), "{err}");
    let (code, out, err) = meshctl(
        &[
            &["--mesh", "consul", "--consul-lua-faults", "-o", "json"][..],
            &abort,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("builtin/lua"), "{out}");
}

#[test]
fn the_consul_edition_decides_what_renders() {
    let delay = ["fault", "inject", "reviews", "--delay", "2s", "--percent", "10"];
    let (code, _, err) = meshctl(&[&["--mesh", "consul"][..], &delay].concat());
    assert_eq!(code, 1, "CE has no delay faults: {err}");
    let (code, out, err) = meshctl(
        &[
            &["--mesh", "consul", "--consul-version", "1.18.0+ent", "-o", "json"][..],
            &delay,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("builtin/fault-injection"), "{out}");
    let (code, out, _) = meshctl(&[
        "--mesh",
        "consul",
        "--consul-version",
        "1.18.0+ent",
        "-o",
        "json",
        "capabilities",
    ]);
    assert_eq!(code, 0);
    let caps: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(caps.to_string().contains("Enterprise 1.18+"), "{caps}");
}

#[test]
fn malformed_settings_are_refused_naming_the_flag() {
    for (args, flag) in [
        (
            vec!["--mesh", "linkerd", "--linkerd-fault-backend", "foo"],
            "linkerd-fault-backend",
        ),
        (
            vec!["--mesh", "linkerd", "--linkerd-fault-backend", "foo:0"],
            "linkerd-fault-backend",
        ),
        (
            vec!["--mesh", "linkerd", "--linkerd-fault-backend", "Foo:80"],
            "linkerd-fault-backend",
        ),
        (
            vec!["--mesh", "consul", "--consul-version", "abc"],
            "consul-version",
        ),
        (vec!["--mesh", "istio", "--trust-domain", ""], "trust-domain"),
        (vec!["--mesh", "istio", "--trust-domain", "a/b"], "trust-domain"),
        (
            vec!["--mesh", "istio", "--istio-root-namespace", "Bad_NS"],
            "istio-root-namespace",
        ),
    ] {
        let (code, _, err) = meshctl(&[&args[..], &["split", "reviews", "v1=100"]].concat());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

/// `--app-label` and `--version-label` choose the instance labels that subsets, per-version
/// Services, workload selectors and policies select on, on every mesh (Consul: the service
/// metadata key its subset filters name). Before, `app` and `version` were fixed.
#[test]
fn the_selector_label_keys_are_set_on_every_mesh() {
    let k8s = [
        "--app-label",
        "app.kubernetes.io/name",
        "--version-label",
        "app.kubernetes.io/version",
    ];
    let split = ["split", "reviews", "v1=90", "v2=10"];
    for mesh in ["istio", "linkerd"] {
        let (code, out, err) = meshctl(&[&["--mesh", mesh][..], &k8s, &split].concat());
        assert_eq!(code, 0, "{mesh}: {err}");
        assert!(out.contains("app.kubernetes.io/version: v2"), "{mesh}: {out}");
        assert!(
            !out.contains("\n      version: v2"),
            "{mesh}: the old key is gone: {out}"
        );
        support::validate(&out).unwrap_or_else(|e| panic!("{mesh}: {e}"));
    }
    // Linkerd's per-version Services select on both keys.
    let (_, out, _) = meshctl(&[&["--mesh", "linkerd"][..], &k8s, &split].concat());
    assert!(out.contains("app.kubernetes.io/name: reviews"), "{out}");
    // Istio's authorization policy selects the workload by the app key.
    let authz = [
        "authz",
        "pol",
        "--service",
        "reviews",
        "--from-principal",
        "prod/frontend",
    ];
    let (_, out, _) = meshctl(&[&["--mesh", "istio"][..], &k8s, &authz].concat());
    assert!(out.contains("app.kubernetes.io/name: reviews"), "{out}");
    // Consul filters on a metadata key, which takes no '/' or '.': refused as such, exit 2.
    let (code, _, err) = meshctl(&[&["--mesh", "consul"][..], &k8s, &split].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("version_label"), "{err}");
    let (code, out, err) = meshctl(
        &[
            &["--mesh", "consul", "--version-label", "app_version"][..],
            &split,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Service.Meta.app_version == \"v2\""), "{out}");
    // A key that is not a label key is refused before anything renders.
    let (code, out, err) = meshctl(&[
        "--mesh",
        "istio",
        "--version-label",
        "Version Label",
        "split",
        "reviews",
        "v1=100",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty() && err.contains("version_label"), "{err}");
}
