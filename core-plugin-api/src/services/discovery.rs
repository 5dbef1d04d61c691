//! `core.discovery` (spec §3.7).

use async_trait::async_trait;
use backstage_backend_common::errors::ApiError;

/// Where plugins are reachable. Ask before every request: the answer may change.
#[async_trait]
pub trait DiscoveryService: Send + Sync {
    /// Base URL for backend-to-backend calls, without a trailing slash
    /// (`http://localhost:7007/api/catalog`).
    ///
    /// # Errors
    ///
    /// When no URL can be determined for the plugin.
    async fn base_url(&self, plugin_id: &str) -> Result<String, ApiError>;

    /// Base URL as reachable from browsers and webhooks (`<backend.baseUrl>/api/<pluginId>`).
    ///
    /// # Errors
    ///
    /// When no URL can be determined for the plugin.
    async fn external_base_url(&self, plugin_id: &str) -> Result<String, ApiError>;
}
