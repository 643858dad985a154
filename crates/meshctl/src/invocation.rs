//! How meshctl was started: as `meshctl`, or as the kubectl plugin `kubectl-mesh`.
//!
//! kubectl runs any executable named `kubectl-<name>` on `PATH` for `kubectl <name> …`. Installed
//! (or linked) under the plugin name, meshctl presents itself as `kubectl mesh` in its help, usage
//! and error lines, so what it prints is what the user types.

use std::{ffi::OsStr, path::Path};

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// The executable name kubectl looks for to run `kubectl mesh`.
pub(crate) const PLUGIN_EXECUTABLE: &str = "kubectl-mesh";

/// The command line the help shows when run as the kubectl plugin.
pub(crate) const PLUGIN_COMMAND: &str = "kubectl mesh";

/// True when `argv0` names the plugin executable (`kubectl-mesh`, `kubectl-mesh.exe`, any directory).
pub(crate) fn is_plugin(argv0: &OsStr) -> bool {
    Path::new(argv0)
        .file_stem()
        .is_some_and(|stem| stem == PLUGIN_EXECUTABLE)
}

/// The clap command for an invocation whose `argv[0]` is `argv0`.
pub(crate) fn command(argv0: Option<&OsStr>) -> clap::Command {
    let command = Cli::command();
    if argv0.is_some_and(is_plugin) {
        command.bin_name(PLUGIN_COMMAND).display_name(PLUGIN_EXECUTABLE)
    } else {
        command
    }
}

/// Parses this process's arguments, exiting with clap's usage error (code 2) or help as
/// `Cli::parse` does.
pub(crate) fn parse() -> Cli {
    let argv0 = std::env::args_os().next();
    let matches = command(argv0.as_deref()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod man_page;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_is_recognised_by_its_file_name_only() {
        for name in ["kubectl-mesh", "/usr/local/bin/kubectl-mesh", "kubectl-mesh.exe"] {
            assert!(is_plugin(OsStr::new(name)), "{name}");
        }
        for name in [
            "meshctl",
            "/tmp/kubectl-mesh/meshctl",
            "kubectl-meshctl",
            "kubectl",
        ] {
            assert!(!is_plugin(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn usage_names_the_command_as_it_was_typed() {
        let mut plugin = command(Some(OsStr::new("/bin/kubectl-mesh")));
        assert!(
            plugin
                .render_usage()
                .to_string()
                .contains("kubectl mesh [OPTIONS]")
        );
        let mut plain = command(Some(OsStr::new("meshctl")));
        plain.build();
        assert_eq!(plain.get_bin_name(), None);
        assert!(plain.render_usage().to_string().contains("meshctl [OPTIONS]"));
    }
}
