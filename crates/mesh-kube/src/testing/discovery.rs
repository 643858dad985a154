//! What the fake API server serves: the built-in kinds and every served version of the bundled
//! CRDs ([`Catalog`]), which of them have a `status` subresource and which version stores each
//! CRD; and the discovery answers built from it (`APIGroup`, `APIResourceList`, the
//! `CustomResourceDefinition` itself).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::answers::{Answer, object_not_found, type_not_found};
use crate::{ResourceType, schema::SchemaSet};

/// `(apiVersion, kind, plural, namespaced)` of the built-in kinds served.
const BUILT_IN: &[(&str, &str, &str, bool)] = &[
    ("v1", "Service", "services", true),
    ("v1", "Namespace", "namespaces", false),
    ("v1", "ConfigMap", "configmaps", true),
    ("v1", "Pod", "pods", true),
    ("apps/v1", "Deployment", "deployments", true),
    ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", true),
    ("events.k8s.io/v1", "Event", "events", true),
    ("coordination.k8s.io/v1", "Lease", "leases", true),
];

/// The served types.
pub(super) struct Catalog {
    types: Vec<ResourceType>,
    /// `(group, version, plural)` of the types with a `status` subresource.
    status_subresource: BTreeSet<(String, String, String)>,
    storage_versions: BTreeMap<(String, String), String>,
}

impl Catalog {
    /// The built-in kinds and every bundled CRD, each served version.
    pub(super) fn bundled() -> Self {
        let mut types: Vec<ResourceType> = BUILT_IN
            .iter()
            .map(|(av, kind, plural, ns)| ResourceType::new(av, kind, plural, *ns))
            .collect();
        let mut storage_versions = BTreeMap::new();
        let mut status_subresource = BTreeSet::new();
        for crd in SchemaSet::bundled().versions() {
            // Bundles repeat a kind; the first of each version is enough to serve it.
            let rt = ResourceType::new(&crd.api_version, &crd.kind, &crd.plural, crd.namespaced);
            if crd.served && !types.contains(&rt) {
                types.push(rt);
            }
            if crd.status_subresource {
                status_subresource.insert((crd.group.clone(), crd.version.clone(), crd.plural.clone()));
            }
            if crd.storage {
                storage_versions.insert((crd.group.clone(), crd.plural.clone()), crd.version.clone());
            }
        }
        Self {
            types,
            status_subresource,
            storage_versions,
        }
    }

    pub(super) fn uninstall(&mut self, plural: &str, group: &str) {
        self.types.retain(|t| !(t.plural == plural && t.group == group));
    }

    pub(super) fn serve_only(&mut self, plural: &str, group: &str, versions: &[&str]) {
        self.types
            .retain(|t| !(t.plural == plural && t.group == group) || versions.contains(&t.version.as_str()));
    }

    /// The served type `kind` of `group/version`.
    pub(super) fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// A served type `kind` of `group`, in any version: enough to find a stored object.
    pub(super) fn by_group_kind(&self, group: &str, kind: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.kind == kind)
    }

    /// The served type whose URL segment is `plural` in `group/version`.
    pub(super) fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    pub(super) fn has_status_subresource(&self, rt: &ResourceType) -> bool {
        self.status_subresource
            .contains(&(rt.group.clone(), rt.version.clone(), rt.plural.clone()))
    }

    /// With a status subresource, writes to the object itself leave its status as it was.
    pub(super) fn keep_status(&self, rt: &ResourceType, current: Option<&Value>, obj: &mut Value) {
        if !self.has_status_subresource(rt) {
            return;
        }
        let Some(map) = obj.as_object_mut() else { return };
        match current.and_then(|c| c.get("status")) {
            Some(status) => map.insert("status".into(), status.clone()),
            None => map.remove("status"),
        };
    }

    /// `GET /apis/GROUP`: the group's served versions.
    pub(super) fn api_group(&self, group: &str) -> Answer {
        let mut versions: Vec<&str> = Vec::new();
        for t in self.types.iter().filter(|t| t.group == group) {
            if !versions.contains(&t.version.as_str()) {
                versions.push(&t.version);
            }
        }
        if versions.is_empty() {
            return type_not_found();
        }
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
            .collect();
        Answer(
            200,
            json!({ "kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions }),
        )
    }

    /// `GET /apis/GROUP/VERSION` (or `/api/v1`): the types served there, each followed by its
    /// `<plural>/status` when it has that subresource, as the API server lists them.
    pub(super) fn resource_list(&self, group: &str, version: &str) -> Answer {
        let resources: Vec<Value> = self
            .types
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .flat_map(|t| {
                let own = json!({ "name": t.plural, "namespaced": t.namespaced, "kind": t.kind });
                let status = self.has_status_subresource(t).then(|| {
                    json!({ "name": format!("{}/status", t.plural), "namespaced": t.namespaced, "kind": t.kind })
                });
                std::iter::once(own).chain(status)
            })
            .collect();
        if resources.is_empty() {
            return type_not_found();
        }
        let gv = ResourceType::new(&format!("{group}/{version}"), "", "", true).api_version();
        Answer(
            200,
            json!({ "kind": "APIResourceList", "groupVersion": gv, "resources": resources }),
        )
    }

    /// `GET` of the CRD `name` (`<plural>.<group>`): its served versions and which one stores.
    pub(super) fn crd(&self, name: &str) -> Answer {
        let served: Vec<&ResourceType> = self
            .types
            .iter()
            .filter(|t| !t.group.is_empty() && t.crd_name() == name)
            .collect();
        let Some(first) = served.first() else {
            let crds = ResourceType::new(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
            );
            return object_not_found(&crds, name);
        };
        let storage = self
            .storage_versions
            .get(&(first.group.clone(), first.plural.clone()));
        let versions: Vec<Value> = served
            .iter()
            .map(|t| json!({ "name": t.version, "served": true, "storage": Some(&t.version) == storage }))
            .collect();
        Answer(
            200,
            json!({
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": { "name": name },
                "spec": { "group": first.group, "names": { "kind": first.kind, "plural": first.plural },
                          "scope": if first.namespaced { "Namespaced" } else { "Cluster" },
                          "versions": versions }
            }),
        )
    }
}
