//! [`Credentials`] and [`Principal`]: who made a request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::Value;

use crate::errors::ApiError;

/// Who a request comes from (Backstage's `BackstagePrincipalTypes`).
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// A signed-in user. (This crate does not verify user tokens yet, so it never produces
    /// this variant itself; hosts with their own user authentication can.)
    User {
        /// The user's entity ref, such as `user:default/jane`.
        user_entity_ref: String,
    },
    /// Another service: an external caller with a static token (`subject` from config) or,
    /// in hosts that verify them, a plugin.
    Service {
        /// The subject, such as `external:ci` or `plugin:catalog`.
        subject: String,
        /// The token's `accessRestrictions` for this plugin, as Backstage's
        /// `BackstagePrincipalAccessRestrictions` JSON (`permissionNames`,
        /// `permissionAttributes`); `None` when unrestricted.
        access_restrictions: Option<Value>,
    },
    /// No credentials (a path with an `unauthenticated` policy, or the default policy
    /// disabled).
    None,
}

/// The credentials of a request (Backstage's `BackstageCredentials`): its [`Principal`].
///
/// It never holds a token, so its `Debug` output cannot leak one.
///
/// The credentials barrier of a [`PluginRouter`](crate::http::PluginRouter) stores them in
/// the request extensions; handlers take them as an extractor. Without them (a router used
/// outside a plugin router) the extractor rejects with `401 AuthenticationError`
/// `Missing credentials`.
///
/// ```
/// use backstage_backend_common::auth::{Credentials, Principal};
///
/// async fn handler(credentials: Credentials) -> String {
///     match credentials.principal {
///         Principal::User { user_entity_ref } => user_entity_ref,
///         Principal::Service { subject, .. } => subject,
///         Principal::None => "anonymous".to_owned(),
///     }
/// }
/// let _router: axum::Router = axum::Router::new().route("/me", axum::routing::get(handler));
/// assert!(Credentials::none().is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    /// Who made the request.
    pub principal: Principal,
}

impl Credentials {
    /// Credentials without a principal.
    #[must_use]
    pub fn none() -> Self {
        Self {
            principal: Principal::None,
        }
    }

    /// Service credentials for `subject`, without access restrictions.
    #[must_use]
    pub fn service(subject: impl Into<String>) -> Self {
        Self {
            principal: Principal::Service {
                subject: subject.into(),
                access_restrictions: None,
            },
        }
    }

    /// User credentials for `user_entity_ref`.
    #[must_use]
    pub fn user(user_entity_ref: impl Into<String>) -> Self {
        Self {
            principal: Principal::User {
                user_entity_ref: user_entity_ref.into(),
            },
        }
    }

    /// Whether there is no principal.
    #[must_use]
    pub fn is_none(&self) -> bool {
        self.principal == Principal::None
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Credentials>()
            .cloned()
            .ok_or_else(|| ApiError::authentication("Missing credentials"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[tokio::test]
    async fn extractor_reads_the_extension_or_rejects_with_401() {
        let (mut parts, ()) = Request::new(()).into_parts();
        let err = Credentials::from_request_parts(&mut parts, &())
            .await
            .expect_err("missing");
        assert_eq!(err.status(), 401);
        assert_eq!(err.to_string(), "AuthenticationError: Missing credentials");

        parts.extensions.insert(Credentials::service("external:ci"));
        let found = Credentials::from_request_parts(&mut parts, &())
            .await
            .expect("present");
        assert_eq!(found, Credentials::service("external:ci"));
    }

    #[test]
    fn constructors() {
        assert!(Credentials::none().is_none());
        assert!(!Credentials::user("user:default/jane").is_none());
        assert_eq!(
            format!("{:?}", Credentials::user("user:default/jane")),
            "Credentials { principal: User { user_entity_ref: \"user:default/jane\" } }"
        );
    }
}
