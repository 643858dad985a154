//! Talking to the test environment's real API server (`cargo xtask testenv up`) from a test: raw
//! requests, and the writes it recorded in its audit log (`MESH_TESTENV_AUDIT_LOG`).
//!
//! Shared by the live contract harness and the live rollout fixtures; each binary uses a part.

#![allow(dead_code, unreachable_pub)]

use std::{
    io::{BufRead, BufReader, Seek, SeekFrom},
    time::Duration,
};

use serde_json::Value;

/// The identity the test environment's kubeconfig authenticates as.
pub const TEST_USER: &str = "mesh-e2e";

/// The audit log's path, as `cargo xtask testenv up` exports it.
pub fn audit_log() -> String {
    std::env::var("MESH_TESTENV_AUDIT_LOG")
        .expect("MESH_TESTENV_AUDIT_LOG (printed by `cargo xtask testenv up`)")
}

/// Sends one request; `None` for an answer that is not JSON, a 404 or a 409 (absent, or already
/// there). Any other failure panics with the path.
pub async fn send(
    client: &kube::Client,
    method: http::Method,
    path: &str,
    body: Option<&Value>,
) -> Option<Value> {
    let mut request = http::Request::builder().method(method).uri(path);
    let bytes = match body {
        Some(b) => {
            request = request.header("content-type", "application/json");
            serde_json::to_vec(b).unwrap()
        }
        None => Vec::new(),
    };
    match client.request_text(request.body(bytes).unwrap()).await {
        Ok(text) => serde_json::from_str(&text).ok(),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => None,
        Err(e) => panic!("{path}: {e}"),
    }
}

/// The audit log's length once it stops growing: the API server writes an event after it
/// answers, so a write that just returned may not be in the file yet.
pub fn settled_len(path: &str) -> u64 {
    let len = || std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut last = len();
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let now = len();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// Every write by the test identity that succeeded and was not a dry run, from byte `from` of
/// the audit log on, in the order the server finished them: the audit events themselves
/// (`verb`, `requestURI`, `objectRef`, …).
pub fn landed_writes_since(from: u64) -> Vec<Value> {
    answered_since(from)
        .into_iter()
        .filter(|e| e["responseStatus"]["code"].as_u64().is_some_and(|c| c < 300))
        .filter(|e| {
            matches!(
                e["verb"].as_str(),
                Some("create" | "update" | "patch" | "delete" | "deletecollection")
            )
        })
        .filter(|e| !e["requestURI"].as_str().unwrap_or_default().contains("dryRun="))
        .collect()
}

/// Where the audit log ends now (the start of a harness's part of it).
pub fn audit_end() -> u64 {
    settled_len(&audit_log())
}

/// How many requests by the test identity the server answered with 409 Conflict, from byte
/// `from` of the audit log on: the races a test provoked.
pub fn conflicts_since(from: u64) -> usize {
    answered_since(from)
        .iter()
        .filter(|e| e["responseStatus"]["code"] == 409)
        .count()
}

/// Every request by the test identity the server finished answering, from byte `from` of the
/// audit log on (once the log has settled), in order.
fn answered_since(from: u64) -> Vec<Value> {
    let path = audit_log();
    settled_len(&path);
    let mut file = std::fs::File::open(&path).expect("the audit log");
    file.seek(SeekFrom::Start(from)).unwrap();
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
        .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == TEST_USER)
        .collect()
}
