//! `meshctl rollout controller`: runs every rollout declared in the namespace, each once, one
//! task each, until stopped.
//!
//! Declarations: on Kubernetes, ConfigMaps labelled `meshctl.dev/rollout` with the spec under
//! `rollout.yaml` (watched); on Consul, KV entries under `meshctl/rollouts/` (watched with
//! blocking queries, one waiting request for all of them). On Kubernetes the plans read watched
//! copies (`KubeEngine::with_watch_cache`). A declaration may only roll out a service
//! of its own namespace: write access to one namespace's ConfigMaps must not move another's
//! traffic.

use std::{sync::Arc, time::Duration};

use futures_util::{Stream, StreamExt, stream::BoxStream};
use mesh::{
    Error,
    consul::{
        ConsulBackend,
        client::SESSION_TTL,
        leases::{ConsulLeases, LEASE_PREFIX},
    },
    kube::{
        declarations::{DECLARATION_LABEL, DeclarationEvent, watch_declarations},
        leases::KubeLeases,
    },
    rollout::{Controller, Declared, LeaseStore, Outcome, Shard, ShardLeases},
};

use crate::{
    backends::{self, Live},
    cli::{Cli, RolloutArgs},
    error::CliError,
    rollout_cmd,
};

/// Where Consul declarations live: one KV entry per rollout, the spec as its value.
pub(crate) const CONSUL_PREFIX: &str = "meshctl/rollouts/";
/// Control-plane operations in flight at once: the stages of rollouts declared together fall
/// due together, and thousands of requests at once overrun an API server (its requests time
/// out) where a bounded number at a time go through.
const MAX_IN_FLIGHT: usize = 64;
/// The exit code after SIGINT or SIGTERM, as a shell reports a process it interrupted.
const INTERRUPTED: u8 = 130;

/// Parses `INDEX/COUNT`.
fn shard(arg: Option<&str>) -> Result<Shard, Error> {
    let Some(arg) = arg else {
        return Ok(Shard::ALL);
    };
    let parsed = arg
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    let Some((index, count)) = parsed else {
        return Err(Error::invalid(
            "shard",
            format!("{arg:?} is not INDEX/COUNT, e.g. 0/3"),
        ));
    };
    Shard::new(index, count)
}

/// Why a Kubernetes declaration has no text: its ConfigMap lacks the key.
const NO_KEY: &str = "no rollout.yaml key";
/// Why a Consul declaration has no text: its KV value is bytes, not UTF-8 text.
const NOT_TEXT: &str = "the value is not UTF-8 text (a rollout spec is YAML or JSON)";

/// A declaration's text as a rollout, or the reason it is refused (`missing` when there is no
/// text).
fn declared(name: String, text: Option<String>, namespace: &str, missing: &str) -> Declared {
    let parsed = text
        .ok_or_else(|| Error::invalid("declaration", format!("{name}: {missing}")))
        .and_then(|t| rollout_cmd::spec_from_text(&t, "declaration", &name))
        .and_then(|spec| {
            if spec.service.namespace.as_str() == namespace {
                Ok(spec)
            } else {
                Err(Error::invalid(
                    "declaration",
                    format!(
                        "{name}: service {} is not in namespace {namespace}; declare a rollout in its service's namespace",
                        spec.service
                    ),
                ))
            }
        });
    match parsed {
        Ok(spec) => Declared::Rollout {
            name,
            spec: Box::new(spec),
        },
        Err(e) => Declared::Invalid {
            name,
            error: e.to_string(),
        },
    }
}

/// The ConfigMap declarations of `namespace`, watched.
fn kube_declarations(client: mesh::kube::kube::Client, namespace: String) -> BoxStream<'static, Declared> {
    watch_declarations(client, Some(&namespace))
        .filter_map(move |event| {
            let out = match event {
                DeclarationEvent::Applied { name, text } => Some(declared(name, text, &namespace, NO_KEY)),
                DeclarationEvent::Deleted { name } => Some(Declared::Removed { name }),
                DeclarationEvent::Failed { error } => {
                    say!("warning: watching the rollout declarations: {error} (retrying)");
                    None
                }
            };
            std::future::ready(out)
        })
        .boxed()
}

/// The KV declarations under [`CONSUL_PREFIX`], watched with blocking queries
/// (`mesh::consul::declarations`): one request waits at the agent until an entry changes.
fn consul_declarations(backend: Arc<ConsulBackend>, namespace: String) -> BoxStream<'static, Declared> {
    use mesh::consul::declarations::{DeclarationEvent as KvEvent, WatchOptions, watch_declarations};
    watch_declarations(backend, CONSUL_PREFIX, WatchOptions::default())
        .filter_map(move |event| {
            std::future::ready(match event {
                KvEvent::Applied { name, text } => Some(declared(name, text, &namespace, NOT_TEXT)),
                KvEvent::Deleted { name } => Some(Declared::Removed { name }),
                KvEvent::Failed { error } => {
                    say!("warning: reading the rollout declarations: {error} (retrying)");
                    None
                }
            })
        })
        .boxed()
}

