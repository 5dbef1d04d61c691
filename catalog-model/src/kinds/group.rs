use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a Group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSpec {
    /// Group type, e.g. `team`, `business-unit`.
    #[serde(rename = "type")]
    pub group_type: String,
    /// Profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<GroupProfile>,
    /// Parent group ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Child group refs; required, may be empty.
    pub children: Vec<String>,
    /// Member user refs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec.profile` of a Group.
pub type GroupProfile = super::Profile;
