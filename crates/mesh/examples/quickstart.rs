//! The spec's Quick Start against the in-memory mesh: register, split 90/10, enable mTLS, and print
//! every plan as YAML. `meshctl` replaces this as the main job once the CLI lands.
#![allow(clippy::print_stdout)] // An example prints its output.

use mesh::{Change, Mesh, MeshKind, Namespace, Protocol, RenderFormat, ServiceDefinition, TrafficSplit};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), mesh::Error> {
    let kind: MeshKind = std::env::args().nth(1).as_deref().unwrap_or("istio").parse()?;
    let mesh = Mesh::fake(kind);
    let def = ServiceDefinition::builder("reviews", "bookinfo", 9080)?
        .protocol(Protocol::Http)
        .version("v1")?;
    let changes = [
        Change::RegisterService(def.clone()),
        Change::SetTrafficWeight {
            service: def.id(),
            split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?,
        },
        Change::EnableMtls {
            namespace: Namespace::new("bookinfo")?,
        },
    ];
    for change in changes {
        let plan = mesh.plan(&change).await?;
        println!("# {} ({} writes)", change.operation(), plan.writes.len());
        print!("{}", plan.render(RenderFormat::Yaml)?);
        mesh.apply(&plan).await?;
    }
    Ok(())
}
