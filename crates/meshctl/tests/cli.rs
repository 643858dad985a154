//! The real `meshctl` binary: exit codes, parseable JSON, stable tables, offline validation.

use assert_cmd::Command;

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("CONSUL_HTTP_ADDR").env_remove("RUST_LOG");
    cmd
}

fn corpus(kind: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn split_renders_valid_istio_yaml_without_a_cluster() {
    let out = meshctl()
        .args(["--mesh", "istio", "-n", "prod", "split", "api", "v1=90", "v2=10"])
        .assert()
        .success();
    let yaml = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["DestinationRule", "VirtualService"],
        "subsets before the route that uses them"
    );
    for doc in &docs {
        mesh_kube::schema::SchemaSet::bundled().validate(doc).unwrap();
    }
}

#[test]
fn linkerd_split_renders_per_version_services_before_the_route() {
    let out = meshctl()
        .args([
            "--mesh",
            "linkerd",
            "-n",
            "prod",
            "--service-port",
            "9080",
            "split",
            "reviews",
            "v1=90",
            "v2=10",
        ])
        .assert()
        .success();
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.get_output().stdout)).unwrap();
    let names: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        ["Service reviews-v1", "Service reviews-v2", "HTTPRoute reviews"]
    );
    assert_eq!(docs[2]["spec"]["rules"][0]["backendRefs"][1]["port"], 9080);
    for doc in &docs[2..] {
        mesh_kube::schema::SchemaSet::bundled().validate(doc).unwrap();
    }
}

#[test]
fn json_output_parses_and_lists_consul_writes_in_safe_order() {
    let out = meshctl()
        .args(["--mesh", "consul", "-o", "json", "split", "api", "v1=90", "v2=10"])
        .assert()
        .success();
    let writes: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let kinds: Vec<&str> = writes
        .iter()
        .map(|w| w["target"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["service-defaults", "service-resolver", "service-splitter"]
    );
}

#[test]
fn tables_are_stable() {
    let run = || {
        let out = meshctl()
            .args([
                "--mesh", "consul", "-o", "table", "split", "api", "v1=90", "v2=10",
            ])
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let table = run();
    assert_eq!(table, run());
    // In a pipe: no border, the header first.
    assert!(table.lines().next().unwrap().contains("action"), "{table}");
    assert_eq!(table.lines().filter(|l| l.contains("service-")).count(), 3);
}

#[test]
fn bad_input_exits_2_with_the_field_and_a_hint() {
    let out = meshctl()
        .args(["--mesh", "istio", "split", "api", "v1=90", "v2=20"])
        .assert()
        .code(2);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        err.contains("invalid split: weights sum to 110, not 100"),
        "{err}"
    );
    assert!(err.contains("hint: nothing was written"), "{err}");
    assert!(out.get_output().stdout.is_empty());
}

#[test]
fn an_unsupported_feature_names_the_mesh_and_feature() {
    let out = meshctl()
        .args([
            "--mesh",
            "consul",
            "fault",
            "inject",
            "api",
            "--delay",
            "3s",
            "--percent",
            "10",
        ])
        .assert()
        .code(1);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("consul does not support fault.delay"), "{err}");
}

#[test]
fn auto_without_a_cluster_says_what_to_pass() {
    let out = meshctl().args(["split", "api", "v1=100"]).assert().code(1);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("--mesh istio|linkerd|consul"), "{err}");
}

#[test]
fn validate_passes_every_valid_object() {
    let out = meshctl().arg("validate").args(corpus("valid")).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.ends_with("5 objects, 0 problems, 0 warnings\n"), "{text}");
}

#[test]
fn validate_catches_every_invalid_object() {
    for file in corpus("invalid") {
        let out = meshctl().arg("validate").arg(&file).assert().code(5);
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(text.contains("invalid "), "{}: {text}", file.display());
    }
}

#[test]
fn quickstart_renders_for_every_mesh() {
    for mesh in ["istio", "linkerd", "consul"] {
        let out = meshctl().args(["--mesh", mesh, "quickstart"]).assert().success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(text.contains("# ---- split 90/10"), "{mesh}: {text}");
        assert!(text.contains("# requests: sum by"), "{mesh}: {text}");
    }
}

#[test]
fn rollout_render_lists_every_stage_then_promotion() {
    let out = meshctl()
        .args([
            "--mesh", "istio", "-o", "json", "rollout", "canary", "api", "--stable", "v1", "--canary", "v2",
            "--steps", "10,50",
        ])
        .assert()
        .success();
    let stages: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let weights: Vec<serde_json::Value> = stages
        .iter()
        .map(|s| {
            let vs = s["writes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|w| w["target"]["kind"] == "VirtualService")
                .unwrap();
            vs["body"]["spec"]["http"][0]["route"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["weight"].clone())
                .collect()
        })
        .collect();
    assert_eq!(
        weights,
        vec![
            serde_json::json!([90, 10]),
            serde_json::json!([50, 50]),
            serde_json::json!([100])
        ]
    );
}

#[test]
fn completions_are_generated() {
    let out = meshctl().args(["completions", "bash"]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("meshctl"));
}
