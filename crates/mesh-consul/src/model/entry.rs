//! A config entry of any kind, dispatched on its `Kind` field.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use serde_json::Value;

use super::{
    EntryMeta, MeshEntry, ProxyDefaults, ServiceDefaults, ServiceIntentions, ServiceResolver, ServiceRouter,
    ServiceSplitter,
};

/// The config-entry kinds this backend models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryKind {
    /// `service-defaults`.
    ServiceDefaults,
    /// `proxy-defaults`.
    ProxyDefaults,
    /// `mesh`.
    Mesh,
    /// `service-resolver`.
    ServiceResolver,
    /// `service-splitter`.
    ServiceSplitter,
    /// `service-router`.
    ServiceRouter,
    /// `service-intentions`.
    ServiceIntentions,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 7] = [
        Self::ServiceDefaults,
        Self::ProxyDefaults,
        Self::Mesh,
        Self::ServiceResolver,
        Self::ServiceSplitter,
        Self::ServiceRouter,
        Self::ServiceIntentions,
    ];

    /// Consul's spelling (`service-resolver`).
    ///
    /// ```
    /// use mesh_consul::model::EntryKind;
    /// assert_eq!(EntryKind::ServiceRouter.as_str(), "service-router");
    /// assert_eq!("service-router".parse::<EntryKind>().unwrap(), EntryKind::ServiceRouter);
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServiceDefaults => "service-defaults",
            Self::ProxyDefaults => "proxy-defaults",
            Self::Mesh => "mesh",
            Self::ServiceResolver => "service-resolver",
            Self::ServiceSplitter => "service-splitter",
            Self::ServiceRouter => "service-router",
            Self::ServiceIntentions => "service-intentions",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EntryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown config entry kind {s:?}"))
    }
}

/// A config entry of one of the modelled kinds. Serialized with its `Kind` field, as
/// `PUT /v1/config` and `consul config write` take it.
///
/// ```
/// use mesh_consul::model::{ConfigEntry, EntryKind};
/// let e: ConfigEntry = serde_json::from_str(r#"{"Kind":"service-defaults","Name":"web","Protocol":"http"}"#).unwrap();
/// assert_eq!((e.kind(), e.name()), (EntryKind::ServiceDefaults, "web"));
/// assert_eq!(serde_json::to_value(&e).unwrap()["Kind"], "service-defaults");
/// ```
// A plan holds a handful of entries; boxing the variants would only obscure the matches.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigEntry {
    /// `service-defaults`.
    ServiceDefaults(ServiceDefaults),
    /// `proxy-defaults`.
    ProxyDefaults(ProxyDefaults),
    /// `mesh`.
    Mesh(MeshEntry),
    /// `service-resolver`.
    ServiceResolver(ServiceResolver),
    /// `service-splitter`.
    ServiceSplitter(ServiceSplitter),
    /// `service-router`.
    ServiceRouter(ServiceRouter),
    /// `service-intentions`.
    ServiceIntentions(ServiceIntentions),
}

impl ConfigEntry {
    /// The kind.
    pub fn kind(&self) -> EntryKind {
        match self {
            Self::ServiceDefaults(_) => EntryKind::ServiceDefaults,
            Self::ProxyDefaults(_) => EntryKind::ProxyDefaults,
            Self::Mesh(_) => EntryKind::Mesh,
            Self::ServiceResolver(_) => EntryKind::ServiceResolver,
            Self::ServiceSplitter(_) => EntryKind::ServiceSplitter,
            Self::ServiceRouter(_) => EntryKind::ServiceRouter,
            Self::ServiceIntentions(_) => EntryKind::ServiceIntentions,
        }
    }

    /// The name (`mesh` for the mesh entry, which may omit it).
    pub fn name(&self) -> &str {
        match self {
            Self::ServiceDefaults(e) => &e.name,
            Self::ProxyDefaults(e) => &e.name,
            Self::Mesh(e) => e.name.as_deref().unwrap_or("mesh"),
            Self::ServiceResolver(e) => &e.name,
            Self::ServiceSplitter(e) => &e.name,
            Self::ServiceRouter(e) => &e.name,
            Self::ServiceIntentions(e) => &e.name,
        }
    }

