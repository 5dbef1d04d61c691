//! Request credentials for plugin routers (spec §3.5 step 4 and §3.11): who is calling, the
//! static external access tokens of `backend.auth.externalAccess`, and the per-plugin
//! credentials barrier with its auth policies.
//!
//! ```
//! use std::sync::Arc;
//! use axum::http::{HeaderMap, HeaderValue, header};
//! use backstage_backend_common::auth::{AuthBarrier, AuthPolicyAllow, Principal, TokenAuthenticator};
//! use backstage_backend_common::config::ConfigReader;
//!
//! let config = ConfigReader::from_value(serde_json::json!({ "backend": { "auth": {
//!     "externalAccess": [
//!         { "type": "static", "options": { "token": "ci-token-123", "subject": "github-actions" } },
//!     ],
//! } } }));
//! let authenticator = Arc::new(TokenAuthenticator::from_config(&config)?);
//! let barrier = AuthBarrier::from_config(&config, authenticator)?.for_plugin("catalog");
//! barrier.add_policy("/health", "unauthenticated".parse::<AuthPolicyAllow>()?)?;
//!
//! let mut headers = HeaderMap::new();
//! assert_eq!(barrier.check(&headers, "/health").unwrap().principal, Principal::None);
//! assert_eq!(barrier.check(&headers, "/entities").unwrap_err().status(), 401);
//!
//! headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer ci-token-123"));
//! let credentials = barrier.check(&headers, "/entities").unwrap();
//! assert!(matches!(
//!     credentials.principal,
//!     Principal::Service { ref subject, access_restrictions: None } if subject == "github-actions"
//! ));
//! # Ok::<(), backstage_backend_common::Error>(())
//! ```
//!
//! ## Scope
//!
//! Only **static external access tokens** are verified. Out of scope, for now:
//!
//! - **user tokens** (JWTs issued by Backstage's auth backend) and the limited-access user
//!   cookie (`user-cookie` policies, `/.backstage/auth/v1/cookie`): a user token is answered
//!   `401 Illegal token`, like any token no handler accepts;
//! - **plugin-to-plugin service tokens** (and so the plugin's public keys: the JWKS endpoint
//!   of a plugin router lists none);
//! - the `legacy` and `jwks` external access types and `backend.auth.keys`: a warning is
//!   logged at start-up and their tokens are refused (401), so a Backstage `app-config.yaml`
//!   that lists them still loads, and nothing is let in that we cannot verify.

mod barrier;
mod credentials;
mod policy;
mod token;

pub use barrier::AuthBarrier;
pub use credentials::{Credentials, Principal};
pub use policy::AuthPolicyAllow;
pub use token::{TokenAuthenticator, TokenValidator};
