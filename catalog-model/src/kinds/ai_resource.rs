use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of an AiResource, any variant (alpha). Variant fields stay in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiResourceSpec {
    /// Variant, e.g. `skill`, `rule`, `plugin`, `marketplace`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Lifecycle.
    pub lifecycle: String,
    /// Owner ref.
    pub owner: String,
    /// System ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec` of an AiResource `skill` (alpha).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillAiResourceSpec {
    /// Common fields.
    #[serde(flatten)]
    pub base: AiResourceSpecBase,
    /// Disciplines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disciplines: Option<Vec<String>>,
    /// Categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<String>>,
    /// AiResource refs this skill depends on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Space-separated tool list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_tools: Option<String>,
    /// License.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Compatibility note, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec` of an AiResource `rule` (alpha).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleAiResourceSpec {
    /// Common fields.
    #[serde(flatten)]
    pub base: AiResourceSpecBase,
    /// Category.
    pub category: String,
    /// Rationale.
    pub rationale: String,
    /// Disciplines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disciplines: Option<Vec<String>>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec` of an AiResource `plugin` (alpha).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginAiResourceSpec {
    /// Common fields.
    #[serde(flatten)]
    pub base: AiResourceSpecBase,
    /// Skill refs (may be empty).
    pub skills: Vec<String>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec` of an AiResource `marketplace` (alpha).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketplaceAiResourceSpec {
    /// Common fields.
    #[serde(flatten)]
    pub base: AiResourceSpecBase,
    /// Plugin refs.
    pub plugins: Vec<String>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The fields every AiResource variant shares.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiResourceSpecBase {
    /// Variant.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Lifecycle.
    pub lifecycle: String,
    /// Owner ref.
    pub owner: String,
    /// System ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}
