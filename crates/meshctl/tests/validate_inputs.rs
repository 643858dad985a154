//! `meshctl validate` as people use it on real repositories: a missing file does not stop the
//! run, `-` reads stdin, a directory means its YAML files, `-o json` is a report, a route whose
//! DestinationRule lives in another file is a warning (unless `--strict`), and Linkerd's
//! experimental Gateway API bundle can be chosen.

use assert_cmd::Command;

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("RUST_LOG");
    cmd
}

fn corpus(dir: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir)
}

#[test]
fn a_missing_file_is_reported_and_the_others_are_still_validated() {
    let out = meshctl()
        .arg("validate")
        .arg("/nonexistent/file.yaml")
        .arg(corpus("valid"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("error   /nonexistent/file.yaml"), "{text}");
    assert_eq!(
        text.matches("\nok      ").count() + usize::from(text.starts_with("ok ")),
        5,
        "{text}"
    );
}

#[test]
fn stdin_and_json_output() {
    let yaml = std::fs::read_to_string(corpus("invalid").join("bad-enum.yaml")).unwrap();
    let out = meshctl()
        .args(["-o", "json", "validate", "-"])
        .write_stdin(yaml)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["objects"][0]["kind"], "PeerAuthentication");
    assert!(
        report["objects"][0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("SUPERSTRICT")
    );
}

#[test]
fn a_subset_defined_elsewhere_is_a_warning_unless_strict() {
    let file = corpus("warn").join("missing-subset.yaml");
    let out = meshctl().arg("validate").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("warning "), "{text}");
    let strict = meshctl()
        .args(["validate", "--strict"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(5));
}

#[test]
fn linkerds_experimental_gateway_api_accepts_timeouts() {
    let route = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: prod}
spec:
  parentRefs: [{group: core, kind: Service, name: reviews, port: 9080}]
  rules: [{timeouts: {request: 10s}, backendRefs: [{name: reviews-v1, port: 9080}]}]
"#;
    let standard = meshctl()
        .args(["validate", "--gateway-api", "1.1.1", "-"])
        .write_stdin(route)
        .output()
        .unwrap();
    assert_eq!(standard.status.code(), Some(5), "standard 1.1.1 has no timeouts");
    let linkerd = meshctl()
        .args([
            "validate",
            "--gateway-api",
            "linkerd-gateway-api-v1.1.1-experimental",
            "-",
        ])
        .write_stdin(route)
        .output()
        .unwrap();
    assert_eq!(
        linkerd.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&linkerd.stdout)
    );
}

/// An empty input is not a pass: `meshctl render | meshctl validate -` must fail when the render
/// printed nothing.
#[test]
fn no_objects_is_not_a_pass() {
    let out = meshctl()
        .args(["validate", "-"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no objects"));
}

/// An input over the YAML parser's document budget (1,024) still gets a verdict per object: each
/// document is parsed on its own. A broken document and one over the node budget are reported by
/// number, and the rest keep their verdicts. (The whole input was once "not YAML".)
#[test]
fn a_large_input_gets_a_verdict_per_object() {
    let mut yaml: Vec<String> = (0..1500)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: default}}\n"))
        .collect();
    yaml.push("kind: [unclosed\n".to_owned());
    yaml.push("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n".to_owned());
    let mut huge = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n");
    for i in 0..260_000 {
        huge.push_str(&format!("  k{i}: v\n"));
    }
    yaml.push(huge);
    let out = meshctl()
        .args(["validate", "-", "-o", "json"])
        .write_stdin(yaml.join("---\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1501, "every readable document has a verdict");
    let bad = objects.iter().find(|o| o["name"] == "Bad_Name").unwrap();
    assert_eq!(bad["source"], "-#1502");
    assert!(!bad["problems"].as_array().unwrap().is_empty());
    let unreadable: Vec<&str> = report["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(unreadable.len(), 2, "{unreadable:?}");
    assert!(
        unreadable[0].starts_with("-#1501 (from line 6001): not YAML"),
        "{unreadable:?}"
    );
    assert!(
        unreadable[1].starts_with("-#1503 (from line 6007): over the YAML parser's limits"),
        "{unreadable:?}"
    );
}

/// One broken document no longer throws away the file: the others keep their verdicts, and the
/// broken one is named with the line it starts on. An endless input stops at the 64 MiB cap
/// instead of eating memory.
#[test]
fn a_broken_document_and_an_endless_input_are_reported_alone() {
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n---\n\
                key: \"unterminated\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: default}\n";
    let out = meshctl()
        .args(["validate", "-"])
        .write_stdin(yaml)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains("ok      -#1 ConfigMap a") && text.contains("ok      -#3 ConfigMap b"),
        "{text}"
    );
    assert!(text.contains("-#2 (from line 5): not YAML"), "{text}");
    if std::path::Path::new("/dev/zero").exists() {
        let out = meshctl()
            .args(["validate", "/dev/zero"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(5), "{text}");
        assert!(text.contains("larger than 64 MiB"), "{text}");
    }
}
