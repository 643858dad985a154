//! Real-server twin of `declarations.rs`: blocking queries and the declarations watch on the test
//! environment's Consul agent (CE 1.22.7), under a prefix of the test's own.
//!
//! `eval "$(cargo xtask testenv up)"; cargo test -p mesh-consul --test integration declarations_live:: -- --ignored`

use std::sync::Arc;

use mesh_consul::ConsulBackend;

use crate::declarations::{blocking_queries_wait_for_a_change, the_watch_reports_each_change};

fn agent() -> ConsulBackend {
    ConsulBackend::from_env().expect("CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN")
}

/// Twin of `declarations::blocking_queries_wait_for_a_change_on_the_double`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"]
async fn blocking_queries_wait_for_a_change_on_the_real_agent() {
    let prefix = format!("twin-blocking-{}/", std::process::id());
    blocking_queries_wait_for_a_change(Arc::new(agent()), &prefix).await;
}

/// Twin of `declarations::the_watch_reports_each_change_on_the_double_from_one_waiting_request`.
#[tokio::test]
#[ignore = "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"]
async fn the_watch_reports_each_change_on_the_real_agent() {
    let prefix = format!("twin-watch-{}/", std::process::id());
    the_watch_reports_each_change(Arc::new(agent()), &prefix).await;
}
