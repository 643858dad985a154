//! The backend contract, run against every backend's test double, and (ignored unless the test
//! environment runs) against the Kubernetes backends on a real API server.

#[cfg(feature = "consul")]
mod consul_harness;
#[cfg(any(feature = "istio", feature = "linkerd"))]
mod kube_harness;
#[cfg(feature = "consul")]
mod live_consul_harness;
#[cfg(any(feature = "istio", feature = "linkerd"))]
mod live_kube_harness;
use crate::support;

use std::sync::Arc;

use mesh::{
    Capabilities, Change, Fault, Feature, Mesh, MeshKind, Percent, Support, WriteAction, testing::FakeMesh,
};
use support::Harness;

struct Fake(Arc<FakeMesh>);

impl Harness for Fake {
    fn mesh(&self) -> Mesh {
        Mesh::from_dyn(self.0.clone())
    }
    fn writes(&self) -> Vec<(WriteAction, String)> {
        self.0
            .write_log()
            .into_iter()
            .map(|(a, r)| (a, r.to_string()))
            .collect()
    }
    fn fail_at_write(&self, n: usize) {
        self.0.fail_at_write(n);
    }
    fn check_consistent(&self) -> Result<(), String> {
        self.0.check_consistent()
    }
}

#[tokio::test]
async fn the_fake_backend_passes_the_contract() {
    for kind in MeshKind::ALL {
        support::run_all(|| async move { Box::new(Fake(Arc::new(FakeMesh::new(kind)))) as Box<dyn Harness> })
            .await;
    }
}

#[tokio::test]
async fn an_unsupported_feature_is_refused_by_name_before_any_write() {
    let caps = Capabilities::new(MeshKind::Linkerd)
        .with(Feature::FaultAbort, Support::native("HTTPRoute backendRef"))
        .with(
            Feature::FaultDelay,
            Support::unsupported("Linkerd has no delay fault filter"),
        );
    let h = Fake(Arc::new(FakeMesh::new(MeshKind::Linkerd).with_capabilities(caps)));
    let delay = Change::InjectFault {
        service: support::service(),
        fault: Fault::Delay {
            percent: Percent::new(10.0).unwrap(),
            duration: std::time::Duration::from_secs(3),
        },
    };
    support::unsupported_is_typed(&h, MeshKind::Linkerd, delay, Feature::FaultDelay).await;
}

#[tokio::test]
async fn an_emulated_feature_needs_an_opt_in() {
    let caps =
        Capabilities::new(MeshKind::Consul).with(Feature::FaultAbort, Support::emulated("builtin/lua abort"));
    let h = Fake(Arc::new(FakeMesh::new(MeshKind::Consul).with_capabilities(caps)));
    let abort = Change::InjectFault {
        service: support::service(),
        fault: Fault::Abort {
            percent: Percent::new(5.0).unwrap(),
            http_status: mesh::HttpStatus::new(503).unwrap(),
        },
    };
    support::unsupported_is_typed(&h, MeshKind::Consul, abort, Feature::FaultAbort).await;
}

#[tokio::test]
async fn a_backend_that_is_not_compiled_in_is_a_typed_error() {
    for kind in MeshKind::ALL {
        let compiled = match kind {
            MeshKind::Istio => cfg!(feature = "istio"),
            MeshKind::Linkerd => cfg!(feature = "linkerd"),
            MeshKind::Consul => cfg!(feature = "consul"),
        };
        assert_eq!(Mesh::ensure_compiled_in(kind).is_ok(), compiled, "{kind}");
    }
}
