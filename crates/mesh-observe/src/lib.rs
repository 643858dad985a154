//! Pure SLI, SLO, quantile, anomaly and canary-judgement math.
