//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// One command line for Istio, Linkerd and Consul Connect.
///
/// By default every change is rendered to stdout (no cluster needed); `--target apply` writes it.
#[derive(Debug, Parser)]
#[command(name = "meshctl", version)]
pub(crate) struct Cli {
    /// The mesh: istio, linkerd, consul, or auto (from the cluster's CRDs or CONSUL_HTTP_ADDR).
    #[arg(long, global = true, default_value = "auto")]
    pub(crate) mesh: MeshArg,
    /// Render the plan (default) or apply it to the control plane.
    #[arg(long, global = true, value_enum, default_value_t = Target::Render)]
    pub(crate) target: Target,
    /// Output format [default: yaml; graph: dot]. dot, mermaid and svg are for `graph` only.
    #[arg(short = 'o', long = "output", global = true, value_enum)]
    pub(crate) output_arg: Option<OutputArg>,
    /// The namespace of services given without one [default: the kubeconfig context's
    /// namespace, else "default"].
    #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE", global = true)]
    pub(crate) namespace_flag: Option<String>,
    /// `--namespace`, or what it defaults to (see [`Cli::namespace`]).
    #[arg(skip)]
    pub(crate) resolved_namespace: std::sync::OnceLock<String>,
    /// The kubeconfig file (Istio and Linkerd) [env: KUBECONFIG; default: ~/.kube/config].
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context (Istio and Linkerd).
    #[arg(long, global = true)]
    pub(crate) context: Option<String>,
    /// Prometheus base URL for metrics, the graph and rollouts [env: PROMETHEUS_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) prometheus_url: Option<String>,
    /// Tracing backend base URL [env: TRACING_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) tracing_url: Option<String>,
    /// Tracing backend: jaeger, jaeger-v1, zipkin or tempo [env: TRACING_KIND; default: jaeger].
    #[arg(long, global = true, value_name = "KIND")]
    pub(crate) tracing_kind: Option<String>,
    /// Kiali base URL for the service graph [env: KIALI_URL; its token: KIALI_TOKEN].
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) kiali_url: Option<String>,
    /// The mesh's trust domain, used in principals and identities (Istio, Linkerd) [default:
    /// cluster.local].
    #[arg(long, global = true, value_name = "DOMAIN")]
    pub(crate) trust_domain: Option<String>,
    /// The instance label naming a service (Istio, Linkerd) [default: app].
    #[arg(long, global = true, value_name = "KEY")]
    pub(crate) app_label: Option<String>,
    /// The instance label naming a version, which subsets select on (every mesh; on Consul a
    /// service metadata key) [default: version].
    #[arg(long, global = true, value_name = "KEY")]
    pub(crate) version_label: Option<String>,
    /// Istio's root namespace, which holds mesh-wide policy [default: istio-system].
    #[arg(long, global = true, value_name = "NAMESPACE")]
    pub(crate) istio_root_namespace: Option<String>,
    /// Opt-in (Linkerd): emulate abort faults by sending their share of requests to this Service
    /// in the target's namespace, on this port; the status is whatever it answers.
    #[arg(long, global = true, value_name = "SERVICE:PORT")]
    pub(crate) linkerd_fault_backend: Option<String>,
    /// Opt-in (Linkerd): write weights as an SMI TrafficSplit (needs the linkerd-smi extension).
    #[arg(long, global = true)]
    pub(crate) linkerd_smi: bool,
    /// Opt-in (Linkerd 2.14-2.15): express retries through a ServiceProfile.
    #[arg(long, global = true)]
    pub(crate) linkerd_service_profile_retries: bool,
    /// Opt-in (Consul CE, Enterprise before 1.18): emulate abort faults with a builtin/lua
    /// extension.
    #[arg(long, global = true)]
    pub(crate) consul_lua_faults: bool,
    /// The Consul version and edition to plan for, e.g. 1.18.0 or 1.18.0+ent [default: asked of
    /// the agent; 1.16.0 CE when rendering].
    #[arg(long, global = true, value_name = "VERSION")]
    pub(crate) consul_version: Option<String>,
    /// Consul, render target: also write the config entries as JSON files and an `apply.sh` that
    /// applies them in order with `consul config write -cas`, into this new (or empty) directory.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) consul_files: Option<std::path::PathBuf>,
    /// Render target, Consul: print the config entries as consul-k8s custom resources
    /// (consul.hashicorp.com/v1alpha1) in the `-n` namespace, for `kubectl apply` on Consul on
    /// Kubernetes.
    #[arg(long, global = true, conflicts_with = "consul_files")]
    pub(crate) consul_crds: bool,
    /// Render target only: the port the service's Kubernetes Service exposes (Linkerd routes name it).
    #[arg(long, global = true, default_value_t = mesh::DEFAULT_ASSUMED_SERVICE_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) service_port: u16,
    /// Turn on debug logs (same as RUST_LOG=debug).
    #[arg(long, global = true)]
    pub(crate) debug: bool,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The namespace of services given without one, when neither `-n` nor the kubeconfig context
