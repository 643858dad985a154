//! Printing results as YAML, JSON or a table.

use std::io::Write;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use mesh::{Capabilities, Feature, Plan, RenderFormat, Support};
use serde::Serialize;

use crate::{cli::Output, error::CliError};

/// Prints any serializable value.
pub(crate) fn value<T: Serialize>(out: &mut impl Write, format: Output, v: &T) -> Result<(), CliError> {
    match format {
        Output::Json | Output::Table => writeln!(out, "{}", serde_json::to_string_pretty(v)?)?,
        Output::Yaml => write!(
            out,
            "{}",
            serde_saphyr::to_string(v).map_err(|e| CliError::internal(e.to_string()))?
        )?,
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
            let mut t = Table::new();
            t.load_style(UTF8_FULL_CONDENSED)
                .set_header(["#", "action", "kind", "namespace", "name"]);
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
        eprintln!("note: nothing to write on {} for this change", plan.mesh);
    }
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
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
                eprintln!("note: at apply time: the status of {}", w.target)
            }
            (mesh::WriteAction::Delete, _) | (_, None) => eprintln!("note: apply also deletes {}", w.target),
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
    let mut t = Table::new();
    let mut header = vec!["feature".to_owned()];
    header.extend(tables.iter().map(|c| c.mesh.to_string()));
    t.load_style(UTF8_FULL_CONDENSED).set_header(header);
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
