//! `cargo xtask testenv up|down|status`: the real control planes the live suites run against
//! (etcd + kube-apiserver with the pinned CRDs and istiod as its validating webhook for Istio's
//! groups, a Consul agent, istioctl), built from the Go module proxy once per version and started
//! on loopback. The mechanics live in `xtask/testenv/testenv.sh`; this module runs it and, for
//! `ci`, turns its `export` lines into the environment of the live test step.

use std::{path::Path, process::Command};

use anyhow::{Context, bail};

/// Runs `testenv.sh ACTION`, passing its output through.
pub(crate) fn run(action: &str) -> anyhow::Result<()> {
    let root = crate::workspace_root()?;
    let status = Command::new("bash")
        .arg(script(&root))
        .arg(action)
        .current_dir(&root)
        .status()
        .context("starting bash")?;
    if !status.success() {
        bail!("testenv {action} failed ({status})");
    }
    Ok(())
}

/// Starts the environment and returns the variables the live suites read.
pub(crate) fn up(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let output = Command::new("bash")
        .arg(script(root))
        .arg("up")
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("starting bash")?;
    if !output.status.success() {
        bail!("testenv up failed ({})", output.status);
    }
    Ok(parse_exports(&String::from_utf8_lossy(&output.stdout)))
}

fn script(root: &Path) -> std::path::PathBuf {
    root.join("xtask/testenv/testenv.sh")
}

/// `export NAME='value'` lines, as `testenv.sh up` prints them.
fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn exports_are_read_without_their_quotes() {
        let vars = super::parse_exports("# x\nexport A='http://127.0.0.1:1'\nexport B=1\n");
        assert_eq!(
            vars,
            [
                ("A".to_owned(), "http://127.0.0.1:1".to_owned()),
                ("B".to_owned(), "1".to_owned())
            ]
        );
    }
}
