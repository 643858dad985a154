//! Rollout decisions as Kubernetes Events, where a user looks for them: `kubectl describe` and
//! `kubectl events --for` of the rollout's object.
//!
//! - `meshctl rollout run` (and the other strategies) on Istio or Linkerd, `--target apply`:
//!   Events about the rollout's state ConfigMap (`mesh-state-<service>-rollout`), the one object
//!   every rollout has.
//! - `meshctl rollout controller` on Kubernetes: Events about the declaration's ConfigMap, the
//!   object the user wrote.
//!
//! Each decision is one Event: its reason is the decision (`StageApplied`, `AnalysisPassed`,
//! `AnalysisInconclusive`, `AnalysisFailed`, `GateClosed`, `Promoted`, `RolledBack`, `Held`),
//! `Warning` for a failed analysis, a rollback or a hold, its message the numbers
//! ([`RolloutEvent::summary`]), its action the stage (`AnalyzeStage2`: a repeat of the same
//! decision at the same stage counts into one Event's series), its reporting controller
//! `meshctl.dev/rollout` and instance the runner. Recording is best effort
//! ([`mesh::kube::events`]): it never holds or fails a rollout; a failure is a warning on
//! stderr. It costs one API request per Event and one per rollout (the object's uid); set
//! `MESHCTL_ROLLOUT_EVENTS=off` to send none.

use std::time::Duration;

use mesh::{
    Mesh, ObjectRef, Result, StateKey,
    kube::events::{EventRecorder, Note},
    rollout::{Controller, RolloutEvent, RolloutSpec},
};

use crate::{
    backends::{self, Live},
    cli::{Cli, Target},
};

/// The Events' `reportingController`.
pub(crate) const REPORTING_CONTROLLER: &str = "meshctl.dev/rollout";
/// `off` (or `0`, `false`, `no`) records no Event.
pub(crate) const OPT_OUT: &str = "MESHCTL_ROLLOUT_EVENTS";
/// How long a finishing `rollout run` waits for its last Events to land.
const FLUSH: Duration = Duration::from_secs(3);

/// False when [`OPT_OUT`] says so.
fn enabled() -> bool {
    std::env::var(OPT_OUT).map_or(true, |v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    })
}

/// The mesh `meshctl rollout run` drives (as `backends::connect` makes it), and the recorder of
/// its Events: on Istio and Linkerd with `--target apply`, unless opted out.
pub(crate) async fn connect(cli: &Cli) -> Result<(Mesh, Option<Recorder>)> {
    if cli.target != Target::Apply {
        return Ok((backends::connect(cli).await?, None));
    }
    let live = backends::live(cli).await?;
    let recorder = recorder_for(&live);
    Ok((backends::with_telemetry(cli, live.mesh())?, recorder))
}

/// A recorder on `live`'s cluster, `None` on Consul or when opted out.
fn recorder_for(live: &Live) -> Option<Recorder> {
    match live {
        Live::Kube(_, engine, _) if enabled() => Some(Recorder {
            client: engine.client().clone(),
            recorder: None,
        }),
        _ => None,
    }
}

/// `controller` telling every decision of its rollouts to the cluster as Events about their
/// declarations, on Kubernetes and unless opted out.
pub(crate) fn observe_declared(controller: Controller, live: &Live, runner: &str) -> Controller {
    let Some(mut recorder) = recorder_for(live) else {
        return controller;
    };
    let recorder = recorder.started(runner).clone();
    controller.with_observer(move |declared, event| {
        // A ConfigMap declaration is named `namespace/name`.
        if let Some((namespace, name)) = declared.split_once('/') {
            let regarding = ObjectRef::new("v1", "ConfigMap", Some(namespace), name);
            recorder.record(note(&regarding, event));
        }
    })
}

/// Records a `rollout run`'s decisions, once [`started`](Self::started) with the runner's name.
pub(crate) struct Recorder {
    client: mesh::kube::kube::Client,
    recorder: Option<EventRecorder>,
}

impl Recorder {
    fn started(&mut self, runner: &str) -> &EventRecorder {
        self.recorder
            .get_or_insert_with(|| EventRecorder::new(self.client.clone(), REPORTING_CONTROLLER, runner))
    }

    /// Tells the Events of `spec`'s rollout, run by `runner`, about its state ConfigMap.
    pub(crate) fn observer(&mut self, spec: &RolloutSpec, runner: &str) -> impl Fn(&RolloutEvent) + use<> {
        let recorder = self.started(runner).clone();
        let regarding = StateKey::new(spec.service.clone(), "rollout")
            .map(|key| mesh::kube::state_object(&key))
            .ok();
        move |event| {
            if let Some(regarding) = &regarding {
                recorder.record(note(regarding, event));
            }
        }
    }

    /// Waits a little for the last Events to land, and says on stderr what could not be recorded.
    pub(crate) async fn flush(&self) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let landed = recorder.flush(FLUSH).await;
        let stats = recorder.stats();
        if !landed || stats.failed > 0 || stats.dropped > 0 {
            say!(
                "warning: {} of the rollout's Kubernetes Events were not recorded ({} failed, {} dropped{})",
                stats.failed + stats.dropped,
                stats.failed,
                stats.dropped,
                if landed { "" } else { ", some still pending" }
            );
        }
    }
}

/// The Event of `event` about `regarding`.
fn note(regarding: &ObjectRef, event: &RolloutEvent) -> Note {
    let action = match (event, event.stage_index()) {
        (RolloutEvent::StageApplied { .. }, Some(i)) => format!("ShiftTrafficStage{}", i + 1),
        (RolloutEvent::Analyzed { .. }, Some(i)) => format!("AnalyzeStage{}", i + 1),
        (RolloutEvent::GateClosed { .. }, Some(i)) => format!("GateStage{}", i + 1),
        _ => "Finish".to_owned(),
    };
    let note = Note::normal(regarding, event.reason(), &action, &event.summary());
    Note {
        warning: event.is_warning(),
        ..note
    }
}

#[cfg(test)]
mod tests {
    use mesh::rollout::{Outcome, Stage};

    use super::*;

    #[test]
    fn each_decision_is_an_event_with_its_stage_as_action() {
        let state = ObjectRef::new("v1", "ConfigMap", Some("prod"), "mesh-state-api-rollout");
        let applied = note(
            &state,
            &RolloutEvent::StageApplied {
                index: 1,
                stage: Stage::Weight(20),
            },
        );
        assert_eq!(
            (applied.reason.as_str(), applied.action.as_str(), applied.warning),
            ("StageApplied", "ShiftTrafficStage2", false)
        );
        assert_eq!(applied.message, "stage 2 (20 % to the canary): applied");
        let end = note(
            &state,
            &RolloutEvent::Finished {
                outcome: Outcome::Held,
                reason: "3 inconclusive analyses in a row; traffic left as is".into(),
            },
        );
        assert_eq!(
            (end.reason.as_str(), end.action.as_str(), end.warning),
            ("Held", "Finish", true)
        );
    }
}
