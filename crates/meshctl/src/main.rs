//! `meshctl`: one command line for Istio, Linkerd and Consul Connect.
//!
//! Every change is rendered to stdout by default (`--target render`, no cluster needed);
//! `--target apply` writes it. Exit codes: 0 success (or promoted), 1 error, 2 usage, 3 rolled back,
//! 4 held, 5 invalid objects.
#![allow(clippy::print_stdout, clippy::print_stderr)] // A command-line tool reports on stdout/stderr.

/// Like `eprintln!`, but a stderr that cannot be written (closed, full) is not a panic: a
/// warning nobody can read is dropped, and the command's result stands.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod backends;
mod cli;
mod consul_files;
mod diff;
mod error;
mod events;
mod human;
mod invocation;
mod kubeconfig;
mod lint;
mod ops;
mod options;
mod output;
mod removal;
mod rollout_cmd;
mod rollout_controller;
mod rollout_events;
mod rollout_lifecycle;
mod table;
mod validate;

use std::{io::Write, process::ExitCode, time::SystemTime};

use clap::CommandFactory;
use mesh::{Capabilities, MeshKind, TimeRange};

use crate::{
    cli::{Cli, Command, GraphFormat, GraphOutput, Output},
    error::CliError,
    ops::{Action, Query},
};

/// Rendering and validating large policy sets builds and drops many small JSON maps; mimalloc
/// does that markedly faster than the system allocator (see the `render_10k` bench).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = invocation::parse();
    init_tracing(cli.debug);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(&cli, &mut out).await {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.message.is_empty() && e.code == error::exit::CLOSED_PIPE => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            say!("error: {}", e.message);
            if let Some(hint) = e.hint {
                say!("hint: {hint}");
            }
            ExitCode::from(e.code)
        }
    }
}

fn init_tracing(debug: bool) {
    let filter = if debug {
        tracing_subscriber::EnvFilter::new("debug")
    } else {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"))
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr())
        .init();
}

/// Colour only for a person at a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn run(cli: &Cli, out: &mut impl Write) -> Result<u8, CliError> {
    cli.check_output()?;
    match &cli.command {
        Command::Completions { shell } => {
            // Generated into memory first: clap_complete panics when its writer fails (a closed
            // pipe), while a failed write here is an ordinary error.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "meshctl", &mut script);
            out.write_all(&script)?;
            Ok(0)
        }
        Command::Quickstart { service, endpoint } => {
            quickstart(cli, out, service, endpoint).await.map(|()| 0)
        }
        Command::Validate {
            files,
            gateway_api,
            strict,
        } => validate::run(out, files, gateway_api, *strict, cli.output()).map(|()| 0),
        Command::Capabilities => {
            let tables: Vec<Capabilities> = match backends::mesh_kind(cli) {
                Ok(kind) => vec![backends::offline(kind, cli)?.capabilities()],
                Err(_) => MeshKind::ALL
                    .iter()
                    .map(|k| backends::offline(*k, cli).map(|m| m.capabilities()))
                    .collect::<Result<_, _>>()?,
            };
            output::capabilities(out, cli.output(), &tables).map(|()| 0)
        }
        Command::Events { service, poll } => {
            let poll = mesh::units::parse_duration(poll).map_err(|e| e.in_field("poll"))?;
            let service = ops::service_id(service, cli.namespace())?;
            let mesh = backends::live(cli).await?.mesh();
            events::follow(out, &mesh, service, poll, cli.output())
                .await
                .map(|()| 0)
        }
        Command::Rollout(args) if args.strategy == cli::StrategyArg::Controller => {
            rollout_controller::run(cli, args).await
        }
        Command::Rollout(args) if args.strategy.is_command() => {
            // Commands act on the rollout's state on the live control plane, whatever --target
            // says; their arguments are checked first.
            rollout_lifecycle::check(args, cli.namespace())?;
            let mesh = backends::live(cli).await?.mesh();
            rollout_lifecycle::run(out, &mesh, args, cli.namespace(), cli.output()).await
        }
        Command::Rollout(args) => {
            let (mesh, recorder) = rollout_events::connect(cli).await?;
            rollout_cmd::run(
                out,
                mesh,
                args,
                cli.namespace(),
                cli.target,
                cli.output(),
                recorder,
            )
            .await
        }
        Command::Plan { op } | Command::Diff { op } => {
            let Action::Change(change) = ops::action(op, cli.namespace(), cli.namespace_given())? else {
                return Err(CliError {
                    message: "plan and diff take a change (split, route, ...), not a query".into(),
                    hint: Some("run the query itself, e.g. `meshctl metrics SERVICE`".into()),
                    code: error::exit::USAGE,
                });
            };
            // Both read the live control plane and never write, whatever --target says.
            let live = backends::live(cli).await?;
            let plan = live.mesh().plan(&change).await?;
            if matches!(cli.command, Command::Diff { .. }) {
                diff::run(out, &live, &plan).await?;
            } else {
                output::plan(out, cli.output(), &plan)?;
            }
            Ok(0)
        }
        Command::Op(op) => {
            let action = ops::action(op, cli.planning_namespace(), cli.namespace_given())?;
            let mesh = backends::connect(cli).await?;
            match action {
                Action::Change(change) => {
                    match cli.target {
                        cli::Target::Render => {
                            if let Some(steps) = removal::steps(mesh.kind(), &change)? {
                                removal::print(out, cli.output(), &change, &steps)?;
                                return Ok(0);
                            }
                            let plan = mesh.plan(&change).await?;
                            if cli.consul_crds {
                                output::consul_resources(out, cli.output(), &plan, cli.namespace())?;
                                return Ok(0);
                            }
                            output::plan(out, cli.output(), &plan)?;
                            if let Some(dir) = &cli.consul_files {
                                for path in consul_files::write(dir, &plan)? {
                                    say!("wrote {path}");
                                }
                            }
                            // Fault ids are stateless: the id of a rendered fault is the one
                            // applying it creates, and what `fault remove` takes.
                            if let mesh::MeshEvent::FaultInjected { fault_id, .. } = &plan.event {
                                say!("fault id: {fault_id}");
                            }
                        }
                        cli::Target::Apply => {
                            // The backend's execute re-plans when a concurrent edit wins a race.
                            let report = mesh.execute(change).await?;
                            if let mesh::MeshEvent::FaultInjected { fault_id, .. } = &report.event {
                                say!("fault id: {fault_id}");
                            }
                            output::value(out, cli.output(), &report)?;
                        }
                    }
                    Ok(0)
                }
                Action::Query(q) => query(out, cli, &mesh, q).await.map(|()| 0),
            }
        }
    }
}

