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

/// `rollout run --file`: the spec in a file renders like the flags' (three stages and the
/// promotion here); an unknown field, a bad SLO, or flags beside the file are refused, exit 2.
#[test]
fn a_spec_from_a_file_runs_and_a_bad_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("meshctl-rollout-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = "service: default/reviews\nstable: v1\ncanary: v2\n\
                strategy: {type: canary, steps: [10, 50]}\ninterval: 2m\n\
                failure_threshold: 2\nmax_inconclusive: 5\nslo: {availability: 99.9}\n";
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let path = write("good.yaml", good);
    let out = Command::cargo_bin("meshctl")
        .unwrap()
        .env_remove("CONSUL_HTTP_ADDR")
        .args(["--mesh", "istio", "rollout", "run", "--file", &path])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.matches("# stage ").count(), 3, "{text}");
    // On every mesh: Istio's and Linkerd's stages are objects `meshctl validate` accepts;
    // Consul's render its config entries.
    for mesh in ["istio", "linkerd", "consul"] {
        let out = Command::cargo_bin("meshctl")
            .unwrap()
            .env_remove("CONSUL_HTTP_ADDR")
            .args(["--mesh", mesh, "rollout", "run", "--file", &path])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{mesh}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if mesh == "consul" {
            assert!(String::from_utf8_lossy(&out.stdout).contains("service-splitter"));
            continue;
        }
        let valid = Command::cargo_bin("meshctl")
            .unwrap()
            .args(["validate", "-"])
            .write_stdin(out.stdout)
            .output()
            .unwrap();
        assert!(
            valid.status.success(),
            "{mesh}: {}",
            String::from_utf8_lossy(&valid.stdout)
        );
    }

    let unknown = write("unknown.yaml", &format!("{good}max_weight: 50\n"));
    let (code, err) = rollout(&["run", "--file", &unknown]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("max_weight"), "{err}");
    let bad_slo = write("slo.yaml", &good.replace("99.9", "101"));
    let (code, err) = rollout(&["run", "--file", &bad_slo]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("availability"), "{err}");
    // The file's steps and interval have the flags' bounds: no 0 % step, no interval under 1s
    // (one analysis per interval: a millisecond would query Prometheus a thousand times a second).
    let zero_step = write("zero.yaml", &good.replace("[10, 50]", "[0, 50]"));
    let (code, err) = rollout(&["run", "--file", &zero_step]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("strategy.steps[0]") && err.contains("1..=100"),
        "{err}"
    );
    let fast = write("fast.yaml", &good.replace("interval: 2m", "interval: 1ms"));
    let (code, err) = rollout(&["run", "--file", &fast]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("interval") && err.contains("1s"), "{err}");
    let mut flags = CANARY.to_vec();
    flags.extend(["--steps", "10,50", "--interval", "1ms"]);
    let (code, err) = rollout(&flags);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("interval") && err.contains("1s"), "{err}");
    // Custom metrics (PromQL templates) come with the file; an unknown placeholder is refused.
    let metric = "metrics:\n- name: queue-depth\n  query: 'max(queue_depth{namespace=\"{{ namespace }}\"})'\n  max: 100\n";
    let with_metric = write("metric.yaml", &format!("{good}{metric}"));
    let (code, err) = rollout(&["run", "--file", &with_metric]);
    assert_eq!(code, 0, "{err}");
    let bad_metric = write(
        "bad-metric.yaml",
        &format!("{good}{}", metric.replace("namespace }}", "job }}")),
    );
    let (code, err) = rollout(&["run", "--file", &bad_metric]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("metrics[0]") && err.contains("job"), "{err}");
    let (code, err) = rollout(&["run", "reviews", "--file", &path]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = rollout(&["run"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--file"), "{err}");
    let (code, err) = rollout(&[&CANARY[..], &["--file", &path]].concat());
    assert_eq!(code, 2, "{err}");
    // Flags the file would override silently are refused, as on the lifecycle commands; those
    // are checked before any control plane is contacted (usage errors, exit 2, everywhere).
    for extra in [&["--interval", "5m"][..], &["--min-requests", "5"], &["--watch"]] {
        let (code, err) = rollout(&[&["run", "--file", &path][..], extra].concat());
        assert_eq!(code, 2, "{extra:?}: {err}");
    }
    for args in [
        &["status", "reviews", "--interval", "5m"][..],
        &["status", "reviews", "--stable", "v1"],
        &["status"],
        &["pause", "reviews", "--min-requests", "5"],
    ] {
        let (code, err) = rollout(args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    // An endless file stops at the cap.
    if std::path::Path::new("/dev/zero").exists() {
        let (code, err) = rollout(&["run", "--file", "/dev/zero"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("larger than 1 MiB"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn controller_lease_flags_are_refused_where_they_do_not_apply() {
    let mut canary_with_shards = CANARY.to_vec();
    canary_with_shards.extend(["--shards", "4"]);
    for (args, flag) in [
        (canary_with_shards, "shards"),
        (vec!["status", "reviews", "--replica", "r0"], "replica"),
        (vec!["controller", "--replica", "r0"], "replica"),
        (vec!["controller", "--lease-seconds", "20"], "lease-seconds"),
    ] {
        let (code, stderr) = rollout(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    // --shard I/N and --shards COUNT are two ways to share: one at a time.
    let (code, stderr) = rollout(&["controller", "--shard", "0/2", "--shards", "4"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--shards"), "{stderr}");
}
