//! The control-plane state store on the KV double: check-and-set on every write.

use mesh_consul::{ConsulBackend, ConsulVersion, testing::FakeConsul};
use mesh_core::{Error, StateKey, StateStore};

#[tokio::test]
async fn state_is_written_with_check_and_set() {
    let fake = FakeConsul::start(ConsulVersion::ce(1, 18, 0)).await;
    let key = StateKey::new("default/api".parse().unwrap(), "rollout").unwrap();
    check_and_set_round_trip(&fake.backend(None), &key).await;

    let kv_requests: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/kv/"))
        .map(|r| r.line())
        .collect();
    assert!(
        kv_requests
            .iter()
            .any(|l| l.contains("/v1/kv/mesh/state/default/api/rollout") && l.contains("cas=0")),
        "{kv_requests:?}"
    );
}

/// The state store's check-and-set on `key`, from nothing back to nothing: the same on the double
/// and on the real agent (`backend_live`).
pub(crate) async fn check_and_set_round_trip(backend: &ConsulBackend, key: &StateKey) {
    assert_eq!(backend.read_state(key).await.unwrap(), None);

    let v1 = backend.write_state(key, "{\"stage\":0}", None).await.unwrap();
    // Create-only: a second creator loses.
    assert!(matches!(
        backend.write_state(key, "{}", None).await,
        Err(Error::Conflict { .. })
    ));
    let stored = backend.read_state(key).await.unwrap().unwrap();
    assert_eq!(
        (stored.value.as_str(), stored.version.as_str()),
        ("{\"stage\":0}", v1.as_str())
    );

    let v2 = backend
        .write_state(key, "{\"stage\":1}", Some(&v1))
        .await
        .unwrap();
    assert_ne!(v1, v2);
    // A writer holding the old version loses.
    assert!(matches!(
        backend.write_state(key, "{}", Some(&v1)).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        backend.delete_state(key, &v1).await,
        Err(Error::Conflict { .. })
    ));
    backend.delete_state(key, &v2).await.unwrap();
    assert_eq!(backend.read_state(key).await.unwrap(), None);
}
