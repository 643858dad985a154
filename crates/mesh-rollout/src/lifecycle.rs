//! Operators' commands on a rollout, from any machine, through the state the runner keeps on the
//! control plane: [`status`], [`pause`], [`resume`], [`request`] (promote or abort, carried out by
//! the runner at its next step), [`end_now`] (carried out here, for a rollout no runner holds)
//! and [`release`] (what an interrupted runner does: traffic stays, any runner may resume).
//!
//! Every change is a compare-and-swap on the stored state, retried on a concurrent write, so an
//! operator and the runner never overwrite each other: the runner finds the change when its own
//! next save is refused, and adopts it.
//!
//! ```
//! use mesh::{Mesh, MeshKind};
//! use mesh_rollout::{RolloutSpec, RolloutState, Strategy, lifecycle};
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let mesh = Mesh::fake(MeshKind::Istio);
//! let spec = RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[10, 50]).unwrap()).unwrap();
//! let service = spec.service.clone();
//! assert!(lifecycle::status(&mesh, &service).await.unwrap().is_none());
//! // A rollout whose runner was interrupted and let go: an operator aborts it on the spot.
//! let mut state = RolloutState::start("ci-runner", spec);
//! state.released = true;
//! lifecycle::save_new(&mesh, &state).await.unwrap();
//! let ended = lifecycle::end_now(&mesh, &service, mesh_rollout::Request::Abort, "ops").await.unwrap();
//! assert_eq!(ended.outcome, Some(mesh_rollout::Outcome::RolledBack));
//! # });
//! ```

use mesh::{Change, Error, Mesh, Result, ServiceId, StateKey, TrafficSplit};

use crate::{Outcome, Request, RolloutEvent, RolloutSpec, RolloutState};

/// Attempts of a read-modify-write before giving up on a state that keeps changing.
const ATTEMPTS: usize = 5;

/// The key a service's rollout state lives under.
///
/// # Errors
/// As [`StateKey::new`].
pub fn state_key(service: &ServiceId) -> Result<StateKey> {
    StateKey::new(service.clone(), "rollout")
}

/// The stored state of the service's rollout, `None` when it never had one.
///
/// # Errors
/// Backend errors, and [`Error::InvalidInput`] for a stored state this version cannot read.
pub async fn status(mesh: &Mesh, service: &ServiceId) -> Result<Option<RolloutState>> {
    Ok(read(mesh, &state_key(service)?).await?.map(|(st, _)| st))
}

/// Stores `state` as a new rollout's state (it must have none yet).
///
/// # Errors
/// [`Error::Conflict`] when the service already has a rollout state; backend errors.
pub async fn save_new(mesh: &Mesh, state: &RolloutState) -> Result<()> {
    let key = state_key(&state.spec.service)?;
    mesh.write_state(&key, &to_json(state)?, None).await.map(|_| ())
}

/// Pauses a running rollout: its runner keeps the current weights and advances no stage until
/// [`resume`].
///
/// # Errors
/// [`Error::NotFound`] without a running rollout; [`Error::Conflict`] when the state keeps
/// changing; backend errors.
pub async fn pause(mesh: &Mesh, service: &ServiceId) -> Result<RolloutState> {
    update(mesh, service, |st| {
        st.paused = true;
        Ok(())
    })
    .await
}

/// Resumes a paused rollout.
///
/// # Errors
/// As [`pause`].
pub async fn resume(mesh: &Mesh, service: &ServiceId) -> Result<RolloutState> {
    update(mesh, service, |st| {
        st.paused = false;
        Ok(())
    })
    .await
}

/// Asks the runner to promote or abort at its next step; [`status`] shows when it has.
///
/// # Errors
/// As [`pause`].
pub async fn request(mesh: &Mesh, service: &ServiceId, what: Request) -> Result<RolloutState> {
    update(mesh, service, |st| {
        st.requested = Some(what);
        Ok(())
    })
    .await
}

/// Lets go of a rollout: traffic stays as it is, and any runner with the same spec may resume it.
/// Only the runner holding it may.
///
/// # Errors
/// [`Error::Conflict`] when `runner` does not hold it; as [`pause`] otherwise.
pub async fn release(mesh: &Mesh, service: &ServiceId, runner: &str) -> Result<RolloutState> {
    update(mesh, service, |st| {
        if st.runner != runner {
            return Err(Error::Conflict {
                object: service.to_string(),
                owner: st.runner.clone(),
                field: "rollout (held by another runner)".into(),
            });
        }
        st.released = true;
        Ok(())
    })
    .await
}

