//! The spec's event payloads: `service.registered` carries `{ serviceId, definition }` and
//! `fault.injected` carries `{ faultId, serviceId }`.

#![cfg(feature = "testing")]

use mesh_handle::{Fault, Mesh, MeshEvent, MeshKind, Percent, ServiceDefinition};

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

/// Every event carries the time it was published, and a subscriber can take only some names, as
/// the spec's `mesh.on('traffic.weight.updated', …)` does.
#[tokio::test]
async fn events_are_timed_and_can_be_filtered_by_name() {
    use std::time::SystemTime;
    for kind in MeshKind::ALL {
        let mesh = Mesh::fake(kind);
        let mut all = mesh.subscribe();
        let mut weights = mesh.subscribe().only(&["traffic.weight.updated"]);
        let before = SystemTime::now();
        let def = ServiceDefinition::builder("reviews", "default", 9080)
            .unwrap()
            .version("v1")
            .unwrap();
        mesh.register_service(&def).await.unwrap();
        let split = mesh_handle::TrafficSplit::try_from_pairs([("v1", 100)]).unwrap();
        mesh.set_traffic_weight(&def.id(), &split).await.unwrap();
        let after = SystemTime::now();

        let first = all.try_recv_timed().unwrap();
        let second = all.try_recv_timed().unwrap();
        assert_eq!(
            (first.event.name(), second.event.name()),
            ("service.registered", "traffic.weight.updated")
        );
        for e in [&first, &second] {
            assert!(before <= e.at && e.at <= after, "{kind}: {e:?}");
        }
        assert!(first.at <= second.at);
        let json = serde_json::to_value(&second).unwrap();
        assert_eq!(json["event"], "traffic.weight.updated");
        assert!(json["at_unix_ms"].as_u64().unwrap() > 1_700_000_000_000);

        let only = weights.try_recv().unwrap();
        assert_eq!(
            only.name(),
            "traffic.weight.updated",
            "{kind}: the registration was skipped"
        );
        assert!(weights.try_recv().is_err(), "{kind}: nothing else");
    }
}
