//! `meshctl rollout status|pause|resume|promote|abort SERVICE`, and what Ctrl-C leaves behind a
//! running rollout: commands on the rollout's state, kept on the control plane, from any machine.

use std::{io::Write, time::Duration};

use mesh::rollout::{Outcome, Request, RolloutEvent, RolloutSpec, RolloutState, Stage, lifecycle};
use mesh::{Mesh, ServiceId};

use crate::{
    cli::{OnInterrupt, Output, RolloutArgs, StrategyArg},
    error::{CliError, exit},
    output,
};

/// How often `status --watch` reads the state.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Runs a command on the service's rollout; the exit code follows `status`'s outcome.
pub(crate) async fn run(
    out: &mut impl Write,
    mesh: &Mesh,
    a: &RolloutArgs,
    namespace: &str,
    format: Output,
) -> Result<u8, CliError> {
    let service = check(a, namespace)?;
    let state = match a.strategy {
        StrategyArg::Pause => lifecycle::pause(mesh, &service).await?,
        StrategyArg::Resume => lifecycle::resume(mesh, &service).await?,
        StrategyArg::Promote | StrategyArg::Abort => {
            let what = if a.strategy == StrategyArg::Promote {
                Request::Promote
            } else {
                Request::Abort
            };
            let current = lifecycle::status(mesh, &service).await?;
            if a.force || current.as_ref().is_some_and(RolloutState::awaits_operator) {
                lifecycle::end_now(mesh, &service, what, &operator()).await?
            } else {
                let st = lifecycle::request(mesh, &service, what).await?;
                say!(
                    "requested: {} carries it out at its next step (within {:?}); `rollout status --watch` follows it, `--force` does it now if the runner is gone",
                    st.runner,
                    st.spec.interval
                );
                st
            }
        }
        _ if a.watch => return watch(out, mesh, &service, format).await,
        _ => lifecycle::status(mesh, &service).await?.ok_or_else(|| {
            CliError::from(mesh::Error::NotFound {
                kind: "rollout".into(),
                name: service.to_string(),
            })
        })?,
    };
    print(out, format, &state)?;
    Ok(code(&state))
}

