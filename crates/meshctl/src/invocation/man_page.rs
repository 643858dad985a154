//! meshctl's man page, `man/meshctl.1`, rendered from the clap definition by clap_mangen, so the
//! page lists exactly the options the binary accepts. The test fails when the committed page is
//! stale; `cargo xtask man` (or `MESHCTL_WRITE_MAN=1` on this test) rewrites it.

use std::path::Path;

/// The page as roff: the command the binary parses with, under its own name.
fn render() -> Vec<u8> {
    let mut page = Vec::new();
    clap_mangen::Man::new(super::command(None))
        .render(&mut page)
        .expect("rendering into memory");
    page
}

#[test]
fn the_committed_man_page_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/meshctl.1");
    let page = render();
    if std::env::var_os("MESHCTL_WRITE_MAN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == page,
        "{} is stale or missing: run `cargo xtask man`",
        path.display()
    );
}

#[test]
fn the_page_documents_the_commands_and_global_options() {
    let page = String::from_utf8(render()).unwrap();
    assert!(page.contains(".TH meshctl 1"), "section 1, named meshctl");
    for needle in ["\\-\\-mesh", "\\-\\-target", "completions", "validate", "rollout"] {
        assert!(page.contains(needle), "{needle} is missing");
    }
}
