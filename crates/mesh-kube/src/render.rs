//! A plan written as YAML, with no cluster: to any writer (multi-document) or to a folder (one
//! file per object). This is the CLI's embedded default and what GitOps users commit.
//!
//! Objects are rendered exactly as [`KubeEngine::apply`](crate::KubeEngine::apply) sends them
//! ([`object_for`]: kind and name filled in, ownership label added). Writes that `kubectl apply`
//! cannot express are marked clearly: deletions become comments (and, in a folder, lines of
//! `DELETIONS.txt` with the `kubectl delete` command), and status writes carry a comment saying
//! the status subresource ignores them.

use std::{
    fmt::Write as _,
    fs, io,
    path::{Path, PathBuf},
};

use mesh_core::{ObjectRef, Plan, Write, WriteAction};

use crate::{ResourceType, object_for};

/// Writes the plan as multi-document YAML, in plan order.
///
/// ```
/// use mesh_core::*;
/// let change = Change::EnableMtls { namespace: "prod".parse()? };
/// let mut plan = Plan::for_change(MeshKind::Istio, &change);
/// let pa = ObjectRef::new("security.istio.io/v1", "PeerAuthentication", Some("prod"), "default");
/// plan.push(Write::new(WriteAction::Apply, pa.clone(),
///     Some(serde_json::json!({ "spec": { "mtls": { "mode": "STRICT" } } }))));
/// plan.push(Write::new(WriteAction::Delete, pa.clone(), None));
/// let mut out = Vec::new();
/// mesh_kube::render::to_yaml(&plan, &mut out)?;
/// let yaml = String::from_utf8(out).unwrap();
/// assert!(yaml.contains("kind: PeerAuthentication"));
/// assert!(yaml.contains("app.kubernetes.io/managed-by: mesh"));
/// assert!(yaml.contains("# DELETE PeerAuthentication prod/default"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Errors of the writer.
pub fn to_yaml(plan: &Plan, w: &mut impl io::Write) -> io::Result<()> {
    w.write_all(header(plan).as_bytes())?;
    let total = plan.writes.len();
    for (i, write) in plan.writes.iter().enumerate() {
        w.write_all(format!("---\n# {}/{total}\n", i + 1).as_bytes())?;
        w.write_all(document(write)?.as_bytes())?;
    }
    Ok(())
}

/// Writes the plan into `dir` (created if missing), one file per object, named
/// `NN-<kind>-<name>.yaml` in plan order, so `kubectl apply -f dir` applies them in order.
/// Deletions get no YAML file; they are listed in `DELETIONS.txt` with their step numbers.
/// Returns the files written.
///
/// ```
/// use mesh_core::*;
/// let change = Change::EnableMtls { namespace: "prod".parse()? };
/// let mut plan = Plan::for_change(MeshKind::Istio, &change);
/// let pa = ObjectRef::new("security.istio.io/v1", "PeerAuthentication", Some("prod"), "default");
/// plan.push(Write::new(WriteAction::Apply, pa, Some(serde_json::json!({ "spec": {} }))));
/// let dir = std::env::temp_dir().join(format!("mesh-kube-doc-{}", std::process::id()));
/// let files = mesh_kube::render::to_dir(&plan, &dir)?;
/// assert_eq!(files, vec![dir.join("01-peerauthentication-default.yaml")]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// File-system errors.
pub fn to_dir(plan: &Plan, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let width = plan.writes.len().to_string().len().max(2);
    let mut files = Vec::new();
    let mut deletions = String::new();
    for (i, write) in plan.writes.iter().enumerate() {
        let step = format!("{:0width$}", i + 1);
        if write.action == WriteAction::Delete || write.body.is_none() {
            let _ = writeln!(deletions, "{step} {}", delete_line(write));
            continue;
        }
        let name = format!(
            "{step}-{}-{}.yaml",
            write.target.kind.to_lowercase(),
            write.target.name
        );
        let path = dir.join(name);
        fs::write(&path, format!("{}{}", header(plan), document(write)?))?;
        files.push(path);
    }
    if !deletions.is_empty() {
        let path = dir.join("DELETIONS.txt");
        let text = format!(
            "# Objects this plan DELETES, by step; `kubectl apply -f` does not delete.\n\
             # Run each command once the files numbered before it are applied.\n{deletions}"
        );
        fs::write(&path, text)?;
        files.push(path);
    }
    Ok(files)
}

fn header(plan: &Plan) -> String {
    let mut s = format!(
        "# mesh plan for {}: {} ({} writes)\n",
        plan.mesh,
        plan.event.name(),
        plan.writes.len()
    );
    for warning in &plan.warnings {
        let _ = writeln!(s, "# warning: {}", warning.replace('\n', " "));
    }
    s
}