/// What Ctrl-C leaves: the weights held and the rollout released (the next run resumes it), or
/// all traffic back to stable. Exits 130, as a shell does for SIGINT.
pub(crate) async fn interrupted(
    mesh: &Mesh,
    spec: &RolloutSpec,
    runner: &str,
    on_interrupt: OnInterrupt,
    signal: &str,
) -> Result<u8, CliError> {
    let service = &spec.service;
    let done = match on_interrupt {
        OnInterrupt::Hold => lifecycle::release(mesh, service, runner).await.map(|st| {
            say!(
                "{signal}: rollout of {service} held at stage {} of {}, traffic as it was; released: run the same command to resume it",
                st.stage + 1,
                spec.stages().len()
            );
            if let Some(r) = st.requested {
                let r = word(r);
                say!(
                    "the {r} requested before {signal} was not carried out: `meshctl rollout {r} {service} --force` does it now"
                );
            }
        }),
        OnInterrupt::Rollback => lifecycle::end_now(mesh, service, Request::Abort, &format!("{signal} ({runner})"))
            .await
            .map(|_| {
                say!(
                    "{signal}: rollout of {service} rolled back: all traffic to {}",
                    spec.stable
                );
            }),
    };
    match done {
        Ok(()) => Ok(130),
        // Not running any more: an operator may have ended it meanwhile (`promote --force`,
        // `abort --force`), leaving nothing to hold or roll back.
        Err(e @ mesh::Error::NotFound { .. }) => {
            match lifecycle::status(mesh, service).await?.and_then(|st| st.outcome) {
                Some(outcome) => {
                    say!(
                        "{signal}: rollout of {service} had already ended ({}), traffic left as that end set it",
                        word(outcome)
                    );
                    Ok(130)
                }
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A request's or an outcome's name in lower case (`promote`, `rolledback`), as status shows it.
fn word(name: impl std::fmt::Debug) -> String {
    format!("{name:?}").to_lowercase()
}

/// The service a command names, once its arguments are checked: before any control plane is
/// contacted, so that a bad command line is a usage error wherever it runs.
pub(crate) fn check(a: &RolloutArgs, namespace: &str) -> Result<ServiceId, CliError> {
    refuse_strategy_flags(a)?;
    Ok(crate::ops::service_id(
        crate::rollout_cmd::service_arg(a)?,
        namespace,
    )?)
}

pub(crate) fn refuse_strategy_flags(a: &RolloutArgs) -> Result<(), CliError> {
    let strategy_only = [
        ("stable", a.stable.is_some()),
        ("canary", a.canary.is_some()),
        (
            "steps",
            a.steps.is_some() || a.step_weight.is_some() || a.max_weight.is_some(),
        ),
        ("slo", a.slo.is_some()),
        ("header", !a.headers.is_empty()),
        ("iterations", a.iterations.is_some()),
        ("interval", a.interval.is_some()),
        ("min-requests", a.min_requests.is_some()),
        ("file", a.file.is_some()),
    ];
    let wrong = |flag: &str, applies: &str| {
        CliError::from(mesh::Error::invalid(flag, format!("applies to {applies} only")))
    };
    if let Some((flag, _)) = strategy_only.iter().find(|(_, set)| *set) {
        return Err(wrong(flag, "strategies (canary, bluegreen, ab)"));
    }
    if a.watch && a.strategy != StrategyArg::Status {
        return Err(wrong("watch", "status"));
    }
    if a.force && !matches!(a.strategy, StrategyArg::Promote | StrategyArg::Abort) {
        return Err(wrong("force", "promote and abort"));
    }
    if let Some(flag) = a.controller_flag()
        && a.strategy != StrategyArg::Controller
    {
        return Err(wrong(flag, "controller"));
    }
    Ok(())
}

/// Who ends a rollout by hand: `USER@HOST`.
fn operator() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".to_owned());
    format!("{user} (meshctl)")
}

/// 0 while running or promoted; the rollout's own codes once rolled back or held.
fn code(st: &RolloutState) -> u8 {
    match st.outcome {
        None | Some(Outcome::Promoted) => 0,
        Some(Outcome::RolledBack) => exit::ROLLED_BACK,
        Some(Outcome::Held) => exit::HELD,
    }
}

fn summary(st: &RolloutState) -> serde_json::Value {
    let stages = st.spec.stages();
    let state = match (st.outcome, st.released, st.requested, st.paused) {
        (Some(o), ..) => word(o),
        // No runner will carry a request out: `--force` does.
        (None, true, Some(r), _) => {
            let r = word(r);
            format!("released (no runner), {r} requested: `{r} --force` does it now")
        }
        (None, true, None, true) => "paused, released (no runner)".to_owned(),
        (None, true, None, false) => "released (no runner)".to_owned(),
        (None, false, Some(r), _) => format!("{} requested", word(r)),
        (None, false, None, true) => "paused".to_owned(),
        (None, false, None, false) => "running".to_owned(),
    };
    // The event's own summary: every reason (a custom metric's may be the deciding one).
    let last = st
        .events
        .iter()
        .rev()
        .find(|e| matches!(e, RolloutEvent::Analyzed { .. } | RolloutEvent::Finished { .. }))
        .map(RolloutEvent::summary);
    let weights = match st.traffic() {
        Stage::Weight(w) => format!("{}={} {}={w}", st.spec.stable, 100 - w, st.spec.canary),
        Stage::Match => format!(
            "matching requests to {}, the rest to {}",
            st.spec.canary, st.spec.stable
        ),
    };
    let runner = if st.released && st.is_running() {
        format!("none ({} let go)", st.runner)
    } else {
        st.runner.clone()
    };
    serde_json::json!({
        "service": st.spec.service.to_string(),
        "state": state,
        "stage": format!("{} of {}", (st.stage + 1).min(stages.len()), stages.len()),
        "weights": weights,
        "runner": runner,
        "traffic_changes": st.traffic_changes,
        "last_decision": last,
    })
}

fn print(out: &mut impl Write, format: Output, st: &RolloutState) -> Result<(), CliError> {
    match format {
        Output::Json => output::value(out, format, st),
        _ => output::value(out, format, &summary(st)),
    }
}

/// Prints the summary whenever it changes, until the rollout ends.
async fn watch(
    out: &mut impl Write,
    mesh: &Mesh,
    service: &ServiceId,
    format: Output,
) -> Result<u8, CliError> {
    let mut last = None;
    loop {
        let st = lifecycle::status(mesh, service).await?.ok_or_else(|| {
            CliError::from(mesh::Error::NotFound {
                kind: "rollout".into(),
                name: service.to_string(),
            })
        })?;
        let now = summary(&st);
        if last.as_ref() != Some(&now) {
            if format == Output::Json {
                writeln!(out, "{}", serde_json::to_string(&st)?)?;
            } else {
                writeln!(
                    out,
                    "{} {} stage {} {}",
                    now["service"].as_str().unwrap_or_default(),
                    now["state"].as_str().unwrap_or_default(),
                    now["stage"].as_str().unwrap_or_default(),
                    now["last_decision"].as_str().unwrap_or_default()
                )?;
            }
            out.flush()?;
            last = Some(now);
        }
        if !st.is_running() {
            return Ok(code(&st));
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}
