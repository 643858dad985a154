//! mTLS: always on between meshed pods; enforcement is the namespace's default inbound policy.

use mesh_core::{MtlsMode, MtlsStatus, Namespace};
use serde_json::{Value, json};

use crate::objects::{DEFAULT_INBOUND_POLICY, INBOUND_POLICY_MARKER, annotation_patch};

/// The policy value `enable_mtls` writes.
pub(crate) const ALL_AUTHENTICATED: &str = "all-authenticated";

/// The annotation-only Namespace body setting `default-inbound-policy: all-authenticated`.
pub(crate) fn namespace_patch(namespace: &Namespace) -> Value {
    let target = crate::objects::namespace(namespace.as_str());
    annotation_patch(
        &target,
        serde_json::Map::from_iter([
            (DEFAULT_INBOUND_POLICY.to_owned(), json!(ALL_AUTHENTICATED)),
            (INBOUND_POLICY_MARKER.to_owned(), json!(ALL_AUTHENTICATED)),
        ]),
    )
}

/// The mTLS status read from a Namespace object (or its absence).
pub(crate) fn status(namespace: &Namespace, ns: Option<&Value>, trust_domain: &str) -> MtlsStatus {
    let policy = ns.and_then(|n| n["metadata"]["annotations"][DEFAULT_INBOUND_POLICY].as_str());
    let mode = match policy {
        Some("all-authenticated" | "cluster-authenticated" | "deny") => MtlsMode::Strict,
        _ => MtlsMode::Permissive,
    };
    let mut notes = vec![
        "Linkerd encrypts traffic between meshed pods automatically; there is no switch".to_owned(),
        "the default inbound policy is read when a pod starts: restart pods for a change to apply".to_owned(),
    ];
    match policy {
        Some("audit") => notes.push(
            "namespace default-inbound-policy is audit (2.16+): traffic a policy would deny is logged, \
             not refused"
                .to_owned(),
        ),
        Some(p) => notes.push(format!("namespace default-inbound-policy is {p}")),
        None => notes.push(
            "namespace has no default-inbound-policy annotation; the cluster default applies \
             (all-unauthenticated unless changed at install)"
                .to_owned(),
        ),
    }
    MtlsStatus {
        namespace: namespace.clone(),
        mode,
        automatic: true,
        trust_domain: Some(trust_domain.to_owned()),
        notes,
    }
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn namespace_patch_example() {
        let ns = crate::translate::mtls::namespace_patch(&"prod".parse().unwrap());
        assert_eq!(
            ns["metadata"]["annotations"]["config.linkerd.io/default-inbound-policy"],
            "all-authenticated"
        );
    }

    #[test]
    fn status_example() {
        use mesh_core::MtlsMode;
        use serde_json::json;
        let ns = json!({"metadata": {"annotations": {"config.linkerd.io/default-inbound-policy": "all-authenticated"}}});
        let s = crate::translate::mtls::status(&"prod".parse().unwrap(), Some(&ns), "cluster.local");
        assert_eq!(s.mode, MtlsMode::Strict);
        assert!(s.automatic);
        assert!(s.notes.iter().any(|n| n.contains("restart")));
    }
}
