//! What `unregister` and `fault remove` will do, said when rendering. Rendering plans against an
//! empty control plane, where there is nothing to delete; these two changes are about objects
//! only the cluster holds, so the render says which ones `--target apply` reads and removes
//! instead of failing with "not found".

use std::io::Write;

use mesh::{Change, FaultId, MeshKind, ServiceId};

use crate::{cli::Output, error::CliError};

/// The steps `--target apply` takes for a removal, or `None` for any other change.
///
/// # Errors
/// A fault id of another mesh, as applying would refuse it.
pub(crate) fn steps(kind: MeshKind, change: &Change) -> Result<Option<Vec<String>>, mesh::Error> {
    Ok(match change {
        Change::UnregisterService { service } => Some(unregister(kind, service)),
        Change::RemoveFault { fault_id } if fault_id.mesh != kind => {
            return Err(mesh::Error::invalid(
                "fault_id",
                format!("belongs to {}, not {kind}", fault_id.mesh),
            ));
        }
        Change::RemoveFault { fault_id } => Some(remove_fault(kind, fault_id)),
        _ => None,
    })
}

fn unregister(kind: MeshKind, s: &ServiceId) -> Vec<String> {
    let (ns, name) = (s.namespace.as_str(), s.name.as_str());
    match kind {
        MeshKind::Istio => vec![
            format!("delete ServiceEntry {ns}/{name}"),
            format!(
                "delete the WorkloadEntries it records (annotation meshctl.dev/workload-entries on {ns}/{name})"
            ),
            format!(
                "leave a plain Kubernetes Service {ns}/{name} alone (Istio discovers it; delete it yourself)"
            ),
        ],
        MeshKind::Linkerd => vec![
            format!(
                "delete HTTPRoute {ns}/{name} when only meshctl's rules are in it, else remove those rules"
            ),
            format!("delete TrafficSplit {ns}/{name} when meshctl made it"),
            format!("delete the per-version Services {name}-<version> that no rule of yours still uses"),
        ],
        MeshKind::Consul => vec![
            format!(
                "delete service-router {name}, then service-splitter {name}, then service-resolver {name}"
            ),
            format!("deregister every agent instance of {name}"),
            format!("keep service-defaults {name} (callers' limits and the protocol may rely on it)"),
        ],
    }
}

fn remove_fault(kind: MeshKind, f: &FaultId) -> Vec<String> {
    let (ns, name) = (f.service.namespace.as_str(), f.service.name.as_str());
    match kind {
        MeshKind::Istio => vec![format!(
            "remove the route {} from VirtualService {ns}/{name}, restoring the routes it covered",
            f.marker()
        )],
        MeshKind::Linkerd => vec![format!(
            "restore HTTPRoute {ns}/{name} from the state saved in its fault annotation (deleted if the fault created it)"
        )],
        MeshKind::Consul => vec![format!(
            "restore service-defaults {name} without the fault's Envoy extension"
        )],
    }
}

/// Prints the steps: `#` comment lines in YAML and tables (a YAML stream with no objects), an
/// object in JSON.
pub(crate) fn print(
    out: &mut impl Write,
    format: Output,
    change: &Change,
    steps: &[String],
) -> Result<(), CliError> {
    let what = change.operation();
    match format {
        Output::Json => {
            let body = serde_json::json!({
                "operation": what,
                "rendered": [],
                "apply_reads_the_cluster_then": steps,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
        }
        Output::Yaml | Output::Table => {
            writeln!(
                out,
                "# {what}: nothing to render offline, the objects are in the cluster. --target apply reads them, then:"
            )?;
            for step in steps {
                writeln!(out, "#   - {step}")?;
            }
        }
    }
    Ok(())
}
