//! Output formats a person and a program each get: `graph -o dot|mermaid|svg|json|yaml|table`,
//! tables for every read, readings rounded for people but not for programs, no box drawing in a
//! pipe, and graph-only formats refused elsewhere.

use crate::support;

use support::{canned_json_server, meshctl};

/// Every Prometheus query answers one series with the same value: a request rate of
/// 12.3456789/s from productpage to reviews.
const ONE_SERIES: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"response_code":"200","source_workload":"productpage-v1","source_workload_namespace":"prod","destination_workload":"reviews-v1","destination_workload_namespace":"prod","destination_service_name":"reviews"},"value":[1700000000,"12.3456789"]}]}}"#;

fn run(prometheus: &str, args: &[&str]) -> support::Run {
    let mut all = vec!["--mesh", "istio", "-n", "prod"];
    all.extend(args);
    meshctl(&all, &[("PROMETHEUS_URL", prometheus)])
}

#[test]
fn graph_takes_every_format_through_dash_o() {
    let prometheus = canned_json_server(ONE_SERIES);
    let expect: [(&str, &str); 6] = [
        ("dot", "digraph"),
        ("mermaid", "flowchart"),
        ("svg", "<svg"),
        ("json", "\"edges\""),
        ("yaml", "edges:"),
        ("table", "productpage-v1"),
    ];
    for (format, marker) in expect {
        let r = run(&prometheus, &["graph", "-o", format]);
        assert_eq!(r.code, 0, "-o {format}: {}", r.stderr);
        assert!(r.stdout.contains(marker), "-o {format}: {}", r.stdout);
    }
    // The default is still dot, and `--format` still works where `-o` is not given.
    assert!(run(&prometheus, &["graph"]).stdout.starts_with("digraph"));
    let old = run(&prometheus, &["graph", "--format", "mermaid"]);
    assert!(old.stdout.starts_with("flowchart"), "{}", old.stdout);
    // Both at once is a usage error, not a silent choice.
    let both = run(&prometheus, &["graph", "--format", "mermaid", "-o", "json"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(both.stdout.is_empty());
}

#[test]
fn graph_formats_are_refused_on_other_commands_before_anything_runs() {
    for format in ["dot", "mermaid", "svg"] {
        let r = meshctl(
            &[
                "--mesh", "istio", "split", "reviews", "v1=90", "v2=10", "-o", format,
            ],
            &[],
        );
        assert_eq!(r.code, 2, "-o {format}: {}", r.stderr);
        assert!(r.stderr.contains("graph format"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

#[test]
fn readings_are_rounded_for_people_and_exact_for_programs() {
    let prometheus = canned_json_server(ONE_SERIES);
    let yaml = run(&prometheus, &["metrics", "reviews", "-o", "yaml"]);
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    assert!(yaml.stdout.contains("request_rate: 12.35"), "{}", yaml.stdout);
    let table = run(&prometheus, &["metrics", "reviews", "-o", "table"]);
    assert!(table.stdout.contains("overall.request_rate"), "{}", table.stdout);
    assert!(
        table.stdout.contains("12.35") && !table.stdout.contains("12.3456789"),
        "{}",
        table.stdout
    );
    let json = run(&prometheus, &["metrics", "reviews", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["overall"]["request_rate"], 12.3456789, "{}", json.stdout);
}

#[test]
fn tables_in_a_pipe_have_no_box_drawing() {
    // The test captures stdout: a pipe, not a terminal.
    let prometheus = canned_json_server(ONE_SERIES);
    for args in [
        vec!["capabilities", "-o", "table"],
        vec!["split", "reviews", "v1=90", "v2=10", "-o", "table"],
        vec!["graph", "-o", "table"],
        vec!["metrics", "reviews", "-o", "table"],
    ] {
        let r = run(&prometheus, &args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(!r.stdout.trim().is_empty(), "{args:?}");
        assert!(r.stdout.is_ascii(), "{args:?}: {}", r.stdout);
        assert!(
            !r.stdout.contains('\u{1b}'),
            "{args:?}: ANSI escape in {}",
            r.stdout
        );
    }
}
