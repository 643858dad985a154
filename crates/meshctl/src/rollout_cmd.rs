//! `meshctl rollout canary|bluegreen|ab`.

use std::{io::Write, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use mesh::rollout::{Outcome, Rollout, RolloutEvent, RolloutReport, RolloutSpec, Strategy};
use mesh::{Error, Mesh, observe::Slo, units::parse_duration};

use crate::{
    cli::{Output, RolloutArgs, StrategyArg, Target},
    error::{CliError, exit},
    ops, output,
};

/// Parses `availability=99.9,p99=200ms,p90=100,throughput=5`.
pub(crate) fn parse_slo(s: &str) -> Result<Slo, Error> {
    let mut slo = Slo::default();
    let mut seen: Vec<&str> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| Error::invalid("slo", format!("{part:?} is not KEY=VALUE")))?;
        if seen.contains(&k) {
            return Err(Error::invalid(
                "slo",
                format!("{k:?} is given twice; give each objective once"),
            ));
        }
        seen.push(k);
        let ms = |v: &str| -> Result<f64, Error> {
            if v.ends_with('s') {
                Ok(parse_duration(v)?.as_secs_f64() * 1000.0)
            } else {
                v.parse()
                    .map_err(|_| Error::invalid("slo", format!("{v:?} is not a number")))
            }
        };
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| Error::invalid("slo", format!("{v:?} is not a number")))
        };
        match k {
            "availability" => slo.availability = Some(num(v)?),
            "p50" => slo.latency_p50 = Some(ms(v)?),
            "p90" => slo.latency_p90 = Some(ms(v)?),
            "p99" => slo.latency_p99 = Some(ms(v)?),
            "throughput" => slo.min_throughput_rps = Some(num(v)?),
            other => return Err(Error::invalid("slo", format!("unknown objective {other:?}"))),
        }
    }
    Ok(slo)
}

/// This process's runner identity: `meshctl@HOST/PID`. A second operator (another host, or another
/// process) is then refused with the first one's name instead of "resuming" its rollout; pass
/// `--runner` to resume a rollout after a restart.
pub(crate) fn default_runner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("meshctl@{host}/{}", std::process::id())
}

/// A/B analyses before promotion when `--iterations` is not given.
const DEFAULT_AB_ITERATIONS: u32 = 10;

/// The SERVICE argument, which every strategy and command but `run` needs.
pub(crate) fn service_arg(a: &RolloutArgs) -> Result<&str, Error> {
    a.service
        .as_deref()
        .ok_or_else(|| Error::invalid("service", "name the service (rollout STRATEGY|COMMAND SERVICE)"))
}

/// The spec a `--file` holds (YAML or JSON), checked like the flags' (unknown fields refused).
fn spec_from_file(a: &RolloutArgs, path: &std::path::Path) -> Result<RolloutSpec, Error> {
    let flags = a.stable.is_some()
        || a.canary.is_some()
        || a.steps.is_some()
        || a.step_weight.is_some()
        || a.max_weight.is_some()
        || a.slo.is_some()
        || !a.headers.is_empty()
        || a.iterations.is_some()
        || a.interval.is_some()
        || a.min_requests.is_some()
        || a.watch
        || a.force
        || a.service.is_some()
        || a.controller_flag().is_some();
    if flags {
        return Err(Error::invalid(
            "file",
            "the file is the whole spec: give no SERVICE and no strategy flags with it",
        ));
    }
    // A spec is a few hundred bytes; a bound keeps `--file /dev/zero` from eating memory.
    const MAX_SPEC_BYTES: u64 = 1024 * 1024;
    let unreadable = |e: &dyn std::fmt::Display| Error::invalid("file", format!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_SPEC_BYTES + 1), &mut bytes)
        .map_err(|e| unreadable(&e))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(unreadable(
            &"larger than 1 MiB; a rollout spec is a few hundred bytes",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| unreadable(&"not UTF-8 text"))?;
    spec_from_text(&text, "file", &path.display().to_string())
}

