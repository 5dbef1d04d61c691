use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a System.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemSpec {
    /// Owner ref.
    pub owner: String,
    /// Domain ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// System type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub system_type: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
