//! `cargo xtask schemas [--check]`: copies the pinned upstream CRDs into `crates/mesh-kube/schemas/`.
//!
//! Reads every `*.yaml` in `../shared/upstream/crds/` (relative to the workspace root), keeps the
//! facts of each `CustomResourceDefinition` (group, names, scope, versions, schemas, validation
//! rules, printer columns) and strips every `description` (upstream prose), every
//! `deprecationWarning`, the metadata labels and annotations (but `api-approved.kubernetes.io`, which
//! the API server requires for protected groups), and the `status`. Each CRD becomes one
//! compact JSON file, `<group>_<plural>.json`, or `<group>_<plural>.<bundle>.json` for CRDs that ship
//! in several bundles (the Gateway API HTTPRoute). It also writes `index.rs`, the table
//! `mesh_kube::schema` embeds, and `SOURCES.md`, which records where every file came from.
//!
//! With `--check` nothing is written: the task fails when any output is missing, stale, or extra.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use serde_json::Value;

/// Where the copies go, relative to the workspace root.
const OUT_DIR: &str = "crates/mesh-kube/schemas";
/// Where the upstream files are, relative to the workspace root.
const SRC_DIR: &str = "../shared/upstream/crds";

/// Files whose CRDs are one of several bundles of the same kind, and the bundle name each gets.
const BUNDLES: &[(&str, &str)] = &[
    (
        "gateway-api-v1.1.1-standard-httproutes.yaml",
        "gateway-api-v1.1.1",
    ),
    (
        "gateway-api-v1.6.1-standard-httproutes.yaml",
        "gateway-api-v1.6.1",
    ),
    (
        "linkerd-bundled-gateway-api-v1.1.1-experimental-httproutes.yaml",
        "linkerd-gateway-api-v1.1.1-experimental",
    ),
];

/// Runs the task from the workspace root this xtask was built in.
pub(crate) fn run(check: bool) -> anyhow::Result<()> {
    run_in(&crate::workspace_root()?, check)
}

/// Runs the task for the workspace at `root`.
pub(crate) fn run_in(root: &Path, check: bool) -> anyhow::Result<()> {
    let src = root.join(SRC_DIR);
    let out = root.join(OUT_DIR);
    let wanted = generate(&src)?;
    if check {
        return check_outputs(&out, &wanted);
    }
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for stale in existing_outputs(&out)? {
        if !wanted.contains_key(&stale) {
            fs::remove_file(out.join(&stale)).with_context(|| format!("removing stale {stale}"))?;
        }
    }
    for (name, content) in &wanted {
        let path = out.join(name);
        if fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    eprintln!("schemas: {} files in {}", wanted.len(), out.display());
    Ok(())
}

/// One stripped CRD and where it came from.
struct CrdCopy {
    file: String,
    source: String,
    bundle: Option<&'static str>,
    group: String,
    kind: String,
    versions: Vec<String>,
    crd: Value,
}

/// Every output file name and its content.
fn generate(src: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut inputs: Vec<PathBuf> = fs::read_dir(src)
        .with_context(|| format!("reading {} (the pinned upstream CRDs)", src.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    inputs.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    inputs.sort();
    if inputs.is_empty() {
        bail!("no *.yaml files in {}", src.display());
    }
    let provenance = read_provenance(&src.join("README.md"))?;

    let mut copies = Vec::new();
    for path in &inputs {
        let source = path
            .file_name()
            .and_then(|n| n.to_str())
            .context("non-UTF-8 file name")?;
        let text = fs::read_to_string(path).with_context(|| format!("reading {source}"))?;
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).with_context(|| format!("parsing {source}"))?;
        let bundle = BUNDLES.iter().find(|(f, _)| *f == source).map(|(_, b)| *b);
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            copies.push(copy_of(doc, source, bundle).with_context(|| format!("in {source}"))?);
        }
    }
    copies.sort_by(|a, b| a.file.cmp(&b.file));
    if let Some(w) = copies.windows(2).find(|w| w[0].file == w[1].file) {
        bail!("two CRDs map to {}; add a bundle name", w[0].file);
    }

    let mut out = BTreeMap::new();
    for c in &copies {
        let mut json = serde_json::to_string(&c.crd)?;
        json.push('\n');
        out.insert(c.file.clone(), json);
    }
    out.insert("index.rs".to_owned(), index_rs(&copies));
    out.insert("SOURCES.md".to_owned(), sources_md(&copies, &provenance)?);
    Ok(out)
}

/// Where a CRD in a protected group records its API approval.
const APPROVAL_ANNOTATION: &str = "/metadata/annotations/api-approved.kubernetes.io";

/// Turns one upstream CRD document into its stripped copy.
fn copy_of(mut doc: Value, source: &str, bundle: Option<&'static str>) -> anyhow::Result<CrdCopy> {
    if doc.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
        bail!("a document is not a CustomResourceDefinition");
    }
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .context("CRD without metadata.name")?
        .to_owned();
    let spec = doc.get_mut("spec").context("CRD without spec")?;
    let group = str_at(spec, "/group")?;
    let kind = str_at(spec, "/names/kind")?;
    let plural = str_at(spec, "/names/plural")?;
    strip_prose(spec, false);
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .context("CRD without versions")?
        .iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let spec = spec.take();
    // The API server refuses a CRD in a protected group (`*.k8s.io`) without this annotation, so
    // it is kept (a link to the approving pull request, not prose).
    let mut metadata = serde_json::json!({ "name": name });
    if let Some(approved) = doc.pointer(APPROVAL_ANNOTATION).and_then(Value::as_str) {
        metadata["annotations"] = serde_json::json!({ "api-approved.kubernetes.io": approved });
    }
    let crd = serde_json::json!({
        "apiVersion": doc.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": spec,
    });
    let file = match bundle {
        Some(b) => format!("{group}_{plural}.{b}.json"),
        None => format!("{group}_{plural}.json"),
    };
    Ok(CrdCopy {
        file,
        source: source.to_owned(),
        bundle,
        group,
        kind,
        versions,
        crd,
    })
}

