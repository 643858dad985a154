//! `meshctl diff`: per object, what a change would do to the live control plane.

use std::io::Write;

use mesh::{Plan, WriteAction};
use serde_json::Value;
use similar::TextDiff;

use crate::{backends::Live, error::CliError};

/// Fields the server owns; they would drown the diff.
const SERVER_METADATA: &[&str] = &[
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
];

/// What the user wrote, without server-owned fields, for a fair comparison.
fn comparable(mut v: Value) -> Value {
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
        // Consul's bookkeeping.
        obj.remove("CreateIndex");
        obj.remove("ModifyIndex");
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in SERVER_METADATA {
                meta.remove(*key);
            }
        }
    }
    v
}

fn yaml(v: &Value) -> Result<String, CliError> {
    serde_saphyr::to_string(v).map_err(|e| CliError::internal(e.to_string()))
}

/// Prints, for each write in plan order, a unified diff of the live object against the planned one.
pub(crate) async fn run(out: &mut impl Write, live: &Live, plan: &Plan) -> Result<(), CliError> {
    if plan.writes.is_empty() {
        writeln!(out, "no changes: the control plane already holds this state")?;
    }
    for (i, w) in plan.writes.iter().enumerate() {
        let current = live.current(&w.target).await?.map(comparable);
        let old = current.as_ref().map(yaml).transpose()?.unwrap_or_default();
        let new = match (&w.action, &w.body) {
            (WriteAction::Delete, _) | (_, None) => String::new(),
            (_, Some(body)) => yaml(&comparable(body.clone()))?,
        };
        let verb = match (&w.action, current.is_some()) {
            (WriteAction::Delete, _) => "delete",
            (_, false) => "create",
            (_, true) if old == new => "unchanged",
            (_, true) => "update",
        };
        writeln!(out, "# {}. {verb} {}", i + 1, w.target)?;
        if verb != "unchanged" {
            let diff = TextDiff::from_lines(&old, &new);
            write!(
                out,
                "{}",
                diff.unified_diff().context_radius(3).header("live", "planned")
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_owned_fields_do_not_show_up_as_changes() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "7", "uid": "x"}, "spec": {"x": 1}, "status": {}});
        let planned = json!({"metadata": {"name": "a"}, "spec": {"x": 1}});
        assert_eq!(comparable(live), comparable(planned));
    }
}