/// A spec's text (YAML or JSON) from `source`, checked as a file's is: unknown fields refused,
/// then validated. Errors name `field` and `source`.
pub(crate) fn spec_from_text(text: &str, field: &str, source: &str) -> Result<RolloutSpec, Error> {
    let spec: RolloutSpec =
        serde_saphyr::from_str(text).map_err(|e| Error::invalid(field, format!("{source}: {e}")))?;
    spec.validate()?;
    Ok(spec)
}

/// Builds the spec from the arguments; every check happens here.
pub(crate) fn spec(a: &RolloutArgs, namespace: &str) -> Result<RolloutSpec, Error> {
    match (a.strategy, &a.file) {
        (StrategyArg::Run, Some(path)) => return spec_from_file(a, path),
        (StrategyArg::Run, None) => return Err(Error::invalid("file", "rollout run needs --file PATH")),
        (_, Some(_)) => return Err(Error::invalid("file", "applies to rollout run only")),
        _ => {}
    }
    // A flag that does not apply to the strategy would be silently ignored: refuse it instead.
    let given = |set: bool, flag: &str, strategies: &str| {
        if set {
            Err(Error::invalid(flag, format!("applies to {strategies} only")))
        } else {
            Ok(())
        }
    };
    let stepping = a.steps.is_some() || a.step_weight.is_some() || a.max_weight.is_some();
    given(a.watch, "watch", "status")?;
    given(a.force, "force", "promote and abort")?;
    if let Some(flag) = a.controller_flag() {
        given(true, flag, "controller")?;
    }
    let (Some(stable), Some(canary)) = (&a.stable, &a.canary) else {
        return Err(Error::invalid("stable", "a strategy needs --stable and --canary"));
    };
    match a.strategy {
        StrategyArg::Canary => {
            given(!a.headers.is_empty(), "header", "ab")?;
            given(a.iterations.is_some(), "iterations", "ab")?;
        }
        StrategyArg::Bluegreen => {
            given(stepping, "steps", "canary")?;
            given(!a.headers.is_empty(), "header", "ab")?;
            given(a.iterations.is_some(), "iterations", "ab")?;
        }
        StrategyArg::Ab => given(stepping, "steps", "canary")?,
        command => {
            return Err(Error::invalid(
                "rollout",
                format!("{command:?} is a command on a rollout in progress, not a strategy"),
            ));
        }
    }
    let strategy = match a.strategy {
        StrategyArg::Canary => match (&a.steps, a.step_weight, a.max_weight) {
            (Some(steps), None, None) => {
                let steps: Vec<u8> = steps
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse()
                            .map_err(|_| Error::invalid("steps", format!("{s:?} is not a weight")))
                    })
                    .collect::<Result<_, _>>()?;
                Strategy::steps(&steps)?
            }
            (None, step, max) => Strategy::step_weight(step.unwrap_or(10), max.unwrap_or(50))?,
            _ => {
                return Err(Error::invalid(
                    "steps",
                    "give --steps or --step-weight/--max-weight, not both",
                ));
            }
        },
        StrategyArg::Bluegreen => Strategy::BlueGreen,
        _ => Strategy::AbTest {
            matches: vec![ops::header_match(&a.headers)?],
            iterations: a.iterations.unwrap_or(DEFAULT_AB_ITERATIONS),
        },
    };
    let service = ops::service_id(service_arg(a)?, namespace)?;
    let mut spec = RolloutSpec::new(&service.to_string(), stable, canary, strategy)?;
    spec.interval =
        parse_duration(a.interval.as_deref().unwrap_or("1m")).map_err(|e| e.in_field("interval"))?;
    if let Some(slo) = &a.slo {
        spec.slo = parse_slo(slo)?;
    }
    spec.judge.min_requests = f64::from(a.min_requests.unwrap_or(50));
    spec.validate()?;
    Ok(spec)
}

