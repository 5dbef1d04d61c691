use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a Location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationSpec {
    /// Location type shared by all targets; defaults to the type of the location the entity
    /// was read from.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub location_type: Option<String>,
    /// One target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// More targets, processed after `target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// Whether a missing target is an error (default `required`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<LocationPresence>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LocationSpec {
    /// `target` followed by `targets`, in processing order.
    pub fn all_targets(&self) -> impl Iterator<Item = &str> {
        self.target
            .iter()
            .filter(|t| !t.is_empty())
            .chain(self.targets.iter().flatten())
            .map(String::as_str)
    }
}

/// `spec.presence` of a Location.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationPresence {
    /// A missing target is an error.
    #[default]
    Required,
    /// A missing target is ignored.
    Optional,
}