/// names one.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

impl Cli {
    /// `-o` for every command but `graph` (which takes its own formats, see
    /// [`Cli::graph_output`]); YAML by default.
    pub(crate) fn output(&self) -> Output {
        match self.output_arg {
            Some(OutputArg::Json) => Output::Json,
            Some(OutputArg::Table) => Output::Table,
            _ => Output::Yaml,
        }
    }

    /// `-o` for `graph`: dot, mermaid, svg or json, or YAML and a table of its edges; `--format`
    /// (kept for scripts written before `-o` took graph formats) when `-o` is not given.
    pub(crate) fn graph_output(
        &self,
        format: Option<GraphFormat>,
    ) -> Result<GraphOutput, crate::error::CliError> {
        if let (Some(_), Some(_)) = (format, self.output_arg) {
            return Err(crate::error::CliError {
                message: "give -o or --format, not both".into(),
                hint: Some("nothing was run; -o takes every graph format".into()),
                code: crate::error::exit::USAGE,
            });
        }
        Ok(match self.output_arg {
            None => GraphOutput::Drawing(format.unwrap_or(GraphFormat::Dot)),
            Some(OutputArg::Dot) => GraphOutput::Drawing(GraphFormat::Dot),
            Some(OutputArg::Mermaid) => GraphOutput::Drawing(GraphFormat::Mermaid),
            Some(OutputArg::Svg) => GraphOutput::Drawing(GraphFormat::Svg),
            Some(OutputArg::Json) => GraphOutput::Drawing(GraphFormat::Json),
            Some(OutputArg::Yaml) => GraphOutput::Value(Output::Yaml),
            Some(OutputArg::Table) => GraphOutput::Value(Output::Table),
        })
    }

    /// The namespace changes are planned in. With `--consul-crds` on Consul CE, which has one
    /// namespace, the entries are Consul's `default`, while `-n` is the Kubernetes namespace the
    /// resources go to (consul-k8s maps namespaces only on Enterprise).
    pub(crate) fn planning_namespace(&self) -> &str {
        let enterprise = self
            .consul_version
            .as_deref()
            .and_then(|v| v.parse::<mesh::consul::ConsulVersion>().ok())
            .is_some_and(|v| v.is_enterprise());
        if self.consul_crds && self.mesh == MeshArg::Consul && !enterprise {
            "default"
        } else {
            self.namespace()
        }
    }

    /// Refuses a graph-only `-o` (dot, mermaid, svg) on any other command, and `--consul-crds`
    /// where nothing is rendered as resources (rollouts, reads).
    pub(crate) fn check_output(&self) -> Result<(), crate::error::CliError> {
        let renders = self.target == Target::Render
            && matches!(self.command, Command::Op(_) | Command::Quickstart { .. });
        let removal = matches!(
            self.command,
            Command::Op(Op::Unregister { .. } | Op::Fault(FaultCmd::Remove { .. }))
        );
        if self.consul_crds && removal {
            return Err(crate::error::CliError {
                message: "--consul-crds renders what a change declares; a removal declares nothing".into(),
                hint: Some("nothing was run; with consul-k8s, delete the resources with kubectl".into()),
                code: crate::error::exit::USAGE,
            });
        }
        if self.consul_crds && !renders {
            return Err(crate::error::CliError {
                message: "--consul-crds renders changes (and quickstart) as consul-k8s resources with \
                          --target render; this command renders none"
                    .into(),
                hint: Some("nothing was run; render each change with --consul-crds instead".into()),
                code: crate::error::exit::USAGE,
            });
        }
        let graph = matches!(self.command, Command::Op(Op::Graph { .. }));
        match self.output_arg {
            Some(f @ (OutputArg::Dot | OutputArg::Mermaid | OutputArg::Svg)) if !graph => {
                Err(crate::error::CliError {
                    message: format!(
                        "-o {}: a graph format; this command prints yaml, json or table",
                        format!("{f:?}").to_lowercase()
                    ),
                    hint: Some("nothing was run; use -o yaml|json|table".into()),
                    code: crate::error::exit::USAGE,
                })
            }
            _ => Ok(()),
        }
    }

