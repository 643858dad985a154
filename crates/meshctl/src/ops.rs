//! Turning command-line arguments into typed changes and queries. Every check happens here, before
//! any backend is contacted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesh::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, CircuitBreaker,
    DestinationPolicy, Endpoint, Error, Fault, FaultId, HeaderMatch, HttpMethod, HttpStatus, LoadBalancer,
    Namespace, PathMatch, Percent, Port, Protocol, RequestMatch, RetryOn, RetryPolicy, RouteRule,
    ServiceDefinition, ServiceId, ServiceRoutes, StringMatch, Subset, TrafficSplit, Version,
    units::parse_duration,
};

use crate::cli::{CircuitBreakerArgs, FaultCmd, GraphFormat, Op};

/// What an operation becomes.
#[derive(Debug)]
pub(crate) enum Action {
    /// A change to plan, then render or apply.
    Change(Change),
    /// A read.
    Query(Query),
}

/// The read-only operations.
#[derive(Debug)]
pub(crate) enum Query {
    MtlsStatus(Namespace),
    Metrics(ServiceId, mesh::TimeRange),
    Traces(ServiceId, usize, Duration),
    Graph(Namespace, Option<GraphFormat>),
}

/// A service argument: `ns/name`, or `name` in the `--namespace`.
pub(crate) fn service_id(arg: &str, namespace: &str) -> Result<ServiceId, Error> {
    if arg.contains('/') {
        arg.parse()
    } else {
        Ok(ServiceId::new(Namespace::new(namespace)?, arg.parse()?))
    }
}

/// `v1=90` pairs, or a bare `v1` for 100 %.
pub(crate) fn split(args: &[String]) -> Result<TrafficSplit, Error> {
    if let [single] = args
        && !single.contains('=')
        && !single.contains(',')
    {
        return Ok(TrafficSplit::all_to(Version::new(single.as_str())?));
    }
    let mut pairs = Vec::new();
    for part in args.iter().flat_map(|a| a.split(',')) {
        let (v, w) = part
            .split_once('=')
            .ok_or_else(|| Error::invalid("weights", format!("{part:?} is not VERSION=WEIGHT")))?;
        // Digits only: u8's parser would also take "+100".
        let w: u8 = w
            .parse()
            .ok()
            .filter(|_| w.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| Error::invalid("weights", format!("{w:?} is not a weight 0..=100")))?;
        pairs.push((v.to_owned(), w));
    }
    TrafficSplit::try_from_pairs(pairs.iter().map(|(v, w)| (v.as_str(), *w)))
}

fn duration(field: &str, s: &Option<String>) -> Result<Option<Duration>, Error> {
    s.as_deref()
        .map(|s| parse_duration(s).map_err(|e| e.in_field(field)))
        .transpose()
}

fn header(s: &str) -> Result<HeaderMatch, Error> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| Error::invalid("header", format!("{s:?} is not NAME=VALUE")))?;
    Ok(HeaderMatch {
        name: name.to_ascii_lowercase(),
        value: StringMatch::Exact(value.to_owned()),
    })
}

/// Header conditions as one match block, for routes and A/B rollouts.
pub(crate) fn header_match(headers: &[String]) -> Result<RequestMatch, Error> {
    Ok(RequestMatch {
        headers: headers.iter().map(|h| header(h)).collect::<Result<_, _>>()?,
        ..Default::default()
    })
}

/// The longest `metrics --window`.
const MAX_METRICS_WINDOW: Duration = Duration::from_secs(31 * 24 * 3600);
/// The most traces `traces --limit` asks for.
const MAX_TRACES: usize = 1000;