/// The spec's Quick Start: register, split 90/10, mTLS, and the metrics queries, each rendered.
async fn quickstart(cli: &Cli, out: &mut impl Write, service: &str, endpoint: &str) -> Result<(), CliError> {
    let kind = backends::mesh_kind(cli)?;
    let mesh = backends::offline(kind, cli)?;
    let id = ops::service_id(service, cli.planning_namespace())?;
    let register = cli::Op::Register {
        service: id.to_string(),
        port: endpoint
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(9080),
        protocol: "http".into(),
        version: Some("v1".into()),
        endpoints: vec![endpoint.to_owned()],
    };
    let split = cli::Op::Split {
        service: id.to_string(),
        weights: vec!["v1=90".into(), "v2=10".into()],
    };
    let mtls = cli::Op::Mtls {
        namespace: Some(id.namespace.to_string()),
        status: false,
    };
    let dialect = mesh::telemetry::promql::Dialect::for_mesh(kind);
    let window = std::time::Duration::from_secs(300);
    let mut steps = Vec::new();
    for (title, op) in [
        ("register", register),
        ("split 90/10", split),
        ("enable mTLS", mtls),
    ] {
        let Action::Change(change) = ops::action(&op, cli.planning_namespace(), cli.namespace_given())?
        else {
            continue;
        };
        let plan = mesh.plan(&change).await?;
        if cli.output() == Output::Json {
            let mut step = serde_json::json!({ "step": title, "mesh": kind.to_string() });
            step["writes"] = serde_json::to_value(&plan.writes)?;
            if cli.consul_crds && kind == MeshKind::Consul {
                let (resources, _) = mesh::consul::crd::plan_resources(&plan, cli.namespace())?;
                step["resources"] = serde_json::Value::Array(resources);
            }
            steps.push(step);
            continue;
        }
        writeln!(out, "# ---- {title} ({kind}, {} writes)", plan.writes.len())?;
        if cli.consul_crds {
            output::consul_resources(out, cli.output(), &plan, cli.namespace())?;
        } else {
            output::plan(out, cli.output(), &plan)?;
        }
    }
    if cli.output() == Output::Json {
        // One JSON document (comment lines between arrays made it unparsable).
        let doc = serde_json::json!({
            "steps": steps,
            "metrics_queries": {
                "requests": dialect.service_requests_query(id.namespace.as_str(), id.name.as_str(), window),
                "latency": dialect.service_latency_query(id.namespace.as_str(), id.name.as_str(), window),
            },
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "# ---- metrics: the two PromQL queries get_service_metrics runs (5m window)"
    )?;
    writeln!(
        out,
        "# requests: {}",
        dialect.service_requests_query(id.namespace.as_str(), id.name.as_str(), window)
    )?;
    writeln!(
        out,
        "# latency:  {}",
        dialect.service_latency_query(id.namespace.as_str(), id.name.as_str(), window)
    )?;
    Ok(())
}

async fn query(out: &mut impl Write, cli: &Cli, mesh: &mesh::Mesh, q: Query) -> Result<(), CliError> {
    let format = cli.output();
    match q {
        Query::MtlsStatus(ns) => output::value(out, format, &mesh.mtls_status(&ns).await?),
        Query::Metrics(service, range) => {
            output::value(out, format, &mesh.get_service_metrics(&service, range).await?)
        }
        Query::Traces(service, limit, lookback) => {
            let range = TimeRange::ending_at(SystemTime::now(), lookback)?;
            let traces = mesh.get_service_traces_in(&service, range, limit).await?;
            output::traces(out, format, &traces)
        }
        Query::Graph(ns, graph_format) => {
            let graph = mesh.get_service_graph(&ns).await?;
            let graph_format = match cli.graph_output(graph_format)? {
                GraphOutput::Drawing(f) => f,
                GraphOutput::Value(Output::Table) => return output::value(out, Output::Table, &graph.edges),
                GraphOutput::Value(f) => return output::value(out, f, &graph),
            };
            let text = match graph_format {
                GraphFormat::Dot => mesh::telemetry::graph::to_dot(&graph),
                GraphFormat::Mermaid => mesh::telemetry::graph::to_mermaid(&graph),
                GraphFormat::Svg => mesh::telemetry::graph::to_svg(&graph)?,
                GraphFormat::Json => serde_json::to_string_pretty(&graph)?,
            };
            writeln!(out, "{text}")?;
            Ok(())
        }
    }
}
