//! Where a kind lives in the Kubernetes API: group, version, plural and scope, and the URL paths.

use crate::schema::SchemaSet;

/// A resource type of the Kubernetes API.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceType {
    /// The API group; empty for the core group.
    pub group: String,
    /// The version (`v1`).
    pub version: String,
    /// The kind (`VirtualService`).
    pub kind: String,
    /// The plural used in URLs (`virtualservices`).
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

/// Kinds outside the bundled CRDs that backends read or write.
const BUILT_IN: &[(&str, &str, &str, bool)] = &[
    ("v1", "Service", "services", true),
    ("v1", "Namespace", "namespaces", false),
    ("v1", "ConfigMap", "configmaps", true),
    ("v1", "Endpoints", "endpoints", true),
    ("v1", "Pod", "pods", true),
    ("v1", "ServiceAccount", "serviceaccounts", true),
    ("apps/v1", "Deployment", "deployments", true),
    ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", true),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    ),
];

impl ResourceType {
    /// Builds a resource type from an `apiVersion` (`group/version` or `v1`).
    pub fn new(api_version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        let (group, version) = split_api_version(api_version);
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced,
        }
    }

    /// The resource type of `apiVersion`/`kind`, from the built-in Kubernetes kinds and every
    /// bundled CRD (Istio, Linkerd, SMI, Gateway API, consul-k8s); `None` for other kinds.
    ///
    /// ```
    /// use mesh_kube::ResourceType;
    /// let vs = ResourceType::resolve("networking.istio.io/v1", "VirtualService").unwrap();
    /// assert_eq!(vs.object_path(Some("prod"), "reviews"),
    ///            "/apis/networking.istio.io/v1/namespaces/prod/virtualservices/reviews");
    /// assert_eq!(vs.crd_name(), "virtualservices.networking.istio.io");
    /// let svc = ResourceType::resolve("v1", "Service").unwrap();
    /// assert_eq!(svc.object_path(Some("prod"), "reviews"), "/api/v1/namespaces/prod/services/reviews");
    /// assert!(ResourceType::resolve("example.com/v1", "Widget").is_none());
    /// ```
    pub fn resolve(api_version: &str, kind: &str) -> Option<Self> {
        if let Some((av, k, plural, namespaced)) = BUILT_IN
            .iter()
            .find(|(av, k, ..)| *av == api_version && *k == kind)
        {
            return Some(Self::new(av, k, plural, *namespaced));
        }
        SchemaSet::bundled()
            .lookup(api_version, kind, None)
            .map(|crd| Self::new(&crd.api_version, &crd.kind, &crd.plural, crd.namespaced))
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `<plural>.<group>`: the CRD name for custom resources, what `kubectl` accepts as a type.
    pub fn crd_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `/apis/<group>/<version>` or `/api/v1`.
    pub fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The collection URL path, in `namespace` for namespaced kinds.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{}/namespaces/{ns}/{}", self.group_version_path(), self.plural),
            _ => format!("{}/{}", self.group_version_path(), self.plural),
        }
    }

    /// The object URL path.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{name}", self.collection_path(namespace))
    }
}

/// Splits `group/version`; the core group (`v1`) has an empty group.
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_crd_resolves_with_its_scope() {
        for crd in SchemaSet::bundled().versions() {
            let rt = ResourceType::resolve(&crd.api_version, &crd.kind).unwrap();
            assert_eq!(rt.plural, crd.plural);
            assert_eq!(rt.namespaced, crd.namespaced);
            assert_eq!(rt.api_version(), crd.api_version);
        }
    }

    #[test]
    fn cluster_scoped_paths_ignore_the_namespace() {
        let ns = ResourceType::resolve("v1", "Namespace").unwrap();
        assert_eq!(ns.object_path(Some("x"), "prod"), "/api/v1/namespaces/prod");
        let crd = ResourceType::resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition").unwrap();
        assert_eq!(
            crd.object_path(None, "servers.policy.linkerd.io"),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/servers.policy.linkerd.io"
        );
    }
}