fn document(write: &Write) -> io::Result<String> {
    let Some(obj) = object_for(write) else {
        return Ok(format!("# {}\n", delete_line(write)));
    };
    let mut s = String::new();
    match write.action {
        WriteAction::ApplyStatus => {
            s.push_str("# status write: the status subresource of this object; kubectl apply ignores it\n");
        }
        WriteAction::Replace => s.push_str("# replace: read-modify-write of an object shared with users\n"),
        WriteAction::Create => s.push_str("# create: fails if the object exists\n"),
        WriteAction::Apply | WriteAction::Delete => {}
    }
    s.push_str(&mesh_core::yaml::to_string(&obj));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

fn delete_line(write: &Write) -> String {
    let ObjectRef {
        api_version,
        kind,
        namespace,
        name,
    } = &write.target;
    let what = match namespace {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    };
    let kubectl_type = ResourceType::resolve(api_version, kind)
        .map(|rt| rt.crd_name())
        .unwrap_or_else(|| kind.to_lowercase());
    let ns_flag = namespace
        .as_ref()
        .map(|ns| format!(" -n {ns}"))
        .unwrap_or_default();
    format!("DELETE {what} (kubectl delete {kubectl_type}{ns_flag} {name})")
}

#[cfg(test)]
mod tests {
    use mesh_core::{Change, MeshKind, ObjectRef, Write};
    use serde_json::json;

    use super::*;

    fn plan() -> Plan {
        let change = Change::UnregisterService {
            service: "prod/reviews".parse().unwrap(),
        };
        let mut plan = Plan::for_change(MeshKind::Istio, &change);
        let vs = ObjectRef::new(
            "networking.istio.io/v1",
            "VirtualService",
            Some("prod"),
            "reviews",
        );
        let dr = ObjectRef::new(
            "networking.istio.io/v1",
            "DestinationRule",
            Some("prod"),
            "reviews",
        );
        plan.push(Write::new(
            WriteAction::Replace,
            vs.clone(),
            Some(json!({ "spec": { "hosts": ["reviews"] } })),
        ));
        plan.push(Write::new(WriteAction::Delete, dr, None));
        plan.warnings.push("subset v3 is unused".into());
        plan
    }

    #[test]
    fn yaml_has_every_step_in_order() {
        let mut out = Vec::new();
        to_yaml(&plan(), &mut out).unwrap();
        let yaml = String::from_utf8(out).unwrap();
        let expected = "# mesh plan for istio: service.unregistered (2 writes)\n\
                        # warning: subset v3 is unused\n\
                        ---\n# 1/2\n# replace: read-modify-write of an object shared with users\n";
        assert!(yaml.starts_with(expected), "{yaml}");
        assert!(yaml.contains("  hosts:\n  - reviews\n"), "{yaml}");
        assert!(yaml.ends_with(
            "---\n# 2/2\n# DELETE DestinationRule prod/reviews \
             (kubectl delete destinationrules.networking.istio.io -n prod reviews)\n"
        ));
        // Every document parses back, and the object is complete.
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
        let objects: Vec<_> = docs.into_iter().filter(|d| !d.is_null()).collect();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["metadata"]["name"], "reviews");
        assert_eq!(objects[0]["kind"], "VirtualService");
    }

    #[test]
    fn ambiguous_strings_stay_strings() {
        // kubectl reads YAML 1.1: an unquoted `no` or `on` would become a boolean label value.
        let values = [
            "yes", "no", "on", "off", "y", "N", "true", "null", "~", "1e3", "0x1F", "012", "1.0", "",
        ];
        let change = Change::UnregisterService {
            service: "prod/reviews".parse().unwrap(),
        };
        let mut plan = Plan::for_change(MeshKind::Istio, &change);
        let labels: serde_json::Map<String, serde_json::Value> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("l{i}"), json!(v)))
            .collect();
        let svc = ObjectRef::new("v1", "Service", Some("prod"), "reviews");
        plan.push(Write::new(
            WriteAction::Apply,
            svc,
            Some(json!({ "metadata": { "labels": labels } })),
        ));
        let mut out = Vec::new();
        to_yaml(&plan, &mut out).unwrap();
        let yaml = String::from_utf8(out).unwrap();
        assert!(yaml.contains("l1: \"no\""), "{yaml}");
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
        let obj = docs.into_iter().find(|d| !d.is_null()).unwrap();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(obj["metadata"]["labels"][format!("l{i}")], json!(v));
        }
    }

    #[test]
    fn dir_lists_deletions_separately() {
        let dir = std::env::temp_dir().join(format!("mesh-kube-render-{}", std::process::id()));
        let files = to_dir(&plan(), &dir).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["01-virtualservice-reviews.yaml", "DELETIONS.txt"]);
        let deletions = fs::read_to_string(dir.join("DELETIONS.txt")).unwrap();
        assert!(
            deletions.contains("\n02 DELETE DestinationRule prod/reviews"),
            "{deletions}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
