//! A token or password about to cross the network in clear text (`http://` to a host that is not
//! this machine) gets a warning on stderr, without the secret; loopback and `https://` get none.
//! `0.0.0.0` is not loopback by name, yet connecting to it fails at once here.

use crate::support;

const SECRET: &str = "s3cret-token";

fn stderr(args: &[&str], env: &[(&str, &str)]) -> String {
    let r = support::meshctl(args, env);
    assert!(
        !r.stderr.contains(SECRET),
        "{args:?} printed the secret: {}",
        r.stderr
    );
    assert!(!r.stdout.contains(SECRET));
    r.stderr
}

fn warned(err: &str) -> bool {
    err.contains("clear text")
}

#[test]
fn a_consul_token_over_plain_http_to_another_host_is_warned_about() {
    let apply = [
        "--mesh", "consul", "--target", "apply", "split", "reviews", "v1=100",
    ];
    let far = stderr(
        &apply,
        &[
            ("CONSUL_HTTP_ADDR", "http://0.0.0.0:1"),
            ("CONSUL_HTTP_TOKEN", SECRET),
        ],
    );
    assert!(warned(&far), "{far}");
    assert!(far.contains("Consul token"), "{far}");
    let near = stderr(
        &apply,
        &[
            ("CONSUL_HTTP_ADDR", "http://127.0.0.1:1"),
            ("CONSUL_HTTP_TOKEN", SECRET),
        ],
    );
    assert!(!warned(&near), "{near}");
    let no_token = stderr(&apply, &[("CONSUL_HTTP_ADDR", "http://0.0.0.0:1")]);
    assert!(!warned(&no_token), "{no_token}");
}

#[test]
fn prometheus_credentials_over_plain_http_to_another_host_are_warned_about() {
    let far_url = format!("http://ops:{SECRET}@0.0.0.0:1");
    let far = stderr(
        &[
            "--mesh",
            "istio",
            "--prometheus-url",
            &far_url,
            "metrics",
            "reviews",
        ],
        &[],
    );
    assert!(warned(&far) && far.contains("Prometheus"), "{far}");
    let near_url = format!("http://ops:{SECRET}@127.0.0.1:1");
    let near = stderr(
        &[
            "--mesh",
            "istio",
            "--prometheus-url",
            &near_url,
            "metrics",
            "reviews",
        ],
        &[],
    );
    assert!(!warned(&near), "{near}");
    let anonymous = stderr(
        &[
            "--mesh",
            "istio",
            "--prometheus-url",
            "http://0.0.0.0:1",
            "metrics",
            "reviews",
        ],
        &[],
    );
    assert!(!warned(&anonymous), "{anonymous}");
}

#[test]
fn a_kubernetes_token_over_plain_http_to_another_host_is_warned_about() {
    let dir = std::env::temp_dir().join(format!("meshctl-cleartext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, server: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
                 clusters: [{{name: c, cluster: {{server: \"{server}\"}}}}]\n\
                 users: [{{name: u, user: {{token: {SECRET}}}}}]\n\
                 contexts: [{{name: c, context: {{cluster: c, user: u}}}}]\n"
            ),
        )
        .unwrap();
        path
    };
    let far = write("far", "http://0.0.0.0:1");
    let near = write("near", "http://127.0.0.1:1");
    let apply = |config: &std::path::Path| {
        stderr(
            &[
                "--kubeconfig",
                config.to_str().unwrap(),
                "--mesh",
                "istio",
                "--target",
                "apply",
                "split",
                "reviews",
                "v1=100",
            ],
            &[],
        )
    };
    let err = apply(&far);
    assert!(warned(&err) && err.contains("Kubernetes credentials"), "{err}");
    let err = apply(&near);
    assert!(!warned(&err), "{err}");
}
