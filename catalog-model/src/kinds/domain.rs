use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a Domain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainSpec {
    /// Owner ref.
    pub owner: String,
    /// Parent domain ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain_of: Option<String>,
    /// Domain type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub domain_type: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
