use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a Resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpec {
    /// Resource type, e.g. `database`, `s3-bucket`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Owner ref.
    pub owner: String,
    /// Dependency refs (kind required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Reverse dependency refs (not in the schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_of: Option<Vec<String>>,
    /// System ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
