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
//! `meshctl.dev/rollout` and instance the runner; with `controller --shards`, the instance is
//! the replica that sent it (`kubectl get events -o wide` shows `meshctl.dev/rollout, <replica>`
//! as its source), its `related` object the Lease of the declaration's shard, and its message
//! ends with `(shard <i>)`, which `kubectl describe` shows. Recording is best effort
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

/// Which replica of a `controller --shards` group records the Events, and how its shards are
/// named.
#[derive(Debug, Clone)]
pub(crate) struct Replica {
    /// This replica's name: the Events' `reportingInstance`.
    pub(crate) name: String,
    /// The lease group: shard `i`'s Lease is `<group>-shard-<i>`.
    pub(crate) group: String,
    /// How many shards the declarations hash into.
    pub(crate) shards: u32,
}

/// `controller` telling every decision of its rollouts to the cluster as Events about their
/// declarations, on Kubernetes and unless opted out: reported by `runner`, or by the replica
/// when the controller shares shards.
pub(crate) fn observe_declared(
    controller: Controller,
    live: &Live,
    runner: &str,
    replica: Option<Replica>,
) -> Controller {
    let Some(mut recorder) = recorder_for(live) else {
        return controller;
    };
    let instance = replica.as_ref().map_or(runner, |r| r.name.as_str());
    let observe = declared_observer(recorder.started(instance).clone(), replica);
    controller.with_observer(observe)
}

/// Records each decision about its declaration's ConfigMap (named `namespace/name`); with a
/// replica, also about the Lease of the declaration's shard, named in the message too.
fn declared_observer(
    recorder: EventRecorder,
    replica: Option<Replica>,
) -> impl Fn(&str, &RolloutEvent) + Send + Sync + 'static {
    move |declared, event| {
        let Some((namespace, name)) = declared.split_once('/') else {
            return;
        };
        let regarding = ObjectRef::new("v1", "ConfigMap", Some(namespace), name);
        let mut note = note(&regarding, event);
        if let Some(r) = &replica {
            let shard = mesh::rollout::shard_of(declared, r.shards);
            let lease = mesh::rollout::shard_lease(&r.group, shard);
            note.message = format!("{} (shard {shard})", note.message);
            note = note.with_related(&ObjectRef::new(
                "coordination.k8s.io/v1",
                "Lease",
                Some(namespace),
                &lease,
            ));
        }
        recorder.record(note);
    }
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

    /// With `--shards`, the Event names the replica that sent it as `reportingInstance` (not
    /// the runner, which every replica shares), and its shard in `related` and the message.
    #[tokio::test]
    async fn a_replicas_events_name_the_replica_and_the_shard() {
        let server = mesh_kube::testing::FakeApiServer::new();
        let replica = Replica {
            name: "r1".into(),
            group: "meshctl-rollouts".into(),
            shards: 6,
        };
        let mut recorder = Recorder {
            client: server.client(),
            recorder: None,
        };
        let started = recorder.started(&replica.name).clone();
        let observe = declared_observer(started.clone(), Some(replica));
        let applied = RolloutEvent::StageApplied {
            index: 0,
            stage: Stage::Weight(10),
        };
        observe("prod/api-canary", &applied);
        assert!(started.flush(std::time::Duration::from_secs(5)).await);
        let shard = mesh::rollout::shard_of("prod/api-canary", 6);
        let events = server.objects();
        let event = events
            .iter()
            .find(|o| o["kind"] == "Event")
            .unwrap_or_else(|| panic!("no Event: {events:#?}"));
        assert_eq!(event["reportingInstance"], "r1", "{event:#}");
        assert_eq!(event["reportingController"], REPORTING_CONTROLLER);
        assert_eq!(event["regarding"]["name"], "api-canary");
        assert_eq!(event["related"]["kind"], "Lease", "{event:#}");
        assert_eq!(
            event["related"]["name"],
            format!("meshctl-rollouts-shard-{shard}")
        );
        assert_eq!(
            event["note"],
            format!("stage 1 (10 % to the canary): applied (shard {shard})")
        );
    }

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
