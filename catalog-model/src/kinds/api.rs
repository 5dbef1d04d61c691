use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of an API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpec {
    /// API type, e.g. `openapi`, `asyncapi`, `graphql`, `grpc`.
    #[serde(rename = "type")]
    pub api_type: String,
    /// Lifecycle.
    pub lifecycle: String,
    /// Owner ref.
    pub owner: String,
    /// The API definition document, as text.
    pub definition: String,
    /// System ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec` of an MCP-server API (alpha; `type: mcp-server`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpServerApiSpec {
    /// Always `mcp-server`.
    #[serde(rename = "type")]
    pub api_type: String,
    /// Lifecycle.
    pub lifecycle: String,
    /// Owner ref.
    pub owner: String,
    /// System ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// At least one remote.
    pub remotes: Vec<McpServerRemote>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One remote of an MCP server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct McpServerRemote {
    /// Transport, e.g. `streamable-http`, `stdio`, `sse`.
    #[serde(rename = "type")]
    pub remote_type: String,
    /// URL, or a command for stdio.
    pub url: String,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