/// Runs the controller until SIGINT or SIGTERM (or, never in practice, the end of the watch).
pub(crate) async fn run(cli: &Cli, a: &RolloutArgs) -> Result<u8, CliError> {
    crate::rollout_lifecycle::refuse_strategy_flags(a)?;
    if a.service.is_some() {
        return Err(Error::invalid(
            "service",
            "the controller runs the rollouts declared in the namespace; give no SERVICE",
        )
        .into());
    }
    let shard = shard(a.shard.as_deref())?;
    if a.shards.is_none() && (a.replica.is_some() || a.lease_seconds.is_some()) {
        let flag = if a.replica.is_some() {
            "replica"
        } else {
            "lease-seconds"
        };
        return Err(Error::invalid(flag, "applies to controller --shards only").into());
    }
    let runner = match (&a.runner, a.shards) {
        (Some(r), _) => r.clone(),
        // Replicas sharing shards must share the runner names, whichever holds a shard.
        (None, Some(_)) => DEFAULT_GROUP.to_owned(),
        (None, None) => rollout_cmd::default_runner(),
    };
    let namespace = cli.namespace().to_owned();
    // A long-running controller keeps watched copies of what its plans read: a steady stage then
    // costs its two writes (the route and the state) and no read.
    let live = match backends::live(cli).await? {
        Live::Kube(kind, engine, options) => Live::Kube(kind, Box::new(engine.with_watch_cache()), options),
        consul => consul,
    };
    let (declarations, source): (BoxStream<'static, Declared>, String) = match &live {
        Live::Kube(_, engine, _) => (
            kube_declarations(engine.client().clone(), namespace.clone()),
            format!("ConfigMaps labelled {DECLARATION_LABEL} in namespace {namespace}"),
        ),
        Live::Consul(backend) => (
            consul_declarations(Arc::clone(backend), namespace.clone()),
            format!("Consul KV entries under {CONSUL_PREFIX}"),
        ),
    };
    let mesh = backends::with_telemetry(cli, live.mesh())?.with_max_in_flight(MAX_IN_FLIGHT);
    let controller =
        Controller::new(mesh, &runner)?
            .with_shard(shard)
            .with_reporter(|name, ended| match ended {
                Ok(Outcome::Promoted) => say!("{name}: promoted"),
                Ok(Outcome::RolledBack) => say!("{name}: rolled back"),
                Ok(Outcome::Held) => say!("{name}: held"),
                Err(e) => say!("{name}: failed: {e}"),
            });
    let leases = match a.shards {
        None => None,
        Some(count) => Some(shard_leases(a, &live, &namespace, &runner, count)?),
    };
    let replica = leases.as_ref().map(|l| crate::rollout_events::Replica {
        name: l.replica().to_owned(),
        group: l.group().to_owned(),
        shards: l.shards(),
    });
    let controller = crate::rollout_events::observe_declared(controller, &live, &runner, replica);
    match &leases {
        Some(l) => say!(
            "controller {runner}: replica {} sharing {} shards through {}; running the rollouts declared as {source}",
            l.replica(),
            l.shards(),
            match &live {
                Live::Kube(..) => format!("Leases in namespace {namespace}"),
                Live::Consul(_) => format!("Consul sessions locking keys under {LEASE_PREFIX}"),
            }
        ),
        None => say!("controller {runner}: running the rollouts declared as {source}"),
    }
    run_until_stopped(&controller, declarations, &runner, leases).await
}

/// The lease group, and the runner name of every replica, when `--shards` comes without
/// `--runner`.
const DEFAULT_GROUP: &str = "meshctl-rollouts";
/// Seconds a lease lives unless renewed, when `--lease-seconds` is not given.
const DEFAULT_LEASE_SECONDS: u64 = 15;

/// `HOST-PID`, reduced to what a lease name may hold.
fn default_replica() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(28)
        .collect();
    let host = host.trim_matches('-');
    let host = if host.is_empty() { "replica" } else { host };
    format!("{host}-{}", std::process::id())
}

mesh::rollout::lease_store!(KubeLeaseStore, KubeLeases);
mesh::rollout::lease_store!(ConsulLeaseStore, ConsulLeases);

