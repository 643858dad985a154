//! The contract on the Consul backend over its loopback double of the HTTP API.

use mesh::{Mesh, WriteAction, consul::testing::FakeConsul};

use crate::support::{self, Harness};

struct Consul(FakeConsul);

impl Harness for Consul {
    fn mesh(&self) -> Mesh {
        Mesh::from_backend(self.0.backend(None))
    }
    fn writes(&self) -> Vec<(WriteAction, String)> {
        self.0.write_log()
    }
    fn fail_at_write(&self, n: usize) {
        // A 400 is not retried: Consul refused the body.
        self.0.fail_at_write(n, 400);
    }
    fn check_consistent(&self) -> Result<(), String> {
        self.0.check_consistent()
    }
    fn burst(&self) -> u32 {
        40
    }
}

#[tokio::test]
async fn the_consul_backend_passes_the_contract() {
    support::run_all(|| async {
        let version = mesh::consul::ConsulVersion::enterprise(1, 18, 0);
        Box::new(Consul(FakeConsul::start(version).await)) as Box<dyn Harness>
    })
    .await;
}