/// Turns an operation into a change or a query.
pub(crate) fn action(op: &Op, namespace: &str, namespace_given: bool) -> Result<Action, Error> {
    let change = match op {
        Op::Register {
            service,
            port,
            protocol,
            version,
            endpoints,
        } => {
            let id = service_id(service, namespace)?;
            let protocol: Protocol = serde_json::from_value(serde_json::Value::String(protocol.clone()))
                .map_err(|_| {
                    Error::invalid(
                        "protocol",
                        format!("{protocol:?} is not http, http2, grpc or tcp"),
                    )
                })?;
            let mut def = ServiceDefinition::builder(id.name.as_str(), id.namespace.as_str(), *port)?
                .protocol(protocol);
            if let Some(v) = version {
                def = def.version(v)?;
            }
            for e in endpoints {
                let (addr, port) = e
                    .rsplit_once(':')
                    .ok_or_else(|| Error::invalid("endpoint", format!("{e:?} is not ADDRESS:PORT")))?;
                let port: u16 = port
                    .parse()
                    .map_err(|_| Error::invalid("endpoint", format!("{port:?} is not a port")))?;
                def = def.endpoint(Endpoint::new(addr, Port::new(port)?)?);
            }
            Change::RegisterService(def)
        }
        Op::Unregister { service } => Change::UnregisterService {
            service: service_id(service, namespace)?,
        },
        Op::Route {
            service,
            to,
            default,
            path_prefix,
            path_exact,
            headers,
            method,
            timeout,
        } => {
            let mut m = header_match(headers)?;
            m.path = match (path_exact, path_prefix) {
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "path",
                        "give --path-exact or --path-prefix, not both",
                    ));
                }
                (Some(p), None) => Some(PathMatch::Exact(p.clone())),
                (None, Some(p)) => Some(PathMatch::Prefix(p.clone())),
                (None, None) => None,
            };
            m.method = method.as_deref().map(str::parse::<HttpMethod>).transpose()?;
            match (m.is_catch_all(), default) {
                // Every request would match the first rule: the default could never be reached.
                (true, Some(_)) => {
                    return Err(Error::invalid(
                        "default",
                        "applies to requests that match no condition; give --header, --path-exact, --path-prefix or --method, or leave --default out",
                    ));
                }
                // Only matching requests would be routed; the rest would get a 404 on Istio and
                // Linkerd (Consul sends them to its default route), so the caller says where.
                (false, None) => {
                    return Err(Error::invalid(
                        "default",
                        "a route with conditions needs --default VERSION for every other request (otherwise they get a 404 on Istio and Linkerd)",
                    ));
                }
                _ => {}
            }
            let mut rules = vec![RouteRule {
                matches: if m.is_catch_all() { vec![] } else { vec![m] },
                timeout: duration("timeout", timeout)?,
                ..RouteRule::to(split(std::slice::from_ref(to))?)
            }];
            if let Some(d) = default {
                rules.push(RouteRule::to(split(std::slice::from_ref(d))?));
            }
            Change::CreateVirtualService(ServiceRoutes {
                service: service_id(service, namespace)?,
                rules,
            })
        }
        Op::Destination { service, subsets, lb } => {
            let subsets = subsets
                .iter()
                .map(|v| Ok(Subset::for_version(Version::new(v.as_str())?)))
                .collect::<Result<Vec<_>, Error>>()?;
            let load_balancer = lb
                .as_deref()
                .map(|s| {
                    serde_json::from_value::<LoadBalancer>(serde_json::Value::String(s.replace('-', "_")))
                        .map_err(|_| {
                            Error::invalid(
                                "lb",
                                format!(
                                    "{s:?} is not round-robin, least-request, random, ring-hash or maglev"
                                ),
                            )
                        })
                })
                .transpose()?;
            Change::CreateDestinationRule(DestinationPolicy {
                load_balancer,
                ..DestinationPolicy::with_subsets(service_id(service, namespace)?, subsets)
            })
        }
        Op::Split { service, weights } => Change::SetTrafficWeight {
            service: service_id(service, namespace)?,
            split: split(weights)?,
        },
        Op::CircuitBreaker(a) => circuit_breaker(a, namespace)?,
        Op::Retry {
            service,
            attempts,
            per_try_timeout,
            retry_on,
            timeout,
        } => {
            let mut conditions = Vec::new();
            let mut codes = Vec::new();
            for c in retry_on.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                match c.parse::<u16>() {
                    Ok(code) => codes.push(code),
                    Err(_) => conditions.push(
                        serde_json::from_value::<RetryOn>(serde_json::Value::String(c.to_owned())).map_err(
                            |_| Error::invalid("retry_on", format!("{c:?} is not a retry condition")),
                        )?,
                    ),
                }
            }
            Change::SetRetryPolicy {
                service: service_id(service, namespace)?,
                policy: RetryPolicy {
                    attempts: *attempts,
                    per_try_timeout: duration("per_try_timeout", per_try_timeout)?,
                    retry_on: conditions,
                    retry_on_status: codes,
                    overall_timeout: duration("timeout", timeout)?,
                },
            }
        }
        Op::Mtls {
            namespace: ns,
            status,
        } => {
            let ns = Namespace::new(positional_or_flag(ns.as_deref(), namespace, namespace_given)?)?;
            if *status {
                return Ok(Action::Query(Query::MtlsStatus(ns)));
            }
            Change::EnableMtls { namespace: ns }
        }
        Op::Authz(a) => {
            let action = match a.action.to_ascii_lowercase().as_str() {
                "allow" => AuthzAction::Allow,
                "deny" => AuthzAction::Deny,
                other => {
                    return Err(Error::invalid(
                        "action",
                        format!("{other:?} is not allow or deny"),
                    ));
                }
            };
            let from = AuthzSource {
                principals: a.principals.iter().map(|p| p.parse()).collect::<Result<_, _>>()?,
                namespaces: a
                    .namespaces
                    .iter()
                    .map(|n| Namespace::new(n.as_str()))
                    .collect::<Result<_, _>>()?,
            };
            let to = AuthzTarget {
                methods: a.methods.iter().map(|m| m.parse()).collect::<Result<_, _>>()?,
                paths: a.paths.clone(),
                ports: a.ports.iter().map(|p| Port::new(*p)).collect::<Result<_, _>>()?,
            };
            let rule = AuthzRule {
                from: if from == AuthzSource::default() {
                    vec![]
                } else {
                    vec![from]
                },
                to: if to == AuthzTarget::default() {
                    vec![]
                } else {
                    vec![to]
                },
            };
            Change::CreateAuthorizationPolicy(AuthorizationPolicy {
                name: a.name.parse()?,
                namespace: Namespace::new(namespace)?,
                target: a.service.as_deref().map(str::parse).transpose()?,
                action,
                rules: vec![rule],
            })
        }
        Op::Fault(FaultCmd::Inject {
            service,
            delay,
            abort,
            percent,
        }) => {
            let percent = Percent::new(*percent).map_err(|e| e.in_field("fault"))?;
            let fault = match (delay, abort) {
                (Some(d), None) => Fault::Delay {
                    percent,
                    duration: parse_duration(d).map_err(|e| e.in_field("delay"))?,
                },
                (None, Some(code)) => Fault::Abort {
                    percent,
                    http_status: HttpStatus::new(*code)?,
                },
                _ => return Err(Error::invalid("fault", "give exactly one of --delay and --abort")),
            };
            Change::InjectFault {
                service: service_id(service, namespace)?,
                fault,
            }
        }
        Op::Fault(FaultCmd::Remove { fault_id }) => Change::RemoveFault {
            fault_id: fault_id.parse::<FaultId>()?,
        },
        Op::Metrics {
            service,
            window,
            start,
            end,
        } => {
            let range = metrics_range(
                window.as_deref(),
                start.as_deref(),
                end.as_deref(),
                SystemTime::now(),
            )?;
            return Ok(Action::Query(Query::Metrics(
                service_id(service, namespace)?,
                range,
            )));
        }
        Op::Traces {
            service,
            limit,
            lookback,
        } => {
            if !(1..=MAX_TRACES).contains(limit) {
                return Err(Error::invalid(
                    "limit",
                    format!("must be within 1..={MAX_TRACES}"),
                ));
            }
            let lookback = parse_duration(lookback).map_err(|e| e.in_field("lookback"))?;
            if lookback.is_zero() || lookback > MAX_METRICS_WINDOW {
                return Err(Error::invalid("lookback", "must be positive and at most 31 days"));
            }
            return Ok(Action::Query(Query::Traces(
                service_id(service, namespace)?,
                *limit,
                lookback,
            )));
        }
        Op::Graph {
            namespace: ns,
            format,
        } => {
            let ns = Namespace::new(positional_or_flag(ns.as_deref(), namespace, namespace_given)?)?;
            return Ok(Action::Query(Query::Graph(ns, *format)));
        }
    };
    change.validate()?;
    Ok(Action::Change(change))
}

