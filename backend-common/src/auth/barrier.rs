//! [`AuthBarrier`]: the per-plugin credentials barrier of spec §3.5 step 4.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use axum::http::{HeaderMap, header};

#[cfg(any(doc, test))]
use super::TokenAuthenticator;
use super::policy::PathPolicy;
use super::{AuthPolicyAllow, Credentials, TokenValidator};
use crate::Result;
use crate::config::ConfigReader;
use crate::errors::ApiError;
use crate::http::util::is_js_space;

/// Per-plugin credentials barrier (spec §3.5 step 4), as Backstage's
/// `createCredentialsBarrier`. Clones share the policies; use one barrier per plugin.
///
/// Every request must carry valid credentials (`Authorization: Bearer <token>`, the scheme
/// matched case-insensitively) unless its path (relative to the plugin) is covered by an
/// `unauthenticated` policy, or the default policy is disabled
/// (`backend.auth.dangerouslyDisableDefaultAuthPolicy`). A policy path `/` or `*` covers every
/// path; any other is a `path-to-regexp` route pattern matched case-insensitively as a prefix on
/// segment boundaries (`/hello` covers `/hello` and `/hello/x`, not `/helloworld`;
/// `/static/:id` does not cover `/static`).
///
/// Where credentials are not required, a request without a token (or with a token that does
/// not verify) gets [`Principal::None`](super::Principal::None); where they are, a missing
/// token is `401 AuthenticationError` `Missing credentials` and a bad one the error of
/// [`TokenAuthenticator::authenticate_for_plugin`].
///
/// `user-cookie` policies are recorded and their paths validated, but the limited-access user
/// cookie is not supported: on those paths a bearer token is still required.
///
/// ```
/// use std::sync::Arc;
/// use axum::http::HeaderMap;
/// use backstage_backend_common::auth::{AuthBarrier, AuthPolicyAllow, Principal, TokenAuthenticator};
///
/// let barrier = AuthBarrier::new(Arc::new(TokenAuthenticator::empty()), false);
/// barrier.add_policy("/public", AuthPolicyAllow::Unauthenticated)?;
/// let headers = HeaderMap::new();
/// assert_eq!(barrier.check(&headers, "/public/logo.svg").unwrap().principal, Principal::None);
/// let err = barrier.check(&headers, "/private").unwrap_err();
/// assert_eq!((err.status(), err.message()), (401, "Missing credentials"));
/// # Ok::<(), backstage_backend_common::Error>(())
/// ```
#[derive(Clone)]
pub struct AuthBarrier {
    inner: Arc<BarrierInner>,
    /// The plugin whose access restrictions apply, once known.
    plugin_id: Option<Arc<str>>,
}

struct BarrierInner {
    authenticator: Arc<dyn TokenValidator>,
    disable_default_policy: bool,
    policies: RwLock<Policies>,
}

#[derive(Default)]
struct Policies {
    unauthenticated: Vec<PathPolicy>,
    user_cookie: Vec<PathPolicy>,
}

impl fmt::Debug for AuthBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policies = self
            .inner
            .policies
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("AuthBarrier")
            .field("plugin_id", &self.plugin_id)
            .field("disable_default_policy", &self.inner.disable_default_policy)
            .field("unauthenticated_policies", &policies.unauthenticated.len())
            .field("user_cookie_policies", &policies.user_cookie.len())
            .finish_non_exhaustive()
    }
}

impl AuthBarrier {
    /// A barrier checking tokens with `authenticator` (a [`TokenAuthenticator`], or a
    /// backend's own auth service); with `disable_default_policy` every request passes (and
    /// policies are ignored).
    #[must_use]
    pub fn new(authenticator: Arc<dyn TokenValidator>, disable_default_policy: bool) -> Self {
        Self {
            inner: Arc::new(BarrierInner {
                authenticator,
                disable_default_policy,
                policies: RwLock::new(Policies::default()),
            }),
            plugin_id: None,
        }
    }

    /// A barrier reading `backend.auth.dangerouslyDisableDefaultAuthPolicy`.
    ///
    /// # Errors
    ///
    /// Reader errors for a value that is not a boolean.
    pub fn from_config(
        config: &ConfigReader,
        authenticator: Arc<dyn TokenValidator>,
    ) -> Result<Self> {
        let disable = config
            .optional_boolean("backend.auth.dangerouslyDisableDefaultAuthPolicy")?
            .unwrap_or(false);
        Ok(Self::new(authenticator, disable))
    }

