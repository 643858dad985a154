//! The fake API server's state and request handling.

use std::collections::BTreeMap;

use http::{Response, StatusCode, header, request::Parts};
use kube::client::Body;
use mesh_core::ObjectRef;
use serde_json::{Value, json};

use super::{
    Fault, Match, RecordedRequest,
    fault::status_body,
    managed::{Owners, conflict_body},
};
use crate::{ResourceType, resources::split_api_version, schema::SchemaSet};

/// What the serving task does with a request.
pub(super) enum Reply {
    Respond(Response<Body>),
    Hang,
    Drop,
}

/// `(group, plural, namespace, name)`: objects are stored once for every served version.
type Key = (String, String, Option<String>, String);

pub(super) struct State {
    types: Vec<ResourceType>,
    /// `(group, version, plural)` of the types with a `status` subresource.
    status_subresource: std::collections::BTreeSet<(String, String, String)>,
    storage_versions: BTreeMap<(String, String), String>,
    objects: BTreeMap<Key, Value>,
    /// The last object each field manager applied, for server-side apply.
    applied: BTreeMap<(Key, String), Value>,
    /// Field owners per object, when ownership is tracked.
    owners: Option<BTreeMap<Key, Owners>>,
    next_rv: u64,
    pub(super) validate: bool,
    pub(super) requests: Vec<RecordedRequest>,
    pub(super) faults: Vec<(Match, Fault)>,
    /// Writes into a missing namespace are refused (the real server's behaviour).
    pub(super) require_namespaces: bool,
}

const BUILT_IN: &[(&str, &str, &str, bool)] = &[
    ("v1", "Service", "services", true),
    ("v1", "Namespace", "namespaces", false),
    ("v1", "ConfigMap", "configmaps", true),
    ("v1", "Pod", "pods", true),
    ("apps/v1", "Deployment", "deployments", true),
    ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", true),
];

/// An HTTP status and JSON body.
struct Answer(u16, Value);