/// A namespace given as an argument or with `-n` (the default namespace when neither is); both
/// at once must agree. A namespace that only defaulted (`-n` not given) gives way to the argument.
fn positional_or_flag<'a>(
    positional: Option<&'a str>,
    flag: &'a str,
    flag_given: bool,
) -> Result<&'a str, Error> {
    match positional {
        Some(p) if p != flag && flag_given => Err(Error::invalid(
            "namespace",
            format!("{p:?} as an argument and {flag:?} with -n disagree; give one"),
        )),
        Some(p) => Ok(p),
        None => Ok(flag),
    }
}

fn circuit_breaker(a: &CircuitBreakerArgs, namespace: &str) -> Result<Change, Error> {
    let cb = CircuitBreaker {
        max_connections: a.max_connections,
        timeout: duration("timeout", &a.timeout)?,
        max_retries: a.max_retries,
        consecutive_errors: a.consecutive_errors,
        interval: duration("interval", &a.interval)?,
        base_ejection_time: duration("base_ejection_time", &a.base_ejection_time)?,
        max_ejection_percent: a.max_ejection_percent.map(Percent::new).transpose()?,
    };
    Ok(Change::ConfigureCircuitBreaker {
        service: service_id(&a.service, namespace)?,
        circuit_breaker: cb,
        callers: a.callers.iter().map(|c| c.parse()).collect::<Result<_, _>>()?,
    })
}