    /// The same barrier (sharing its policies) checking access-restricted tokens against
    /// `plugin_id`. [`PluginRouter::new`](crate::http::PluginRouter::new) calls this.
    #[must_use]
    pub fn for_plugin(&self, plugin_id: &str) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            plugin_id: Some(Arc::from(plugin_id)),
        }
    }

    /// Whether the default policy is disabled.
    #[must_use]
    pub fn is_default_policy_disabled(&self) -> bool {
        self.inner.disable_default_policy
    }

    /// Adds a policy for `path` (Backstage's `addAuthPolicy`). A no-op when the default policy
    /// is disabled, as in Backstage.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidAuthPolicyPath`](crate::Error::InvalidAuthPolicyPath) for a path `path-to-regexp` rejects.
    pub fn add_policy(&self, path: &str, allow: AuthPolicyAllow) -> Result<()> {
        if self.inner.disable_default_policy {
            return Ok(());
        }
        let policy = PathPolicy::new(path)?;
        let mut policies = self
            .inner
            .policies
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match allow {
            AuthPolicyAllow::Unauthenticated => policies.unauthenticated.push(policy),
            AuthPolicyAllow::UserCookie => policies.user_cookie.push(policy),
        }
        Ok(())
    }

    /// The credentials of a request to `path_in_plugin` (the path relative to the plugin's
    /// mount point, without query) with `headers`.
    ///
    /// # Errors
    ///
    /// `401 AuthenticationError` `Missing credentials` without a token where one is required,
    /// and the errors of [`TokenValidator::authenticate_for_plugin`] for a bad one.
    pub fn check(
        &self,
        headers: &HeaderMap,
        path_in_plugin: &str,
    ) -> Result<Credentials, ApiError> {
        let token = bearer_token(headers);
        let required = !self.inner.disable_default_policy && {
            let policies = self
                .inner
                .policies
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            !policies
                .unauthenticated
                .iter()
                .any(|policy| policy.matches(path_in_plugin))
        };
        let plugin_id = self.plugin_id.as_deref();
        match (token, required) {
            (None, true) => Err(ApiError::authentication("Missing credentials")),
            (Some(token), true) => self
                .inner
                .authenticator
                .authenticate_for_plugin(token, plugin_id),
            (None, false) => Ok(Credentials::none()),
            (Some(token), false) => Ok(self
                .inner
                .authenticator
                .authenticate_for_plugin(token, plugin_id)
                .unwrap_or_else(|_| Credentials::none())),
        }
    }
}

