//! Every request to the Consul agent names the project and its version in `User-Agent`, reads and
//! writes alike, so an operator can tell mesh's traffic apart in the agent's logs.

use crate::support;

use mesh_consul::client::USER_AGENT;
use mesh_core::MeshBackend;
use support::{ce, split, start};

#[test]
fn the_user_agent_names_the_project_and_this_version() {
    assert_eq!(
        USER_AGENT,
        format!("mesh/{} (mesh-consul)", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn every_request_carries_the_user_agent() {
    let (fake, backend) = start(ce()).await;
    backend.execute(&split(&[("v1", 90), ("v2", 10)])).await.unwrap();
    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.is_write()), "the split wrote nothing");
    for request in &requests {
        assert_eq!(
            request.user_agent.as_deref(),
            Some(USER_AGENT),
            "{}",
            request.line()
        );
    }
}
