//! A hostile "API server" on loopback: an endless answer is refused at the body cap
//! (`RetryPolicy::max_body`) with a typed error instead of being read into memory.

use mesh_core::{Error, MeshKind, ObjectRef};
use mesh_kube::{KubeEngine, KubeError};
use mesh_testkit::HostileServer;

#[tokio::test]
async fn an_endless_answer_is_refused_at_the_cap() {
    for declared in [false, true] {
        let server = HostileServer::endless_body(declared);
        let config = kube::Config::new(server.url().parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let engine = KubeEngine::new(client, MeshKind::Istio, "mesh");
        let cm = ObjectRef::new("v1", "ConfigMap", Some("prod"), "settings");
        let err = engine.get(&cm).await.unwrap_err();
        let Error::Backend { source, .. } = &err else {
            panic!("declared={declared}: {err:?}")
        };
        let kube_error = source.downcast_ref::<KubeError>().expect("a KubeError");
        assert!(
            matches!(kube_error, KubeError::TooLarge(_)),
            "declared={declared}: {kube_error:?}"
        );
    }
}