/// Runs (or renders) a rollout and returns its exit code; `recorder` records its decisions as
/// Kubernetes Events.
pub(crate) async fn run(
    out: &mut impl Write,
    mesh: Mesh,
    a: &RolloutArgs,
    namespace: &str,
    target: Target,
    format: Output,
    mut recorder: Option<crate::rollout_events::Recorder>,
) -> Result<u8, CliError> {
    let spec = spec(a, namespace)?;
    let runner = a.runner.clone().unwrap_or_else(default_runner);
    let mut rollout = Rollout::new(mesh.clone(), spec.clone(), &runner)?;
    if let Some(recorder) = &mut recorder {
        rollout = rollout.with_observer(recorder.observer(&spec, &runner));
    }
    if target == Target::Render {
        let mut stages = Vec::new();
        for (i, change) in rollout.planned_changes().iter().enumerate() {
            let plan = mesh.plan(change).await?;
            if format == Output::Json {
                stages.push(serde_json::json!({"stage": i + 1, "operation": change.operation(), "writes": plan.writes}));
                continue;
            }
            if format == Output::Yaml {
                writeln!(out, "# stage {}: {}", i + 1, change.operation())?;
            }
            output::plan(out, format, &plan)?;
        }
        if format == Output::Json {
            writeln!(out, "{}", serde_json::to_string_pretty(&stages)?)?;
        }
        return Ok(0);
    }
    let progress = progress_bar(spec.stages().len() as u64);
    let mut events = rollout.subscribe();
    let watcher = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            let line = event.summary();
            match &progress {
                Some(bar) => {
                    if matches!(event, RolloutEvent::Analyzed { .. }) {
                        bar.inc(0);
                    }
                    if let RolloutEvent::StageApplied { index, .. } = event {
                        bar.set_position(index as u64);
                    }
                    bar.set_message(line);
                }
                None => say!("{line}"),
            }
        }
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
    });
    let report = tokio::select! {
        report = rollout.run() => report,
        signal = interrupted() => {
            drop(rollout);
            let _ = tokio::time::timeout(Duration::from_secs(1), watcher).await;
            if let Some(recorder) = &recorder {
                recorder.flush().await;
            }
            return crate::rollout_lifecycle::interrupted(&mesh, &spec, &runner, a.on_interrupt, signal).await;
        }
    };
    drop(rollout);
    let _ = tokio::time::timeout(Duration::from_secs(1), watcher).await;
    if let Some(recorder) = &recorder {
        recorder.flush().await;
    }
    let report = report?;
    print_report(out, format, &report)?;
    Ok(match report.outcome {
        Outcome::Promoted => 0,
        Outcome::RolledBack => exit::ROLLED_BACK,
        Outcome::Held => exit::HELD,
    })
}

fn progress_bar(len: u64) -> Option<ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} stage {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    Some(bar)
}

fn print_report(out: &mut impl Write, format: Output, report: &RolloutReport) -> Result<(), CliError> {
    if format != Output::Table {
        return output::value(out, format, report);
    }
    let mut t = crate::table::with_header(["stage", "verdict", "canary req", "stable req", "why"]);
    for e in &report.events {
        if let RolloutEvent::Analyzed { index, analysis, .. } = e {
            t.add_row([
                (index + 1).to_string(),
                format!("{:?}", analysis.verdict),
                format!("{}", analysis.requests.0),
                format!("{}", analysis.requests.1),
                analysis.reasons.join("; "),
            ]);
        }
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "outcome: {:?} after {} traffic changes",
        report.outcome, report.traffic_changes
    )?;
    Ok(())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM, naming it.
pub(crate) async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use mesh::rollout::{Analysis, RolloutEvent, Stage};

    /// A failure decided by a custom metric names it: the progress line used to show only the
    /// first reason, the built-in comparison that passed. It is now the event's summary.
    #[test]
    fn an_analysis_line_gives_every_reason() {
        let analysis = Analysis {
            verdict: mesh::observe::Verdict::Fail,
            requests: (5000.0, 5000.0),
            judgement: None,
            slo: None,
            metrics: Vec::new(),
            reasons: vec![
                "error rate 0.0000 vs baseline 0.0000".into(),
                "metric q1 = 7, must be at most 1: Fail".into(),
            ],
        };
        let event = RolloutEvent::Analyzed {
            index: 0,
            stage: Stage::Weight(10),
            analysis: Box::new(analysis),
        };
        assert_eq!(
            event.summary(),
            "stage 1 (10 % to the canary): Fail; canary 5000 requests, stable 5000; error rate 0.0000 vs baseline 0.0000; metric q1 = 7, must be at most 1: Fail"
        );
    }
}
