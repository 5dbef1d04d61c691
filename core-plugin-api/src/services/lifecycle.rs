//! `core.lifecycle` and `core.rootLifecycle` (spec §3.3).

use std::future::Future;

use crate::factory::BoxFuture;
use crate::{BoxError, Error};

/// A lifecycle hook.
pub type Hook = Box<dyn FnOnce() -> BoxFuture<'static, Result<(), BoxError>> + Send>;

/// Wraps an async closure into a [`Hook`].
pub fn hook<F, Fut, E>(f: F) -> Hook
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Box::new(move || Box::pin(async move { f().await.map_err(Into::into) }))
}

/// A plugin's lifecycle: startup hooks run once the plugin and its modules initialised;
/// shutdown hooks when the backend stops.
///
/// Startup hooks of one phase run concurrently. Shutdown hooks run one at a time in reverse
/// order of registration (last added, first run), each bounded by
/// `backend.lifecycle.shutdownHookTimeout` (default 10 s); see the `core-app-api` docs for
/// why this differs from Backstage. A failing hook is logged and never stops the phase.
pub trait LifecycleService: Send + Sync {
    /// Adds a startup hook.
    ///
    /// # Errors
    ///
    /// `Attempted to add startup hook after startup`.
    fn add_startup_hook(&self, hook: Hook) -> Result<(), Error>;

    /// Adds a shutdown hook.
    ///
    /// # Errors
    ///
    /// `Attempted to add shutdown hook after shutdown`.
    fn add_shutdown_hook(&self, hook: Hook) -> Result<(), Error>;
}

/// The backend's lifecycle: startup hooks run after every plugin started; before-shutdown
/// hooks first when stopping (readiness turns 503), shutdown hooks last (the server closes).
pub trait RootLifecycleService: LifecycleService {
    /// Adds a before-shutdown hook.
    ///
    /// # Errors
    ///
    /// `Attempt to add before shutdown hook after shutdown has started`.
    fn add_before_shutdown_hook(&self, hook: Hook) -> Result<(), Error>;
}