/// The token of `Authorization: Bearer <token>` (Backstage's `/^Bearer[ ]+(\S+)$/i`).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let scheme = value.get(..6)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let rest = value.get(6..)?;
    let token = rest.trim_start_matches(' ');
    if token.len() == rest.len() || token.is_empty() || token.chars().any(is_js_space) {
        return None;
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::auth::Principal;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn authenticator() -> Arc<TokenAuthenticator> {
        let config = ConfigReader::from_value(json!({ "backend": { "auth": { "externalAccess": [
            { "type": "static", "options": { "token": "good-token", "subject": "ci" } },
            { "type": "static", "options": { "token": "catalog-only", "subject": "restricted" },
              "accessRestrictions": [{ "plugin": "catalog" }] },
        ] } } }));
        Arc::new(TokenAuthenticator::from_config(&config).expect("valid"))
    }

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(value).expect("ascii"),
            );
        }
        headers
    }

    #[test]
    fn bearer_token_parsing() {
        assert_eq!(bearer_token(&headers(Some("Bearer abc"))), Some("abc"));
        assert_eq!(bearer_token(&headers(Some("bearer   abc"))), Some("abc"));
        assert_eq!(bearer_token(&headers(Some("BEARER abc"))), Some("abc"));
        assert_eq!(bearer_token(&headers(Some("Bearerabc"))), None);
        assert_eq!(bearer_token(&headers(Some("Bearer "))), None);
        assert_eq!(bearer_token(&headers(Some("Bearer a b"))), None);
        assert_eq!(bearer_token(&headers(Some("Basic abc"))), None);
        assert_eq!(bearer_token(&headers(None)), None);
    }

    #[test]
    fn default_policy_requires_credentials() {
        let barrier = AuthBarrier::new(authenticator(), false);
        let err = barrier.check(&headers(None), "/").expect_err("missing");
        assert_eq!(err.status(), 401);
        assert_eq!(err.to_string(), "AuthenticationError: Missing credentials");
        let err = barrier
            .check(&headers(Some("Bearer bad-token")), "/")
            .expect_err("bad");
        assert_eq!(err.to_string(), "AuthenticationError: Illegal token");
        // A malformed header counts as no token.
        let err = barrier
            .check(&headers(Some("Token good-token")), "/")
            .expect_err("missing");
        assert_eq!(err.message(), "Missing credentials");
        assert_eq!(
            barrier
                .check(&headers(Some("Bearer good-token")), "/")
                .expect("valid"),
            Credentials::service("ci")
        );
    }

    #[test]
    fn unauthenticated_policies() {
        let barrier = AuthBarrier::new(authenticator(), false);
        let none = headers(None);
        assert!(barrier.check(&none, "/public").is_err());
        barrier
            .add_policy("/public", AuthPolicyAllow::Unauthenticated)
            .expect("valid");
        assert_eq!(
            barrier.check(&none, "/public").expect("allowed").principal,
            Principal::None
        );
        assert!(barrier.check(&none, "/public/x").is_ok());
        assert!(barrier.check(&none, "/publicity").is_err());
        assert!(barrier.check(&none, "/").is_err());
        assert!(barrier.check(&none, "/other").is_err());
        // Valid tokens still give their credentials; bad ones give none.
        assert_eq!(
            barrier
                .check(&headers(Some("Bearer good-token")), "/public")
                .expect("allowed"),
            Credentials::service("ci")
        );
        assert!(
            barrier
                .check(&headers(Some("Bearer bad-token")), "/public")
                .expect("allowed")
                .is_none()
        );
        barrier
            .add_policy("/", AuthPolicyAllow::Unauthenticated)
            .expect("valid");
        assert!(barrier.check(&none, "/").is_ok());
        assert!(barrier.check(&none, "/other").is_ok());
    }

    #[test]
    fn user_cookie_policies_still_require_a_token() {
        let barrier = AuthBarrier::new(authenticator(), false);
        barrier
            .add_policy("/static", AuthPolicyAllow::UserCookie)
            .expect("valid");
        let mut cookie = headers(None);
        cookie.insert(header::COOKIE, HeaderValue::from_static("backstage-auth=x"));
        assert!(barrier.check(&cookie, "/static").is_err());
        assert!(
            barrier
                .check(&headers(Some("Bearer good-token")), "/static")
                .is_ok()
        );
    }

    #[test]
    fn disabled_default_policy_lets_everything_through() {
        let config = ConfigReader::from_value(json!({ "backend": { "auth": {
            "dangerouslyDisableDefaultAuthPolicy": true
        } } }));
        let barrier = AuthBarrier::from_config(&config, authenticator()).expect("valid");
        assert!(barrier.is_default_policy_disabled());
        assert!(
            barrier
                .check(&headers(None), "/anything")
                .expect("open")
                .is_none()
        );
        assert_eq!(
            barrier
                .check(&headers(Some("Bearer good-token")), "/")
                .expect("open"),
            Credentials::service("ci")
        );
        // Policies are ignored, even invalid ones.
        barrier
            .add_policy("/a(", AuthPolicyAllow::Unauthenticated)
            .expect("no-op");
    }

    #[test]
    fn access_restrictions_use_the_plugin_id() {
        let barrier = AuthBarrier::new(authenticator(), false);
        let token = headers(Some("Bearer catalog-only"));
        assert_eq!(
            barrier
                .for_plugin("todo")
                .check(&token, "/")
                .expect_err("restricted")
                .status(),
            403
        );
        assert!(barrier.for_plugin("catalog").check(&token, "/").is_ok());
        assert!(barrier.check(&token, "/").is_err());
    }

    #[test]
    fn invalid_policy_paths_are_errors() {
        let barrier = AuthBarrier::new(authenticator(), false);
        let err = barrier
            .add_policy("/a(", AuthPolicyAllow::Unauthenticated)
            .expect_err("invalid");
        assert!(matches!(err, Error::InvalidAuthPolicyPath { .. }));
    }
}
