//! [`RootRouter`]: Backstage's `rootHttpRouter` (spec §3.4).

use std::convert::Infallible;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError, RwLock};

use axum::Router;
use axum::extract::Request;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tower::ServiceExt;

use super::access_log::RequestInfo;
use super::cors::Cors;
use super::error_handler::complete_error;
use super::health::{HealthCheck, HealthRoutes};
use super::security::SecurityHeaders;
use super::util::{is_js_space, not_found, strip_mount};
use crate::config::ConfigReader;
use crate::errors::ApiError;
use crate::{Error, Result};

/// The default index path.
pub const DEFAULT_INDEX_PATH: &str = "/api/app";

/// Options of [`RootRouter::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootRouterOptions {
    /// The mount path whose router also serves every request that is not under `/api/` and
    /// matches no mount (the frontend app). `None` disables the fallback (Backstage's
    /// `indexPath: false`); `Some("")` is an error. Default: `Some("/api/app")`.
    pub index_path: Option<String>,
}

impl Default for RootRouterOptions {
    fn default() -> Self {
        Self {
            index_path: Some(DEFAULT_INDEX_PATH.to_owned()),
        }
    }
}

/// The root router (spec §3.4): the chain every request passes, and the table of routers
/// mounted at root paths. Clones share the table.
///
/// The chain of [`router`](Self::router), in order: security headers, CORS, the request log,
/// the health endpoints, the mounted routers (with the index fallback), a 404 with an empty
/// body, and the error handler. Routers mounted after [`router`](Self::router) was called are
/// served too.
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use backstage_backend_common::config::ConfigReader;
/// use backstage_backend_common::http::{HealthState, RootRouter, RootRouterOptions};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let config = ConfigReader::from_value(serde_json::json!({}));
/// let root = RootRouter::new(&config, Arc::new(HealthState::new()), RootRouterOptions::default())?;
/// let app = root.router();
/// root.mount("/api/catalog", Router::new().route("/entities", get(|| async { "[]" })))?;
///
/// let request = Request::get("/api/catalog/entities").body(Body::empty())?;
/// let response = app.clone().oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["x-content-type-options"], "nosniff");
///
/// let err = root.mount("/API/Catalog/", Router::new()).unwrap_err();
/// assert_eq!(err.to_string(), "Path /API/Catalog/ conflicts with the existing path /api/catalog");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RootRouter {
    inner: Arc<RootInner>,
}

struct RootInner {
    index_path: Option<String>,
    table: RwLock<Arc<MountTable>>,
    security: SecurityHeaders,
    cors: Option<Cors>,
    health: HealthRoutes,
}

#[derive(Clone, Default)]
struct MountTable {
    mounts: Vec<Mount>,
    index: Option<Router>,
}

#[derive(Clone)]
struct Mount {
    /// The path as given to `mount`.
    path: String,
    /// The path without trailing slashes: what requests are matched against.
    prefix: String,
    router: Router,
}

impl fmt::Debug for RootRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootRouter")
            .field("index_path", &self.inner.index_path)
            .field("mounted", &self.mounted_paths())
            .finish_non_exhaustive()
    }
}

impl RootRouter {
    /// A root router configured from `backend.cors`, `backend.csp`, `backend.referrer` and
    /// `backend.health.headers`, answering health probes from `health`.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyIndexPath`] for `index_path: Some("")`; config errors naming the key:
    /// reader errors ([`Error::InvalidType`], …), [`Error::InvalidHttpConfig`] (helmet's CSP
    /// and referrer policy checks, invalid CORS numbers), [`Error::InvalidHealthHeader`].
    pub fn new(
        config: &ConfigReader,
        health: Arc<dyn HealthCheck>,
        options: RootRouterOptions,
    ) -> Result<Self> {
        if options.index_path.as_deref() == Some("") {
            return Err(Error::EmptyIndexPath);
        }
        Ok(Self {
            inner: Arc::new(RootInner {
                index_path: options.index_path,
                table: RwLock::new(Arc::new(MountTable::default())),
                security: SecurityHeaders::from_config(config)?,
                cors: Cors::from_config(config)?,
                health: HealthRoutes::new(config, health)?,
            }),
        })
    }

    /// Mounts `router` at `path` (Backstage's `rootHttpRouter.use`). Requests at or under the
    /// path (compared case-insensitively, on segment boundaries) go to `router`, which sees the
    /// path below the mount point (`/api/catalog/entities?x=1` → `/entities?x=1`; the mount
    /// point itself → `/`). Mount paths are literal (no parameters).
    ///
    /// # Errors
    ///
    /// [`Error::RootRouterPathEmpty`] for a path of only `/` and white space;
    /// [`Error::RootRouterPathConflict`] when the path, with trailing slashes replaced by one
    /// and lower-cased, is a prefix of an existing one or the other way round (`/api/catalog`
    /// conflicts with `/api/catalog/sub`, `/api` and `/API/CATALOG/`, not with
    /// `/api/catalog-x`).
    pub fn mount(&self, path: &str, router: Router) -> Result<()> {
        if path.chars().all(|c| c == '/' || is_js_space(c)) {
            return Err(Error::RootRouterPathEmpty);
        }
        let mut table = self
            .inner
            .table
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let normalized = normalize(path);
        if let Some(existing) = table.mounts.iter().find(|mount| {
            let other = normalize(&mount.path);
            other.starts_with(&normalized) || normalized.starts_with(&other)
        }) {
            return Err(Error::RootRouterPathConflict {
                path: path.to_owned(),
                existing: existing.path.clone(),
            });
        }
        let mut next = MountTable::clone(&table);
        if self.inner.index_path.as_deref() == Some(path) {
            next.index = Some(router.clone());
        }
        next.mounts.push(Mount {
            path: path.to_owned(),
            prefix: path.trim_end_matches('/').to_owned(),
            router,
        });
        *table = Arc::new(next);
        Ok(())
    }

