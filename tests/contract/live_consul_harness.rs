//! The contract on the Consul backend over the real Consul agent of the test environment
//! (`cargo xtask testenv up`: CE, dev mode, ACLs on), through a recording proxy on loopback that
//! sees every request and answer. Each harness starts with no config entry and no agent service
//! of the suite's service. A real agent cannot fail a write on demand, so the partial-failure case
//! stays with the double.

use mesh::{Mesh, WriteAction};
use mesh_consul::{
    ConsulBackend,
    client::ConsulClient,
    model::EntryKind,
    testing::{check_entries, landed_write},
};
use mesh_testkit::RecordingProxy;

use crate::support::{
    self, Harness,
    live_consul::{agent_host_port, client},
};

use crate::support::ONE_AT_A_TIME;

/// Removal order: what routes before what it routes to, the protocol last.
const KINDS: [EntryKind; 5] = [
    EntryKind::ServiceSplitter,
    EntryKind::ServiceRouter,
    EntryKind::ServiceResolver,
    EntryKind::ServiceIntentions,
    EntryKind::ServiceDefaults,
];

struct LiveConsul {
    direct: ConsulClient,
    proxy: RecordingProxy,
}

impl LiveConsul {
    async fn new() -> Self {
        let direct = client(None);
        for kind in KINDS {
            for entry in direct.list_entries(kind, None).await.unwrap() {
                direct.delete_entry(kind, entry.name(), None, None).await.unwrap();
            }
        }
        for id in direct.agent_service_ids("reviews", None).await.unwrap() {
            direct.deregister_service(&id, None).await.unwrap();
        }
        let host_port = agent_host_port(&direct);
        Self {
            direct,
            proxy: RecordingProxy::start(&host_port),
        }
    }
}

impl Harness for LiveConsul {
    fn mesh(&self) -> Mesh {
        // The agent is CE, which has no fault-injection extension: the suite's abort fault runs
        // through the documented builtin/lua emulation, opted into here (the double runs as
        // Enterprise 1.18, where it is native).
        Mesh::from_backend(ConsulBackend::new(client(Some(&self.proxy.url()))).emulate_abort_with_lua(true))
    }

    fn writes(&self) -> Vec<(WriteAction, String)> {
        self.proxy
            .exchanges()
            .iter()
            .filter(|e| e.status == 200 && e.answer.trim() != "false")
            .filter_map(|e| landed_write(&e.method, &e.target, &e.body))
            .collect()
    }

    fn fail_at_write(&self, _n: usize) {
        unreachable!("a real agent cannot fail a write on demand (injects_faults is false)")
    }

    fn injects_faults(&self) -> bool {
        false
    }

    fn check_consistent(&self) -> Result<(), String> {
        let entries = support::block(async {
            let mut all = Vec::new();
            for kind in KINDS {
                for entry in self.direct.list_entries(kind, None).await.unwrap() {
                    all.push(serde_json::to_value(&entry).unwrap());
                }
            }
            all
        });
        check_entries(entries)
    }

    fn burst(&self) -> u32 {
        20
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs CONSUL_HTTP_ADDR (cargo xtask testenv up)"]
async fn the_consul_backend_passes_the_contract_on_a_real_agent() {
    let _turn = ONE_AT_A_TIME.lock().await;
    support::run_all(|| async { Box::new(LiveConsul::new().await) as Box<dyn Harness> }).await;
}
