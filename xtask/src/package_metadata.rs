//! Every publishable crate carries what its registry page needs (description, license,
//! documentation, README, keywords, categories, docs.rs settings), the LICENSE it declares is at
//! the root, and the crates `cargo package` skips are exactly the `publish = false` ones.

use std::{collections::BTreeSet, path::Path, process::Command};

use anyhow::{Context as _, bail};
use serde_json::Value;

/// Checks the workspace's manifests through `cargo metadata`.
pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    println!("==> package metadata");
    let out = Command::new(crate::ci::cargo())
        .args(["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let metadata: Value = serde_json::from_slice(&out.stdout)?;
    let problems = problems(&metadata, root);
    if !problems.is_empty() {
        bail!("package metadata:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

/// What is missing, one line per crate and field.
fn problems(metadata: &Value, root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    if !root.join("LICENSE").is_file() {
        problems.push("LICENSE is missing at the root".to_owned());
    }
    let mut unpublished = BTreeSet::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or("?");
        if package["publish"].as_array().is_some_and(Vec::is_empty) {
            unpublished.insert(name);
            continue;
        }
        for field in [
            "description",
            "license",
            "documentation",
            "readme",
            "rust_version",
        ] {
            if package[field].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: no {field}"));
            }
        }
        for field in ["keywords", "categories"] {
            if package[field].as_array().is_none_or(Vec::is_empty) {
                problems.push(format!("{name}: no {field}"));
            }
        }
        if let Some(readme) = package["readme"].as_str()
            && let Some(dir) = package["manifest_path"]
                .as_str()
                .and_then(|m| Path::new(m).parent())
            && !dir.join(readme).is_file()
        {
            problems.push(format!("{name}: its readme {readme} does not exist"));
        }
        if package["metadata"]["docs"]["rs"]["all-features"] != Value::Bool(true) {
            problems.push(format!(
                "{name}: no [package.metadata.docs.rs] all-features = true"
            ));
        }
    }
    let expected: BTreeSet<&str> = crate::ci::UNPUBLISHED.iter().copied().collect();
    if unpublished != expected {
        problems.push(format!(
            "publish = false crates are {unpublished:?}, but `cargo xtask ci` skips {expected:?}"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_workspace_passes() {
        check(&crate::workspace_root().unwrap()).unwrap();
    }

    #[test]
    fn a_crate_without_metadata_is_reported_field_by_field() {
        let metadata = json!({ "packages": [
            { "name": "bare", "publish": null, "manifest_path": "/nowhere/Cargo.toml", "metadata": null },
            { "name": "mesh-testkit", "publish": [] },
            { "name": "mesh-tests", "publish": [] },
            { "name": "xtask", "publish": [] },
        ]});
        let found = problems(&metadata, Path::new("/nowhere"));
        assert_eq!(
            found,
            [
                "LICENSE is missing at the root",
                "bare: no description",
                "bare: no license",
                "bare: no documentation",
                "bare: no readme",
                "bare: no rust_version",
                "bare: no keywords",
                "bare: no categories",
                "bare: no [package.metadata.docs.rs] all-features = true",
            ]
        );
    }
}
