//! `meshctl traces` on every mesh against the test environment's real Zipkin
//! (`MESH_E2E_ZIPKIN_URL`, from `cargo xtask testenv up`), chosen with `TRACING_URL` and
//! `TRACING_KIND=zipkin` (Linkerd's run with `--tracing-url`/`--tracing-kind` instead): spans posted a moment ago under the name each mesh's tracer records
//! come back as one trace, in JSON and in the table.

use std::{
    process::Command,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

fn zipkin() -> String {
    std::env::var("MESH_E2E_ZIPKIN_URL").expect("MESH_E2E_ZIPKIN_URL (printed by `cargo xtask testenv up`)")
}

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// Posts a two-span trace (server and its client call) recorded by `service`, `age_s` seconds ago.
fn post_trace_aged(trace_id: &str, service: &str, age_s: u64) {
    let ts = now_micros() - age_s * 1_000_000;
    let spans = json!([
        {"traceId": trace_id, "id": "00000000000000a1", "kind": "SERVER", "name": "get /reviews",
         "timestamp": ts, "duration": 12_000, "localEndpoint": {"serviceName": service},
         "tags": {"http.status_code": "200"}},
        {"traceId": trace_id, "parentId": "00000000000000a1", "id": "00000000000000a2", "kind": "CLIENT",
         "name": "get /ratings", "timestamp": ts + 1_000, "duration": 8_000,
         "localEndpoint": {"serviceName": service}, "remoteEndpoint": {"serviceName": "ratings"},
         "tags": {"http.status_code": "503", "error": "upstream"}}
    ]);
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "content-type: application/json",
        ])
        .args(["--data-binary", &spans.to_string()])
        .arg(format!("{}/api/v2/spans", zipkin()))
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "202",
        "Zipkin accepted the spans"
    );
}

/// Runs `meshctl traces`; Linkerd's run names Zipkin with flags, the others with the environment.
fn post_trace(trace_id: &str, service: &str) {
    post_trace_aged(trace_id, service, 5);
}

fn meshctl(mesh: &str, namespace: &str, service: &str, output: &str) -> (bool, String, String) {
    meshctl_with(mesh, namespace, service, output, &[])
}

fn meshctl_with(
    mesh: &str,
    namespace: &str,
    service: &str,
    output: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let mut cmd = assert_cmd::Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("CONSUL_HTTP_ADDR");
    if mesh == "linkerd" {
        cmd.env_remove("TRACING_URL").env_remove("TRACING_KIND").args([
            "--tracing-url",
            &zipkin(),
            "--tracing-kind",
            "zipkin",
        ]);
    } else {
        cmd.env("TRACING_URL", zipkin()).env("TRACING_KIND", "zipkin");
    }
    let out = cmd
        .args(["--mesh", mesh, "-n", namespace, "-o", output, "traces", service])
        .args(extra)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "needs MESH_E2E_ZIPKIN_URL (cargo xtask testenv up)"]
fn meshctl_traces_reads_a_real_zipkin_on_every_mesh() {
    let run = now_micros();
    for (i, mesh) in ["istio", "linkerd", "consul"].into_iter().enumerate() {
        let service = format!("reviews{}", run % 1_000_000);
        let namespace = format!("ns{i}");
        // What each mesh's tracer calls the service: Istio `<app>.<namespace>`, the others the name.
        let recorded = if mesh == "istio" {
            format!("{service}.{namespace}")
        } else {
            service.clone()
        };
        let trace_id = format!("{:032x}", u128::from(run) * 10 + i as u128);
        post_trace(&trace_id, &recorded);

        let mut found = None;
        for _ in 0..50 {
            let (ok, stdout, stderr) = meshctl(mesh, &namespace, &service, "json");
            assert!(ok, "{mesh}: {stderr}");
            let traces: Value =
                serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{mesh}: {e}: {stdout}"));
            if let Some(t) = traces
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["trace_id"] == trace_id.as_str())
            {
                found = Some(t.clone());
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let trace = found.unwrap_or_else(|| panic!("{mesh}: trace {trace_id} never listed"));
        let spans = trace["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 2, "{mesh}: {trace}");
        assert!(
            spans.iter().all(|s| s["service"] == recorded.as_str()),
            "{mesh}: {trace}"
        );
        let client = spans.iter().find(|s| s["span_id"] == "00000000000000a2").unwrap();
        assert_eq!(client["parent_span_id"], "00000000000000a1", "{mesh}");
        assert_eq!(client["http_status"], 503, "{mesh}");
        assert_eq!(client["error"], true, "{mesh}");

        let (ok, table, stderr) = meshctl(mesh, &namespace, &service, "table");
        assert!(ok, "{mesh}: {stderr}");
        assert!(
            table.contains(&trace_id),
            "{mesh}: the table lists the trace: {table}"
        );
    }
}

/// `--lookback` bounds the search: a trace from three hours ago is outside the default hour and
/// inside `--lookback 4h`.
#[test]
#[ignore = "needs MESH_E2E_ZIPKIN_URL (cargo xtask testenv up)"]
fn traces_lookback_bounds_the_search_on_a_real_zipkin() {
    let run = now_micros();
    let service = format!("old{}", run % 1_000_000);
    let trace_id = format!("{:032x}", u128::from(run) * 10 + 7);
    post_trace_aged(&trace_id, &service, 3 * 3600);
    let listed = |extra: &[&str]| {
        let (ok, stdout, stderr) = meshctl_with("linkerd", "default", &service, "json", extra);
        assert!(ok, "{stderr}");
        stdout.contains(&trace_id)
    };
    let mut found = false;
    for _ in 0..50 {
        if listed(&["--lookback", "4h"]) {
            found = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(found, "--lookback 4h finds the 3-hour-old trace");
    assert!(!listed(&[]), "the default hour does not");
    assert!(!listed(&["--lookback", "2h"]), "nor does 2h");
}