/// This replica's shard leases: Kubernetes Leases in the namespace, or Consul sessions.
fn shard_leases(
    a: &RolloutArgs,
    live: &Live,
    namespace: &str,
    group: &str,
    count: u32,
) -> Result<ShardLeases, Error> {
    let ttl = Duration::from_secs(a.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS));
    let store: Arc<dyn LeaseStore> = match live {
        Live::Kube(kind, engine, _) => Arc::new(KubeLeaseStore(KubeLeases::new(
            engine.client().clone(),
            namespace,
            *kind,
        ))),
        Live::Consul(backend) => {
            if !SESSION_TTL.contains(&ttl) {
                return Err(Error::invalid(
                    "lease-seconds",
                    format!("{}: Consul sessions live 10 to 86400 seconds", ttl.as_secs()),
                ));
            }
            Arc::new(ConsulLeaseStore(ConsulLeases::new(Arc::clone(backend))))
        }
    };
    let replica = a.replica.clone().unwrap_or_else(default_replica);
    ShardLeases::new(store, group, &replica, count, ttl)
}

async fn run_until_stopped(
    controller: &Controller,
    declarations: impl Stream<Item = Declared>,
    runner: &str,
    mut leases: Option<ShardLeases>,
) -> Result<u8, CliError> {
    let ended = {
        let run = async {
            match leases.as_mut() {
                Some(l) => controller.run_leased(declarations, l).await,
                None => controller.run(declarations).await,
            }
        };
        tokio::select! {
            report = run => Ok(report),
            signal = rollout_cmd::interrupted() => Err(signal),
        }
        // The run is dropped here: every rollout task stops where it is.
    };
    match ended {
        Ok(report) => {
            say!(
                "controller {runner}: {} promoted, {} rolled back, {} held, {} failed, {} stopped by their declaration's removal",
                report.count(Outcome::Promoted),
                report.count(Outcome::RolledBack),
                report.count(Outcome::Held),
                report.failed.len(),
                report.removed.len()
            );
            Ok(0)
        }
        Err(signal) => {
            match leases.as_mut() {
                Some(l) => {
                    // Given up only now that its rollouts have stopped: another replica takes
                    // them over at once, not after the leases expire.
                    l.release_all().await;
                    say!(
                        "controller {runner}: {signal}: stopped; each running rollout holds its weights, and this replica's shards were given up to the other replicas"
                    );
                }
                None => say!(
                    "controller {runner}: {signal}: stopped; each running rollout holds its weights, and a controller started with --runner {runner:?} resumes them"
                ),
            }
            Ok(INTERRUPTED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_bad_ones_are_refused() {
        assert_eq!(shard(None).unwrap(), Shard::ALL);
        assert_eq!(shard(Some("1/3")).unwrap(), Shard::new(1, 3).unwrap());
        for bad in ["3/3", "1", "a/b", "0/0"] {
            assert!(
                matches!(shard(Some(bad)), Err(Error::InvalidInput { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_declaration_for_another_namespace_is_refused() {
        let text = "service: staging/api\nstable: v1\ncanary: v2\nstrategy: {type: canary, steps: [50]}\ninterval: 1m\nfailure_threshold: 1\nmax_inconclusive: 3\n";
        let Declared::Invalid { error, .. } = declared("prod/api".into(), Some(text.into()), "prod", NO_KEY)
        else {
            panic!("accepted a declaration for another namespace");
        };
        assert!(error.contains("not in namespace prod"), "{error}");
        let Declared::Rollout { spec, .. } =
            declared("staging/api".into(), Some(text.into()), "staging", NO_KEY)
        else {
            panic!("refused a declaration in its own namespace");
        };
        assert_eq!(spec.service.to_string(), "staging/api");
        let Declared::Invalid { error, .. } = declared("prod/x".into(), None, "prod", NO_KEY) else {
            panic!("accepted a ConfigMap without the key");
        };
        assert!(error.contains("rollout.yaml"), "{error}");
        // A Consul KV value that is not text says so (it said "no rollout.yaml key").
        let Declared::Invalid { error, .. } = declared("binary".into(), None, "default", NOT_TEXT) else {
            panic!("accepted a KV value that is not text");
        };
        assert!(error.contains("binary: the value is not UTF-8 text"), "{error}");
        assert_eq!(
            NO_KEY,
            format!("no {} key", mesh::kube::declarations::DECLARATION_KEY)
        );
    }

    #[test]
    fn unknown_fields_in_a_declaration_are_refused() {
        let text = "service: prod/api\nstable: v1\ncanary: v2\nstrategy: {type: canary, steps: [50]}\ninterval: 1m\nfailure_threshold: 1\nmax_inconclusive: 3\nstpes: [1]\n";
        assert!(matches!(
            declared("prod/api".into(), Some(text.into()), "prod", NO_KEY),
            Declared::Invalid { .. }
        ));
    }
}
