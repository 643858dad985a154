//! Gates: checks that must open before a stage starts or before promotion (webhooks, manual
//! approval).

use std::time::Duration;

use mesh::{BoxFuture, Error, Mesh, StateKey};
use serde::Serialize;

use crate::{RolloutSpec, Stage};

/// When a gate is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatePoint {
    /// Before a stage's traffic change.
    PreStage,
    /// Before the final promotion to 100 %.
    ConfirmPromotion,
}

/// What a gate is asked about.
#[derive(Debug, Clone, Serialize)]
pub struct GateContext<'a> {
    /// When.
    pub point: GatePoint,
    /// The rollout.
    pub spec: &'a RolloutSpec,
    /// The stage index (the last stage's for promotion).
    pub index: usize,
    /// The stage.
    pub stage: Stage,
}

/// A gate's answer: `Ok(())` opens it; `Err(reason)` keeps it closed (the rollout holds).
pub type GateAnswer = Result<(), String>;

/// A check that can hold a rollout back.
pub trait Gate: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> String;
    /// Asks the gate.
    fn check<'a>(&'a self, cx: &'a GateContext<'a>) -> BoxFuture<'a, GateAnswer>;
}

/// An HTTP webhook (Flagger's `pre-rollout` / `confirm-promotion` hooks): the rollout POSTs the
/// context as JSON; any 2xx opens the gate, anything else (or no answer in time) keeps it closed.
#[derive(Debug, Clone)]
pub struct WebhookGate {
    name: String,
    url: url::Url,
    point: GatePoint,
    client: reqwest::Client,
}

impl WebhookGate {
    /// A webhook asked at `point`, with a 10 s timeout. TLS is verified.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a URL that is not http or https.
    pub fn new(name: &str, url: &str, point: GatePoint) -> Result<Self, Error> {
        let url: url::Url = url
            .parse()
            .map_err(|e| Error::invalid("webhook.url", format!("{e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid("webhook.url", "must be http or https"));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::invalid("webhook", e.to_string()))?;
        Ok(Self {
            name: name.to_owned(),
            url,
            point,
            client,
        })
    }
}

impl Gate for WebhookGate {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn check<'a>(&'a self, cx: &'a GateContext<'a>) -> BoxFuture<'a, GateAnswer> {
        Box::pin(async move {
            if cx.point != self.point {
                return Ok(());
            }
            match self.client.post(self.url.clone()).json(cx).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("webhook {} answered {}", self.name, r.status())),
                Err(e) => Err(format!("webhook {} failed: {e}", self.name)),
            }
        })
    }
}

/// Manual approval before promotion: opens once someone writes `approved` to the service's
/// `rollout-approval` state (`meshctl rollout approve SERVICE`).
#[derive(Debug, Clone)]
pub struct ManualApproval {
    mesh: Mesh,
}

impl ManualApproval {
    /// A gate reading approvals from `mesh`'s state store.
    pub fn new(mesh: Mesh) -> Self {
        Self { mesh }
    }

    /// The key approvals are written to.
    ///
    /// # Errors
    /// Never for a valid service id.
    pub fn key(spec: &RolloutSpec) -> Result<StateKey, Error> {
        StateKey::new(spec.service.clone(), "rollout-approval")
    }
}

impl Gate for ManualApproval {
    fn name(&self) -> String {
        "manual-approval".into()
    }

    fn check<'a>(&'a self, cx: &'a GateContext<'a>) -> BoxFuture<'a, GateAnswer> {
        Box::pin(async move {
            if cx.point != GatePoint::ConfirmPromotion {
                return Ok(());
            }
            let key = Self::key(cx.spec).map_err(|e| e.to_string())?;
            match self.mesh.read_state(&key).await {
                Ok(Some(s)) if s.value == "approved" => Ok(()),
                Ok(_) => Err("waiting for manual approval".into()),
                Err(e) => Err(format!("cannot read approval: {e}")),
            }
        })
    }
}
