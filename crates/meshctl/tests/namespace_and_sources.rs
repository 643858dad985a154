//! Where `meshctl` takes its namespace and its telemetry sources from, as a user sets them:
//! `-n`, else the kubeconfig context's namespace (`--kubeconfig` or `KUBECONFIG`, `--context`),
//! else `default`; and `--prometheus-url`/`--tracing-url`/`--kiali-url` over the environment.

use crate::support;

/// A kubeconfig with two contexts: `team-a` (the current one, namespace `team-a`) and `bare`
/// (no namespace).
fn kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("config");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: team-a\n\
         clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
         users:\n- name: u\n  user:\n    token: not-used\n\
         contexts:\n- name: team-a\n  context:\n    cluster: c\n    user: u\n    namespace: team-a\n\
         - name: bare\n  context:\n    cluster: c\n    user: u\n",
    )
    .unwrap();
    path
}

fn meshctl(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let r = support::meshctl(args, env);
    (r.code, r.stdout, r.stderr)
}

fn namespaces(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|l| l.trim().strip_prefix("namespace: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_namespace_comes_from_the_flag_else_the_kubeconfig_context_else_default() {
    let dir = tempfile_dir();
    let config = kubeconfig(&dir);
    let config = config.to_str().unwrap();
    let split = ["--mesh", "istio", "split", "reviews", "v1=100"];
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let args: Vec<&str> = extra.iter().chain(split.iter()).copied().collect();
        let (code, out, err) = meshctl(&args, env);
        assert_eq!(code, 0, "{args:?}: {err}");
        let ns = namespaces(&out);
        assert!(!ns.is_empty(), "{out}");
        ns.into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&[], &[]), ["default"], "no kubeconfig at all");
    assert_eq!(run(&["--kubeconfig", config], &[]), ["team-a"], "--kubeconfig");
    assert_eq!(run(&[], &[("KUBECONFIG", config)]), ["team-a"], "KUBECONFIG");
    assert_eq!(
        run(&["--kubeconfig", config, "--context", "bare"], &[]),
        ["default"],
        "a context without one"
    );
    assert_eq!(
        run(&["--kubeconfig", config, "-n", "prod"], &[]),
        ["prod"],
        "-n wins"
    );
    assert_eq!(run(&["--kubeconfig", config], &[]).len(), 1);

    // A positional namespace wins over one that only defaulted, and must agree with `-n`.
    let (code, out, err) = meshctl(&["--kubeconfig", config, "--mesh", "istio", "mtls", "prod"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(namespaces(&out), ["prod"]);
    let (code, _, err) = meshctl(
        &[
            "--kubeconfig",
            config,
            "--mesh",
            "istio",
            "-n",
            "x",
            "mtls",
            "prod",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("disagree"), "{err}");

    // Consul has no kubeconfig.
    let (code, out, err) = meshctl(
        &[
            "--kubeconfig",
            config,
            "--mesh",
            "consul",
            "-o",
            "json",
            "split",
            "reviews",
            "v1=100",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("team-a"), "{out}");
}

#[test]
fn a_missing_kubeconfig_file_is_named_when_a_cluster_is_needed() {
    let (code, _, err) = meshctl(
        &[
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "--mesh",
            "istio",
            "--target",
            "apply",
            "split",
            "reviews",
            "v1=100",
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/kubeconfig"), "{err}");
}

#[test]
fn telemetry_flags_win_over_the_environment() {
    // The flag points at a port where nothing listens; the environment at an unusable URL. The
    // error must come from the flag's address.
    let (code, _, err) = meshctl(
        &[
            "--mesh",
            "istio",
            "--prometheus-url",
            "http://127.0.0.1:1",
            "metrics",
            "reviews",
        ],
        &[("PROMETHEUS_URL", "not a url")],
    );
    assert_ne!(code, 0);
    assert!(err.contains("Prometheus"), "{err}");
    assert!(!err.contains("not a url"), "the environment was not used: {err}");
    // Without the flag, the environment's bad value is refused.
    let (code, _, err) = meshctl(
        &["--mesh", "istio", "metrics", "reviews"],
        &[("PROMETHEUS_URL", "not a url")],
    );
    assert_ne!(code, 0);
    assert!(err.to_lowercase().contains("url"), "{err}");
    // Neither: named as not configured, with the flag in the hint.
    let (code, _, err) = meshctl(&["--mesh", "istio", "traces", "reviews"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("not configured"), "{err}");
    // An unknown tracing kind by flag is refused, naming it.
    let (code, _, err) = meshctl(
        &[
            "--mesh",
            "istio",
            "--tracing-url",
            "http://127.0.0.1:1",
            "--tracing-kind",
            "skywalking",
            "traces",
            "reviews",
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("skywalking"), "{err}");
}

#[test]
fn help_names_each_flags_variable_without_its_value() {
    let (code, out, _) = meshctl(&["--help"], &[("PROMETHEUS_URL", "http://ops:s3cret@prom:9090")]);
    assert_eq!(code, 0);
    for v in [
        "PROMETHEUS_URL",
        "TRACING_URL",
        "TRACING_KIND",
        "KIALI_URL",
        "KUBECONFIG",
    ] {
        assert!(out.contains(v), "{v} in --help");
    }
    assert!(!out.contains("s3cret"), "{out}");
}

/// A fresh directory under the target dir (no tempfile dependency).
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("meshctl-ns-{}-{}", std::process::id(), line!()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