impl State {
    pub(super) fn new() -> Self {
        let mut types: Vec<ResourceType> = BUILT_IN
            .iter()
            .map(|(av, kind, plural, ns)| ResourceType::new(av, kind, plural, *ns))
            .collect();
        let mut storage_versions = BTreeMap::new();
        let mut status_subresource = std::collections::BTreeSet::new();
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
            objects: BTreeMap::new(),
            applied: BTreeMap::new(),
            owners: None,
            next_rv: 1,
            validate: true,
            requests: Vec::new(),
            faults: Vec::new(),
            require_namespaces: false,
        }
    }

    pub(super) fn uninstall(&mut self, plural: &str, group: &str) {
        self.types.retain(|t| !(t.plural == plural && t.group == group));
    }

    pub(super) fn serve_only(&mut self, plural: &str, group: &str, versions: &[&str]) {
        self.types
            .retain(|t| !(t.plural == plural && t.group == group) || versions.contains(&t.version.as_str()));
    }

    pub(super) fn track_ownership(&mut self) {
        self.owners.get_or_insert_with(BTreeMap::new);
    }

    fn owners_of(&mut self, key: &Key) -> Option<&mut Owners> {
        self.owners.as_mut().map(|o| o.entry(key.clone()).or_default())
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
            .types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .cloned()
            .ok_or_else(|| format!("{av} {kind} is not served"))?;
        let ns = rt.namespaced.then(|| {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned()
        });
        self.stamp_new(&mut obj);
        let key = (rt.group.clone(), rt.plural.clone(), ns, name);
        if let Some(owners) = self.owners_of(&key) {
            owners.updated(manager, None, &obj);
        }
        self.objects.insert(key, obj.clone());
        Ok(obj)
    }

    pub(super) fn get(&self, r: &ObjectRef) -> Option<Value> {
        let (group, _) = split_api_version(&r.api_version);
        let rt = self.types.iter().find(|t| t.group == group && t.kind == r.kind)?;
        let key = (
            rt.group.clone(),
            rt.plural.clone(),
            r.namespace.clone(),
            r.name.clone(),
        );
        self.objects.get(&key).cloned()
    }

    pub(super) fn all_objects(&self) -> Vec<Value> {
        self.objects.values().cloned().collect()
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
            ["apis", g] if req.method == "GET" => return self.api_group(g),
            ["apis", g, v, rest @ ..] => (*g, *v, rest),
            _ => return type_not_found(),
        };
        if rest.is_empty() && req.method == "GET" {
            return self.resource_list(group, version);
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
            return self.crd(name.as_deref().unwrap_or_default());
        }
        let Some(rt) = self
            .types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
        else {
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
            (_, None) => Answer(
                405,
                status_body(405, "MethodNotAllowed", "method not allowed", json!({})),
            ),
            ("GET", Some(name)) => match self.objects.get(&key(&rt, ns, &name)) {
                Some(obj) => Answer(200, as_version(obj, &rt)),
                None => object_not_found(&rt, &name),
            },
            ("PUT", Some(name)) => self.replace(&rt, ns, &name, req, dry),
            ("PATCH", Some(name)) => self.apply(&rt, ns, &name, sub, req, dry),
            ("DELETE", Some(name)) => self.delete(&rt, ns, &name, req, dry),
            _ => Answer(
                405,
                status_body(405, "MethodNotAllowed", "method not allowed", json!({})),
            ),
        }
    }

    /// The real server's answer to a write into a namespace that does not exist.
    fn missing_namespace(&self, ns: Option<&str>, method: &str) -> Option<Answer> {
        let ns = ns.filter(|_| self.require_namespaces && matches!(method, "POST" | "PUT" | "PATCH"))?;
        let namespaces = ResourceType::new("v1", "Namespace", "namespaces", false);
        if self.objects.contains_key(&key(&namespaces, None, ns)) {
            return None;
        }
        Some(object_not_found(&namespaces, ns))
    }

    fn api_group(&self, group: &str) -> Answer {
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

    fn resource_list(&self, group: &str, version: &str) -> Answer {
        let resources: Vec<Value> = self
            .types
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .map(|t| json!({ "name": t.plural, "namespaced": t.namespaced, "kind": t.kind }))
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

    fn crd(&self, name: &str) -> Answer {
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

    fn list(&self, rt: &ResourceType, ns: Option<&str>, selector: Option<&String>) -> Answer {
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                *g == rt.group && *p == rt.plural && (ns.is_none() || n.as_deref() == ns)
            })
            .filter(|(_, obj)| selector.is_none_or(|s| labels_match(obj, s)))
            .map(|(_, obj)| as_version(obj, rt))
            .collect();
        Answer(
            200,
            json!({
                "apiVersion": rt.api_version(), "kind": format!("{}List", rt.kind),
                "metadata": { "resourceVersion": (self.next_rv - 1).to_string() }, "items": items
            }),
        )
    }

    fn create(&mut self, rt: &ResourceType, ns: Option<String>, req: &RecordedRequest, dry: bool) -> Answer {
        let Some(mut obj) = req.body.clone() else {
            return bad_request("the body is not a JSON object");
        };
        let Some(name) = obj["metadata"]["name"].as_str().map(str::to_owned) else {
            return invalid(rt, "", "metadata.name", "name or generateName is required");
        };
        self.keep_status(rt, None, &mut obj);
        if let Some(bad) = self.check(rt, &ns, &obj) {
            return bad;
        }
        let key = key(rt, ns, &name);
        if self.objects.contains_key(&key) {
            let msg = format!("{} \"{name}\" already exists", rt.crd_name());
            return Answer(409, status_body(409, "AlreadyExists", &msg, details(rt, &name)));
        }
        self.stamp_new(&mut obj);
        if !dry {
            let manager = req.field_manager().unwrap_or("unknown").to_owned();
            if let Some(owners) = self.owners_of(&key) {
                owners.updated(&manager, None, &obj);
            }
            self.objects.insert(key, obj.clone());
        }
        Answer(201, obj)
    }

    fn replace(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        name: &str,
        req: &RecordedRequest,
        dry: bool,
    ) -> Answer {
        let Some(mut obj) = req.body.clone() else {
            return bad_request("the body is not a JSON object");
        };
        let key = key(rt, ns.clone(), name);
        let Some(current) = self.objects.get(&key).cloned() else {
            return object_not_found(rt, name);
        };
        if let Some(conflict) = stale(rt, name, &current, obj["metadata"]["resourceVersion"].as_str()) {
            return conflict;
        }
        self.keep_status(rt, Some(&current), &mut obj);
        if let Some(bad) = self.check(rt, &ns, &obj) {
            return bad;
        }
        self.stamp_update(&current, &mut obj);
        if !dry {
            let manager = req.field_manager().unwrap_or("unknown").to_owned();
            if let Some(owners) = self.owners_of(&key) {
                owners.updated(&manager, Some(&current), &obj);
            }
            self.objects.insert(key, obj.clone());
        }
        Answer(200, obj)
    }

    fn apply(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        name: &str,
        sub: Option<&str>,
        req: &RecordedRequest,
        dry: bool,
    ) -> Answer {
        if req.content_type.as_deref() != Some(crate::request::APPLY_PATCH) {
            return Answer(
                415,
                status_body(
                    415,
                    "UnsupportedMediaType",
                    "only apply patches are served",
                    json!({}),
                ),
            );
        }
        let Some(manager) = req.field_manager().map(str::to_owned) else {
            return bad_request("fieldManager is required for apply requests");
        };
        let Some(patch) = req.body.clone() else {
            return bad_request("the body is not a JSON object");
        };
        let key = key(rt, ns.clone(), name);
        let current = self.objects.get(&key).cloned();
        if let Some(cur) = &current
            && let Some(conflict) = stale(rt, name, cur, patch["metadata"]["resourceVersion"].as_str())
        {
            return conflict;
        }
        let force = req.query.get("force").is_some_and(|f| f == "true");
        if sub.is_none()
            && let (Some(cur), Some(all)) = (&current, &self.owners)
            && let Some(owners) = all.get(&key)
        {
            let conflicts = owners.conflicts(&manager, cur, &patch);
            if !conflicts.is_empty() && !force {
                return Answer(409, conflict_body(&rt.api_version(), &conflicts));
            }
        }
        let has_status = self.has_status_subresource(rt);
        let mut obj = match (sub, current.clone()) {
            (Some("status"), _) if !has_status => return type_not_found(),
            (Some("status"), None) => return object_not_found(rt, name),
            (Some("status"), Some(mut cur)) => {
                cur["status"] = patch["status"].clone();
                cur
            }
            (Some(_), _) => return type_not_found(),
            (None, None) => patch.clone(),
            (None, Some(mut cur)) => {
                if let Some(prev) = self.applied.get(&(key.clone(), manager.clone())) {
                    remove_dropped(&mut cur, prev, &patch);
                }
                merge(&mut cur, &patch);
                cur
            }
        };
        if sub.is_none() {
            self.keep_status(rt, current.as_ref(), &mut obj);
        }
        if let Some(bad) = self.undeclared_in_apply(rt, &ns, name, &obj) {
            return bad;
        }
        if let Some(bad) = self.check(rt, &ns, &obj) {
            return bad;
        }
        let code = match &current {
            Some(cur) => {
                self.stamp_update(cur, &mut obj);
                200
            }
            None => {
                self.stamp_new(&mut obj);
                201
            }
        };
        if !dry {
            self.objects.insert(key.clone(), obj.clone());
            if sub.is_none() {
                let previous = self.applied.get(&(key.clone(), manager.clone())).cloned();
                if let Some(owners) = self.owners_of(&key) {
                    owners.applied(&manager, previous.as_ref(), &patch, force);
                }
                self.applied.insert((key, manager), patch);
            }
        }
        Answer(code, obj)
    }

    fn delete(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        name: &str,
        req: &RecordedRequest,
        dry: bool,
    ) -> Answer {
        let key = key(rt, ns, name);
        let Some(current) = self.objects.get(&key).cloned() else {
            return object_not_found(rt, name);
        };
        let want = req
            .body
            .as_ref()
            .and_then(|b| b["preconditions"]["resourceVersion"].as_str());
        if let Some(conflict) = stale(rt, name, &current, want) {
            return conflict;
        }
        if !dry {
            self.objects.remove(&key);
            self.applied.retain(|(k, _), _| *k != key);
            if let Some(owners) = &mut self.owners {
                owners.remove(&key);
            }
        }
        Answer(
            200,
            json!({ "kind": "Status", "apiVersion": "v1", "status": "Success", "details": details(rt, name) }),
        )
    }

    fn has_status_subresource(&self, rt: &ResourceType) -> bool {
        self.status_subresource
            .contains(&(rt.group.clone(), rt.version.clone(), rt.plural.clone()))
    }

    /// With a status subresource, writes to the object itself leave its status as it was.
    fn keep_status(&self, rt: &ResourceType, current: Option<&Value>, obj: &mut Value) {
        if !self.has_status_subresource(rt) {
            return;
        }
        let Some(map) = obj.as_object_mut() else { return };
        match current.and_then(|c| c.get("status")) {
            Some(status) => map.insert("status".into(), status.clone()),
            None => map.remove("status"),
        };
    }

    /// The answer refusing `obj`, if it does not belong at this URL or fails its schema.
    fn check(&self, rt: &ResourceType, ns: &Option<String>, obj: &Value) -> Option<Answer> {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if obj["apiVersion"].as_str() != Some(&rt.api_version()) || obj["kind"].as_str() != Some(&rt.kind) {
            return Some(bad_request(&format!(
                "the body is {} {}, the URL is for {} {}",
                obj["apiVersion"],
                obj["kind"],
                rt.api_version(),
                rt.kind
            )));
        }
        let body_ns = obj["metadata"]["namespace"].as_str();
        if rt.namespaced && body_ns.is_some() && body_ns != ns.as_deref() {
            return Some(bad_request(
                "the namespace of the provided object does not match the URL",
            ));
        }
        let schemas = SchemaSet::bundled();
        if !self.validate || schemas.lookup(&rt.api_version(), &rt.kind, None).is_none() {
            return None;
        }
        let violations = schemas.validate(obj).err()?;
        let first = &violations[0];
        Some(invalid(rt, name, &first.path, &violations_message(&violations)))
    }

    /// The real API server (1.33) answers a server-side apply that sets an undeclared field, or a
    /// field of the wrong type, with a 500, not a 422: `failed to create typed patch object
    /// (NS/NAME; GVK): .spec.x: field not declared in schema`.
    fn undeclared_in_apply(
        &self,
        rt: &ResourceType,
        ns: &Option<String>,
        name: &str,
        obj: &Value,
    ) -> Option<Answer> {
        let schemas = SchemaSet::bundled();
        if !self.validate || schemas.lookup(&rt.api_version(), &rt.kind, None).is_none() {
            return None;
        }
        let violations = schemas.validate(obj).err()?;
        let (path, what) = violations.iter().find_map(|v| {
            if v.message.starts_with("Additional properties are not allowed") {
                let field = v.message.split('\'').nth(1).unwrap_or_default();
                let path = if v.path.is_empty() {
                    format!(".{field}")
                } else {
                    format!(".{}.{field}", v.path)
                };
                Some((path, "field not declared in schema".to_owned()))
            } else if v.message.contains(" is not of type ") {
                Some((format!(".{}", v.path), format!("wrong type: {}", v.message)))
            } else {
                None
            }
        })?;
        let msg = format!(
            "failed to create typed patch object ({}/{name}; {}, Kind={}): {path}: {what}",
            ns.as_deref().unwrap_or_default(),
            rt.api_version(),
            rt.kind
        );
        Some(Answer(500, status_body(500, "", &msg, json!({}))))
    }

    fn stamp_new(&mut self, obj: &mut Value) {
        let rv = self.bump();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::from(rv.clone()));
            meta.insert(
                "uid".into(),
                Value::from(format!("00000000-0000-0000-0000-{rv:0>12}")),
            );
            meta.insert("generation".into(), Value::from(1));
            meta.insert("creationTimestamp".into(), Value::from("2026-01-01T00:00:00Z"));
        }
    }

    fn stamp_update(&mut self, current: &Value, obj: &mut Value) {
        let rv = self.bump();
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(1)
            + i64::from(current.get("spec") != obj.get("spec"));
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in ["uid", "creationTimestamp"] {
                if let Some(v) = current["metadata"].get(k) {
                    meta.insert(k.into(), v.clone());
                }
            }
            meta.insert("resourceVersion".into(), Value::from(rv));
            meta.insert("generation".into(), Value::from(generation));
        }
    }

    fn bump(&mut self) -> String {
        let rv = self.next_rv;
        self.next_rv += 1;
        rv.to_string()
    }
}

