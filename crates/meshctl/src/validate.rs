//! `meshctl validate`: offline validation of YAML files against the pinned upstream schemas.

use std::{io::Write, path::PathBuf};

use mesh_kube::schema::SchemaSet;

use crate::error::{CliError, exit};

/// Validates every document of every file; prints one line per problem.
pub(crate) fn run(out: &mut impl Write, files: &[PathBuf], gateway_api: &str) -> Result<(), CliError> {
    let bundle = format!("gateway-api-v{gateway_api}");
    let set = SchemaSet::bundled();
    if !set.bundles().contains(&bundle.as_str()) {
        return Err(CliError {
            message: format!("unknown Gateway API bundle {gateway_api}"),
            hint: Some(format!("pick one of: {}", set.bundles().join(", "))),
            code: exit::ERROR,
        });
    }
    let (mut objects, mut problems) = (0usize, 0usize);
    let mut all = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::internal(format!("{}: {e}", file.display())))?;
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .map_err(|e| CliError::internal(format!("{}: not YAML: {e}", file.display())))?;
        for (i, doc) in docs.iter().enumerate().filter(|(_, d)| !d.is_null()) {
            objects += 1;
            let name = format!(
                "{}#{} {} {}",
                file.display(),
                i + 1,
                doc["kind"].as_str().unwrap_or("?"),
                doc["metadata"]["name"].as_str().unwrap_or("?")
            );
            all.push(doc.clone());
            match set.validate_with_bundle(doc, Some(&bundle)) {
                Ok(()) => writeln!(out, "ok      {name}")?,
                Err(violations) => {
                    for v in violations {
                        problems += 1;
                        writeln!(out, "invalid {name}: {v}")?;
                    }
                }
            }
        }
    }
    for finding in crate::lint::check(&all) {
        problems += 1;
        writeln!(out, "invalid {}: {}", finding.object, finding.message)?;
    }
    writeln!(out, "{objects} objects, {problems} problems")?;
    if problems > 0 {
        return Err(CliError {
            message: format!("{problems} problems found"),
            hint: None,
            code: exit::INVALID,
        });
    }
    Ok(())
}