    /// The namespace of services given without one: `-n`, else the kubeconfig context's
    /// namespace (Istio and Linkerd, as kubectl does), else `default`.
    pub(crate) fn namespace(&self) -> &str {
        self.resolved_namespace.get_or_init(|| {
            self.namespace_flag
                .clone()
                .or_else(|| {
                    (self.mesh != MeshArg::Consul)
                        .then(|| crate::kubeconfig::context_namespace(self))
                        .flatten()
                })
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
        })
    }

    /// Whether `-n` was given (a positional namespace must then agree with it).
    pub(crate) fn namespace_given(&self) -> bool {
        self.namespace_flag.is_some()
    }

    /// A telemetry setting: its flag, else its environment variable.
    pub(crate) fn telemetry_setting(&self, name: &str) -> Option<String> {
        let flag = match name {
            "PROMETHEUS_URL" => &self.prometheus_url,
            "TRACING_URL" => &self.tracing_url,
            "TRACING_KIND" => &self.tracing_kind,
            "KIALI_URL" => &self.kiali_url,
            _ => &None,
        };
        flag.clone().or_else(|| std::env::var(name).ok())
    }
}

/// `--mesh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MeshArg {
    Istio,
    Linkerd,
    Consul,
    Auto,
}

/// `--target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Target {
    /// Print what would be written; needs no cluster.
    Render,
    /// Write it.
    Apply,
}

/// What `-o` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputArg {
    Yaml,
    Json,
    Table,
    Dot,
    Mermaid,
    Svg,
}