fn key(rt: &ResourceType, ns: Option<String>, name: &str) -> Key {
    (rt.group.clone(), rt.plural.clone(), ns, name.to_owned())
}

/// The stored object as seen through `rt`'s version.
fn as_version(obj: &Value, rt: &ResourceType) -> Value {
    let mut obj = obj.clone();
    obj["apiVersion"] = Value::from(rt.api_version());
    obj
}

/// The 409 for a `resourceVersion` precondition that no longer holds.
fn stale(rt: &ResourceType, name: &str, current: &Value, want: Option<&str>) -> Option<Answer> {
    let want = want?;
    if current["metadata"]["resourceVersion"].as_str() == Some(want) {
        return None;
    }
    let msg = format!(
        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
         please apply your changes to the latest version and try again",
        rt.crd_name()
    );
    Some(Answer(409, status_body(409, "Conflict", &msg, details(rt, name))))
}

fn details(rt: &ResourceType, name: &str) -> Value {
    json!({ "name": name, "group": rt.group, "kind": rt.plural })
}

fn type_not_found() -> Answer {
    Answer(
        404,
        status_body(
            404,
            "NotFound",
            "the server could not find the requested resource",
            json!({}),
        ),
    )
}

fn object_not_found(rt: &ResourceType, name: &str) -> Answer {
    let msg = format!("{} \"{name}\" not found", rt.crd_name());
    Answer(404, status_body(404, "NotFound", &msg, details(rt, name)))
}

