//! A deterministic Prometheus `query_range` body of a requested size, shaped like a real
//! Istio bucket-rate matrix: many series with the full Istio label set, 15 s steps.

/// Builds a body of at least `min_bytes` bytes; returns it with its series and sample counts.
pub(crate) fn range_body(min_bytes: usize) -> (String, usize, usize) {
    const POINTS: usize = 1000;
    let mut body = String::with_capacity(min_bytes + 64 * 1024);
    body.push_str(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    let mut series = 0;
    while body.len() < min_bytes {
        if series > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            concat!(
                r#"{{"metric":{{"destination_service_name":"reviews","destination_service_namespace":"bookinfo","#,
                r#""destination_version":"v{}","destination_workload":"reviews-v{}","le":"{}","reporter":"destination","#,
                r#""response_code":"200","source_workload":"productpage-v1"}},"values":["#
            ),
            series % 7,
            series % 7,
            series
        ));
        for i in 0..POINTS {
            if i > 0 {
                body.push(',');
            }
            let value = (series * POINTS + i) as f64 / 7.0;
            body.push_str(&format!(
                r#"[{}.{:03},"{}"]"#,
                1_704_067_200 + i * 15,
                i % 1000,
                value
            ));
        }
        body.push_str("]}");
        series += 1;
    }
    body.push_str("]}}");
    (body, series, series * POINTS)
}
