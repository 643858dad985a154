//! Printing results as YAML, JSON or a table.

use std::io::Write;

use mesh::{Capabilities, Feature, Plan, RenderFormat, Support};
use serde::Serialize;

use crate::{cli::Output, error::CliError};

/// Prints any serializable value.
/// JSON keeps full precision; YAML and tables round floating-point readings for people.
pub(crate) fn value<T: Serialize>(out: &mut impl Write, format: Output, v: &T) -> Result<(), CliError> {
    match format {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(v)?)?,
        Output::Yaml => {
            let v = crate::human::rounded(serde_json::to_value(v)?);
            write!(
                out,
                "{}",
                serde_saphyr::to_string(&v).map_err(|e| CliError::internal(e.to_string()))?
            )?
        }
        Output::Table => {
            let v = crate::human::rounded(serde_json::to_value(v)?);
            writeln!(out, "{}", crate::table::of_value(&v))?
        }
    }
    Ok(())
}

/// Prints a plan: YAML documents, a JSON array of writes, or a table of the writes in order.
pub(crate) fn plan(out: &mut impl Write, format: Output, plan: &Plan) -> Result<(), CliError> {
    match format {
        Output::Yaml => {
            let yaml = plan.render(RenderFormat::Yaml)?;
            write!(out, "{yaml}")?;
            if !yaml.is_empty() && !yaml.ends_with('\n') {
                writeln!(out)?;
            }
        }
        // Kubernetes meshes: a `List` that `kubectl apply -f -` takes. Consul's config entries are
        // not Kubernetes objects: the writes, in order.
        Output::Json if plan.mesh != mesh::MeshKind::Consul => {
            writeln!(out, "{}", serde_json::to_string_pretty(&kubernetes_list(plan))?)?;
        }
        Output::Json => writeln!(out, "{}", plan.render(RenderFormat::Json)?)?,
        Output::Table => {
            let mut t = crate::table::with_header(["#", "action", "kind", "namespace", "name"]);
            for (i, w) in plan.writes.iter().enumerate() {
                t.add_row([
                    (i + 1).to_string(),
                    format!("{:?}", w.action).to_lowercase(),
                    w.target.kind.clone(),
                    w.target.namespace.clone().unwrap_or_default(),
                    w.target.name.clone(),
                ]);
            }
            writeln!(out, "{t}")?;
        }
    }
    if plan.is_noop() {
        say!("note: nothing to write on {} for this change", plan.mesh);
    }
    for warning in &plan.warnings {
        say!("warning: {warning}");
    }
    Ok(())
}

/// The objects a plan applies, as a Kubernetes `List` (`apiVersion: v1`, `kind: List`). Status
/// writes happen at apply time and deletes are not objects; both are said on stderr.
fn kubernetes_list(plan: &Plan) -> serde_json::Value {
    let mut items = Vec::new();
    for w in &plan.writes {
        match (&w.action, &w.body) {
            (mesh::WriteAction::ApplyStatus, _) => {
                say!("note: at apply time: the status of {}", w.target)
            }
            (mesh::WriteAction::Delete, _) | (_, None) => say!("note: apply also deletes {}", w.target),
            (_, Some(body)) => items.push(body.clone()),
        }
    }
    serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items })
}

/// Prints the capability tables of several meshes side by side.
pub(crate) fn capabilities(
    out: &mut impl Write,
    format: Output,
    tables: &[Capabilities],
) -> Result<(), CliError> {
    if format != Output::Table {
        return value(out, format, &tables);
    }
    let mut header = vec!["feature".to_owned()];
    header.extend(tables.iter().map(|c| c.mesh.to_string()));
    let mut t = crate::table::with_header(header);
    for feature in Feature::ALL {
        let mut row = vec![feature.to_string()];
        for caps in tables {
            row.push(match caps.support(*feature) {
                Support::Native { objects } => format!("native: {objects}"),
                Support::Emulated { how } => format!("emulated (opt-in): {how}"),
                Support::Unsupported { reason } => format!("unsupported: {reason}"),
            });
        }
        t.add_row(row);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// Traces as a table: one row per trace (its root span, the span count, the overall duration
/// and the spans that failed); YAML and JSON carry every span.
pub(crate) fn traces(out: &mut impl Write, format: Output, traces: &[mesh::Trace]) -> Result<(), CliError> {
    if format != Output::Table {
        return value(out, format, &traces);
    }
    let mut t = crate::table::with_header(["trace", "root", "spans", "duration ms", "errors"]);
    for trace in traces {
        let root = trace
            .spans
            .iter()
            .find(|s| s.parent_span_id.is_none())
            .or_else(|| trace.spans.iter().min_by_key(|s| s.start_unix_nanos));
        let start = trace.spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
        let end = trace
            .spans
            .iter()
            .map(|s| s.start_unix_nanos.saturating_add(s.duration_nanos))
            .max()
            .unwrap_or(0);
        let millis = crate::human::rounded(serde_json::json!(end.saturating_sub(start) as f64 / 1e6));
        t.add_row([
            crate::table::cell(&trace.trace_id),
            root.map(|s| crate::table::cell(&format!("{} {}", s.service, s.operation)))
                .unwrap_or_default(),
            trace.spans.len().to_string(),
            millis.to_string(),
            trace.spans.iter().filter(|s| s.error).count().to_string(),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// A Consul plan as consul-k8s custom resources (`--consul-crds`): YAML documents or a `List`,
/// with what no resource declares said on stderr.
pub(crate) fn consul_resources(
    out: &mut impl Write,
    format: Output,
    plan: &Plan,
    namespace: &str,
) -> Result<(), CliError> {
    if plan.mesh != mesh::MeshKind::Consul {
        return Err(CliError {
            message: format!("--consul-crds is for Consul renders, not {}", plan.mesh),
            hint: None,
            code: crate::error::exit::USAGE,
        });
    }
    let (resources, notes) = mesh::consul::crd::plan_resources(plan, namespace)?;
    for note in &notes {
        say!("note: {note}");
    }
    match format {
        Output::Json => {
            let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": resources });
            writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        }
        Output::Yaml | Output::Table => {
            for r in &resources {
                writeln!(out, "---")?;
                write!(
                    out,
                    "{}",
                    serde_saphyr::to_string(r).map_err(|e| CliError::internal(e.to_string()))?
                )?;
            }
        }
    }
    for warning in &plan.warnings {
        say!("warning: {warning}");
    }
    Ok(())
}
