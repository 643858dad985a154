//! `x-kubernetes-list-type: map` lists: no two items may share their key fields
//! (`x-kubernetes-list-map-keys`). Neither jsonschema nor the CEL evaluator checks this.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Violation;

/// The part of a schema that leads to map lists.
#[derive(Debug, Default)]
pub(crate) struct MapLists {
    /// Key fields, when this node is a map list.
    keys: Vec<String>,
    /// Key field defaults, used for items that leave a key out.
    defaults: BTreeMap<String, Value>,
    properties: BTreeMap<String, MapLists>,
    items: Option<Box<MapLists>>,
    additional: Option<Box<MapLists>>,
}

impl MapLists {
    /// The tree of map lists in `schema`; `None` when it has none.
    pub(crate) fn build(schema: &Value) -> Option<Self> {
        if !schema.is_object() {
            return None;
        }
        let mut node = Self::default();
        if schema["x-kubernetes-list-type"].as_str() == Some("map") {
            node.keys = schema["x-kubernetes-list-map-keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect();
            for k in &node.keys {
                if let Some(d) = schema["items"]["properties"][k].get("default") {
                    node.defaults.insert(k.clone(), d.clone());
                }
            }
        }
        if let Some(props) = schema["properties"].as_object() {
            node.properties = props
                .iter()
                .filter_map(|(k, s)| Some((k.clone(), Self::build(s)?)))
                .collect();
        }
        node.items = Self::build(&schema["items"]).map(Box::new);
        node.additional = Self::build(&schema["additionalProperties"]).map(Box::new);
        let empty = node.keys.is_empty()
            && node.properties.is_empty()
            && node.items.is_none()
            && node.additional.is_none();
        (!empty).then_some(node)
    }

    /// Adds a violation for each item whose keys repeat an earlier item's.
    pub(crate) fn check(&self, value: &Value, path: &str, out: &mut Vec<Violation>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let child = self.properties.get(k).or(self.additional.as_deref());
                    if let Some(child) = child {
                        child.check(v, &join(path, k), out);
                    }
                }
            }
            Value::Array(items) => {
                if !self.keys.is_empty() {
                    self.check_unique(items, path, out);
                }
                if let Some(item) = &self.items {
                    for (i, v) in items.iter().enumerate() {
                        item.check(v, &format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_unique(&self, items: &[Value], path: &str, out: &mut Vec<Violation>) {
        let mut seen: Vec<Vec<&Value>> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let key: Vec<&Value> = self
                .keys
                .iter()
                .map(|k| item.get(k).or(self.defaults.get(k)).unwrap_or(&Value::Null))
                .collect();
            if seen.contains(&key) {
                let shown: Vec<String> = self
                    .keys
                    .iter()
                    .zip(&key)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                out.push(Violation::new(
                    format!("{path}[{i}]"),
                    format!("duplicate entry: another item already has {}", shown.join(", ")),
                ));
            }
            seen.push(key);
        }
    }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_duplicate_keys_only_in_map_lists() {
        let schema = json!({ "type": "object", "properties": {
            "headers": { "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "kind"],
                         "items": { "type": "object", "properties": { "name": { "type": "string" },
                                    "kind": { "type": "string", "default": "Exact" } } } },
            "plain": { "type": "array", "items": { "type": "string" } }
        } });
        let lists = MapLists::build(&schema).unwrap();
        let mut out = Vec::new();
        let obj = json!({
            "headers": [{ "name": "a" }, { "name": "a", "kind": "Regex" }, { "name": "a", "kind": "Exact" }],
            "plain": ["x", "x"]
        });
        lists.check(&obj, "spec", &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].path, "spec.headers[2]");
        assert!(
            out[0].message.contains("name=\"a\", kind=\"Exact\""),
            "{}",
            out[0].message
        );
        assert!(MapLists::build(&json!({ "type": "string" })).is_none());
    }
}
