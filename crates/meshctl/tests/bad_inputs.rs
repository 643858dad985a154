//! The bad-input suite: hundreds of generated bad command lines, on every mesh. Each one is
//! refused as bad input (exit 2) with a one-line `error:` naming what is wrong, never a panic,
//! and (rendering) nothing is written anywhere.

use assert_cmd::Command;

/// Bad values for each flag or argument, paired with the command line they go into (`{}` is
/// replaced by the value).
const CASES: &[(&str, &[&str])] = &[
    (
        "split reviews {}",
        &[
            "v1=90 v2=20",
            "v1=+100",
            "v1=101",
            "v1=-1",
            "v1=abc",
            "=100",
            "v1=1e2",
            "v1=99",
            "v1=100.0",
            "v@1=100",
            "v1.=100",
            "1.2.0=50 1-2-0=50",
            "v1=50 v1=50",
            "v1=0",
            "-v1=100",
            "v1=",
            "v1==100",
            "v1=4294967296",
        ],
    ),
    (
        "route reviews --to v2 --default v1 --header {}",
        &[
            "x-user=",
            "x-user",
            "X User=beta",
            "=beta",
            "x-a=1 --header x-a=2",
            "x-ü=1",
        ],
    ),
    (
        "route reviews --to v2 --default v1 --path-prefix /api --timeout {}",
        &["0s", "0.5ms", "1ns", "-5s", "5", "abc", "400000000000s", "1x", ""],
    ),
    (
        "route reviews --to {} --default v1 --path-prefix /api",
        &["v2=50", "v2=50,v3=60", "v@2", "v2=abc", ""],
    ),
    (
        "route reviews --to v2 --default v1 --path-prefix {}",
        &["api", "", "a/b"],
    ),
    (
        "route reviews --to v2 --default v1 --method {}",
        &["FETCH", "get get", ""],
    ),
    (
        "destination reviews --subset v1 --lb {}",
        &["fastest", "", "round_robin!", "ROUND-ROBIN-X"],
    ),
    (
        "destination reviews --subset {}",
        &["v:1", "v 1", "", "-v1", "v1."],
    ),
    (
        "circuit-breaker reviews --consecutive-errors 5 --interval {}",
        &["0s", "-1s", "soon", "30", "400000000000s"],
    ),
    (
        "circuit-breaker reviews --consecutive-errors 5 --max-ejection-percent {}",
        &["101", "-1", "NaN", "inf", "1e-300"],
    ),
    ("retry reviews --attempts {}", &["101", "-1", "abc", "4294967296"]),
    (
        "retry reviews --attempts 3 --retry-on {}",
        &[
            "",
            "sometimes",
            "5xx,bogus",
            ",,",
            "5xx,5xx",
            "reset,connect-failure,reset",
        ],
    ),
    (
        "retry reviews --attempts 3 --per-try-timeout {}",
        &["0s", "-2s", "2", "forever"],
    ),
    ("mtls {}", &["Prod", "prod_1", "-prod", "a.b"]),
    (
        "authz pol --service reviews --action {}",
        &["permit", "", "ALLOW DENY"],
    ),
    (
        "authz pol --from-principal {}",
        &[
            "frontend",
            "a/b/c",
            "/sa",
            "Prod/frontend",
            "",
            "prod/frontend --from-principal prod/frontend",
        ],
    ),
    (
        "authz pol --path {}",
        &["api", "/a*b*", "*a*", "/api --path /api"],
    ),
    ("authz pol --method {}", &["GET --method GET", "FETCH"]),
    (
        "authz pol --from-namespace {}",
        &["prod --from-namespace prod", "Prod"],
    ),
    (
        "authz pol --port {}",
        &["0", "65536", "-1", "http", "80 --port 80"],
    ),
    ("authz {}", &["Bad_Name", "-pol", ""]),
    (
        "fault inject reviews --delay 3s --percent {}",
        &["101", "-1", "NaN", "inf", "1e-300", "abc", "0"],
    ),
    (
        "fault inject reviews --abort {} --percent 10",
        &["99", "600", "0", "-1", "abc"],
    ),
    (
        "fault inject reviews --delay {} --percent 10",
        &["0s", "-1s", "3", "400000000000s"],
    ),
    ("fault remove {}", &["", "bogus", "istio-"]),
    ("register {} --port 9080", &["Reviews", "re_views", "", "-r"]),
    ("register reviews --port {}", &["0", "65536", "-1", "http"]),
    (
        "register reviews --port 9080 --protocol {}",
        &["smtp", "", "HTTP/3"],
    ),
    (
        "register reviews --port 9080 --endpoint {}",
        &[
            "10.0.0.1",
            "10.0.0.1:0",
            "10.0.0.1:70000",
            "999.0.0.1:80",
            "unix:///tmp/s:80",
            ":80",
            "[::1]",
        ],
    ),
    (
        "route reviews --to v2 {}",
        // A default that no request reaches; conditions with no default (404s elsewhere).
        &["--default v1", "--header x-user=beta", "--path-prefix /api"],
    ),
    (
        "rollout {} reviews --stable v1 --canary v2",
        // Flags that do not apply to the strategy.
        &[
            "canary --header x=1",
            "canary --iterations 5",
            "bluegreen --steps 10,20",
            "bluegreen --header x=1",
            "ab --header x=1 --steps 10,20",
            "ab --header x=1 --step-weight 10",
        ],
    ),
    (
        "circuit-breaker reviews --caller frontend --max-retries {}",
        &["0"],
    ),
    (
        "circuit-breaker reviews --caller frontend --consecutive-errors 5 --max-ejection-percent {}",
        &["0"],
    ),
    (
        "route reviews --to v2 --default v1 --path-exact {}",
        &["/a\nb", "/a\rb"],
    ),
    ("plan {} reviews", &["metrics", "traces"]),
    ("diff {} reviews", &["metrics", "traces"]),
    (
        "metrics reviews --window {}",
        &["0s", "99999999h", "-5m", "5", "soon"],
    ),
    ("traces reviews --limit {}", &["0", "1001", "-1", "many"]),
    (
        "traces reviews --lookback {}",
        &["0s", "-1h", "soon", "99999h", ""],
    ),
    (
        "metrics reviews --start {}",
        &[
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-11-15T00:00:00Z --end 2023-11-14T00:00:00Z",
            "2023-01-01T00:00:00Z --end 2023-03-01T00:00:00Z",
            "1 --window 5m",
            "",
        ],
    ),
    ("--service-port {} split reviews v1=100", &["0", "65536", "-1"]),
    (
        "rollout canary reviews --stable v1 --canary v2 --slo {}",
        &[
            "availability=101",
            "availability=-1",
            "availability=0.999",
            "availability=NaN",
            "p99=0ms",
            "p50=-5",
            "latency=5",
            "availability",
            "availability=99,availability=98",
        ],
    ),
    (
        "rollout canary reviews --stable v1 --canary v2 --steps {}",
        &["50,20", "0,101", "a,b", "", "10,10"],
    ),
    (
        "rollout canary reviews --stable v1 --canary {}",
        &["v1", "V1", "v/2", ""],
    ),
    (
        "rollout ab reviews --stable v1 --canary v2 --header x-user=beta --iterations {}",
        &["0", "4294967295", "1001"],
    ),
    (
        "rollout canary reviews --stable v1 --canary v2 --interval {}",
        &["0s", "25h", "-1m", "x"],
    ),
];

