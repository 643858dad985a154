//! What the suites share: scripted metrics.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use mesh::{BoxFuture, Result, ServiceId, ServiceMetrics, TimeRange, TrafficSample};
use mesh_rollout::MetricsSource;

/// One window: `(canary requests, canary errors, stable requests, stable errors)`; `None` never answers.
pub(crate) type Window = Option<(f64, f64, f64, f64)>;

/// Metrics scripted per analysis call.
pub(crate) struct Scripted {
    calls: AtomicUsize,
    script: Box<dyn Fn(usize) -> Window + Send + Sync>,
}

impl Scripted {
    pub(crate) fn new(script: impl Fn(usize) -> Window + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            script: Box::new(script),
        })
    }
}

impl MetricsSource for Scripted {
    fn metrics<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            // `None` stands for a runner that never gets an answer (it is killed while waiting).
            let Some((cr, ce, sr, se)) = (self.script)(call) else {
                return std::future::pending().await;
            };
            let sample = |requests, errors| TrafficSample {
                requests,
                errors,
                ..Default::default()
            };
            Ok(ServiceMetrics {
                service: service.clone(),
                range,
                overall: sample(cr + sr, ce + se),
                by_version: [
                    ("v1".parse().unwrap(), sample(sr, se)),
                    ("v2".parse().unwrap(), sample(cr, ce)),
                ]
                .into(),
            })
        })
    }
}

/// A canary as healthy as stable: 0.1 % errors on both.
pub(crate) fn healthy(_: usize) -> Window {
    Some((1000.0, 1.0, 9000.0, 9.0))
}
