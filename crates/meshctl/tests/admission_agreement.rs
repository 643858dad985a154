//! `meshctl validate`'s offline verdict against the real API server's admission, object by object.
//!
//! Every object of the validate corpus, of the Istio and Linkerd golden files, of every Consul
//! render as consul-k8s resources (`--consul-crds`) and of the property-test samples (changes
//! drawn with a fixed seed, `admission_agreement/samples.rs`, rendered offline on Istio, Linkerd
//! and Consul as consul-k8s resources) is sent to the API server with `dryRun=All` and
//! `fieldValidation=Strict` (a server-side apply); the server's verdict (accepted, or refused with
//! 400/422, or 500 for a typed-patch failure) must equal the offline validator's. The table is
//! printed per source; any disagreement fails the test, naming the object and both verdicts.
//! With `MESH_ISTIOCTL`, every Istio object also goes through `istioctl validate` (Istio's own
//! validation, stricter than its CRD schemas), whose verdict must agree too. With
//! `MESH_E2E_ISTIOD` (the test environment runs istiod as the API server's validating webhook for
//! Istio's groups), the server's verdict on Istio objects includes Istio's real admission, and a
//! VirtualService only Istio's validation refuses must be refused: the webhook is in the path.
//! Core kinds (Service, Namespace, ConfigMap) are checked against Kubernetes' own schemas
//! (`cargo xtask core-schemas`); a kind without any offline schema is counted apart, and the
//! server must accept it.
//!
//! `eval "$(cargo xtask testenv up)"; cargo test -p meshctl --test integration admission_agreement:: -- --ignored --nocapture`

#![allow(clippy::print_stdout)] // The agreement table is the report.

use std::path::{Path, PathBuf};

use kube::{api::GroupVersionKind, discovery::Scope};
use mesh::{MeshKind, WriteAction};
use serde_json::{Value, json};

mod samples;
use crate::support;

/// The HTTPRoute CRD flavour the test environment installs.
const GATEWAY_BUNDLE: &str = "gateway-api-v1.6.1";

async fn client() -> kube::Client {
    mesh_kube::testing::live_client().await
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// How many property-test samples are drawn.
const SAMPLES: usize = 120;

/// Where an object comes from (a row of the agreement table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Corpus,
    Golden,
    ConsulRenders,
    PropertySamples,
}

impl Source {
    const ALL: [Source; 4] = [
        Source::Corpus,
        Source::Golden,
        Source::ConsulRenders,
        Source::PropertySamples,
    ];

    fn label(self) -> &'static str {
        match self {
            Source::Corpus => "validate corpus",
            Source::Golden => "golden files",
            Source::ConsulRenders => "consul renders (--consul-crds)",
            Source::PropertySamples => "property samples",
        }
    }
}

/// Every object the agreement covers but the property samples, with where it came from.
fn objects() -> Vec<(Source, String, Value)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut out = Vec::new();
    for (source, dir) in [
        (Source::Corpus, "meshctl/tests/corpus/valid"),
        (Source::Corpus, "meshctl/tests/corpus/invalid"),
        (Source::Corpus, "meshctl/tests/corpus/warn"),
        (Source::Golden, "mesh-istio/tests/golden"),
        (Source::Golden, "mesh-linkerd/tests/golden"),
    ] {
        for file in yaml_files(&crates.join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
            for (i, doc) in docs.into_iter().enumerate().filter(|(_, d)| d.is_object()) {
                let name = format!(
                    "{dir}/{}#{} {}",
                    file.file_name().unwrap().to_string_lossy(),
                    i + 1,
                    doc["kind"].as_str().unwrap_or("?")
                );
                out.push((source, name, doc));
            }
        }
    }
    // Every Consul render as consul-k8s resources (`--consul-crds`).
    for args in support::change_commands() {
        let r = support::render_consul_crds(&args);
        if r.code != 0 {
            continue; // a typed refusal
        }
        let docs: Vec<Value> = serde_saphyr::from_multiple(&r.stdout).unwrap();
        for (i, doc) in docs.into_iter().enumerate().filter(|(_, d)| d.is_object()) {
            let name = format!(
                "meshctl --consul-crds {}#{} {}",
                args.join(" "),
                i + 1,
                doc["kind"].as_str().unwrap_or("?")
            );
            out.push((Source::ConsulRenders, name, doc));
        }
    }
    out
}

