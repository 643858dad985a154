//! `register_service` as agent service registrations (with `Meta.version`, a check, weights and a
//! Connect sidecar), and `unregister_service` as deregistrations after the routing entries that
//! depend on the service are gone.

use std::collections::BTreeMap;

use mesh_core::{HealthCheck, ServiceDefinition, units::format_duration};

use crate::model::{AgentCheck, AgentConnect, AgentServiceRegistration, AgentWeights};

/// The instance id of endpoint `index` of `def`: `name`, `name-version`, and `-<index>` when the
/// definition has several endpoints. Stable, so re-registering replaces rather than duplicates.
fn instance_id(def: &ServiceDefinition, index: usize) -> String {
    let mut id = def.name.to_string();
    if let Some(v) = &def.version {
        id.push('-');
        id.push_str(v.as_str());
    }
    if def.endpoints.len() > 1 {
        id.push_str(&format!("-{index}"));
    }
    id
}

/// The agent registration bodies of `def`, one per endpoint (one without an address when it has
/// none), in PascalCase, with the namespace only when `namespace` is given (Enterprise).
pub(crate) fn registration_bodies(
    def: &ServiceDefinition,
    namespace: Option<&str>,
    keys: &mesh_core::SelectorLabels,
) -> Vec<AgentServiceRegistration> {
    let endpoints: Vec<Option<&mesh_core::Endpoint>> = if def.endpoints.is_empty() {
        vec![None]
    } else {
        def.endpoints.iter().map(Some).collect()
    };
    endpoints
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let mut meta: BTreeMap<String, String> = def.metadata.clone();
            if let Some(e) = e {
                meta.extend(e.labels.clone());
            }
            if let Some(v) = &def.version {
                meta.insert(keys.version().into(), v.label_value().to_owned());
            }
            let address = e.map(|e| e.address.clone());
            let port = e.map_or(def.port, |e| e.port).get();
            AgentServiceRegistration {
                id: Some(instance_id(def, i)),
                name: def.name.to_string(),
                tags: def.version.as_ref().map(|v| vec![v.to_string()]),
                address: address.clone(),
                port: Some(port),
                meta: (!meta.is_empty()).then_some(meta),
                check: def
                    .health_check
                    .as_ref()
                    .map(|c| check(c, address.as_deref().unwrap_or("127.0.0.1"), port)),
                weights: Some(AgentWeights {
                    passing: 1,
                    warning: 1,
                }),
                connect: Some(AgentConnect {
                    sidecar_service: Some(Box::default()),
                    ..AgentConnect::default()
                }),
                namespace: namespace.map(str::to_owned),
                ..AgentServiceRegistration::default()
            }
        })
        .collect()
}

pub(super) fn check(c: &HealthCheck, address: &str, port: u16) -> AgentCheck {
    let (interval, timeout) = match c {
        HealthCheck::Http {
            interval, timeout, ..
        }
        | HealthCheck::Tcp { interval, timeout }
        | HealthCheck::Grpc { interval, timeout } => (interval, timeout),
    };
    let mut out = AgentCheck {
        interval: Some(format_duration(*interval)),
        timeout: Some(format_duration(*timeout)),
        ..AgentCheck::default()
    };
    match c {
        HealthCheck::Http { path, .. } => out.http = Some(format!("http://{address}:{port}{path}")),
        HealthCheck::Tcp { .. } => out.tcp = Some(format!("{address}:{port}")),
        HealthCheck::Grpc { .. } => out.grpc = Some(format!("{address}:{port}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use mesh_core::ServiceDefinition;

    use super::registration_bodies;

    #[test]
    fn a_registration_body_carries_the_version_and_a_sidecar() {
        let def = ServiceDefinition::builder("web", "default", 8080)
            .unwrap()
            .version("v2")
            .unwrap();
        let bodies = registration_bodies(&def, None, &Default::default());
        let json = serde_json::to_value(&bodies[0]).unwrap();
        assert_eq!(json["ID"], "web-v2");
        assert_eq!(json["Meta"]["version"], "v2");
        assert_eq!(json["Connect"]["SidecarService"], serde_json::json!({}));
        assert!(json.get("Namespace").is_none());
    }
}
