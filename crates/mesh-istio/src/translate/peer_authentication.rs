//! `PeerAuthentication`: the namespace's mTLS mode. The library writes one named `default` with
//! `mtls.mode: STRICT`; in Istio's root namespace it applies mesh-wide.

use mesh_core::{MtlsMode, Namespace};
use serde_json::{Value, json};

use crate::objects;

/// The `default` PeerAuthentication of `namespace` with mode STRICT.
pub(crate) fn strict(namespace: &Namespace) -> Value {
    super::new_object(
        &objects::peer_authentication(namespace),
        json!({ "mtls": { "mode": "STRICT" } }),
    )
}

/// The mode a PeerAuthentication sets, or `None` when it leaves it unset (inherit from the parent
/// scope).
pub(crate) fn mode_of(pa: &Value) -> Option<MtlsMode> {
    match pa["spec"]["mtls"]["mode"].as_str()? {
        "STRICT" => Some(MtlsMode::Strict),
        "PERMISSIVE" => Some(MtlsMode::Permissive),
        "DISABLE" => Some(MtlsMode::Disable),
        _ => None,
    }
}

/// The mTLS status of `namespace` from its `default` PeerAuthentication and the root namespace's:
/// the namespace's mode wins, then the mesh-wide one, then Istio's default, PERMISSIVE.
pub(crate) fn status(
    namespace: &Namespace,
    own: Option<&Value>,
    mesh_wide: Option<&Value>,
    trust_domain: &str,
) -> mesh_core::MtlsStatus {
    let (mode, source) = match (own.and_then(mode_of), mesh_wide.and_then(mode_of)) {
        (Some(m), _) => (m, format!("PeerAuthentication {namespace}/default")),
        (None, Some(m)) => (
            m,
            "the mesh-wide PeerAuthentication in the root namespace".to_owned(),
        ),
        (None, None) => (
            MtlsMode::Permissive,
            "Istio's default (no PeerAuthentication)".to_owned(),
        ),
    };
    let mut notes = vec![format!("mode set by {source}")];
    if mode != MtlsMode::Strict {
        notes.push(
            "auto mTLS encrypts traffic between sidecars, but plaintext from outside the mesh is still accepted".into(),
        );
    }
    mesh_core::MtlsStatus {
        namespace: namespace.clone(),
        mode,
        automatic: mode != MtlsMode::Disable,
        trust_domain: Some(trust_domain.to_owned()),
        notes,
    }
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn strict_example() {
        let pa = crate::translate::peer_authentication::strict(&"prod".parse().unwrap());
        assert_eq!(pa["metadata"]["name"], "default");
        assert_eq!(pa["spec"]["mtls"]["mode"], "STRICT");
    }

    #[test]
    fn mode_of_example() {
        use crate::translate::peer_authentication::mode_of;
        use mesh_core::MtlsMode;
        assert_eq!(
            mode_of(&serde_json::json!({"spec": {"mtls": {"mode": "STRICT"}}})),
            Some(MtlsMode::Strict)
        );
        assert_eq!(
            mode_of(&serde_json::json!({"spec": {"mtls": {"mode": "UNSET"}}})),
            None
        );
        assert_eq!(mode_of(&serde_json::json!({"spec": {}})), None);
    }

    #[test]
    fn status_example() {
        use crate::translate::peer_authentication::status;
        use mesh_core::MtlsMode;
        let strict = serde_json::json!({"spec": {"mtls": {"mode": "STRICT"}}});
        let ns = "prod".parse().unwrap();
        assert_eq!(
            status(&ns, None, Some(&strict), "cluster.local").mode,
            MtlsMode::Strict
        );
        assert_eq!(
            status(&ns, None, None, "cluster.local").mode,
            MtlsMode::Permissive
        );
    }
}
