//! Offline validation of Kubernetes objects against the pinned upstream CRD schemas.
//!
//! The schemas are copies of `../shared/upstream/crds/` made by `cargo xtask schemas` (descriptions
//! stripped; sources in `schemas/SOURCES.md`) and compiled into the crate. An object is checked in
//! two passes, as the API server does:
//! 1. **structural**: types, required fields, enums, patterns, bounds, `oneOf`, int-or-string,
//!    nullable, unknown fields (closed objects unless `x-kubernetes-preserve-unknown-fields`), and
//!    `x-kubernetes-list-type: set` uniqueness, by [`jsonschema`] after the translation in
//!    `structural.rs`, plus unique keys in `x-kubernetes-list-type: map` lists;
//! 2. **CEL**: the `x-kubernetes-validations` rules, by [`kube_cel`], once the object is
//!    structurally valid (with schema defaults applied first, as the API server does). Rules it
//!    cannot compile are listed by [`SchemaSet::unevaluated_rules`] and skipped.
//!
//! Istio objects that pass both then meet the rules of Istio's own validation that its schemas do
//! not carry ([`istio`]), as istiod's validating webhook checks them after the API server's own
//! validation.
//!
//! ```
//! use mesh_kube::schema::SchemaSet;
//! use serde_json::json;
//! let schemas = SchemaSet::bundled();
//! let vs = json!({
//!     "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
//!     "metadata": { "name": "reviews", "namespace": "prod" },
//!     "spec": { "hosts": ["reviews.prod.svc.cluster.local"],
//!               "http": [{ "timeout": "500us",
//!                          "route": [{ "destination": { "host": "reviews.prod.svc.cluster.local" } }] }] }
//! });
//! let violations = schemas.validate(&vs).unwrap_err();
//! assert_eq!(violations[0].path, "spec.http[0].timeout");
//! assert!(violations[0].rule.is_some()); // a CEL rule caught it
//! ```

mod bundled;
mod cel;
pub mod istio;
mod list_map;
pub mod metadata;
mod structural;
mod violation;

use std::{collections::BTreeMap, sync::OnceLock};

use serde_json::Value;

pub use self::violation::Violation;
use self::{cel::CelRules, list_map::MapLists, violation::pointer_to_path};

/// The Gateway API bundle used when a caller does not choose one.
pub const DEFAULT_GATEWAY_API_BUNDLE: &str = "gateway-api-v1.6.1";

/// What the schema set knows about one served version of a CRD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdVersion {
    /// `networking.istio.io/v1`.
    pub api_version: String,
    /// The API group (`networking.istio.io`).
    pub group: String,
    /// The version (`v1`).
    pub version: String,
    /// `VirtualService`.
    pub kind: String,
    /// The resource name in URLs (`virtualservices`).
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether the CRD serves this version.
    pub served: bool,
    /// Whether this is the storage version.
    pub storage: bool,
    /// Whether the CRD marks this version deprecated.
    pub deprecated: bool,
    /// Whether this version has a `status` subresource (writes to the object then ignore its
    /// status, and the status is written through `/status`).
    pub status_subresource: bool,
    /// The bundle it came from, for kinds shipped in several (the Gateway API HTTPRoute).
    pub bundle: Option<&'static str>,
}

impl CrdVersion {
    /// The CRD's name, `<plural>.<group>` (`virtualservices.networking.istio.io`).
    pub fn crd_name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }
}

/// A CEL rule the validator cannot evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnevaluatedRule {
    /// `apiVersion` and kind (`networking.istio.io/v1 VirtualService`), plus the bundle if any.
    pub schema: String,
    /// The rule, or what failed to compile.
    pub rule: String,
    /// Why it cannot be evaluated.
    pub reason: String,
}

/// The pinned schemas of every CRD the backends write, compiled lazily.
pub struct SchemaSet {
    entries: Vec<Entry>,
    /// `(apiVersion, kind)` → indexes into `entries`.
    index: BTreeMap<(String, String), Vec<usize>>,
}

struct Entry {
    info: CrdVersion,
    open_api: Value,
    structural: OnceLock<Result<jsonschema::Validator, String>>,
    map_lists: OnceLock<Option<MapLists>>,
    cel: OnceLock<CelRules>,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSet")
            .field("schemas", &self.entries.len())
            .finish()
    }
}