/// What became of the property samples on one mesh.
#[derive(Debug, Default)]
struct SampleCounts {
    /// Changes the planner refused (input it rejects, a feature the mesh lacks, a removal of what
    /// an empty control plane does not have).
    refused: usize,
    /// Of those: a feature the mesh does not support natively (or only with an opt-in).
    unsupported: usize,
    /// Of those: input the core or the planner rejects.
    invalid: usize,
    /// Of those: removals of what an empty control plane does not have.
    not_found: usize,
    /// Changes planned with nothing to render (deletes, status writes, agent registrations).
    nothing: usize,
    /// Changes rendered into objects.
    rendered: usize,
    objects: usize,
}

/// The property samples, rendered offline as `meshctl --target render` does: on Istio and Linkerd
/// the objects of the plan (what `kubectl apply` takes), on Consul its consul-k8s resources
/// (`--consul-crds`: planned in Consul CE's `default` namespace, the resources in the sample's).
async fn sample_objects() -> (Vec<(Source, String, Value)>, Vec<(MeshKind, SampleCounts)>) {
    let mut out = Vec::new();
    let mut counts = Vec::new();
    let samples = samples::draw(SAMPLES);
    for kind in [MeshKind::Istio, MeshKind::Linkerd, MeshKind::Consul] {
        let mesh = mesh::Mesh::offline(kind).unwrap();
        let mut c = SampleCounts::default();
        for (i, (namespace, change)) in samples.iter().enumerate() {
            let planned = if kind == MeshKind::Consul {
                samples::in_namespace(change, namespace, "default")
            } else {
                change.clone()
            };
            let plan = match mesh.plan(&planned).await {
                Ok(plan) => plan,
                Err(e) => {
                    c.refused += 1;
                    match e {
                        mesh::Error::Unsupported { .. } => c.unsupported += 1,
                        mesh::Error::InvalidInput { .. } => c.invalid += 1,
                        mesh::Error::NotFound { .. } => c.not_found += 1,
                        e => panic!("sample #{i} {change:?} on {kind}: {e}"),
                    }
                    continue;
                }
            };
            let docs: Vec<Value> = if kind == MeshKind::Consul {
                mesh::consul::crd::plan_resources(&plan, namespace)
                    .unwrap_or_else(|e| panic!("sample #{i} {change:?}: {e}"))
                    .0
            } else {
                plan.writes
                    .iter()
                    .filter(|w| !matches!(w.action, WriteAction::Delete | WriteAction::ApplyStatus))
                    .filter_map(|w| w.body.clone())
                    .collect()
            };
            if docs.is_empty() {
                c.nothing += 1;
                continue;
            }
            c.rendered += 1;
            c.objects += docs.len();
            for (j, doc) in docs.into_iter().enumerate() {
                let name = format!(
                    "sample #{i} {} on {kind} #{} {}",
                    change.operation(),
                    j + 1,
                    doc["kind"].as_str().unwrap_or("?")
                );
                out.push((Source::PropertySamples, name, doc));
            }
        }
        counts.push((kind, c));
    }
    (out, counts)
}

/// A VirtualService that only Istio's own validation refuses: its CRD schema accepts a
/// VirtualService without any http, tcp or tls route; istiod and `istioctl validate` refuse it
/// ("http, tcp or tls must be provided in virtual service"), and so does the offline validator,
/// which knows that rule of Istio's (`mesh_kube::schema::istio`).
fn istiod_probe() -> Value {
    json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "mesh-agreement-istiod-probe", "namespace": "default"},
        "spec": {"hosts": ["probe"]}})
}

fn gvk(doc: &Value) -> GroupVersionKind {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, doc["kind"].as_str().unwrap_or_default())
}

/// The API server's verdict: `Ok` when the dry run is accepted, `Err(message)` when refused.
async fn server_verdict(client: &kube::Client, doc: &Value) -> Result<(), String> {
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk(doc))
        .await
        .map_err(|e| format!("not served: {e}"))?;
    let prefix = if resource.group.is_empty() {
        format!("/api/{}", resource.version)
    } else {
        format!("/apis/{}/{}", resource.group, resource.version)
    };
    let path = match caps.scope {
        Scope::Namespaced => format!(
            "{prefix}/namespaces/{}/{}",
            doc["metadata"]["namespace"].as_str().unwrap_or("default"),
            resource.plural
        ),
        Scope::Cluster => format!("{prefix}/{}", resource.plural),
    };
    // Server-side apply: a create for a new object, an update for one that exists (a Namespace).
    // An object without a name can only be created.
    let query = "dryRun=All&fieldValidation=Strict&fieldManager=mesh-agreement";
    let request = match doc["metadata"]["name"].as_str() {
        Some(name) => http::Request::patch(format!("{path}/{name}?{query}&force=true"))
            .header("content-type", "application/apply-patch+yaml"),
        None => http::Request::post(format!("{path}?{query}")).header("content-type", "application/json"),
    };
    let request = request.body(serde_json::to_vec(doc).unwrap()).unwrap();
    match client.request_text(request).await {
        Ok(_) => Ok(()),
        // 404: the object's namespace is not a valid name, so it was never created.
        Err(kube::Error::Api(status)) if matches!(status.code, 400 | 404 | 422) => {
            Err(status.message.clone())
        }
        // Server-side apply answers an undeclared or mistyped field with a 500 (still a refusal).
        Err(kube::Error::Api(status))
            if status.code == 500 && status.message.contains("failed to create typed patch object") =>
        {
            Err(status.message.clone())
        }
        Err(e) => panic!("the API server did not give a verdict: {e}"),
    }
}

