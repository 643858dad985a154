//! Pieces shared by several config entries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Fields this library does not model, kept verbatim so that they round-trip.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// The fields every config entry has besides `Kind` and `Name`: tenancy, metadata and the raft
/// indexes Consul returns on reads (`ModifyIndex` is what `?cas=` compares against).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntryMeta {
    /// The Enterprise namespace. Never sent to Consul CE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Enterprise admin partition. Never sent to Consul CE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Free-form string metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    /// The raft index that created the entry (reads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_index: Option<u64>,
    /// The raft index of the last change (reads only); the `?cas=` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_index: Option<u64>,
}

impl EntryMeta {
    /// Drops what only reads carry (the indexes), leaving what a write sends.
    pub fn strip_indexes(&mut self) {
        self.create_index = None;
        self.modify_index = None;
    }
}

/// `MeshGateway` settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MeshGatewayConfig {
    /// `local`, `remote`, `none` or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of `EnvoyExtensions` (`builtin/lua`, `builtin/fault-injection`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvoyExtension {
    /// The extension name.
    pub name: String,
    /// Whether Envoy must fail when the extension cannot be applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// The extension's own arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Extra>,
    /// Unmodelled fields (`ConsulVersion`, `EnvoyVersion`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A header or query-parameter matcher (routers and intentions share the shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeaderMatcher {
    /// The header or parameter name.
    pub name: String,
    /// Matches when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    /// Matches this exact value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// Matches this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Matches this suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Matches values containing this (intentions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Matches this RE2 expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Case-insensitive comparison (intentions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_case: Option<bool>,
    /// Inverts the match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invert: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl HeaderMatcher {
    /// A matcher with only a name; set one condition on it.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// Serde helpers for a split weight: written as an integer when whole (`90`), otherwise as a float
/// (`99.1`), as Consul itself writes it.
pub(crate) mod weight {
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` passes a reference.
    pub(crate) fn serialize<S: Serializer>(w: &f64, s: S) -> Result<S::Ok, S::Error> {
        if w.fract() == 0.0 && *w >= 0.0 && *w <= 100.0 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked: whole, 0..=100
            s.serialize_u64(*w as u64)
        } else {
            s.serialize_f64(*w)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        f64::deserialize(d)
    }
}

/// Serde helper for an optional duration field: read from a Go duration string (`"30s"`, as
/// written) or from integer nanoseconds (`30000000000`, as the agent answers
/// `PassiveHealthCheck.Interval` and `BaseEjectionTime`), kept as a duration string.
pub(crate) mod duration {
    use serde::{Deserialize, Deserializer, de::Error as _};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Spelling {
        Text(String),
        Nanos(u64),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(
            match Option::<Spelling>::deserialize(d)
                .map_err(|_| D::Error::custom("a duration is a Go duration string or integer nanoseconds"))?
            {
                None => None,
                Some(Spelling::Text(s)) => Some(s),
                Some(Spelling::Nanos(n)) => Some(mesh_core::units::format_duration(
                    std::time::Duration::from_nanos(n),
                )),
            },
        )
    }
}
