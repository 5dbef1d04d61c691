//! `core.auth` (spec §3.11), as far as this backend implements it.

pub use backstage_backend_common::auth::{AuthPolicyAllow, Credentials, Principal};
use backstage_backend_common::errors::ApiError;

/// Validates tokens. Plugin routes already pass through a credentials barrier that does
/// this; handlers read the result with the `Credentials` extractor.
///
/// The stock implementation accepts static external-access tokens
/// (`backend.auth.externalAccess` entries of type `static`). User tokens issued by
/// Backstage's auth backend and plugin-to-plugin tokens are not implemented yet.
pub trait AuthService: Send + Sync {
    /// The credentials a bearer token stands for.
    ///
    /// # Errors
    ///
    /// `AuthenticationError` (401) for an unknown or malformed token.
    fn authenticate(&self, token: &str) -> Result<Credentials, ApiError>;
}