fn words(template: &str, value: &str) -> Vec<String> {
    // A value with spaces is several arguments (`v1=90 v2=20`); an empty value is one empty one.
    let mut out = Vec::new();
    for w in template.split(' ') {
        if w == "{}" {
            if value.is_empty() {
                out.push(String::new());
            } else {
                out.extend(value.split(' ').map(str::to_owned));
            }
        } else {
            out.push(w.to_owned());
        }
    }
    out
}

#[test]
fn every_bad_input_is_refused_with_a_typed_message_on_every_mesh() {
    let mut failures = Vec::new();
    let mut count = 0;
    for mesh in ["istio", "linkerd", "consul"] {
        let ns = if mesh == "consul" { "default" } else { "prod" };
        for (template, values) in CASES {
            for value in *values {
                count += 1;
                let args = words(template, value);
                let out = Command::cargo_bin("meshctl")
                    .unwrap()
                    .env_remove("CONSUL_HTTP_ADDR")
                    .env_remove("KUBECONFIG")
                    .args(["--mesh", mesh, "-n", ns])
                    .args(&args)
                    .timeout(std::time::Duration::from_secs(30))
                    .output()
                    .unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr);
                let code = out.status.code();
                let typed = stderr.starts_with("error:") && !stderr.contains("panicked");
                if code != Some(2) || !typed {
                    failures.push(format!(
                        "{mesh} {args:?}: exit {code:?}: {}",
                        stderr.lines().next().unwrap_or("")
                    ));
                }
            }
        }
    }
    assert!(count >= 300, "only {count} bad inputs");
    assert!(
        failures.is_empty(),
        "{} of {count} bad inputs were not refused as such:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
