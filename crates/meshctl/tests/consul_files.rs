//! `--consul-files DIR`: a Consul render as config-entry JSON files and an `apply.sh` that writes
//! them in order with `consul config write -cas`. Offline: the files, the script, and refusals.
//! Live (the test environment's agent and its own `consul` binary, `MESH_CONSUL_BIN`): the script
//! applies the plan, and applying it again changes nothing.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshctl-consul-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn render(service: &str, out: &Path) -> std::process::Output {
    Command::cargo_bin("meshctl")
        .unwrap()
        .env_remove("CONSUL_HTTP_ADDR")
        .args([
            "--mesh",
            "consul",
            "split",
            service,
            "v1=90",
            "v2=10",
            "--consul-files",
        ])
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_consul_render_writes_entry_files_and_an_ordered_cas_script() {
    let out = dir("offline");
    let r = render("reviews", &out);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "01-service-defaults-reviews.json",
            "02-service-resolver-reviews.json",
            "03-service-splitter-reviews.json",
            "apply.sh"
        ]
    );
    let script = std::fs::read_to_string(out.join("apply.sh")).unwrap();
    let writes: Vec<&str> = script
        .lines()
        .filter(|l| l.starts_with("consul config write"))
        .collect();
    assert_eq!(writes.len(), 3, "{script}");
    assert!(
        writes.iter().all(|l| l.contains("-cas -modify-index=0")),
        "{script}"
    );
    let splitter: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("03-service-splitter-reviews.json")).unwrap())
            .unwrap();
    assert_eq!(splitter["Splits"][0]["Weight"], 90);

    // A directory that already holds files is refused: they would be applied with this plan.
    let again = render("reviews", &out);
    assert_eq!(again.status.code(), Some(2));
    // Not a Consul render.
    let r = Command::cargo_bin("meshctl")
        .unwrap()
        .args(["--mesh", "istio", "split", "reviews", "v1=100", "--consul-files"])
        .arg(dir("istio"))
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2), "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
#[ignore = "needs CONSUL_HTTP_ADDR and MESH_CONSUL_BIN (cargo xtask testenv up)"]
fn the_script_applies_the_plan_on_a_real_agent_and_a_second_run_changes_nothing() {
    let consul = PathBuf::from(std::env::var("MESH_CONSUL_BIN").expect("MESH_CONSUL_BIN"));
    let service = format!("files{}", std::process::id());
    let out = dir("live");
    assert!(render(&service, &out).status.success());
    let path = format!(
        "{}:{}",
        consul.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = || {
        let r = std::process::Command::new("sh")
            .arg(out.join("apply.sh"))
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            r.status.success(),
            "{}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
    };
    run();
    let client =
        mesh_consul::client::ConsulClient::new(mesh_consul::client::ClientConfig::from_env().unwrap())
            .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let read = || {
        rt.block_on(client.get_entry(mesh_consul::model::EntryKind::ServiceSplitter, &service, None))
            .unwrap()
            .map(|e| serde_json::to_value(e).unwrap())
    };
    let first = read().expect("the splitter was written");
    assert_eq!(first["Splits"][1]["ServiceSubset"], "v2");
    run(); // identical entries: a no-op the agent accepts
    assert_eq!(
        read().unwrap()["ModifyIndex"],
        first["ModifyIndex"],
        "nothing changed"
    );
    for kind in [
        mesh_consul::model::EntryKind::ServiceSplitter,
        mesh_consul::model::EntryKind::ServiceResolver,
        mesh_consul::model::EntryKind::ServiceDefaults,
    ] {
        rt.block_on(client.delete_entry(kind, &service, None, None))
            .unwrap();
    }
}
