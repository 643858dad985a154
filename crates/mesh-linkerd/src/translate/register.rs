//! Registration: a Kubernetes Service, plus one ExternalWorkload per instance outside Kubernetes.

use std::net::IpAddr;

use mesh_core::{Endpoint, Error, ObjectRef, Protocol, ServiceDefinition};
use serde_json::{Map, Value, json};

use crate::objects::{self, EXTERNAL_WORKLOADS_ANNOTATION};

/// The metadata key that overrides an ExternalWorkload's mesh identity.
pub(crate) const IDENTITY_KEY: &str = "linkerd.io/external-identity";
/// The metadata key that overrides an ExternalWorkload's TLS server name.
pub(crate) const SERVER_NAME_KEY: &str = "linkerd.io/external-server-name";

/// The port name for a protocol (`http`, `http2`, `grpc`, `tcp`).
pub(crate) fn port_name(p: Protocol) -> &'static str {
    p.as_str()
}

/// The apex Service of a definition: `app: <name>` selects its pods (or ExternalWorkloads), and
/// the ExternalWorkloads created with it are listed in an annotation so that unregistering needs
/// nothing but the id.
pub(crate) fn service(
    def: &ServiceDefinition,
    workloads: &[String],
    keys: &mesh_core::SelectorLabels,
) -> Value {
    let target = objects::service(&def.id());
    let mut port = json!({
        "name": port_name(def.protocol),
        "port": def.port.get(),
        "targetPort": def.port.get(),
        "protocol": "TCP",
    });
    if def.protocol == Protocol::Grpc || def.protocol == Protocol::Http2 {
        port["appProtocol"] = json!("kubernetes.io/h2c");
    }
    let mut body = objects::owned_object(
        &target,
        json!({ "selector": { keys.app(): def.name.as_str() }, "ports": [port] }),
    );
    body["metadata"]["labels"][keys.app()] = json!(def.name.as_str());
    // The definition's metadata becomes annotations (the ExternalWorkload identity keys are read
    // by `external_workload` and not repeated here).
    let mut annotations: Map<String, Value> = def
        .metadata
        .iter()
        .filter(|(k, _)| *k != IDENTITY_KEY && *k != SERVER_NAME_KEY)
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    annotations.insert(objects::REGISTERED_ANNOTATION.into(), json!("true"));
    body["metadata"]["annotations"] = Value::Object(annotations);
    if !workloads.is_empty() {
        body["metadata"]["annotations"][EXTERNAL_WORKLOADS_ANNOTATION] = json!(workloads.join(","));
    }
    body
}

/// The ExternalWorkload name of an endpoint: `<service>-<address>-<port>`, cut to 63 characters.
pub(crate) fn workload_name(def: &ServiceDefinition, e: &Endpoint) -> String {
    let mut name = format!("{}-{}-{}", def.name, objects::address_label(&e.address), e.port);
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// The ExternalWorkload of one endpoint (`workload.linkerd.io/v1beta1`).
///
/// Its identity defaults to `spiffe://root.linkerd.<trust domain>/<namespace>/<service>` and its
/// server name to `<service>.<namespace>.external.<trust domain>`; the definition's metadata keys
/// [`IDENTITY_KEY`] and [`SERVER_NAME_KEY`] override them. The VM must run the Linkerd proxy with
/// that identity, or its traffic is not meshed.
///
/// # Errors
/// [`Error::InvalidInput`] when the address is not an IP address (ExternalWorkload takes IPs).
pub(crate) fn external_workload(
    def: &ServiceDefinition,
    index: usize,
    trust_domain: &str,
    keys: &mesh_core::SelectorLabels,
) -> Result<(ObjectRef, Value), Error> {
    let e = &def.endpoints[index];
    let ip: IpAddr = e.address.parse().map_err(|_| {
        Error::invalid(
            format!("endpoints[{index}].address"),
            format!(
                "{:?} is not an IP address; a Linkerd ExternalWorkload needs one",
                e.address
            ),
        )
    })?;
    let (ns, name) = (def.namespace.as_str(), def.name.as_str());
    let identity = def
        .metadata
        .get(IDENTITY_KEY)
        .cloned()
        .unwrap_or_else(|| format!("spiffe://root.linkerd.{trust_domain}/{ns}/{name}"));
    let server_name = def
        .metadata
        .get(SERVER_NAME_KEY)
        .cloned()
        .unwrap_or_else(|| format!("{name}.{ns}.external.{trust_domain}"));
    let target = objects::external_workload(ns, &workload_name(def, e));
    let mut body = objects::owned_object(
        &target,
        json!({
            "meshTLS": { "identity": identity, "serverName": server_name },
            "workloadIPs": [{ "ip": ip.to_string() }],
            "ports": [{ "name": port_name(def.protocol), "port": e.port.get(), "protocol": "TCP" }],
        }),
    );
    let mut labels: Map<String, Value> = e.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    labels.insert(keys.app().into(), json!(name));
    if let Some(v) = &def.version {
        labels.insert(keys.version().into(), json!(v.label_value()));
    }
    labels.insert(objects::MANAGED_BY_LABEL.into(), json!(objects::MANAGED_BY));
    body["metadata"]["labels"] = Value::Object(labels);
    Ok((target, body))
}

/// The `/status` body marking an ExternalWorkload Ready; without it the workload's endpoints are
/// never ready and it gets no traffic.
pub(crate) fn ready_status(target: &ObjectRef) -> Value {
    json!({
        "apiVersion": target.api_version,
        "kind": target.kind,
        "metadata": { "name": target.name, "namespace": target.namespace },
        "status": { "conditions": [{
            "type": "Ready",
            "status": "True",
            "reason": "RegisteredByMesh",
            "message": "registered through the mesh library",
        }] },
    })
}

/// The ExternalWorkload names recorded on a registered Service.
pub(crate) fn recorded_workloads(svc: &Value) -> Vec<String> {
    mesh_kube::keys::annotation(svc, EXTERNAL_WORKLOADS_ANNOTATION)
        .map(|s| {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn service_example() {
        use mesh_core::ServiceDefinition;
        let def = ServiceDefinition::builder("reviews", "prod", 9080).unwrap();
        let svc = crate::translate::register::service(&def, &[], &Default::default());
        assert_eq!(svc["spec"]["selector"]["app"], "reviews");
        assert_eq!(svc["spec"]["ports"][0]["port"], 9080);
    }

    #[test]
    fn ready_status_example() {
        let r = crate::objects::external_workload("prod", "vm-1");
        let s = crate::translate::register::ready_status(&r);
        assert_eq!(s["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(s["status"]["conditions"][0]["status"], "True");
    }
}
