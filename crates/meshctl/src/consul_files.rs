//! `--consul-files DIR`: a Consul render as config-entry JSON files plus an `apply.sh` that
//! writes them in plan order with `consul config write -cas` (and registers agent services with
//! `curl`), for GitOps repositories and operators who apply with the Consul CLI.

use std::path::Path;

use mesh::{MeshKind, Plan};

use crate::error::{CliError, exit};

/// Writes `plan`'s files and script into `dir` (created when missing; it must be empty), and
/// returns the paths written, script last.
pub(crate) fn write(dir: &Path, plan: &Plan) -> Result<Vec<String>, CliError> {
    let usage = |message: String| CliError {
        message,
        hint: None,
        code: exit::USAGE,
    };
    if plan.mesh != MeshKind::Consul {
        return Err(usage(format!(
            "--consul-files is for Consul renders, not {}",
            plan.mesh
        )));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(usage(format!(
            "{} is not an empty directory; files from another plan would be applied with this one",
            dir.display()
        )));
    }
    let io = |e: std::io::Error| CliError::internal(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let rendered = mesh::consul::render::render(plan);
    let mut written = Vec::new();
    for f in &rendered.files {
        let path = dir.join(&f.name);
        std::fs::write(&path, &f.contents).map_err(io)?;
        written.push(path.display().to_string());
    }
    let script = dir.join("apply.sh");
    std::fs::write(&script, &rendered.script).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    }
    written.push(script.display().to_string());
    Ok(written)
}
