//! `meshctl events SERVICE`: the live stream of a rollout's decisions, read from the control plane
//! where the rollout keeps its progress, so it works from any machine and across runner restarts.

use std::{io::Write, time::Duration};

use mesh::rollout::{RolloutEvent, RolloutState};
use mesh::{Mesh, ServiceId, StateKey};

use crate::{cli::Output, error::CliError};

/// Prints each new event until the rollout ends.
pub(crate) async fn follow(
    out: &mut impl Write,
    mesh: &Mesh,
    service: ServiceId,
    poll: Duration,
    format: Output,
) -> Result<(), CliError> {
    let key = StateKey::new(service.clone(), "rollout")?;
    let mut printed = 0usize;
    let mut waiting_said = false;
    loop {
        match mesh.read_state(&key).await? {
            None if !waiting_said => {
                say!("no rollout of {service} yet; waiting");
                waiting_said = true;
            }
            None => {}
            Some(stored) => {
                let state: RolloutState = serde_json::from_str(&stored.value).map_err(|e| {
                    CliError::internal(format!("the rollout state of {service} is not readable: {e}"))
                })?;
                // A new rollout of the same service starts a new history.
                if state.events.len() < printed {
                    printed = 0;
                }
                for event in &state.events[printed..] {
                    print_event(out, format, event)?;
                }
                printed = state.events.len();
                out.flush()?;
                if !state.is_running() {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
}

fn print_event(out: &mut impl Write, format: Output, event: &RolloutEvent) -> Result<(), CliError> {
    match format {
        Output::Json => writeln!(out, "{}", serde_json::to_string(event)?)?,
        _ => write!(
            out,
            "---\n{}",
            serde_saphyr::to_string(event).map_err(|e| CliError::internal(e.to_string()))?
        )?,
    }
    Ok(())
}
