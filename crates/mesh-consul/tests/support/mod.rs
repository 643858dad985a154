//! Shared helpers for the tests that drive `FakeConsul`, the loopback Consul double.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a part.

pub use mesh_consul::testing::{FakeConsul, Recorded};
use mesh_consul::{ConsulBackend, ConsulVersion};
use mesh_core::{Change, ServiceId, TrafficSplit};

/// Consul CE 1.18.
pub fn ce() -> ConsulVersion {
    ConsulVersion::ce(1, 18, 1)
}

/// Consul Enterprise 1.18.
pub fn ent() -> ConsulVersion {
    ConsulVersion::enterprise(1, 18, 1)
}

/// A fake and a backend on it.
pub async fn start(version: ConsulVersion) -> (FakeConsul, ConsulBackend) {
    let fake = FakeConsul::start(version).await;
    let backend = fake.backend(None);
    (fake, backend)
}

/// The service the tests work on.
pub fn reviews() -> ServiceId {
    "default/reviews".parse().unwrap()
}

/// A split of `reviews`.
pub fn split(pairs: &[(&str, u8)]) -> Change {
    Change::SetTrafficWeight {
        service: reviews(),
        split: TrafficSplit::try_from_pairs(pairs.iter().copied()).unwrap(),
    }
}

/// The request lines, without the edition probe.
pub fn lines(fake: &FakeConsul) -> Vec<String> {
    fake.requests()
        .iter()
        .map(Recorded::line)
        .filter(|l| l != "GET /v1/agent/self")
        .collect()
}

/// The writes that reached the fake, as lines.
pub fn writes(fake: &FakeConsul) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.is_write())
        .map(Recorded::line)
        .collect()
}
