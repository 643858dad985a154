//! A client for the test environment's real Consul agent (`CONSUL_HTTP_ADDR`,
//! `CONSUL_HTTP_TOKEN`), straight or through a recording proxy at `address`.
//!
//! Shared by the live contract harness and the live rollout fixtures.

#![allow(dead_code, unreachable_pub)]

use mesh_consul::client::{ClientConfig, ConsulClient};

/// A client for the agent, or for `address` (a proxy in front of it) with the agent's token.
pub fn client(address: Option<&str>) -> ConsulClient {
    let mut config = ClientConfig::from_env().expect("CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN");
    if let Some(a) = address {
        config = config.address(a.parse().unwrap());
    }
    ConsulClient::new(config).unwrap()
}

/// `host:port` of the agent, for a proxy to forward to.
pub fn agent_host_port(client: &ConsulClient) -> String {
    let url = &client.config().address;
    format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    )
}