/// The output format of every command but `graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    Yaml,
    Json,
    Table,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    #[command(flatten)]
    Op(Op),
    /// Plan an operation against the live control plane and list the writes, in order.
    Plan {
        #[command(subcommand)]
        op: Op,
    },
    /// Show, per object, what an operation would change on the live control plane.
    Diff {
        #[command(subcommand)]
        op: Op,
    },
    /// Validate Istio, Linkerd, Gateway API or consul-k8s YAML against the pinned upstream schemas.
    Validate {
        /// YAML or JSON files (multi-document allowed), directories, or `-` for stdin.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Gateway API bundle for HTTPRoute: 1.1.1, 1.6.1, or linkerd-gateway-api-v1.1.1-experimental
        /// (the one Linkerd installs).
        #[arg(long, default_value = "1.6.1")]
        gateway_api: String,
        /// Fail on cross-object warnings too (a route to a subset no given file defines).
        #[arg(long)]
        strict: bool,
    },
    /// What each mesh supports: native, emulated (opt-in) or unsupported, with the reason.
    Capabilities,
    /// Follow a service's rollout from any machine: every decision, with its numbers, as it is
    /// recorded on the control plane (one JSON object per line with -o json).
    Events {
        service: String,
        /// How often to read the control plane.
        #[arg(long, default_value = "2s")]
        poll: String,
    },
    /// Progressive delivery: canary, blue-green or A/B, with analysis after every stage.
    Rollout(RolloutArgs),
    /// Render the spec's Quick Start for a mesh: register a service, split it 90/10, enforce mTLS,
    /// and show the metrics queries. Needs no cluster.
    Quickstart {
        /// The service.
        #[arg(long, default_value = "reviews")]
        service: String,
        /// An endpoint outside Kubernetes, ADDRESS:PORT.
        #[arg(long, default_value = "10.0.0.12:9080")]
        endpoint: String,
    },
    /// Shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Op {
    /// Register a service (and, for VMs, its endpoints).
    Register {
        service: String,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value = "http")]
        protocol: String,
        #[arg(long)]
        version: Option<String>,
        /// An endpoint outside Kubernetes, ADDRESS:PORT (repeatable).
        #[arg(long = "endpoint")]
        endpoints: Vec<String>,
    },
    /// Unregister a service.
    Unregister { service: String },
    /// Route requests: matching ones to --to, the rest to --default.
    Route {
        service: String,
        /// Where matching requests go: VERSION or VERSION=WEIGHT,... .
        #[arg(long)]
        to: String,
        /// Where the other requests go.
        #[arg(long)]
        default: Option<String>,
        #[arg(long)]
        path_prefix: Option<String>,
        #[arg(long)]
        path_exact: Option<String>,
        /// A header condition NAME=VALUE (exact; repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        #[arg(long)]
        method: Option<String>,
        /// Request timeout, e.g. 2s.
        #[arg(long)]
        timeout: Option<String>,
    },
    /// Define subsets (versions) and a load balancer.
    Destination {
        service: String,
        /// A version subset (repeatable).
        #[arg(long = "subset", required = true)]
        subsets: Vec<String>,
        /// round-robin, least-request, random, ring-hash, maglev.
        #[arg(long)]
        lb: Option<String>,
    },
    /// Split traffic between versions: `meshctl split api v1=90 v2=10`.
    Split {
        service: String,
        #[arg(required = true)]
        weights: Vec<String>,
    },
    /// Configure a circuit breaker.
    CircuitBreaker(CircuitBreakerArgs),
    /// Set a retry policy.
    Retry {
        service: String,
        #[arg(long)]
        attempts: u32,
        #[arg(long)]
        per_try_timeout: Option<String>,
        /// Conditions, comma-separated: 5xx, gateway-error, reset, connect-failure, refused-stream, ...
        #[arg(long, default_value = "connect-failure,refused-stream")]
        retry_on: String,
        /// Overall timeout, retries included.
        #[arg(long)]
        timeout: Option<String>,
    },
    /// Enforce mTLS in a namespace (`--status` reads it instead).
    Mtls {
        /// The namespace (default: `-n`). Its own id: sharing the global `namespace` id let
        /// the argument overwrite `-n`.
        #[arg(id = "target_namespace", value_name = "NAMESPACE")]
        namespace: Option<String>,
        #[arg(long)]
        status: bool,
    },
    /// Create an authorization policy.
    Authz(AuthzArgs),
    /// Inject or remove faults.
    #[command(subcommand)]
    Fault(FaultCmd),
    /// Request metrics of a service (per version).
    Metrics {
        service: String,
        /// The window, e.g. 5m, ending at --end [default: 5m; not with --start].
        #[arg(long, conflicts_with = "start")]
        window: Option<String>,
        /// The window's start: RFC 3339 (2026-12-02T10:00:00Z) or Unix seconds.
        #[arg(long)]
        start: Option<String>,
        /// The window's end: RFC 3339 or Unix seconds [default: now].
        #[arg(long)]
        end: Option<String>,
    },
    /// Recent traces through a service.
    Traces {
        service: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// How far back to search, e.g. 15m or 24h.
        #[arg(long, default_value = "1h")]
        lookback: String,
    },
    /// The observed service graph of a namespace.
    Graph {
        /// The namespace (default: `-n`). Its own id: sharing the global `namespace` id let
        /// the argument overwrite `-n`.
        #[arg(id = "target_namespace", value_name = "NAMESPACE")]
        namespace: Option<String>,
        /// Same as `-o` (dot, mermaid, svg, json), kept for older scripts; not with `-o`.
        #[arg(long, value_enum, hide = true)]
        format: Option<GraphFormat>,
    },
}

