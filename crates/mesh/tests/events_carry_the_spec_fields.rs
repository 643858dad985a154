//! The spec's event payloads: `service.registered` carries `{ serviceId, definition }` and
//! `fault.injected` carries `{ faultId, serviceId }`.

#![cfg(feature = "testing")]

use mesh::{Fault, Mesh, MeshEvent, MeshKind, Percent, ServiceDefinition};

#[tokio::test]
async fn registered_and_fault_events_carry_the_definition_and_the_service() {
    for kind in MeshKind::ALL {
        let mesh = Mesh::fake(kind);
        let mut events = mesh.subscribe();
        let def = ServiceDefinition::builder("reviews", "default", 9080)
            .unwrap()
            .version("v1")
            .unwrap();
        mesh.register_service(&def).await.unwrap();
        match events.try_recv().unwrap() {
            MeshEvent::ServiceRegistered {
                service_id,
                definition,
                ..
            } => {
                assert_eq!(service_id.to_string(), "default/reviews");
                assert_eq!(*definition, def, "{kind}");
            }
            other => panic!("{kind}: {other:?}"),
        }
        let fault = Fault::Delay {
            percent: Percent::new(10.0).unwrap(),
            duration: std::time::Duration::from_secs(3),
        };
        if mesh.inject_fault(&def.id(), &fault).await.is_ok() {
            match events.try_recv().unwrap() {
                MeshEvent::FaultInjected { service_id, .. } => assert_eq!(service_id, def.id(), "{kind}"),
                other => panic!("{kind}: {other:?}"),
            }
        }
    }
}
