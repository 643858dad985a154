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
