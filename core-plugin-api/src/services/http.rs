//! `core.httpRouter`, `core.rootHttpRouter` and `core.rootHealth` (spec §3.4–3.6).

use axum::Router;
use backstage_backend_common::auth::AuthPolicyAllow;
use backstage_backend_common::http::HealthResponse;

use crate::Error;

/// A plugin's HTTP router, mounted at `/api/<pluginId>`.
///
/// Requests wait for the plugin to start (up to `backend.lifecycle.startupRequestPauseTimeout`,
/// then 503), need credentials unless a policy allows otherwise, and run inside the plugin's
/// logging span. Handlers can extract `Credentials` and return `ApiError` with `?`.
pub trait HttpRouterService: Send + Sync {
    /// Adds routes; their paths are relative to `/api/<pluginId>`. Hand over a `Router<()>`
    /// with its state applied.
    fn use_router(&self, router: Router);

    /// Relaxes the credentials requirement for paths under `path` (a route pattern such as
    /// `/health` or `/static/:id`; `/` or `*` for everything).
    ///
    /// # Errors
    ///
    /// An invalid path.
    fn add_auth_policy(&self, path: &str, allow: AuthPolicyAllow) -> Result<(), Error>;
}

/// The backend's top-level router.
pub trait RootHttpRouterService: Send + Sync {
    /// Mounts `router` at `path`; handlers see the path below the mount point.
    ///
    /// # Errors
    ///
    /// `Root router path may not be empty`, or `Path <new> conflicts with the existing path
    /// <old>` when one path is a prefix of the other (case-insensitive).
    fn use_router(&self, path: &str, router: Router) -> Result<(), Error>;

    /// The whole backend as one axum router (health endpoints, every mounted route, the
    /// middleware chain), for a host to serve or nest. Routes mounted later are served too.
    fn router(&self) -> Router;

    /// The address the server listens on, when this service runs one.
    fn local_addr(&self) -> Option<std::net::SocketAddr> {
        None
    }
}

/// Liveness and readiness answers for `/.backstage/health/v1/*`.
pub trait RootHealthService: Send + Sync {
    /// `GET /.backstage/health/v1/liveness`.
    fn liveness(&self) -> HealthResponse;
    /// `GET /.backstage/health/v1/readiness`.
    fn readiness(&self) -> HealthResponse;
}