fn str_at(v: &Value, pointer: &str) -> anyhow::Result<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("CRD without {pointer}"))
}

/// Removes prose (`description`, `deprecationWarning` strings) from a schema tree, keeping
/// properties that happen to be *named* `description`, and leaving data (`default`, `enum`,
/// `example`) untouched.
fn strip_prose(v: &mut Value, names_map: bool) {
    match v {
        Value::Object(map) => {
            if !names_map {
                for key in ["description", "deprecationWarning"] {
                    if map.get(key).is_some_and(Value::is_string) {
                        map.remove(key);
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "default" | "enum" | "example" if !names_map => {}
                    "properties" | "patternProperties" | "definitions" if !names_map => {
                        strip_prose(child, true);
                    }
                    _ => strip_prose(child, false),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| strip_prose(i, false)),
        _ => {}
    }
}

/// Upstream repository, path and version of each source file, from the README's table.
fn read_provenance(readme: &Path) -> anyhow::Result<BTreeMap<String, [String; 3]>> {
    let text = fs::read_to_string(readme).with_context(|| format!("reading {}", readme.display()))?;
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        if let [file, repo, path, version, ..] = cells.as_slice() {
            let unquote = |s: &str| s.trim_matches('`').to_owned();
            rows.insert(
                unquote(file),
                [repo.to_string(), path.to_string(), version.to_string()],
            );
        }
    }
    Ok(rows)
}

fn index_rs(copies: &[CrdCopy]) -> String {
    let mut s = String::from(
        "// @generated by `cargo xtask schemas`; do not edit.\n\
         // (file, bundle, JSON of the CRD with descriptions stripped)\n\
         &[\n",
    );
    for c in copies {
        let bundle = match c.bundle {
            Some(b) => format!("Some({b:?})"),
            None => "None".to_owned(),
        };
        let _ = writeln!(s, "    ({:?}, {bundle}, include_str!({:?})),", c.file, c.file);
    }
    s.push_str("]\n");
    s
}

fn sources_md(copies: &[CrdCopy], provenance: &BTreeMap<String, [String; 3]>) -> anyhow::Result<String> {
    let mut s = String::from(
        "# Bundled CRD schemas\n\n\
         Generated by `cargo xtask schemas` from the pinned upstream CRD files that the table below\n\
         names (repository, path, version); `cargo xtask schemas --check` fails when these copies are\n\
         stale. Do not edit by hand.\n\n\
         Each file is one upstream `CustomResourceDefinition` with its facts kept (group, names,\n\
         scope, versions, OpenAPI v3 schemas, `x-kubernetes-validations` rules and messages,\n\
         printer columns). **Every `description` and `deprecationWarning` string was stripped**, as\n\
         were the CRD's metadata labels, annotations (except `api-approved.kubernetes.io`, which the\n\
         API server requires for `*.k8s.io` groups) and status, so no upstream prose is copied.\n\n\
         | file | bundle | group / kind | versions | source file | upstream repo | upstream path | version / commit |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for c in copies {
        let [repo, path, version] = provenance
            .get(&c.source)
            .with_context(|| format!("{} is not listed in the upstream README", c.source))?;
        let _ = writeln!(
            s,
            "| `{}` | {} | {}/{} | {} | `{}` | {repo} | {path} | {version} |",
            c.file,
            c.bundle.unwrap_or("-"),
            c.group,
            c.kind,
            c.versions.join(", "),
            c.source,
        );
    }
    Ok(s)
}

fn existing_outputs(out: &Path) -> anyhow::Result<Vec<String>> {
    let Ok(entries) = fs::read_dir(out) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for e in entries {
        let name = e?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") || name == "index.rs" || name == "SOURCES.md" {
            names.push(name);
        }
    }
    Ok(names)
}

fn check_outputs(out: &Path, wanted: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let mut stale = Vec::new();
    for (name, content) in wanted {
        if fs::read_to_string(out.join(name)).ok().as_deref() != Some(content.as_str()) {
            stale.push(format!("{name} (missing or different)"));
        }
    }
    for name in existing_outputs(out)? {
        if !wanted.contains_key(&name) {
            stale.push(format!("{name} (no longer generated)"));
        }
    }
    if stale.is_empty() {
        eprintln!("schemas: {} files up to date", wanted.len());
        return Ok(());
    }
    bail!(
        "{} schema file(s) are stale; run `cargo xtask schemas`:\n  {}",
        stale.len(),
        stale.join("\n  ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_prose_but_keeps_fields_named_description() {
        let mut v = serde_json::json!({
            "description": "prose",
            "type": "object",
            "properties": {
                "description": { "type": "string", "description": "more prose" },
                "d": { "type": "string", "default": { "description": "data" }, "enum": ["description"] }
            }
        });
        strip_prose(&mut v, false);
        assert_eq!(
            v,
            serde_json::json!({
                "type": "object",
                "properties": {
                    "description": { "type": "string" },
                    "d": { "type": "string", "default": { "description": "data" }, "enum": ["description"] }
                }
            })
        );
    }
}