impl SchemaSet {
    /// The schemas compiled into this crate, parsed once per process.
    ///
    /// ```
    /// let set = mesh_kube::schema::SchemaSet::bundled();
    /// let dr = set.lookup("networking.istio.io/v1", "DestinationRule", None).unwrap();
    /// assert_eq!(dr.plural, "destinationrules");
    /// assert!(dr.namespaced && dr.storage);
    /// ```
    pub fn bundled() -> &'static SchemaSet {
        static SET: OnceLock<SchemaSet> = OnceLock::new();
        SET.get_or_init(|| {
            let crds = bundled::FILES
                .iter()
                .chain(bundled::CORE_FILES)
                .map(|(file, bundle, json)| {
                    let crd = serde_json::from_str(json)
                        .unwrap_or_else(|e| panic!("bundled schema {file} is not JSON: {e}"));
                    (crd, *bundle)
                });
            SchemaSet::from_crds(crds)
        })
    }

    /// A schema set built from CRD documents (`apiextensions.k8s.io/v1`), each with an optional
    /// bundle name. Documents that are not CRDs are ignored.
    pub fn from_crds(crds: impl IntoIterator<Item = (Value, Option<&'static str>)>) -> Self {
        let mut entries = Vec::new();
        for (crd, bundle) in crds {
            let spec = &crd["spec"];
            let (Some(group), Some(kind), Some(plural)) = (
                spec["group"].as_str(),
                spec["names"]["kind"].as_str(),
                spec["names"]["plural"].as_str(),
            ) else {
                continue;
            };
            let namespaced = spec["scope"].as_str() != Some("Cluster");
            for v in spec["versions"].as_array().into_iter().flatten() {
                let Some(version) = v["name"].as_str() else {
                    continue;
                };
                let open_api = v["schema"]["openAPIV3Schema"].clone();
                entries.push(Entry {
                    info: CrdVersion {
                        // The core group is empty: `v1`, not `/v1`.
                        api_version: if group.is_empty() {
                            version.to_owned()
                        } else {
                            format!("{group}/{version}")
                        },
                        group: group.to_owned(),
                        version: version.to_owned(),
                        kind: kind.to_owned(),
                        plural: plural.to_owned(),
                        namespaced,
                        served: v["served"].as_bool().unwrap_or(false),
                        storage: v["storage"].as_bool().unwrap_or(false),
                        deprecated: v["deprecated"].as_bool().unwrap_or(false),
                        status_subresource: v["subresources"].get("status").is_some(),
                        bundle,
                    },
                    open_api,
                    structural: OnceLock::new(),
                    map_lists: OnceLock::new(),
                    cel: OnceLock::new(),
                });
            }
        }
        let mut index: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            index
                .entry((e.info.api_version.clone(), e.info.kind.clone()))
                .or_default()
                .push(i);
        }
        Self { entries, index }
    }

    /// Every versioned schema in the set.
    pub fn versions(&self) -> impl Iterator<Item = &CrdVersion> {
        self.entries.iter().map(|e| &e.info)
    }

    /// The bundle names, for kinds shipped in several bundles.
    ///
    /// ```
    /// let bundles = mesh_kube::schema::SchemaSet::bundled().bundles();
    /// assert!(bundles.contains(&"gateway-api-v1.1.1") && bundles.contains(&"gateway-api-v1.6.1"));
    /// ```
    pub fn bundles(&self) -> Vec<&'static str> {
        let mut b: Vec<_> = self.entries.iter().filter_map(|e| e.info.bundle).collect();
        b.sort_unstable();
        b.dedup();
        b
    }

    /// The schema of `apiVersion`/`kind`, from `bundle` when that kind ships in several bundles.
    ///
    /// Without a bundle, the unbundled schema wins, then [`DEFAULT_GATEWAY_API_BUNDLE`]. A bundle
    /// that does not carry the kind is ignored, so callers can pass their bundle for every object.
    pub fn lookup(&self, api_version: &str, kind: &str, bundle: Option<&str>) -> Option<&CrdVersion> {
        self.entry(api_version, kind, bundle).map(|e| &e.info)
    }

    /// Validates `obj` against the schema of its `apiVersion` and `kind`.
    ///
    /// # Errors
    /// Every violation found: structural ones first; CEL rules run only on structurally valid
    /// objects, and Istio's own rules ([`istio`]) only on objects that pass the CEL rules. An
    /// object without a string `apiVersion`/`kind`, or of a kind the set does not know, gives one
    /// violation saying so.
    pub fn validate(&self, obj: &Value) -> Result<(), Vec<Violation>> {
        self.validate_with_bundle(obj, None)
    }

    /// Like [`validate`](Self::validate), choosing the bundle for kinds shipped in several, such as
    /// `gateway-api-v1.1.1` for clusters with Gateway API 1.1.1.
    ///
    /// ```
    /// use mesh_kube::schema::SchemaSet;
    /// let route = serde_json::json!({
    ///     "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    ///     "metadata": { "name": "r", "namespace": "prod" },
    ///     "spec": { "rules": [{ "timeouts": { "request": "10s" } }] }
    /// });
    /// let set = SchemaSet::bundled();
    /// assert!(set.validate_with_bundle(&route, Some("gateway-api-v1.6.1")).is_ok());
    /// // standard 1.1.1 has no rules[].timeouts
    /// let err = set.validate_with_bundle(&route, Some("gateway-api-v1.1.1")).unwrap_err();
    /// assert_eq!(err[0].path, "spec.rules[0]");
    /// ```
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn validate_with_bundle(&self, obj: &Value, bundle: Option<&str>) -> Result<(), Vec<Violation>> {
        let (Some(api_version), Some(kind)) = (obj["apiVersion"].as_str(), obj["kind"].as_str()) else {
            return Err(vec![Violation::new(
                "",
                "the object has no string apiVersion and kind",
            )]);
        };
        let Some(entry) = self.entry(api_version, kind, bundle) else {
            return Err(vec![Violation::new(
                "kind",
                format!("no pinned schema for {api_version} {kind}"),
            )]);
        };
        let structural = match entry.structural() {
            Ok(v) => v,
            Err(e) => return Err(vec![Violation::new("", format!("schema does not compile: {e}"))]),
        };
        // `is_valid` short-circuits without building errors: the common case costs least.
        let mut violations: Vec<Violation> = if structural.is_valid(obj) {
            Vec::new()
        } else {
            structural.iter_errors(obj).map(|e| describe(&e)).collect()
        };
        if let Some(lists) = entry.map_lists.get_or_init(|| MapLists::build(&entry.open_api)) {
            lists.check(obj, "", &mut violations);
        }
        metadata::check(obj, &mut violations);
        if violations.is_empty() {
            violations = entry.cel().validate(obj, &entry.info);
        }
        if violations.is_empty() {
            istio::check(obj, &mut violations);
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// Validates many objects, spread over the machine's cores; results are in input order.
    ///
    /// ```
    /// let set = mesh_kube::schema::SchemaSet::bundled();
    /// let pa = |mode: &str| serde_json::json!({
    ///     "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
    ///     "metadata": { "name": "default" }, "spec": { "mtls": { "mode": mode } } });
    /// let results = set.validate_many(&[pa("STRICT"), pa("LOOSE")], None);
    /// assert!(results[0].is_ok() && results[1].is_err());
    /// ```
    pub fn validate_many(&self, objs: &[Value], bundle: Option<&str>) -> Vec<Result<(), Vec<Violation>>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 || objs.len() < 64 {
            return objs
                .iter()
                .map(|o| self.validate_with_bundle(o, bundle))
                .collect();
        }
        let chunk = objs.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = objs
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|o| self.validate_with_bundle(o, bundle))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        })
    }

    /// Validates every object a plan writes, as [`object_for`](crate::object_for) builds it.
    /// Deletes, status writes and kinds without a pinned schema (core `v1` kinds such as
    /// `Service`) are skipped.
    ///
    /// ```
    /// use mesh_core::*;
    /// let change = Change::EnableMtls { namespace: "prod".parse()? };
    /// let mut plan = Plan::for_change(MeshKind::Istio, &change);
    /// let pa = ObjectRef::new("security.istio.io/v1", "PeerAuthentication", Some("prod"), "default");
    /// plan.push(Write::new(WriteAction::Apply, pa.clone(),
    ///     Some(serde_json::json!({ "spec": { "mtls": { "mode": "STRICTER" } } }))));
    /// let bad = mesh_kube::schema::SchemaSet::bundled().validate_plan(&plan, None).unwrap_err();
    /// assert_eq!(bad[0].0, pa);
    /// assert_eq!(bad[0].1[0].path, "spec.mtls.mode");
    /// # Ok::<(), mesh_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// Each write whose object does not validate, with its violations, in plan order.
    #[allow(clippy::type_complexity)] // A list of (object, its violations) reads plainly.
    pub fn validate_plan(
        &self,
        plan: &mesh_core::Plan,
        bundle: Option<&str>,
    ) -> Result<(), Vec<(mesh_core::ObjectRef, Vec<Violation>)>> {
        let bad: Vec<_> = plan
            .writes
            .iter()
            .filter(|w| w.action != mesh_core::WriteAction::ApplyStatus)
            .filter(|w| {
                self.lookup(&w.target.api_version, &w.target.kind, bundle)
                    .is_some()
            })
            .filter_map(|w| {
                let obj = crate::object_for(w)?;
                self.validate_with_bundle(&obj, bundle)
                    .err()
                    .map(|v| (w.target.clone(), v))
            })
            .collect();
        if bad.is_empty() { Ok(()) } else { Err(bad) }
    }

    /// Every CEL rule in the set that cannot be compiled, and so is not evaluated.
    ///
    /// Compiles every schema's rules on first call.
    ///
    /// ```
    /// // kube-cel compiles every rule of the pinned Istio, Linkerd and Gateway API CRDs.
    /// assert!(mesh_kube::schema::SchemaSet::bundled().unevaluated_rules().is_empty());
    /// ```
    pub fn unevaluated_rules(&self) -> Vec<UnevaluatedRule> {
        let mut out = Vec::new();
        for e in &self.entries {
            let schema = match e.info.bundle {
                Some(b) => format!("{} {} ({b})", e.info.api_version, e.info.kind),
                None => format!("{} {}", e.info.api_version, e.info.kind),
            };
            for (rule, reason) in e.cel().unevaluated() {
                out.push(UnevaluatedRule {
                    schema: schema.clone(),
                    rule,
                    reason,
                });
            }
        }
        out
    }

    /// How many CEL rules the set holds, compiled or not.
    pub fn cel_rule_count(&self) -> usize {
        self.entries.iter().map(|e| e.cel().rule_count()).sum()
    }

    fn entry(&self, api_version: &str, kind: &str, bundle: Option<&str>) -> Option<&Entry> {
        let candidates = self.index.get(&(api_version.to_owned(), kind.to_owned()))?;
        let pick = |want: Option<&str>| {
            candidates
                .iter()
                .map(|&i| &self.entries[i])
                .find(|e| e.info.bundle == want)
        };
        bundle
            .and_then(|b| pick(Some(b)))
            .or_else(|| pick(None))
            .or_else(|| pick(Some(DEFAULT_GATEWAY_API_BUNDLE)))
            .or_else(|| candidates.first().map(|&i| &self.entries[i]))
    }
}

