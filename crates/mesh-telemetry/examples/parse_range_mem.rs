//! Peak-memory probe for parsing a large `query_range` response; run under `/usr/bin/time -v`.
//!
//! ```sh
//! cargo build -p mesh-telemetry --example parse_range_mem
//! target/debug/examples/parse_range_mem generate /tmp/range.json 10   # 10 MiB body
//! /usr/bin/time -v target/debug/examples/parse_range_mem read  /tmp/range.json   # baseline: read only
//! /usr/bin/time -v target/debug/examples/parse_range_mem parse /tmp/range.json   # read + parse
//! ```

use std::time::Instant;

use mesh_telemetry::prometheus::parse_response;

#[path = "../benches/support/range_body.rs"]
mod support;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, file) = match (args.get(1), args.get(2)) {
        (Some(m), Some(f)) => (m.as_str(), f.as_str()),
        _ => anyhow::bail!("usage: parse_range_mem generate|read|parse <file> [MiB]"),
    };
    match mode {
        "generate" => {
            let mib: usize = args.get(3).map_or(Ok(10), |s| s.parse())?;
            let (body, series, samples) = support::range_body(mib * 1024 * 1024);
            std::fs::write(file, &body)?;
            eprintln!("wrote {} bytes: {series} series, {samples} samples", body.len());
        }
        "read" => {
            let body = std::fs::read(file)?;
            eprintln!("read {} bytes", body.len());
        }
        "parse" => {
            let body = std::fs::read(file)?;
            let started = Instant::now();
            let parsed = parse_response(&body, 200)?;
            let elapsed = started.elapsed();
            let series = parsed.result.into_matrix()?;
            let samples: usize = series.iter().map(|s| s.values.len()).sum();
            eprintln!(
                "parsed {} bytes in {elapsed:?}: {} series, {samples} samples",
                body.len(),
                series.len()
            );
        }
        other => anyhow::bail!("unknown mode {other:?}"),
    }
    Ok(())
}