    /// The mounted paths, in mount order.
    #[must_use]
    pub fn mounted_paths(&self) -> Vec<String> {
        self.table()
            .mounts
            .iter()
            .map(|mount| mount.path.clone())
            .collect()
    }

    /// The whole chain as an axum router, to pass to [`spawn_server`](super::spawn_server).
    /// It serves the routers mounted so far and those mounted later.
    pub fn router(&self) -> Router {
        let inner = Arc::clone(&self.inner);
        Router::new().fallback_service(tower::service_fn(move |request: Request| {
            let inner = Arc::clone(&inner);
            async move { Ok::<_, Infallible>(inner.handle(request).await) }
        }))
    }

    fn table(&self) -> Arc<MountTable> {
        self.inner.table()
    }
}

/// `trimEnd(path, '/') + '/'`, lower-cased.
fn normalize(path: &str) -> String {
    format!("{}/", path.trim_end_matches('/')).to_lowercase()
}

impl RootInner {
    fn table(&self) -> Arc<MountTable> {
        Arc::clone(&self.table.read().unwrap_or_else(PoisonError::into_inner))
    }

    async fn handle(&self, request: Request) -> Response {
        let is_options = request.method() == Method::OPTIONS;
        let cors = self
            .cors
            .as_ref()
            .and_then(|cors| Some((cors, cors.check(request.headers())?)));
        if let Some((cors, origin)) = &cors
            && is_options
            && cors.ends_preflight()
        {
            let mut response = cors.preflight_response(origin, request.headers());
            self.security.apply(response.headers_mut());
            return response;
        }
        let mut cors_request = HeaderMap::new();
        if is_options
            && let Some(requested) = request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        {
            cors_request.insert(header::ACCESS_CONTROL_REQUEST_HEADERS, requested.clone());
        }
        // Only capture what the log needs when it will be written.
        let info = tracing::enabled!(tracing::Level::INFO).then(|| {
            RequestInfo::capture(
                request.method(),
                request.uri(),
                request.version(),
                request.headers(),
            )
        });
        let method = request.method().clone();
        let uri = request.uri().clone();
        let response = match self.health.respond(request.method(), request.uri().path()) {
            Some(response) => response,
            // A panicking handler answers 500 instead of dropping the connection.
            None => match AssertUnwindSafe(self.dispatch(request))
                .catch_unwind()
                .await
            {
                Ok(response) => response,
                Err(payload) => {
                    let message = super::util::panic_message(payload.as_ref())
                        .unwrap_or_else(|| "unknown panic payload".to_owned());
                    tracing::error!(panic = %message, "Request handler panicked: {method} {uri}");
                    ApiError::internal("Internal server error").into_response()
                }
            },
        };
        let mut response = complete_error(response, &method, &uri, Some("rootHttpRouter"));
        if let Some((cors, origin)) = &cors {
            cors.apply(origin, is_options, &cors_request, response.headers_mut());
        }
        self.security.apply(response.headers_mut());
        if let Some(info) = info {
            info.log(&response);
        }
        response
    }

    /// The named routes, the index fallback and the final 404.
    async fn dispatch(&self, request: Request) -> Response {
        let table = self.table();
        let path = request.uri().path();
        let matched = table.mounts.iter().find_map(|mount| {
            strip_mount(path, &mount.prefix).map(|rest| (mount, rest.to_owned()))
        });
        if let Some((mount, rest)) = matched {
            return match with_path(request, &rest) {
                Some(request) => serve(mount.router.clone(), request).await,
                None => StatusCode::BAD_REQUEST.into_response(),
            };
        }
        // Requests under `/api/` never reach the index router.
        if strip_mount(path, "/api").is_some() {
            return not_found();
        }
        match &table.index {
            Some(index) => serve(index.clone(), request).await,
            None => not_found(),
        }
    }
}

async fn serve(router: Router, request: Request) -> Response {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The request with its path replaced (the query kept); `None` if that is not a valid URI.
fn with_path(request: Request, path: &str) -> Option<Request> {
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut uri = parts.uri.into_parts();
    uri.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    parts.uri = Uri::from_parts(uri).ok()?;
    Some(Request::from_parts(parts, body))
}

#[cfg(test)]
mod tests;
