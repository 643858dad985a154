//! The shapes in which users write authorization sources and targets.
//!
//! Two forms are accepted, and nothing else: the flat form (`{principals: [...]}`) and the spec's
//! nested form (`{source: {principals: [...]}}`, `{operation: {methods: [...]}}`). Unknown keys are
//! errors, and so is a mix of both forms in one entry: an entry that silently lost its lists would
//! match every peer or every request.

use serde::Deserialize;

use crate::{AuthzSource, AuthzTarget, Error, HttpMethod, Namespace, Port, Principal};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFields {
    #[serde(default)]
    principals: Vec<Principal>,
    #[serde(default)]
    namespaces: Vec<Namespace>,
}

/// An [`AuthzSource`] as written: flat, or nested under `source`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceInput {
    #[serde(default)]
    source: Option<SourceFields>,
    #[serde(default)]
    principals: Vec<Principal>,
    #[serde(default)]
    namespaces: Vec<Namespace>,
}

impl TryFrom<SourceInput> for AuthzSource {
    type Error = Error;
    fn try_from(input: SourceInput) -> Result<Self, Error> {
        match input.source {
            Some(_) if !input.principals.is_empty() || !input.namespaces.is_empty() => Err(Error::invalid(
                "from",
                "an entry is either {source: {...}} or flat lists, not both",
            )),
            Some(nested) => Ok(AuthzSource {
                principals: nested.principals,
                namespaces: nested.namespaces,
            }),
            None => Ok(AuthzSource {
                principals: input.principals,
                namespaces: input.namespaces,
            }),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFields {
    #[serde(default)]
    methods: Vec<HttpMethod>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    ports: Vec<Port>,
}

/// An [`AuthzTarget`] as written: flat, or nested under `operation`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetInput {
    #[serde(default)]
    operation: Option<TargetFields>,
    #[serde(default)]
    methods: Vec<HttpMethod>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    ports: Vec<Port>,
}

impl TryFrom<TargetInput> for AuthzTarget {
    type Error = Error;
    fn try_from(input: TargetInput) -> Result<Self, Error> {
        let flat_set = !input.methods.is_empty() || !input.paths.is_empty() || !input.ports.is_empty();
        match input.operation {
            Some(_) if flat_set => Err(Error::invalid(
                "to",
                "an entry is either {operation: {...}} or flat lists, not both",
            )),
            Some(nested) => Ok(AuthzTarget {
                methods: nested.methods,
                paths: nested.paths,
                ports: nested.ports,
            }),
            None => Ok(AuthzTarget {
                methods: input.methods,
                paths: input.paths,
                ports: input.ports,
            }),
        }
    }
}
