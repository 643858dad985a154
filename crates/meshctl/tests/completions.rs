//! `meshctl completions SHELL`: a script for every shell clap_complete supports, and the bash one
//! registers itself for `meshctl` when sourced, as the README's install instructions expect.

use std::process::Command;

fn completions(shell: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(out.status.success(), "{shell}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_shell_gets_a_script_for_meshctl_and_its_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = completions(shell);
        assert!(script.contains("meshctl"), "{shell}");
        for subcommand in ["split", "validate", "rollout"] {
            assert!(script.contains(subcommand), "{shell} lacks {subcommand}");
        }
    }
}

#[test]
fn the_bash_script_registers_a_completion_for_meshctl() {
    // Installed as the README says: a file that bash-completion sources.
    let file = std::env::temp_dir().join(format!("meshctl-completion-{}.bash", std::process::id()));
    std::fs::write(&file, completions("bash")).unwrap();
    let out = Command::new("bash")
        .args(["--norc", "-c", "source \"$1\" && complete -p meshctl", "bash"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let registered = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(registered.trim_end().ends_with(" meshctl"), "{registered}");
    assert!(registered.contains("-F _meshctl"), "{registered}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
