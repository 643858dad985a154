//! Rollouts declared in ConfigMaps, watched: a ConfigMap labelled [`DECLARATION_LABEL`] holds a
//! rollout spec (YAML or JSON) under [`DECLARATION_KEY`]. kube-runtime's watcher lists them once,
//! then follows changes over one long-lived request (re-listing after a lost watch, with
//! backoff), so a controller reads nothing per stage to learn what is declared.

use futures_util::{Stream, StreamExt};
use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::Value;

/// The label that marks a ConfigMap as a rollout declaration (any value).
pub const DECLARATION_LABEL: &str = "meshctl.dev/rollout";
/// The ConfigMap data key that holds the spec.
pub const DECLARATION_KEY: &str = "rollout.yaml";

/// A change to the declarations, as the watch saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclarationEvent {
    /// Declared or changed: `namespace/name` of the ConfigMap and the text under
    /// [`DECLARATION_KEY`] (`None` when the key is missing).
    Applied {
        /// `namespace/name` of the ConfigMap.
        name: String,
        /// The spec's text.
        text: Option<String>,
    },
    /// The ConfigMap is gone, or lost its label.
    Deleted {
        /// `namespace/name` of the ConfigMap.
        name: String,
    },
    /// The watch failed; it retries with backoff on its own.
    Failed {
        /// What went wrong (no credentials in it: the kube error's text).
        error: String,
    },
}

/// What a ConfigMap declares: its `namespace/name` and spec text.
///
/// ```
/// use mesh_kube::declarations::{DeclarationEvent, declaration_of};
/// let cm = serde_json::json!({
///     "metadata": {"name": "api", "namespace": "prod"},
///     "data": {"rollout.yaml": "service: prod/api"}
/// });
/// assert_eq!(
///     declaration_of(&cm),
///     DeclarationEvent::Applied { name: "prod/api".into(), text: Some("service: prod/api".into()) }
/// );
/// ```
#[must_use]
pub fn declaration_of(config_map: &Value) -> DeclarationEvent {
    DeclarationEvent::Applied {
        name: name_of(config_map),
        text: config_map["data"][DECLARATION_KEY].as_str().map(str::to_owned),
    }
}

fn name_of(config_map: &Value) -> String {
    let meta = &config_map["metadata"];
    format!(
        "{}/{}",
        meta["namespace"].as_str().unwrap_or("default"),
        meta["name"].as_str().unwrap_or_default()
    )
}

/// Watches the declarations in `namespace` (every namespace when `None`).
pub fn watch_declarations(
    client: kube::Client,
    namespace: Option<&str>,
) -> impl Stream<Item = DeclarationEvent> + Send + 'static {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client, ns, &resource),
        None => Api::all_with(client, &resource),
    };
    let config = watcher::Config::default().labels(DECLARATION_LABEL);
    watcher(api, config).default_backoff().flat_map(|event| {
        let out: Vec<DeclarationEvent> = match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                serde_json::to_value(&o).map_or_else(|_| Vec::new(), |v| vec![declaration_of(&v)])
            }
            Ok(watcher::Event::Delete(o)) => serde_json::to_value(&o).map_or_else(
                |_| Vec::new(),
                |v| vec![DeclarationEvent::Deleted { name: name_of(&v) }],
            ),
            Ok(watcher::Event::Init | watcher::Event::InitDone) => Vec::new(),
            Err(e) => vec![DeclarationEvent::Failed { error: e.to_string() }],
        };
        futures_util::stream::iter(out)
    })
}
