//! Rollout inputs that would disable (or always trip) the safety gate are refused with a typed
//! message naming the field, exit 2, before anything is planned or written.

use assert_cmd::Command;

fn rollout(extra: &[&str]) -> (i32, String) {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("CONSUL_HTTP_ADDR").env_remove("RUST_LOG");
    let out = cmd
        .args(["--mesh", "istio", "rollout"])
        .args(extra)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CANARY: [&str; 6] = ["canary", "reviews", "--stable", "v1", "--canary", "v2"];

#[test]
fn slos_that_cannot_work_are_refused() {
    for (slo, field) in [
        ("availability=101", "slo.availability"),
        ("availability=-1", "slo.availability"),
        ("availability=0.999", "slo.availability"),
        ("availability=NaN", "slo.availability"),
        ("p99=0ms", "slo.latency_p99"),
        ("p50=-5", "slo.latency_p50"),
        ("throughput=inf", "slo.min_throughput_rps"),
    ] {
        let mut args = CANARY.to_vec();
        args.extend(["--slo", slo]);
        let (code, stderr) = rollout(&args);
        assert_eq!(code, 2, "{slo}: {stderr}");
        assert!(stderr.contains(field), "{slo}: {stderr}");
    }
}

#[test]
fn counts_are_bounded_instead_of_aborting_the_process() {
    let (code, stderr) = rollout(&[
        "ab",
        "reviews",
        "--stable",
        "v1",
        "--canary",
        "v2",
        "--header",
        "x-user=beta",
        "--iterations",
        "4294967295",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("strategy.iterations"), "{stderr}");
}

#[test]
fn a_sound_slo_still_renders() {
    let mut args = CANARY.to_vec();
    args.extend(["--steps", "10,50", "--slo", "availability=99.9,p99=200ms"]);
    let (code, stderr) = rollout(&args);
    assert_eq!(code, 0, "{stderr}");
}
