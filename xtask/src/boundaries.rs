//! Which workspace crate may depend on which (normal dependencies), checked against
//! `cargo metadata`: the layering of ARCHITECTURE.md, enforced.

use std::{collections::BTreeSet, path::Path, process::Command};

use anyhow::{Context, bail};

/// Each workspace crate and the workspace crates it may depend on. A crate missing here fails
/// the check, so a new crate must take its place in the layering.
pub(crate) const ALLOWED: &[(&str, &[&str])] = &[
    ("mesh-core", &[]),
    ("mesh-patterns", &["mesh-core"]),
    ("mesh-observe", &["mesh-core"]),
    ("mesh-kube", &["mesh-core"]),
    ("mesh-istio", &["mesh-core", "mesh-kube"]),
    ("mesh-linkerd", &["mesh-core", "mesh-kube"]),
    ("mesh-consul", &["mesh-core"]),
    ("mesh-telemetry", &["mesh-core", "mesh-observe"]),
    (
        "mesh-handle",
        &[
            "mesh-core",
            "mesh-patterns",
            "mesh-observe",
            "mesh-kube",
            "mesh-istio",
            "mesh-linkerd",
            "mesh-consul",
            "mesh-telemetry",
        ],
    ),
    ("mesh-rollout", &["mesh-handle"]),
    (
        "mesh",
        &[
            "mesh-handle",
            "mesh-core",
            "mesh-patterns",
            "mesh-observe",
            "mesh-kube",
            "mesh-istio",
            "mesh-linkerd",
            "mesh-consul",
            "mesh-telemetry",
            "mesh-rollout",
        ],
    ),
    // The CLI goes through the umbrella only.
    ("meshctl", &["mesh"]),
    ("mesh-testkit", &[]),
    ("mesh-tests", &["mesh", "mesh-core"]),
    ("xtask", &[]),
];

/// Fails when a workspace crate depends on a workspace crate its row does not allow.
pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    println!("==> dependency boundaries: the table in xtask/src/boundaries.rs");
    let output = Command::new(crate::ci::cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .context("cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed");
    }
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = meta["packages"].as_array().context("packages")?;
    let workspace: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut problems = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        let Some((_, allowed)) = ALLOWED.iter().find(|(n, _)| *n == name) else {
            problems.push(format!("{name} has no row in the table"));
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default();
            if d["kind"].is_null() && workspace.contains(dep) && !allowed.contains(&dep) {
                problems.push(format!("{name} depends on {dep}"));
            }
        }
    }
    if !problems.is_empty() {
        bail!("dependency boundaries broken: {}", problems.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layers_only_point_down() {
        let rank = |n: &str| ALLOWED.iter().position(|(c, _)| *c == n).unwrap();
        for (krate, allowed) in ALLOWED {
            for dep in *allowed {
                assert!(rank(dep) < rank(krate), "{krate} -> {dep} points up the table");
            }
        }
    }
}