/// The window `metrics` reads: `--start`..`--end`, or `--window` ending at `--end`; `--end`
/// defaults to `now`, the window to 5 minutes. At most 31 days.
fn metrics_range(
    window: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
    now: SystemTime,
) -> Result<mesh::TimeRange, Error> {
    let end = end.map(|e| instant("end", e)).transpose()?.unwrap_or(now);
    let start = match (start, window) {
        (Some(s), _) => instant("start", s)?,
        (None, w) => {
            let window = parse_duration(w.unwrap_or("5m")).map_err(|e| e.in_field("window"))?;
            if window.is_zero() || window > MAX_METRICS_WINDOW {
                return Err(Error::invalid(
                    "window",
                    "must be positive and at most 31 days (past any Prometheus retention worth querying at once)",
                ));
            }
            end.checked_sub(window)
                .ok_or_else(|| Error::invalid("window", "reaches before 1970"))?
        }
    };
    let span = end
        .duration_since(start)
        .map_err(|_| Error::invalid("start", "is after --end"))?;
    if span.is_zero() || span > MAX_METRICS_WINDOW {
        return Err(Error::invalid(
            "start",
            "the window must be positive and at most 31 days",
        ));
    }
    mesh::TimeRange::new(start, end)
}

/// `2026-12-02T10:00:00Z` (RFC 3339, any offset) or Unix seconds.
fn instant(field: &str, value: &str) -> Result<SystemTime, Error> {
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(UNIX_EPOCH + Duration::from_secs(secs));
    }
    let ts: jiff::Timestamp = value.parse().map_err(|e| {
        Error::invalid(
            field,
            format!("{value:?} is neither RFC 3339 (2026-12-02T10:00:00Z) nor Unix seconds: {e}"),
        )
    })?;
    Ok(SystemTime::from(ts))
}

#[cfg(test)]
mod metrics_range_tests {
    use super::*;

    #[test]
    fn start_end_and_window_make_the_range() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let r = metrics_range(None, None, None, now).unwrap();
        assert_eq!((r.start(), r.end()), (now - Duration::from_secs(300), now));
        let r = metrics_range(Some("1h"), None, Some("1700003600"), now).unwrap();
        assert_eq!(r.start(), UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let r = metrics_range(
            None,
            Some("2023-11-14T22:13:20Z"),
            Some("2023-11-14T23:13:20+00:00"),
            now,
        )
        .unwrap();
        assert_eq!(
            (r.start(), r.end()),
            (
                UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                UNIX_EPOCH + Duration::from_secs(1_700_003_600)
            )
        );
        for (w, s, e) in [
            (None, Some("2023-11-15T00:00:00Z"), Some("2023-11-14T00:00:00Z")),
            (None, Some("yesterday"), None),
            (None, Some("2023-01-01T00:00:00Z"), Some("2023-03-01T00:00:00Z")),
            (Some("0s"), None, None),
        ] {
            assert!(metrics_range(w, s, e, now).is_err(), "{w:?} {s:?} {e:?}");
        }
    }
}
