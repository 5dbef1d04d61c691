use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a User.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSpec {
    /// Profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<UserProfile>,
    /// Group refs; required by the schema, may be empty.
    pub member_of: Vec<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec.profile` of a User.
pub type UserProfile = super::Profile;
