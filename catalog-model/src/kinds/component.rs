use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a Component.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentSpec {
    /// Component type, e.g. `service`, `website`, `library`.
    #[serde(rename = "type")]
    pub component_type: String,
    /// Lifecycle, e.g. `experimental`, `production`, `deprecated`.
    pub lifecycle: String,
    /// Owner ref (default kind Group).
    pub owner: String,
    /// System ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Parent component ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcomponent_of: Option<String>,
    /// Provided API refs (default kind API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provides_apis: Option<Vec<String>>,
    /// Consumed API refs (default kind API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumes_apis: Option<Vec<String>>,
    /// Dependency refs (kind required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Reverse dependency refs (not in the schema; kind required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_of: Option<Vec<String>>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
