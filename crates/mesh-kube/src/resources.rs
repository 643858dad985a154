//! Where a kind lives in the Kubernetes API: kube's [`ApiResource`] (group, version, kind,
//! plural) and the scope, which kube keeps apart (in discovery's `ApiCapabilities`), and the URL
//! paths.

use std::ops::Deref;

use kube::{
    Resource as _,
    api::{ApiResource, DynamicObject, GroupVersionKind},
};

use crate::schema::SchemaSet;

/// A resource type of the Kubernetes API: kube's [`ApiResource`], which it dereferences to
/// (`group`, `version`, `api_version`, `kind`, `plural`), and whether objects live in a
/// namespace. Paths are kube's ([`kube::Resource::url_path`] of [`DynamicObject`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceType {
    /// kube's description of the type, as `Api::namespaced_with`/`all_with` take it.
    pub resource: ApiResource,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

impl Deref for ResourceType {
    type Target = ApiResource;

    fn deref(&self) -> &ApiResource {
        &self.resource
    }
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
            resource: ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural),
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
        self.resource.api_version.clone()
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
        DynamicObject::url_path(&self.resource, namespace.filter(|_| self.namespaced))
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
