//! Turning a window of metrics into a verdict: the canary's SLO (absolute) and the canary against
//! stable (comparative), with too little traffic always inconclusive.

use std::time::SystemTime;

use mesh::{
    BoxFuture, Mesh, Result, ServiceId, ServiceMetrics, TimeRange, TrafficSample,
    observe::{CanaryInput, SloStatus, Verdict, calculate_sli, is_within_slo, judge_canary},
};

use crate::{Analysis, RolloutSpec};

/// Where the analysis reads metrics from. [`Mesh`] is the usual source; tests script their own.
pub trait MetricsSource: Send + Sync {
    /// Metrics of `service` over `range`, per version.
    fn metrics<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>>;

    /// The value of a custom metric's query at `at` (one series), `None` when it yields none.
    /// Sources without a query language refuse custom metrics.
    fn query<'a>(&'a self, promql: &'a str, at: SystemTime) -> BoxFuture<'a, Result<Option<f64>>> {
        let _ = (promql, at);
        Box::pin(async {
            Err(mesh::Error::not_configured(
                "custom metrics",
                "this metrics source runs no queries",
            ))
        })
    }
}

impl MetricsSource for Mesh {
    fn metrics<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        Box::pin(self.get_service_metrics(service, range))
    }

    fn query<'a>(&'a self, promql: &'a str, at: SystemTime) -> BoxFuture<'a, Result<Option<f64>>> {
        Box::pin(self.query_metric(promql, at))
    }
}

/// Analyzes one window.
///
/// - Fewer than `spec.judge.min_requests` canary requests: inconclusive.
/// - SLO objectives set: a violated objective fails; missing data is inconclusive.
/// - Stable has enough traffic too: the comparative judgement must not fail.
/// - With neither objectives nor a comparable baseline the verdict is inconclusive: there is nothing
///   to judge against, and the rollout holds rather than guessing.
///
/// ```
/// use mesh::{ServiceMetrics, TimeRange, TrafficSample, observe::Verdict};
/// use mesh_rollout::{RolloutSpec, Strategy, analyze};
/// let spec = RolloutSpec::new("prod/api", "v1", "v2", Strategy::steps(&[10, 50]).unwrap()).unwrap();
/// let range = TimeRange::new(std::time::UNIX_EPOCH, std::time::UNIX_EPOCH + spec.interval).unwrap();
/// let sample = |requests, errors| TrafficSample { requests, errors, ..Default::default() };
/// let metrics = |stable, canary| ServiceMetrics {
///     service: spec.service.clone(), range, overall: TrafficSample::default(),
///     by_version: [("v1".parse().unwrap(), stable), ("v2".parse().unwrap(), canary)].into(),
/// };
/// assert_eq!(analyze(&spec, &metrics(sample(9000.0, 9.0), sample(1000.0, 1.0))).verdict, Verdict::Pass);
/// assert_eq!(analyze(&spec, &metrics(sample(9000.0, 9.0), sample(1000.0, 80.0))).verdict, Verdict::Fail);
/// assert_eq!(analyze(&spec, &metrics(sample(90.0, 0.0), sample(10.0, 10.0))).verdict, Verdict::Inconclusive);
/// ```
pub fn analyze(spec: &RolloutSpec, metrics: &ServiceMetrics) -> Analysis {
    let empty = TrafficSample::default();
    let canary = metrics.by_version.get(&spec.canary).unwrap_or(&empty);
    let stable = metrics.by_version.get(&spec.stable).unwrap_or(&empty);
    let mut reasons = Vec::new();
    let requests = (canary.requests, stable.requests);
    if canary.requests.is_nan() || canary.requests < spec.judge.min_requests {
        reasons.push(format!(
            "canary saw {} requests; at least {} are needed to judge",
            canary.requests, spec.judge.min_requests
        ));
        return Analysis {
            verdict: Verdict::Inconclusive,
            requests,
            judgement: None,
            slo: None,
            metrics: Vec::new(),
            reasons,
        };
    }
    let mut verdicts = Vec::new();
    let has_slo = spec.slo != mesh::observe::Slo::default();
    let slo = has_slo.then(|| is_within_slo(&calculate_sli(canary, spec.judge.sli), &spec.slo));
    if let Some(report) = &slo {
        verdicts.push(match report.overall {
            SloStatus::Met => Verdict::Pass,
            SloStatus::Violated => Verdict::Fail,
            SloStatus::NoData => Verdict::Inconclusive,
        });
        reasons.push(format!("canary SLO: {:?}", report.overall));
    }
    let judgement = (stable.requests >= spec.judge.min_requests).then(|| {
        judge_canary(
            CanaryInput::counts(stable),
            CanaryInput::counts(canary),
            &spec.judge,
        )
    });
    if let Some(j) = &judgement {
        verdicts.push(j.verdict);
        reasons.extend(j.reasons.iter().cloned());
    }
    let verdict = if verdicts.contains(&Verdict::Fail) {
        Verdict::Fail
    } else if verdicts.is_empty() {
        reasons.push("no SLO set and stable has too little traffic to compare against".into());
        Verdict::Inconclusive
    } else if verdicts.contains(&Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    };
    Analysis {
        verdict,
        requests,
        judgement,
        slo,
        metrics: Vec::new(),
        reasons,
    }
}
