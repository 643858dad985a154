//! The README's example commands, run as written against the built binary, so the README cannot
//! drift from the command line.

use std::process::Command;

/// The `meshctl …` lines of the README's `## Example` section.
fn example_commands() -> Vec<Vec<String>> {
    let readme = include_str!("../README.md");
    let section = readme
        .split("\n## Example\n")
        .nth(1)
        .expect("the README has an Example section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the Example section has a sh block");
    block
        .lines()
        .filter_map(|line| line.strip_prefix("meshctl "))
        .map(|args| args.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn the_readme_examples_run_as_written() {
    let commands = example_commands();
    assert_eq!(commands.len(), 3, "{commands:?}");
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_meshctl"))
            .args(&args)
            .env_remove("CONSUL_HTTP_ADDR")
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        assert!(out.status.success(), "meshctl {}: {out:?}", args.join(" "));
        assert!(
            !out.stdout.is_empty(),
            "meshctl {} printed nothing",
            args.join(" ")
        );
    }
}