/// What a runner that stopped on an error leaves behind: nothing when none of its traffic changes
/// landed (`nothing_landed`: the last change was refused or none of its writes applied, and no
/// earlier one landed), else a released rollout. Only `runner`'s own running rollout is touched; best effort (a
/// failure is logged: the caller reports the error that stopped the run).
pub(crate) async fn let_go(mesh: &Mesh, service: &ServiceId, runner: &str, nothing_landed: bool) {
    let Ok(key) = state_key(service) else { return };
    let result = match read(mesh, &key).await {
        Ok(Some((st, version))) if st.runner == runner && st.is_running() => {
            if nothing_landed && st.traffic_changes == 0 && !st.stage_applied {
                mesh.delete_state(&key, &version).await
            } else {
                release(mesh, service, runner).await.map(|_| ())
            }
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(%service, error = %e.with_causes(), "the stopped rollout could not be let go");
    }
}

/// Ends a rollout here and now: all traffic to the canary (promote) or to the stable version
/// (abort), then the state records the outcome. For a rollout no runner holds (released, or its
/// runner is gone), and for one that ended held (its traffic still split, waiting for an
/// operator's decision); a live runner is asked with [`request`] instead.
///
/// # Errors
/// As [`pause`] (a held rollout is accepted too), and the traffic change's errors (the state then
/// still says what it said, and the command can be repeated).
pub async fn end_now(mesh: &Mesh, service: &ServiceId, what: Request, by: &str) -> Result<RolloutState> {
    let key = state_key(service)?;
    let (st, _) = read(mesh, &key).await?.ok_or_else(|| not_running(service))?;
    if !open_to_end(&st) {
        return Err(not_running(service));
    }
    // Traffic first: if it fails, the state is unchanged and the command can be repeated.
    mesh.execute(final_change(&st.spec, what)).await?;
    update_when(mesh, service, open_to_end, |st| {
        st.traffic_changes += 1;
        finish(st, what, &format!("{} by {by}", past_tense(what)));
        Ok(())
    })
    .await
}

/// The traffic change that ends a rollout of `spec` as `what` asks: all traffic to the canary
/// (promote) or to the stable version (abort, roll back).
pub(crate) fn final_change(spec: &RolloutSpec, what: Request) -> Change {
    let version = match what {
        Request::Promote => &spec.canary,
        Request::Abort => &spec.stable,
    };
    Change::SetTrafficWeight {
        service: spec.service.clone(),
        split: TrafficSplit::all_to(version.clone()),
    }
}

/// Records the end that `what` asks for.
pub(crate) fn finish(st: &mut RolloutState, what: Request, reason: &str) {
    let outcome = what.outcome();
    st.outcome = Some(outcome);
    st.requested = None;
    st.paused = false;
    st.record(RolloutEvent::Finished {
        outcome,
        reason: reason.to_owned(),
    });
}

pub(crate) fn past_tense(what: Request) -> &'static str {
    match what {
        Request::Promote => "promoted",
        Request::Abort => "aborted",
    }
}

fn not_running(service: &ServiceId) -> Error {
    Error::NotFound {
        kind: "running rollout".into(),
        name: service.to_string(),
    }
}

/// The stored state and its version.
pub(crate) async fn read(mesh: &Mesh, key: &StateKey) -> Result<Option<(RolloutState, String)>> {
    let Some(stored) = mesh.read_state(key).await? else {
        return Ok(None);
    };
    let st = serde_json::from_str(&stored.value)
        .map_err(|e| Error::invalid("rollout state", format!("{key}: {e}")))?;
    Ok(Some((st, stored.version)))
}

/// Running, or ended held: a rollout an operator may still promote or abort.
fn open_to_end(st: &RolloutState) -> bool {
    st.is_running() || st.outcome == Some(Outcome::Held)
}

/// Read, change, compare-and-swap on a running rollout; again when someone wrote in between.
async fn update(
    mesh: &Mesh,
    service: &ServiceId,
    change: impl Fn(&mut RolloutState) -> Result<()>,
) -> Result<RolloutState> {
    update_when(mesh, service, RolloutState::is_running, change).await
}

/// [`update`] on a rollout that `accepts` takes.
async fn update_when(
    mesh: &Mesh,
    service: &ServiceId,
    accepts: fn(&RolloutState) -> bool,
    change: impl Fn(&mut RolloutState) -> Result<()>,
) -> Result<RolloutState> {
    let key = state_key(service)?;
    for _ in 0..ATTEMPTS {
        let (mut st, version) = read(mesh, &key).await?.ok_or_else(|| not_running(service))?;
        if !accepts(&st) {
            return Err(not_running(service));
        }
        change(&mut st)?;
        match mesh.write_state(&key, &to_json(&st)?, Some(&version)).await {
            Ok(_) => return Ok(st),
            Err(Error::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict {
        object: key.to_string(),
        owner: "the runner".into(),
        field: format!("rollout (changed {ATTEMPTS} times while being updated)"),
    })
}

pub(crate) fn to_json(st: &RolloutState) -> Result<String> {
    serde_json::to_string(st).map_err(|e| Error::invalid("rollout state", e.to_string()))
}