/// How `graph` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GraphOutput {
    /// A drawing (or the graph's JSON).
    Drawing(GraphFormat),
    /// YAML, or a table of the edges.
    Value(Output),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct CircuitBreakerArgs {
    pub(crate) service: String,
    #[arg(long)]
    pub(crate) max_connections: Option<u32>,
    /// Connect timeout, e.g. 5s.
    #[arg(long)]
    pub(crate) timeout: Option<String>,
    /// Cap on concurrent retries (not attempts).
    #[arg(long)]
    pub(crate) max_retries: Option<u32>,
    #[arg(long)]
    pub(crate) consecutive_errors: Option<u32>,
    #[arg(long)]
    pub(crate) interval: Option<String>,
    #[arg(long)]
    pub(crate) base_ejection_time: Option<String>,
    #[arg(long)]
    pub(crate) max_ejection_percent: Option<f64>,
    /// Callers whose outbound settings carry the breaker (Consul; repeatable).
    #[arg(long = "caller")]
    pub(crate) callers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AuthzArgs {
    pub(crate) name: String,
    /// The service it protects (default: every workload in the namespace). Not `--target`: that
    /// global flag chooses render or apply.
    #[arg(long = "service")]
    pub(crate) service: Option<String>,
    #[arg(long, default_value = "allow")]
    pub(crate) action: String,
    /// A peer identity NAMESPACE/SERVICE-ACCOUNT (repeatable).
    #[arg(long = "from-principal")]
    pub(crate) principals: Vec<String>,
    /// A peer namespace (repeatable).
    #[arg(long = "from-namespace")]
    pub(crate) namespaces: Vec<String>,
    #[arg(long = "method")]
    pub(crate) methods: Vec<String>,
    #[arg(long = "path")]
    pub(crate) paths: Vec<String>,
    #[arg(long = "port")]
    pub(crate) ports: Vec<u16>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FaultCmd {
    /// Inject a delay or an abort: `meshctl fault inject backend --delay 3s --percent 10`.
    Inject {
        service: String,
        #[arg(long, conflicts_with = "abort", required_unless_present = "abort")]
        delay: Option<String>,
        /// The HTTP status to answer with.
        #[arg(long)]
        abort: Option<u16>,
        #[arg(long)]
        percent: f64,
    },
    /// Remove a fault by the id `inject` printed.
    Remove { fault_id: String },
}

#[derive(Debug, Args)]
pub(crate) struct RolloutArgs {
    /// A strategy to run (canary, bluegreen, ab), or a command on the service's rollout in
    /// progress (status, pause, resume, promote, abort).
    #[arg(value_enum, value_name = "STRATEGY|COMMAND")]
    pub(crate) strategy: StrategyArg,
    /// The service (every strategy and command but `run`, whose spec names it).
    pub(crate) service: Option<String>,
    /// run: the rollout spec, as YAML or JSON (the fields of `mesh::rollout::RolloutSpec`;
    /// unknown fields are refused).
    #[arg(long, value_name = "PATH")]
    pub(crate) file: Option<std::path::PathBuf>,
    /// The version serving now (strategies only).
    #[arg(long)]
    pub(crate) stable: Option<String>,
    /// The version being rolled out (strategies only).
    #[arg(long)]
    pub(crate) canary: Option<String>,
    /// What Ctrl-C (SIGINT or SIGTERM) leaves: `hold` keeps the current weights and releases
    /// the rollout so that the next run resumes it; `rollback` sends all traffic to --stable.
    #[arg(long, value_enum, default_value_t = OnInterrupt::Hold)]
    pub(crate) on_interrupt: OnInterrupt,
    /// status: follow the rollout until it ends, one line per change.
    #[arg(long)]
    pub(crate) watch: bool,
    /// promote, abort: carry it out here and now instead of asking the runner (for a rollout
    /// whose runner is gone).
    #[arg(long)]
    pub(crate) force: bool,
    #[arg(long)]
    pub(crate) step_weight: Option<u8>,
    #[arg(long)]
    pub(crate) max_weight: Option<u8>,
    /// Explicit canary weights, comma-separated, e.g. 1,2,10,80.
    #[arg(long)]
    pub(crate) steps: Option<String>,
    /// How long each stage runs before it is analyzed [default: 1m].
    #[arg(long)]
    pub(crate) interval: Option<String>,
    /// Objectives, e.g. availability=99.9,p99=200ms.
    #[arg(long)]
    pub(crate) slo: Option<String>,
    /// Fewest requests per window before a verdict (fewer: hold, never roll back) [default: 50].
    #[arg(long)]
    pub(crate) min_requests: Option<u32>,
    /// A/B: header condition NAME=VALUE routed to the canary.
    #[arg(long = "header")]
    pub(crate) headers: Vec<String>,
    /// A/B: number of analyses before promotion (default 10).
    #[arg(long)]
    pub(crate) iterations: Option<u32>,
    /// This runner's name (default `meshctl@HOST/PID`, unique per process); a restarted runner
    /// given the same name resumes its rollout.
    #[arg(long)]
    pub(crate) runner: Option<String>,
    /// controller: run only shard INDEX of COUNT replicas' declarations (by a hash of their
    /// names), e.g. 0/3.
    #[arg(long, value_name = "INDEX/COUNT", conflicts_with = "shards")]
    pub(crate) shard: Option<String>,
    /// controller: share the declarations with other replicas through COUNT shard leases
    /// (Kubernetes Leases in the namespace; Consul sessions and KV locks), each replica holding
    /// its share and taking over a stopped one's; the rollouts of a shard run as
    /// RUNNER-shard-INDEX (RUNNER: --runner, default meshctl-rollouts).
    #[arg(long, value_name = "COUNT")]
    pub(crate) shards: Option<u32>,
    /// controller with --shards: this replica's name (default HOST-PID), lowercase letters,
    /// digits and '-'.
    #[arg(long, value_name = "NAME")]
    pub(crate) replica: Option<String>,
    /// controller with --shards: seconds a lease lives unless renewed (renewed every third of
    /// it; Consul needs 10 or more) [default: 15].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) lease_seconds: Option<u64>,
}

impl RolloutArgs {
    /// The first controller-only flag given, if any.
    pub(crate) fn controller_flag(&self) -> Option<&'static str> {
        [
            ("shard", self.shard.is_some()),
            ("shards", self.shards.is_some()),
            ("replica", self.replica.is_some()),
            ("lease-seconds", self.lease_seconds.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, set)| set.then_some(flag))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StrategyArg {
    Canary,
    Bluegreen,
    Ab,
    /// Run the rollout spec that --file holds.
    Run,
    /// The rollout's stage, weights, runner and last decision.
    Status,
    /// Hold the current weights; no further stage until resumed.
    Pause,
    Resume,
    /// All traffic to the canary, and the rollout ends as promoted.
    Promote,
    /// All traffic to the stable version, and the rollout ends as rolled back.
    Abort,
    /// Run every rollout declared in labelled ConfigMaps of the namespace (watched), each once,
    /// until stopped.
    Controller,
}

impl StrategyArg {
    /// True for the commands on a rollout in progress.
    pub(crate) fn is_command(self) -> bool {
        !matches!(
            self,
            Self::Canary | Self::Bluegreen | Self::Ab | Self::Run | Self::Controller
        )
    }
}

/// `--on-interrupt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnInterrupt {
    Hold,
    Rollback,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks the whole command tree here (duplicate flags, clashing ids) instead of
    /// panicking on a user's first call: `authz --target` once clashed with the global `--target`.
    #[test]
    fn the_command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// A subcommand argument with a global flag's id shares its value: `authz --target` once
    /// clashed with `--target render|apply`, and `mtls NAMESPACE` overwrote `-n`.
    #[test]
    fn no_subcommand_argument_shares_an_id_with_a_global_flag() {
        fn walk(cmd: &clap::Command, globals: &[String], clashes: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                for arg in sub.get_arguments() {
                    if globals.iter().any(|g| g == arg.get_id().as_str()) {
                        clashes.push(format!("{} {}", sub.get_name(), arg.get_id()));
                    }
                }
                walk(sub, globals, clashes);
            }
        }
        let cmd = super::Cli::command();
        let globals: Vec<String> = cmd
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().to_string())
            .collect();
        let mut clashes = Vec::new();
        walk(&cmd, &globals, &mut clashes);
        assert!(clashes.is_empty(), "{clashes:?}");
    }
}
