//! [`PluginRouter`]: one plugin's `httpRouter` (spec §3.5).

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::ServiceExt;
use tracing::Instrument;

use super::error_handler::complete_error;
use super::lifecycle::LifecycleGate;
use super::util::{json_response, route_matches};
use crate::auth::{AuthBarrier, AuthPolicyAllow};
use crate::{Error, Result};

/// The plugin's public service keys endpoint.
pub(crate) const JWKS_PATH: &str = "/.backstage/auth/v1/jwks.json";

/// One plugin's router, mounted by the caller at `/api/<pluginId>` (spec §3.5). Clones share
/// the handlers and policies.
///
/// The chain of [`router`](Self::router), in order:
///
/// 1. `GET /.backstage/auth/v1/jwks.json` → `{"keys":[]}` (no credentials, no gate; this crate
///    issues no service tokens, so there are no keys);
/// 2. the [`LifecycleGate`]: requests wait up to the pause timeout for the plugin to start;
/// 3. the credentials barrier ([`AuthBarrier`]), which puts the caller's
///    [`Credentials`](crate::auth::Credentials) into the request extensions;
/// 4. the handlers, in [`use_router`](Self::use_router) order;
/// 5. a 404 with an empty body for paths no handler has;
/// 6. the error handler: [`ApiError`](crate::errors::ApiError) responses get Backstage's body
///    with `request.url` relative to the mount point (`/err/input`, not
///    `/api/demo/err/input`), and statuses ≥ 500 are logged.
///
/// Every request runs inside a `tracing` span with the field `plugin = <id>`. Handlers added
/// after [`router`](Self::router) was called are served too.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use backstage_backend_common::auth::{AuthBarrier, Credentials, Principal, TokenAuthenticator};
/// use backstage_backend_common::config::ConfigReader;
/// use backstage_backend_common::http::{LifecycleGate, PluginRouter};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let config = ConfigReader::from_value(serde_json::json!({ "backend": { "auth": {
///     "externalAccess": [{ "type": "static", "options": { "token": "s3cr3t-token", "subject": "ci" } }],
/// } } }));
/// let authenticator = Arc::new(TokenAuthenticator::from_config(&config)?);
/// let gate = LifecycleGate::new();
/// let plugin = PluginRouter::new("demo", gate.clone(), AuthBarrier::new(authenticator, false), Duration::from_secs(5));
/// plugin.use_router(Router::new().route("/whoami", get(|credentials: Credentials| async move {
///     match credentials.principal {
///         Principal::Service { subject, .. } => subject,
///         _ => "someone else".to_owned(),
///     }
/// })));
/// gate.open();
///
/// let request = Request::get("/whoami").header("authorization", "Bearer s3cr3t-token").body(Body::empty())?;
/// let response = plugin.router().oneshot(request).await?;
/// assert_eq!(response.status(), 200);
///
/// let request = Request::get("/whoami").body(Body::empty())?;
/// assert_eq!(plugin.router().oneshot(request).await?.status(), 401);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PluginRouter {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    plugin_id: String,
    gate: LifecycleGate,
    barrier: AuthBarrier,
    pause_timeout: Duration,
    handlers: RwLock<Router>,
}

impl fmt::Debug for PluginRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginRouter")
            .field("plugin_id", &self.inner.plugin_id)
            .field("pause_timeout", &self.inner.pause_timeout)
            .finish_non_exhaustive()
    }
}

impl PluginRouter {
    /// A plugin router for `plugin_id`, holding requests at `gate` for up to `pause_timeout`
    /// (see [`startup_request_pause_timeout`](super::startup_request_pause_timeout)) and
    /// checking credentials with `barrier`. Access-restricted static tokens are checked
    /// against `plugin_id`.
    #[must_use]
    pub fn new(
        plugin_id: &str,
        gate: LifecycleGate,
        barrier: AuthBarrier,
        pause_timeout: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(PluginInner {
                plugin_id: plugin_id.to_owned(),
                gate,
                barrier: barrier.for_plugin(plugin_id),
                pause_timeout,
                handlers: RwLock::new(Router::new()),
            }),
        }
    }

    /// The plugin id.
    #[must_use]
    pub fn plugin_id(&self) -> &str {
        &self.inner.plugin_id
    }

    /// Adds handlers (Backstage's `httpRouter.use`): `router`'s routes are merged with those
    /// added before; paths are relative to the plugin's mount point.
    ///
    /// Routes that overlap routes added before (same path and method), or a second custom
    /// fallback, are not added: the problem is logged at `error` level. Use
    /// [`try_use_router`](Self::try_use_router) to get it as an error instead.
    pub fn use_router(&self, router: Router) {
        if let Err(err) = self.try_use_router(router) {
            tracing::error!(plugin = self.inner.plugin_id.as_str(), "{err}");
        }
    }

    /// As [`use_router`](Self::use_router), reporting overlaps. (axum refuses them by
    /// panicking; the panic is caught, but the panic hook still prints its message.)
    ///
    /// # Errors
    ///
    /// [`Error::RouteConflict`] when axum refuses to merge the routes (overlapping routes or
    /// two custom fallbacks); the handlers stay as they were.
    pub fn try_use_router(&self, router: Router) -> Result<()> {
        let mut handlers = self
            .inner
            .handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let current = handlers.clone();
        match catch_unwind(AssertUnwindSafe(move || current.merge(router))) {
            Ok(merged) => {
                *handlers = merged;
                Ok(())
            }
            Err(payload) => Err(Error::RouteConflict {
                plugin_id: self.inner.plugin_id.clone(),
                message: panic_message(payload.as_ref()),
            }),
        }
    }

    /// Relaxes the credentials requirement for `path` (Backstage's `httpRouter.addAuthPolicy`);
    /// see [`AuthBarrier::add_policy`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidAuthPolicyPath`] for a path `path-to-regexp` rejects.
    pub fn add_auth_policy(&self, path: &str, allow: AuthPolicyAllow) -> Result<()> {
        self.inner.barrier.add_policy(path, allow)
    }

    /// The whole chain as an axum router, to mount at `/api/<pluginId>` with
    /// [`RootRouter::mount`](super::RootRouter::mount).
    pub fn router(&self) -> Router {
        let inner = Arc::clone(&self.inner);
        Router::new().fallback_service(tower::service_fn(move |request: Request| {
            let inner = Arc::clone(&inner);
            async move {
                let span = tracing::info_span!("plugin", plugin = inner.plugin_id.as_str());
                Ok::<_, Infallible>(inner.handle(request).instrument(span).await)
            }
        }))
    }
}

impl PluginInner {
    async fn handle(&self, mut request: Request) -> Response {
        let method = request.method().clone();
        let path = request.uri().path();
        if (method == Method::GET || method == Method::HEAD) && route_matches(path, JWKS_PATH) {
            return json_response(StatusCode::OK, &json!({ "keys": [] }));
        }
        let uri = request.uri().clone();
        let response = match self.gate.wait(self.pause_timeout).await {
            Err(err) => err.into_response(),
            Ok(()) => match self.barrier.check(request.headers(), request.uri().path()) {
                Err(err) => err.into_response(),
                Ok(credentials) => {
                    request.extensions_mut().insert(credentials);
                    let handlers = self
                        .handlers
                        .read()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    match handlers.oneshot(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                }
            },
        };
        complete_error(response, &method, &uri, None)
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    super::util::panic_message(payload)
        .unwrap_or_else(|| "the routes could not be merged".to_owned())
}

#[cfg(test)]
mod tests;
