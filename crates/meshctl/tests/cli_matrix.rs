//! Every subcommand, on every mesh, through the real binary: no panic (exit 101) anywhere, each
//! change either renders or is refused with a typed reason, and the `authz` subcommand (which once
//! panicked on every call) renders a policy that keeps its conditions.

use assert_cmd::Command;

use crate::support;

use support::change_commands as changes;

const MESHES: [&str; 3] = ["istio", "linkerd", "consul"];

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("CONSUL_HTTP_ADDR")
        .env_remove("RUST_LOG")
        .env_remove("KUBECONFIG")
        .env_remove("PROMETHEUS_URL")
        .env_remove("TRACING_URL")
        .env_remove("KIALI_URL")
        .env("HOME", std::env::temp_dir().join("meshctl-cli-matrix-home"));
    cmd
}

/// Subcommands that read a live control plane or a file; with none they must fail cleanly.
fn reads() -> Vec<Vec<&'static str>> {
    vec![
        vec!["unregister", "reviews"],
        vec!["fault", "remove", "istio-reviews-1"],
        vec!["mtls", "prod", "--status"],
        vec!["metrics", "reviews"],
        vec!["traces", "reviews"],
        vec!["graph", "prod"],
        vec!["plan", "split", "reviews", "v1=100"],
        vec!["diff", "split", "reviews", "v1=100"],
        vec!["events", "reviews"],
        vec!["capabilities"],
        vec!["completions", "bash"],
    ]
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mesh: &str, args: &[&str]) -> Run {
    // Consul CE has one namespace, `default`; any other is refused as an Enterprise feature.
    let namespace = if mesh == "consul" { "default" } else { "prod" };
    let out = meshctl()
        .args(["--mesh", mesh, "-n", namespace])
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn no_panic(mesh: &str, args: &[&str], r: &Run) -> Option<String> {
    (r.code == 101 || r.stderr.contains("panicked"))
        .then(|| format!("{mesh} {}: exit {} (panic)\n{}", args.join(" "), r.code, r.stderr))
}

#[test]
#[allow(clippy::print_stderr)] // the counts are the report
fn every_change_renders_or_is_refused_with_a_typed_reason_on_every_mesh() {
    let mut failures = Vec::new();
    let (mut count, mut validated) = (0, 0);
    for mesh in MESHES {
        for mut args in changes() {
            if mesh == "consul" && args[0] == "circuit-breaker" {
                // Consul sets breakers on the callers' upstream config.
                args.extend(["--caller", "frontend"]);
            }
            for format in ["yaml", "json", "table"] {
                count += 1;
                let mut with_format = vec!["-o", format];
                with_format.extend(&args);
                let r = run(mesh, &with_format);
                let shown = with_format.join(" ");
                failures.extend(no_panic(mesh, &with_format, &r));
                let refused = r.code == 1 && r.stderr.contains("does not support");
                if r.code != 0 && !refused {
                    failures.push(format!("{mesh} {shown}: exit {}\n{}", r.code, r.stderr));
                }
                if r.code == 0 && r.stdout.trim().is_empty() && !r.stderr.contains("nothing to write") {
                    failures.push(format!("{mesh} {shown}: rendered nothing, silently"));
                }
                // Every rendered Kubernetes object passes the project's own validator: the YAML
                // documents, and the JSON `List` that `kubectl apply -f -` takes.
                let kubernetes = r.code == 0 && mesh != "consul" && args[0] != "quickstart";
                let list = format == "json"
                    && serde_json::from_str::<serde_json::Value>(&r.stdout).is_ok_and(|v| {
                        v["kind"] == "List" && v["items"].as_array().is_some_and(|i| !i.is_empty())
                    });
                if kubernetes && !r.stdout.trim().is_empty() && (format == "yaml" || list) {
                    let v = meshctl()
                        .args(["validate", "-"])
                        .write_stdin(r.stdout.clone())
                        .output()
                        .unwrap();
                    if v.status.code() != Some(0) {
                        failures.push(format!(
                            "{mesh} {shown}: the render fails `meshctl validate`:\n{}",
                            String::from_utf8_lossy(&v.stdout)
                        ));
                    }
                    validated += 1;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 14 change subcommands x 3 meshes x 3 formats; the Istio and Linkerd YAML and JSON renders
    // go through validate.
    eprintln!("{count} renders (every change, mesh and -o format), {validated} fed to meshctl validate");
    assert!(count >= 120, "only {count} runs");
    assert!(validated >= 40, "only {validated} renders went through validate");
}

#[test]
fn every_read_fails_cleanly_without_a_control_plane_on_every_mesh() {
    let mut failures = Vec::new();
    for mesh in MESHES {
        for args in reads() {
            let r = run(mesh, &args);
            failures.extend(no_panic(mesh, &args, &r));
            if r.code != 0 && r.stderr.trim().is_empty() {
                failures.push(format!("{mesh} {}: failed silently", args.join(" ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn authz_renders_a_policy_that_keeps_its_source_and_method_on_every_mesh() {
    for mesh in MESHES {
        let args = [
            "-o",
            "json",
            "authz",
            "api-auth",
            "--service",
            "reviews",
            "--from-principal",
            "default/frontend",
            "--method",
            "GET",
        ];
        let r = run(mesh, &args);
        assert_eq!(r.code, 0, "{mesh}: {}", r.stderr);
        assert!(
            r.stdout.contains("frontend"),
            "{mesh}: the source is gone:\n{}",
            r.stdout
        );
        assert!(
            r.stdout.contains("GET"),
            "{mesh}: the method is gone:\n{}",
            r.stdout
        );
    }
}

/// `-n` works on `mtls` and `graph` too: their namespace argument is optional and defaults to it
/// (a required positional once swallowed the flag's role and refused `mtls -n prod`).
#[test]
fn dash_n_names_the_namespace_of_mtls() {
    let out = meshctl()
        .args(["--mesh", "istio", "-n", "shop", "-o", "json", "mtls"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"shop\""));
    let clash = meshctl()
        .args(["--mesh", "istio", "-n", "shop", "mtls", "prod"])
        .output()
        .unwrap();
    assert_eq!(
        clash.status.code(),
        Some(2),
        "two different namespaces are refused"
    );
}

/// `quickstart -o json` is one JSON document, on every mesh.
#[test]
fn quickstart_json_is_one_document() {
    for mesh in MESHES {
        let out = meshctl()
            .args(["--mesh", mesh, "-o", "json", "quickstart"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mesh}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
        assert_eq!(doc["steps"].as_array().map(Vec::len), Some(3), "{mesh}");
        assert!(doc["metrics_queries"]["requests"].is_string(), "{mesh}");
    }
}

/// A reader that goes away (`| head`) ends the command quietly: no "Broken pipe", no panic.
#[test]
fn a_closed_pipe_exits_quietly() {
    use std::process::{Command as Std, Stdio};
    for args in [vec!["completions", "zsh"], vec!["--mesh", "istio", "quickstart"]] {
        let mut child = Std::new(assert_cmd::cargo::cargo_bin("meshctl"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader closes at once
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {stderr}");
        assert!(
            !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

/// `mtls --status` without a control plane says what it needs, not that the mesh lacks it.
#[test]
fn mtls_status_in_render_mode_asks_for_a_control_plane() {
    for mesh in MESHES {
        let r = run(mesh, &["mtls", "--status"]);
        assert_eq!(r.code, 1, "{mesh}: {}", r.stderr);
        assert!(!r.stderr.contains("does not support"), "{mesh}: {}", r.stderr);
        assert!(r.stderr.contains("--target apply"), "{mesh}: {}", r.stderr);
    }
}

/// The spec's circuit breaker, refused on Linkerd and Consul, names every field that does not map
/// in one error (it once named only the first).
#[test]
fn a_refusal_names_every_field_that_does_not_map() {
    let spec_breaker = [
        "circuit-breaker",
        "reviews",
        "--max-connections",
        "100",
        "--timeout",
        "5s",
        "--max-retries",
        "3",
        "--consecutive-errors",
        "5",
        "--interval",
        "30s",
        "--base-ejection-time",
        "30s",
        "--max-ejection-percent",
        "50",
        "--caller",
        "frontend",
    ];
    let linkerd = run("linkerd", &spec_breaker);
    assert_eq!(linkerd.code, 1, "{}", linkerd.stderr);
    assert!(
        linkerd.stderr.contains("4 fields do not map"),
        "{}",
        linkerd.stderr
    );
    // Consul maps every field but one.
    let consul = run("consul", &spec_breaker);
    assert_eq!(consul.code, 1, "{}", consul.stderr);
    assert!(
        consul.stderr.contains("circuit_breaker.max_retries"),
        "{}",
        consul.stderr
    );
}

/// Rendering a fault prints the id that applying it creates (ids are stateless), on every mesh
/// that can render the fault.
#[test]
fn a_rendered_fault_prints_its_id() {
    for mesh in ["istio", "linkerd"] {
        let r = run(
            mesh,
            &["fault", "inject", "reviews", "--delay", "3s", "--percent", "10"],
        );
        if r.code == 0 {
            assert!(r.stderr.contains("fault id: fault:"), "{mesh}: {}", r.stderr);
        }
    }
    let r = run(
        "istio",
        &["fault", "inject", "reviews", "--delay", "3s", "--percent", "10"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Rendering `unregister` and `fault remove` says which objects `--target apply` will remove (it
/// used to fail with "not found": a render has no cluster), as YAML comments or one JSON object,
/// and refuses a fault id of another mesh.
#[test]
fn removals_say_what_apply_would_remove_on_every_mesh() {
    for mesh in MESHES {
        let ns = if mesh == "consul" { "default" } else { "prod" };
        let fault = format!("fault:{mesh}:{ns}/reviews:2a136372");
        for args in [
            vec!["unregister", "reviews"],
            vec!["fault", "remove", fault.as_str()],
        ] {
            let r = run(mesh, &args);
            assert_eq!(r.code, 0, "{mesh} {args:?}: {}", r.stderr);
            assert!(
                r.stdout.lines().all(|l| l.starts_with('#')),
                "{mesh} {args:?}: comments only:\n{}",
                r.stdout
            );
            assert!(
                r.stdout.contains("reviews") && r.stdout.contains("--target apply"),
                "{}",
                r.stdout
            );
            let mut json_args = vec!["-o", "json"];
            json_args.extend(&args);
            let r = run(mesh, &json_args);
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert!(
                !v["apply_reads_the_cluster_then"].as_array().unwrap().is_empty(),
                "{v}"
            );
        }
        let other = if mesh == "istio" { "linkerd" } else { "istio" };
        let foreign = format!("fault:{other}:{ns}/reviews:2a136372");
        let r = run(mesh, &["fault", "remove", &foreign]);
        assert_eq!(r.code, 2, "{mesh}: {}", r.stderr);
        assert!(r.stderr.contains("belongs to"), "{}", r.stderr);
    }
}

/// `1.2.0` is a label value, not a subset name: the subset (or per-version Service) is named
/// `1-2-0` and selects `version: "1.2.0"` as given, on every mesh.
#[test]
fn versions_as_people_write_them_keep_their_label_value() {
    for mesh in MESHES {
        let r = run(mesh, &["-o", "json", "split", "reviews", "1.2.0=90", "1.3.0=10"]);
        assert_eq!(r.code, 0, "{mesh}: {}", r.stderr);
        assert!(
            r.stdout.contains("1-2-0"),
            "{mesh}: the derived name:\n{}",
            r.stdout
        );
        let label = match mesh {
            "consul" => "Service.Meta.version == \\\"1.2.0\\\"",
            _ => "\"version\": \"1.2.0\"",
        };
        assert!(
            r.stdout.contains(label),
            "{mesh}: the label value {label}:\n{}",
            r.stdout
        );
    }
}

/// `-o json` on Istio and Linkerd is a Kubernetes `List` (what `kubectl apply -f -` takes) of the
/// same objects the YAML render prints, and `meshctl validate -` unpacks and passes it.
#[test]
fn json_renders_are_kubernetes_lists_of_the_yaml_objects() {
    let mut checked = 0;
    for mesh in ["istio", "linkerd"] {
        for args in changes() {
            if args[0] == "quickstart" || args[0] == "rollout" {
                continue; // several plans, each printed on its own
            }
            let yaml = run(mesh, &args);
            if yaml.code != 0 || yaml.stdout.trim().is_empty() {
                continue;
            }
            let mut json_args = vec!["-o", "json"];
            json_args.extend(args.iter().copied());
            let json = run(mesh, &json_args);
            assert_eq!(json.code, 0, "{mesh} {args:?}: {}", json.stderr);
            let list: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
            assert_eq!(
                (&list["apiVersion"], &list["kind"]),
                (&"v1".into(), &"List".into()),
                "{list}"
            );
            let from_yaml: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml.stdout).unwrap();
            let from_yaml: Vec<_> = from_yaml.into_iter().filter(|d| !d.is_null()).collect();
            assert_eq!(list["items"].as_array().unwrap(), &from_yaml, "{mesh} {args:?}");
            let v = meshctl()
                .args(["validate", "-"])
                .write_stdin(json.stdout.clone())
                .output()
                .unwrap();
            assert_eq!(
                v.status.code(),
                Some(0),
                "{mesh} {args:?}: {}",
                String::from_utf8_lossy(&v.stdout)
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} JSON renders checked");
}

/// A stderr that cannot be written (full, closed) drops the warnings; it is no panic (it once
/// exited 101 when a warning failed to print, as in `2>&1 | head`).
#[test]
fn a_full_stderr_is_not_a_panic() {
    use std::process::{Command as Std, Stdio};
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // not Linux
    };
    let out = Std::new(assert_cmd::cargo::cargo_bin("meshctl"))
        .args(["--mesh", "consul", "split", "api", "v1=90", "v2=10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(full))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("service-splitter"));
}
