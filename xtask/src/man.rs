//! `cargo xtask man`: rewrites meshctl's man page, `crates/meshctl/man/meshctl.1`.
//!
//! The page is rendered inside meshctl (its `invocation::man_page` test, from the clap command the
//! binary parses with), so this runs that test in write mode; without it, the same test fails
//! when the committed page is stale.

use std::process::Command;

use anyhow::{Context as _, bail};

/// The page, relative to the workspace root.
const PAGE: &str = "crates/meshctl/man/meshctl.1";

/// Writes the page.
pub(crate) fn run() -> anyhow::Result<()> {
    let root = crate::workspace_root()?;
    let status = Command::new(crate::ci::cargo())
        .args([
            "test",
            "-p",
            "meshctl",
            "--bin",
            "meshctl",
            "--",
            "--exact",
            "invocation::man_page::the_committed_man_page_is_up_to_date",
        ])
        .env("MESHCTL_WRITE_MAN", "1")
        .current_dir(&root)
        .status()
        .context("starting cargo test")?;
    if !status.success() {
        bail!("rendering the man page failed ({status})");
    }
    println!("wrote {}", root.join(PAGE).display());
    Ok(())
}
