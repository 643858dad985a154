//! `WorkloadEntry`: one instance of a service registered through a
//! [`ServiceEntry`](super::service_entry).

use mesh_core::{Endpoint, SelectorLabels, ServiceDefinition};
use serde_json::{Value, json};

use super::service_entry::{port_name, selector_labels};
use crate::objects;

/// The stable name of the WorkloadEntry for `endpoint`: the service name and an FNV-1a hash of
/// the version and `address:port`, so that registering the same endpoint again converges on the
/// same object.
pub(crate) fn name(def: &ServiceDefinition, endpoint: &Endpoint) -> String {
    let version = super::service_entry::version_key(def);
    let key = format!("{version}|{}:{}", endpoint.address, endpoint.port);
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{}-{:08x}", def.name, hash as u32)
}

/// The WorkloadEntry of one instance: its address, its labels (the endpoint's own, then `app` and
/// `version`, which the ServiceEntry and DestinationRule subsets select on) and its port under the
/// ServiceEntry's port name.
pub(crate) fn workload_entry(def: &ServiceDefinition, endpoint: &Endpoint, keys: &SelectorLabels) -> Value {
    let target = objects::workload_entry(&def.id(), &name(def, endpoint));
    let mut labels = endpoint.labels.clone();
    labels.extend(selector_labels(def, keys));
    if let Some(v) = &def.version {
        labels.insert(keys.version().to_owned(), v.label_value().to_owned());
    }
    super::new_object(
        &target,
        json!({
            "address": endpoint.address,
            "labels": labels,
            "ports": { port_name(def.protocol): endpoint.port.get() },
        }),
    )
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn name_example() {
        use crate::translate::workload_entry::name;
        use mesh_core::{Endpoint, Port, ServiceDefinition};
        let def = ServiceDefinition::builder("legacy", "prod", 8080).unwrap();
        let ep = Endpoint::new("10.0.0.5", Port::new(8080).unwrap()).unwrap();
        assert_eq!(name(&def, &ep), name(&def, &ep.clone()));
        assert!(name(&def, &ep).starts_with("legacy-"));
    }

    #[test]
    fn workload_entry_example() {
        use mesh_core::{Endpoint, Port, ServiceDefinition};
        let def = ServiceDefinition::builder("legacy", "prod", 80)
            .unwrap()
            .version("v1")
            .unwrap();
        let ep = Endpoint::new("10.0.0.5", Port::new(8080).unwrap()).unwrap();
        let we = crate::translate::workload_entry::workload_entry(&def, &ep, &Default::default());
        assert_eq!(we["spec"]["address"], "10.0.0.5");
        assert_eq!(we["spec"]["ports"]["http"], 8080);
        assert_eq!(we["spec"]["labels"]["version"], "v1");
    }
}
