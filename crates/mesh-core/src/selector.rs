//! Which instance labels say what an instance is: its service (`app`) and its version
//! (`version`), the keys Istio's and Linkerd's own docs use. Clusters that label with
//! `app.kubernetes.io/name` and `app.kubernetes.io/version` set their own.

use serde::{Deserialize, Serialize};

use crate::Error;

/// The label keys that select a service's instances and a version's.
///
/// ```
/// use mesh_core::SelectorLabels;
/// let defaults = SelectorLabels::default();
/// assert_eq!((defaults.app(), defaults.version()), ("app", "version"));
/// let k8s = SelectorLabels::new("app.kubernetes.io/name", "app.kubernetes.io/version").unwrap();
/// assert_eq!(k8s.version(), "app.kubernetes.io/version");
/// assert!(SelectorLabels::new("app", "Version Label").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "Keys", into = "Keys")]
pub struct SelectorLabels {
    app: String,
    version: String,
}

/// The serialized form, checked on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    app: String,
    version: String,
}

impl TryFrom<Keys> for SelectorLabels {
    type Error = Error;
    fn try_from(k: Keys) -> Result<Self, Error> {
        Self::new(&k.app, &k.version)
    }
}

impl From<SelectorLabels> for Keys {
    fn from(s: SelectorLabels) -> Self {
        Self {
            app: s.app,
            version: s.version,
        }
    }
}

impl Default for SelectorLabels {
    fn default() -> Self {
        Self {
            app: "app".to_owned(),
            version: "version".to_owned(),
        }
    }
}

impl SelectorLabels {
    /// Both keys, each a Kubernetes label key (`[prefix/]name`), and different.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `app_label` or `version_label`.
    pub fn new(app: &str, version: &str) -> Result<Self, Error> {
        for (field, key) in [("app_label", app), ("version_label", version)] {
            if !is_label_key(key) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "{key:?} is not a Kubernetes label key ([prefix/]name, name at most 63 characters of letters, digits, '-', '_' and '.')"
                    ),
                ));
            }
        }
        if app == version {
            return Err(Error::invalid("version_label", "must differ from the app label"));
        }
        Ok(Self {
            app: app.to_owned(),
            version: version.to_owned(),
        })
    }

    /// The key naming an instance's service.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The key naming an instance's version.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// A label value, or the name part of a key: at most 63 characters of letters, digits, `-`, `_`
/// and `.`, alphanumeric at both ends.
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain of at most 253
/// characters.
pub fn is_label_key(key: &str) -> bool {
    let subdomain =
        |s: &str| s.len() <= 253 && s.split('.').all(|l| crate::names::check_rfc1123_label(l).is_ok());
    match key.split_once('/') {
        Some((prefix, name)) => !prefix.is_empty() && subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}