fn bad_request(message: &str) -> Answer {
    Answer(400, status_body(400, "BadRequest", message, json!({})))
}

fn invalid(rt: &ResourceType, name: &str, field: &str, message: &str) -> Answer {
    let msg = format!("{}.{} \"{name}\" is invalid: {message}", rt.kind, rt.group);
    let causes = json!([{ "reason": "FieldValueInvalid", "message": message, "field": field }]);
    let mut d = details(rt, name);
    d["causes"] = causes;
    Answer(422, status_body(422, "Invalid", &msg, d))
}

fn violations_message(violations: &[crate::schema::Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Merges `patch` into `base`: maps key by key, everything else replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Removes from `obj` the keys a manager applied before (`prev`) but no longer applies (`new`).
fn remove_dropped(obj: &mut Value, prev: &Value, new: &Value) {
    let (Value::Object(o), Value::Object(p)) = (obj, prev) else {
        return;
    };
    for (k, pv) in p {
        match new.get(k) {
            None => {
                o.remove(k);
            }
            Some(nv) if pv.is_object() && nv.is_object() => {
                if let Some(ov) = o.get_mut(k) {
                    remove_dropped(ov, pv, nv);
                }
            }
            Some(_) => {}
        }
    }
}

/// Equality selectors only: `a=b,c=d` (also `==`).
fn labels_match(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .unwrap_or((term, ""));
        obj["metadata"]["labels"][k.trim()].as_str() == Some(v.trim())
    })
}