    /// The common fields.
    pub fn meta(&self) -> &EntryMeta {
        match self {
            Self::ServiceDefaults(e) => &e.meta,
            Self::ProxyDefaults(e) => &e.meta,
            Self::Mesh(e) => &e.meta,
            Self::ServiceResolver(e) => &e.meta,
            Self::ServiceSplitter(e) => &e.meta,
            Self::ServiceRouter(e) => &e.meta,
            Self::ServiceIntentions(e) => &e.meta,
        }
    }

    /// The common fields, mutably.
    pub fn meta_mut(&mut self) -> &mut EntryMeta {
        match self {
            Self::ServiceDefaults(e) => &mut e.meta,
            Self::ProxyDefaults(e) => &mut e.meta,
            Self::Mesh(e) => &mut e.meta,
            Self::ServiceResolver(e) => &mut e.meta,
            Self::ServiceSplitter(e) => &mut e.meta,
            Self::ServiceRouter(e) => &mut e.meta,
            Self::ServiceIntentions(e) => &mut e.meta,
        }
    }

    /// The `ModifyIndex` Consul returned, for `?cas=`.
    pub fn modify_index(&self) -> Option<u64> {
        self.meta().modify_index
    }

    /// The entry as a write body: the indexes removed.
    #[must_use]
    pub fn into_write_body(mut self) -> Self {
        self.meta_mut().strip_indexes();
        self
    }

    /// The JSON body (`Kind` included).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Parses a JSON body.
    ///
    /// # Errors
    /// When `Kind` is missing or unknown, or a field has the wrong type.
    pub fn from_json(value: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

impl Serialize for ConfigEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let body = match self {
            Self::ServiceDefaults(e) => serde_json::to_value(e),
            Self::ProxyDefaults(e) => serde_json::to_value(e),
            Self::Mesh(e) => serde_json::to_value(e),
            Self::ServiceResolver(e) => serde_json::to_value(e),
            Self::ServiceSplitter(e) => serde_json::to_value(e),
            Self::ServiceRouter(e) => serde_json::to_value(e),
            Self::ServiceIntentions(e) => serde_json::to_value(e),
        }
        .map_err(serde::ser::Error::custom)?;
        let Value::Object(fields) = body else {
            return Err(serde::ser::Error::custom(
                "a config entry serializes to an object",
            ));
        };
        let mut out = serde_json::Map::with_capacity(fields.len() + 1);
        out.insert("Kind".into(), Value::String(self.kind().as_str().into()));
        out.extend(fields);
        out.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ConfigEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut fields = serde_json::Map::<String, Value>::deserialize(d)?;
        let kind = match fields.remove("Kind") {
            Some(Value::String(k)) => k.parse::<EntryKind>().map_err(D::Error::custom)?,
            _ => return Err(D::Error::custom("a config entry needs a string Kind")),
        };
        let v = Value::Object(fields);
        let e = D::Error::custom;
        Ok(match kind {
            EntryKind::ServiceDefaults => Self::ServiceDefaults(serde_json::from_value(v).map_err(e)?),
            EntryKind::ProxyDefaults => Self::ProxyDefaults(serde_json::from_value(v).map_err(e)?),
            EntryKind::Mesh => Self::Mesh(serde_json::from_value(v).map_err(e)?),
            EntryKind::ServiceResolver => Self::ServiceResolver(serde_json::from_value(v).map_err(e)?),
            EntryKind::ServiceSplitter => Self::ServiceSplitter(serde_json::from_value(v).map_err(e)?),
            EntryKind::ServiceRouter => Self::ServiceRouter(serde_json::from_value(v).map_err(e)?),
            EntryKind::ServiceIntentions => Self::ServiceIntentions(serde_json::from_value(v).map_err(e)?),
        })
    }
}