impl Entry {
    fn structural(&self) -> Result<&jsonschema::Validator, &str> {
        self.structural
            .get_or_init(|| {
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft4)
                    // Kubernetes formats (int32, byte, Go durations) are not JSON Schema's.
                    .should_validate_formats(false)
                    .build(&structural::to_json_schema(&self.open_api))
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }

    fn cel(&self) -> &CelRules {
        self.cel.get_or_init(|| CelRules::compile(&self.open_api))
    }
}

/// A jsonschema error as a violation; whole objects and lists are not printed back.
fn describe(e: &jsonschema::ValidationError<'_>) -> Violation {
    let message = match e.instance().as_ref() {
        Value::Object(_) | Value::Array(_) => e.masked_with("the value").to_string(),
        _ => e.to_string(),
    };
    Violation::new(pointer_to_path(e.instance_path().as_str()), message)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A remembered verdict is reported at each place the value occurs, and again on the next
    /// object, exactly as a fresh evaluation reports it.
    #[test]
    fn remembered_verdicts_land_at_every_occurrence() {
        let set = SchemaSet::bundled();
        let entry = |address: &str| json!({ "address": address, "ports": { "bad_name": 8080 } });
        let se = json!({ "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": { "name": "a" },
            "spec": { "hosts": ["h.example"], "resolution": "STATIC", "ports": [{ "number": 80, "name": "http" }],
                "endpoints": [entry("10.0.0.1"), entry("10.0.0.2")] } });
        let paths = |v: Vec<Violation>| v.into_iter().map(|v| (v.path, v.rule)).collect::<Vec<_>>();
        let first = paths(set.validate(&se).unwrap_err());
        assert_eq!(first.len(), 2, "{first:?}");
        assert_eq!(first[0].0, "spec.endpoints[0].ports");
        assert_eq!(first[1].0, "spec.endpoints[1].ports");
        assert_eq!(first[0].1, first[1].1);
        assert_eq!(paths(set.validate(&se).unwrap_err()), first);
        // The same small value is fine under a node whose rules accept it.
        let we = json!({ "apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry", "metadata": { "name": "a" },
            "spec": { "address": "10.0.0.1", "ports": { "http": 8080 } } });
        assert!(set.validate(&we).is_ok());
    }

    /// The rule-node walk gives exactly what evaluating the whole object from the root gives.
    #[test]
    fn subtree_evaluation_matches_whole_object_evaluation() {
        let set = SchemaSet::bundled();
        let objects = [
            json!({ "apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": { "name": "a" },
                "spec": { "hosts": ["h"], "http": [
                    { "timeout": "500us", "retries": { "attempts": 2, "perTryTimeout": "1us" },
                      "fault": { "delay": { "fixedDelay": "0s", "percentage": { "value": 10 } } },
                      "route": [{ "destination": { "host": "h" } }] },
                    { "timeout": "1s", "route": [{ "destination": { "host": "h" } }] } ] } }),
            json!({ "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": { "name": "a" },
                "spec": { "selector": { "matchLabels": { "app": "web*", "": "x" } }, "action": "DENY" } }),
            json!({ "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": { "name": "a" },
                "spec": { "hosts": ["h"], "resolution": "STATIC",
                    "ports": [{ "number": 70000, "name": "a" }, { "number": 70000, "name": "a" }] } }),
            json!({ "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": { "name": "a" },
                "spec": { "rules": [{ "matches": [{ "path": { "type": "PathPrefix", "value": "/a//b" } }],
                    "filters": [{ "type": "RequestRedirect", "requestRedirect": { "statusCode": 302 } },
                                { "type": "URLRewrite", "urlRewrite": { "hostname": "x" } }] }] } }),
            json!({ "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": { "name": "a" },
                "spec": { "selector": { "matchLabels": { "app": "x" } }, "targetRef": { "kind": "Service", "name": "s", "namespace": "n" },
                    "rules": [{ "from": [{ "source": { "serviceAccounts": ["a"], "principals": ["p"] } }] }] } }),
            json!({ "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": { "name": "a" },
                "spec": { "hosts": ["*"], "addresses": ["10.0.0.0/24"], "resolution": "DNS",
                    "workloadSelector": { "labels": { "app": "x*" } },
                    "endpoints": [{ "address": "unix:///x/", "ports": { "http": 70000, "bad_name": 1 } }, {}] } }),
            json!({ "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin", "metadata": { "name": "a" },
                "spec": { "url": "ftp://x", "selector": { "matchLabels": { "app": "x" } },
                    "targetRef": { "kind": "Gateway", "name": "g" } } }),
            json!({ "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": { "name": "a" },
                "spec": { "portLevelMtls": { "8080": { "mode": "STRICT" } } } }),
            json!({ "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": { "name": "a" },
                "spec": { "parentRefs": [{ "name": "p", "sectionName": "s" }, { "name": "p", "sectionName": "s" }],
                    "rules": [{ "backendRefs": [{ "name": "b", "kind": "Service" }],
                                "matches": [{ "path": { "type": "RegularExpression", "value": "(" } }] }] } }),
            json!({ "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": { "name": "a" },
                "spec": { "host": "h", "trafficPolicy": { "outlierDetection": { "interval": "1us", "baseEjectionTime": "1us" },
                    "connectionPool": { "tcp": { "connectTimeout": "1us" } } } } }),
        ];
        let mut compared = 0;
        for obj in &objects {
            let entry = set
                .entry(
                    obj["apiVersion"].as_str().unwrap(),
                    obj["kind"].as_str().unwrap(),
                    None,
                )
                .unwrap();
            let root = kube_cel::RootContext {
                api_version: entry.info.api_version.clone(),
                api_group: entry.info.group.clone(),
                kind: entry.info.kind.clone(),
            };
            let full = kube_cel::compile_schema(&entry.open_api);
            let mut expected: Vec<(String, String)> = kube_cel::Validator::new()
                .validate_compiled_with_context(&full, obj, None, Some(&root))
                .err()
                .map(|e| e.into_vec())
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.field_path, e.rule))
                .collect();
            let mut got: Vec<(String, String)> = entry
                .cel()
                .validate(obj, &entry.info)
                .into_iter()
                .map(|v| (v.path, v.rule.unwrap_or_default()))
                .collect();
            expected.sort();
            got.sort();
            assert_eq!(got, expected, "{}", obj["kind"]);
            compared += got.len();
        }
        assert!(compared >= 20, "only {compared} violations compared");
    }
}
