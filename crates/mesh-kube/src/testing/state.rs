//! The fake API server's state, and the routing of each request: a scripted [`Fault`] first,
//! then the discovery answers ([`Catalog`]), the plain verbs (`verbs`) or server-side apply
//! (`server_side_apply`), over the object store ([`Store`]).

use http::request::Parts;
use mesh_core::ObjectRef;
use serde_json::Value;

use super::{
    Fault, Match, RecordedRequest,
    answers::{Answer, Reply, method_not_allowed, object_not_found, response, type_not_found},
    discovery::Catalog,
    record::record,
    server_side_apply::FieldManagers,
    storage::{Store, key},
    verbs::MERGE_PATCH,
};
use crate::{ResourceType, resources::split_api_version};

/// Everything the fake server holds, behind its one lock.
pub(super) struct State {
    /// The served types.
    pub(super) catalog: Catalog,
    /// The stored objects.
    pub(super) store: Store,
    /// What each field manager applied and owns.
    pub(super) managers: FieldManagers,
    /// Written objects are checked against the bundled schemas.
    pub(super) validate: bool,
    /// Every request received, in order.
    pub(super) requests: Vec<RecordedRequest>,
    /// Scripted faults not yet used, tried in order.
    pub(super) faults: Vec<(Match, Fault)>,
    /// Writes into a missing namespace are refused (the real server's behaviour).
    pub(super) require_namespaces: bool,
}

impl State {
    pub(super) fn new() -> Self {
        Self {
            catalog: Catalog::bundled(),
            store: Store::new(),
            managers: FieldManagers::new(),
            validate: true,
            requests: Vec::new(),
            faults: Vec::new(),
            require_namespaces: false,
        }
    }

    pub(super) fn uninstall(&mut self, plural: &str, group: &str) {
        self.catalog.uninstall(plural, group);
    }

    pub(super) fn serve_only(&mut self, plural: &str, group: &str, versions: &[&str]) {
        self.catalog.serve_only(plural, group, versions);
    }

    pub(super) fn track_ownership(&mut self) {
        self.managers.track_ownership();
    }

    pub(super) fn insert(&mut self, mut obj: Value, manager: &str) -> Result<Value, String> {
        let av = obj["apiVersion"].as_str().ok_or("no apiVersion")?.to_owned();
        let kind = obj["kind"].as_str().ok_or("no kind")?.to_owned();
        let name = obj["metadata"]["name"]
            .as_str()
            .ok_or("no metadata.name")?
            .to_owned();
        let (group, version) = split_api_version(&av);
        let rt = self
            .catalog
            .by_kind(group, version, &kind)
            .cloned()
            .ok_or_else(|| format!("{av} {kind} is not served"))?;
        let ns = rt.namespaced.then(|| {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned()
        });
        self.store.stamp_new(&mut obj);
        let key = key(&rt, ns, &name);
        if let Some(owners) = self.managers.owners_of(&key) {
            owners.updated(manager, None, &obj);
        }
        self.store.put(key, obj.clone());
        Ok(obj)
    }

    pub(super) fn get(&self, r: &ObjectRef) -> Option<Value> {
        let (group, _) = split_api_version(&r.api_version);
        let rt = self.catalog.by_group_kind(group, &r.kind)?;
        self.store.get(&key(rt, r.namespace.clone(), &r.name)).cloned()
    }

    pub(super) fn all_objects(&self) -> Vec<Value> {
        self.store.all()
    }

    pub(super) fn handle(&mut self, parts: &Parts, body: &[u8]) -> Reply {
        let req = record(parts, body);
        self.requests.push(req.clone());
        if let Some(i) = self.faults.iter().position(|(m, _)| m.matches(&req)) {
            let (_, fault) = self.faults.remove(i);
            return match fault {
                Fault::Status {
                    code,
                    body,
                    retry_after,
                } => Reply::Respond(response(code, &body, retry_after)),
                Fault::Hang => Reply::Hang,
                Fault::Drop => Reply::Drop,
                Fault::LoseAnswer => {
                    let _lost = self.serve(&req);
                    Reply::Drop
                }
            };
        }
        let Answer(code, value) = self.serve(&req);
        Reply::Respond(response(code, &value, None))
    }

    fn serve(&mut self, req: &RecordedRequest) -> Answer {
        let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] => ("", *v, rest),
            ["apis", g] if req.method == "GET" => return self.catalog.api_group(g),
            ["apis", g, v, rest @ ..] => (*g, *v, rest),
            _ => return type_not_found(),
        };
        if rest.is_empty() && req.method == "GET" {
            return self.catalog.resource_list(group, version);
        }
        let (ns, rest) = match rest {
            ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
            _ => (None, rest),
        };
        let (plural, name, sub) = match rest {
            [p] => (*p, None, None),
            [p, n] => (*p, Some(n.to_string()), None),
            [p, n, s] => (*p, Some(n.to_string()), Some(*s)),
            _ => return type_not_found(),
        };
        if group == "apiextensions.k8s.io" && plural == "customresourcedefinitions" {
            return self.catalog.crd(name.as_deref().unwrap_or_default());
        }
        let Some(rt) = self.catalog.by_plural(group, version, plural).cloned() else {
            return type_not_found();
        };
        let ns = if rt.namespaced { ns } else { None };
        let dry = req.is_dry_run();
        if let Some(missing) = self.missing_namespace(ns.as_deref(), &req.method) {
            return missing;
        }
        match (req.method.as_str(), name) {
            ("GET", None) => self.list(&rt, ns.as_deref(), req.query.get("labelSelector")),
            ("POST", None) => self.create(&rt, ns, req, dry),
            (_, None) => method_not_allowed(),
            ("GET", Some(name)) => self.read(&rt, ns, &name),
            ("PUT", Some(name)) => self.replace(&rt, ns, &name, req, dry),
            ("PATCH", Some(name)) if sub.is_none() && req.content_type.as_deref() == Some(MERGE_PATCH) => {
                self.merge_patch(&rt, ns, &name, req, dry)
            }
            ("PATCH", Some(name)) => self.apply(&rt, ns, &name, sub, req, dry),
            ("DELETE", Some(name)) => self.delete(&rt, ns, &name, req, dry),
            _ => method_not_allowed(),
        }
    }

    /// The real server's answer to a write into a namespace that does not exist.
    fn missing_namespace(&self, ns: Option<&str>, method: &str) -> Option<Answer> {
        let ns = ns.filter(|_| self.require_namespaces && matches!(method, "POST" | "PUT" | "PATCH"))?;
        let namespaces = ResourceType::new("v1", "Namespace", "namespaces", false);
        if self.store.contains(&key(&namespaces, None, ns)) {
            return None;
        }
        Some(object_not_found(&namespaces, ns))
    }
}
