//! Planning and rendering cost, with no agent: a split on a fresh control plane, a split that
//! replaces existing entries, and 1,000 services' splits rendered.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_consul::{
    ConsulVersion,
    model::ConfigEntry,
    render::render,
    translate::{Context, Snapshot, plan},
};
use mesh_core::{Change, TrafficSplit};

fn split(name: &str) -> Change {
    Change::SetTrafficWeight {
        service: name.parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
    }
}

fn bench(c: &mut Criterion) {
    let ctx = Context::new(ConsulVersion::ce(1, 18, 0));
    let fresh = Snapshot::default();
    c.bench_function("plan split, fresh", |b| {
        b.iter(|| plan(black_box(&split("web")), &ctx, &fresh).unwrap())
    });

    let mut existing = Snapshot::default();
    for w in plan(&split("web"), &ctx, &fresh).unwrap().writes {
        let mut body = w.body.unwrap();
        body["ModifyIndex"] = 9.into();
        existing.insert(None, ConfigEntry::from_json(body).unwrap());
    }
    let change = Change::SetTrafficWeight {
        service: "web".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 50), ("v2", 50)]).unwrap(),
    };
    c.bench_function("plan split, replace", |b| {
        b.iter(|| plan(black_box(&change), &ctx, &existing).unwrap())
    });

    let names: Vec<String> = (0..1000).map(|i| format!("svc-{i}")).collect();
    c.bench_function("plan+render 1000 splits", |b| {
        b.iter(|| {
            let mut files = 0;
            for n in &names {
                files += render(&plan(&split(n), &ctx, &fresh).unwrap()).files.len();
            }
            assert_eq!(files, 3000);
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