/// Creates `body` at `collection` for real; an object that already exists (409), or an invalid
/// name among `tolerated` codes (the invalid-metadata cases of the corpus), is fine.
async fn create(client: &kube::Client, collection: &str, body: &Value, tolerated: &[u16]) {
    let request = http::Request::post(collection)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .unwrap();
    match client.request_text(request).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 || tolerated.contains(&status.code) => {}
        Err(e) => panic!("creating {collection} {}: {e}", body["metadata"]["name"]),
    }
}

async fn ensure_namespace(client: &kube::Client, name: &str) {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    create(client, "/api/v1/namespaces", &body, &[422]).await;
}

/// istioctl's verdict on one Istio object (`istioctl validate -f`, offline), when
/// `MESH_ISTIOCTL` names the binary.
fn istioctl_verdict(doc: &Value) -> Option<Result<(), String>> {
    let istioctl = std::env::var_os("MESH_ISTIOCTL")?;
    let is_istio = doc["apiVersion"]
        .as_str()
        .is_some_and(|a| a.contains(".istio.io/"));
    if !is_istio {
        return None;
    }
    let file = std::env::temp_dir().join(format!("mesh-agreement-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = std::process::Command::new(istioctl)
        .args(["validate", "-f"])
        .arg(&file)
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("istioctl runs");
    let _ = std::fs::remove_file(&file);
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    })
}

/// The Service an annotation-only apply presumes.
async fn ensure_service(client: &kube::Client, doc: &Value) {
    let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
    let body = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": doc["metadata"]["name"], "namespace": ns},
        "spec": {"ports": [{"name": "http", "port": 80}]}});
    create(client, &format!("/api/v1/namespaces/{ns}/services"), &body, &[]).await;
}

/// Whether every violation is one of Istio's own rules, which only istiod (and istioctl) check.
fn istio_rules_only(violations: &[mesh_kube::schema::Violation], doc: &Value) -> bool {
    let mut istio = Vec::new();
    mesh_kube::schema::istio::check(doc, &mut istio);
    !violations.is_empty() && violations == istio.as_slice()
}