fn record(parts: &Parts, body: &[u8]) -> RecordedRequest {
    let query = parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query,
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(body).ok(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn response(code: u16, body: &Value, retry_after: Option<u64>) -> Response<Body> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(secs) = retry_after {
        b = b.header(header::RETRY_AFTER, secs.to_string());
    }
    b.body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_merge_keeps_others_and_drops_own_removed_keys() {
        let mut cur =
            json!({ "spec": { "a": 1, "b": 2, "list": [1, 2] }, "metadata": { "labels": { "u": "x" } } });
        let prev = json!({ "spec": { "a": 1, "list": [1, 2] } });
        let new = json!({ "spec": { "list": [3] }, "metadata": { "labels": { "m": "y" } } });
        remove_dropped(&mut cur, &prev, &new);
        merge(&mut cur, &new);
        assert_eq!(
            cur,
            json!({ "spec": { "b": 2, "list": [3] }, "metadata": { "labels": { "u": "x", "m": "y" } } })
        );
    }

    #[test]
    fn decoding_and_selectors() {
        assert_eq!(percent_decode("app%3Dreviews%2Cv%3D1"), "app=reviews,v=1");
        assert_eq!(percent_decode("100%"), "100%");
        let obj = json!({ "metadata": { "labels": { "app": "reviews", "v": "1" } } });
        assert!(labels_match(&obj, "app=reviews,v==1"));
        assert!(!labels_match(&obj, "app=ratings"));
    }
}
