//! Credentials in `PROMETHEUS_URL`, `TRACING_URL` and `KIALI_URL` never reach stdout or stderr,
//! `--debug` logs included, whether the URL is refused or the server is unreachable.

use assert_cmd::Command;

const SECRET: &str = "s3cret-do-not-print";

fn run(args: &[&str], env: &[(&str, String)]) -> String {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("CONSUL_HTTP_ADDR").env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A command line and the environment it runs with.
type Case = (Vec<&'static str>, Vec<(&'static str, String)>);

#[test]
fn url_credentials_are_never_printed() {
    // Port 1 on loopback: nothing listens, every request fails at once.
    let url = format!("http://ops:{SECRET}@127.0.0.1:1");
    let flag_url: &'static str = Box::leak(url.clone().into_boxed_str());
    let cases: Vec<Case> = vec![
        (
            vec!["--mesh", "istio", "--debug", "metrics", "reviews"],
            vec![("PROMETHEUS_URL", url.clone())],
        ),
        (
            vec!["--mesh", "istio", "--debug", "traces", "reviews"],
            vec![("TRACING_URL", url.clone()), ("TRACING_KIND", "jaeger".into())],
        ),
        (
            vec!["--mesh", "istio", "--debug", "graph", "prod"],
            vec![("KIALI_URL", url.clone())],
        ),
        (
            vec!["--mesh", "istio", "--debug", "metrics", "reviews"],
            vec![("PROMETHEUS_URL", format!("ftp://ops:{SECRET}@127.0.0.1:1"))],
        ),
        // The same URLs given as flags.
        (
            vec![
                "--mesh",
                "istio",
                "--debug",
                "--prometheus-url",
                flag_url,
                "metrics",
                "reviews",
            ],
            vec![],
        ),
        (
            vec![
                "--mesh",
                "linkerd",
                "--debug",
                "--tracing-url",
                flag_url,
                "--tracing-kind",
                "zipkin",
                "traces",
                "reviews",
            ],
            vec![],
        ),
        (
            vec![
                "--mesh",
                "istio",
                "--debug",
                "--kiali-url",
                flag_url,
                "graph",
                "prod",
            ],
            vec![],
        ),
    ];
    for (args, env) in cases {
        let output = run(&args, &env);
        assert!(!output.contains(SECRET), "{args:?} printed the secret:\n{output}");
        assert!(!output.is_empty(), "{args:?} failed silently");
    }
}

/// A kubeconfig whose server URL carries a password: kube-client logs request URLs at debug
/// level, so the password is moved to basic auth before any request.
#[test]
fn kubeconfig_url_credentials_are_never_printed() {
    let dir = std::env::temp_dir().join(format!("meshctl-kc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"http://u:{SECRET}@127.0.0.1:1\"}}}}]\n\
             users: [{{name: u, user: {{}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n"
        ),
    )
    .unwrap();
    let output = run(
        &[
            "--mesh", "istio", "--target", "apply", "--debug", "split", "api", "v1=50", "v2=50",
        ],
        &[("KUBECONFIG", kubeconfig.display().to_string())],
    );
    assert!(!output.contains(SECRET), "{output}");
    assert!(output.contains("error"), "{output}");
}

/// A token in `CONSUL_HTTP_ADDR`'s query or fragment, or its userinfo: the address is refused
/// (the Consul CLI takes an address, not a URL with a query) and the refusal does not show it.
#[test]
fn consul_address_credentials_are_never_printed() {
    for addr in [
        format!("http://127.0.0.1:1/?token={SECRET}"),
        format!("http://127.0.0.1:1/#{SECRET}"),
        format!("127.0.0.1:1?token={SECRET}"),
        format!("http://ops:{SECRET}@127.0.0.1:1/v1?token={SECRET}"),
    ] {
        let mut cmd = Command::cargo_bin("meshctl").unwrap();
        let out = cmd
            .env_remove("RUST_LOG")
            .env_remove("CONSUL_HTTP_TOKEN")
            .env("CONSUL_HTTP_ADDR", &addr)
            .args(["--mesh", "consul", "--debug", "rollout", "status", "api"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!output.contains(SECRET), "{addr}: printed the secret:\n{output}");
        assert!(!out.status.success(), "{addr}: accepted\n{output}");
        assert!(
            output.contains("CONSUL_HTTP_ADDR"),
            "{addr}: the refusal names no setting\n{output}"
        );
    }
}