/// One source's row of the agreement table.
#[derive(Debug, Default)]
struct Row {
    objects: usize,
    uncovered: usize,
    agree: usize,
    disagree: usize,
    /// Refused by the API server through istiod's webhook.
    refused_by_istiod: usize,
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn the_offline_validator_agrees_with_the_api_servers_admission() {
    let client = client().await;
    let mut objects = objects();
    let (sampled, sample_counts) = sample_objects().await;
    objects.extend(sampled);
    let mut namespaces: Vec<&str> = objects
        .iter()
        .filter_map(|(_, _, d)| d["metadata"]["namespace"].as_str())
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    for ns in namespaces {
        ensure_namespace(&client, ns).await;
    }
    let set = mesh_kube::schema::SchemaSet::bundled();
    let istiod = std::env::var("MESH_E2E_ISTIOD").ok();
    if let Some(url) = &istiod {
        // The webhook must be in the path: a VirtualService only Istio's validation refuses.
        let probe = istiod_probe();
        assert!(
            istio_rules_only(
                &set.validate_with_bundle(&probe, Some(GATEWAY_BUNDLE))
                    .unwrap_err(),
                &probe
            ),
            "the probe must pass the CRD schema, or it proves nothing about the webhook"
        );
        match server_verdict(&client, &probe).await {
            Err(m) if m.contains("admission webhook") && m.contains("http, tcp or tls must be provided") => {
                println!("istiod's webhook ({url}) refused the probe: {m}");
            }
            other => panic!(
                "MESH_E2E_ISTIOD={url} says istiod validates Istio's groups, but the API server answered \
                 {other:?} to a VirtualService without routes, which istiod refuses: the webhook is not in \
                 the path (is the ValidatingWebhookConfiguration mesh-testenv-istiod registered, and istiod \
                 running?)"
            ),
        }
    }
    let mut rows: std::collections::BTreeMap<Source, Row> =
        Source::ALL.into_iter().map(|s| (s, Row::default())).collect();
    let mut disagreements = Vec::new();
    let mut istio_checked = 0;
    for (source, name, doc) in &objects {
        let row = rows.get_mut(source).unwrap();
        row.objects += 1;
        if doc["kind"] == "Service" && doc["spec"]["ports"].is_null() {
            // An annotation-only apply (Linkerd's circuit breaker) presumes the Service exists.
            ensure_service(&client, doc).await;
        }
        let server = server_verdict(&client, doc).await;
        if server.as_ref().is_err_and(|m| m.contains("admission webhook")) {
            row.refused_by_istiod += 1;
        }
        let kind = doc["kind"].as_str().unwrap_or_default();
        if set
            .lookup(
                doc["apiVersion"].as_str().unwrap_or_default(),
                kind,
                Some(GATEWAY_BUNDLE),
            )
            .is_none()
        {
            // A kind the offline validator has no schema for: the server must accept it.
            assert!(server.is_ok(), "{name}: the API server refused it: {server:?}");
            row.uncovered += 1;
            continue;
        }
        let violations = set
            .validate_with_bundle(doc, Some(GATEWAY_BUNDLE))
            .err()
            .unwrap_or_default();
        let offline = violations.is_empty();
        // Without istiod in the path, the API server checks the CRD schema only: an object only
        // Istio's own rules refuse is accepted.
        let expected_by_server = offline || (istiod.is_none() && istio_rules_only(&violations, doc));
        let mut agrees = true;
        if let Some(istio) = istioctl_verdict(doc) {
            istio_checked += 1;
            // `istioctl validate` checks the spec, not metadata (the API server does that).
            let spec_ok = violations.iter().all(|v| v.path.starts_with("metadata."));
            if istio.is_ok() != spec_ok {
                agrees = false;
                disagreements.push(format!(
                    "{name}: offline {}, istioctl {istio:?}\n{doc:#}",
                    if offline { "valid" } else { "invalid" }
                ));
            }
        }
        if expected_by_server != server.is_ok() {
            agrees = false;
            disagreements.push(format!(
                "{name}: offline {}{}, API server {}\n{doc:#}",
                if offline { "valid" } else { "invalid" },
                if offline {
                    String::new()
                } else {
                    format!(" ({violations:?})")
                },
                match &server {
                    Ok(()) => "accepted".to_owned(),
                    Err(m) => format!("refused ({m})"),
                }
            ));
        }
        if agrees {
            row.agree += 1;
        } else {
            row.disagree += 1;
        }
    }
    println!(
        "| source | objects | offline verdict | agree | disagree | refused by istiod's webhook |\n\
         | --- | --- | --- | --- | --- | --- |"
    );
    let mut total = Row::default();
    for (source, row) in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            source.label(),
            row.objects,
            row.objects - row.uncovered,
            row.agree,
            row.disagree,
            row.refused_by_istiod
        );
        total.objects += row.objects;
        total.uncovered += row.uncovered;
        total.agree += row.agree;
        total.disagree += row.disagree;
        total.refused_by_istiod += row.refused_by_istiod;
    }
    println!(
        "| all | {} | {} | {} | {} | {} |",
        total.objects,
        total.objects - total.uncovered,
        total.agree,
        total.disagree,
        total.refused_by_istiod
    );
    println!(
        "no offline schema (all accepted by the server): {}",
        total.uncovered
    );
    println!("property samples drawn: {SAMPLES} (fixed seed)");
    for (kind, c) in &sample_counts {
        println!(
            "  {kind}: {} refused by the planner ({} unsupported, {} invalid input, {} not found), {} with \
             nothing to render, {} rendered into {} objects",
            c.refused, c.unsupported, c.invalid, c.not_found, c.nothing, c.rendered, c.objects
        );
    }
    println!("Istio objects also checked by istioctl validate: {istio_checked}");
    println!(
        "istiod as the API server's validating webhook: {}",
        istiod.as_deref().unwrap_or("no (MESH_E2E_ISTIOD unset)")
    );
    if std::env::var_os("MESH_TESTENV").is_some() {
        assert!(
            istio_checked > 0,
            "the test environment runs, but MESH_ISTIOCTL is not set"
        );
    }
    assert!(
        total.objects >= 40,
        "the corpus shrank to {} objects",
        total.objects
    );
    let samples = &rows[&Source::PropertySamples];
    assert!(
        samples.objects >= SAMPLES,
        "the property samples rendered only {} objects",
        samples.objects
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
