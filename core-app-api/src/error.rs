//! The crate's error type.

use std::fmt;
use std::sync::Arc;

use crate::startup::BackendStartupError;
use crate::wiring::WiringError;

/// A service could not be built. Cloneable: a failed construction stays cached and every
/// dependent sees the same error.
#[derive(Clone, Debug)]
pub struct ServiceError {
    message: Arc<str>,
}

impl ServiceError {
    pub(crate) fn new(message: impl Into<Arc<str>>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServiceError {}

/// Everything that can go wrong assembling, starting or stopping a backend.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend's wiring is wrong; nothing was initialised. Lists every problem.
    #[error(transparent)]
    Wiring(#[from] WiringError),

    /// Plugins or modules failed to start and their failure is not permitted by
    /// `backend.startup` (spec §2.9). Call [`Backend::stop`](crate::Backend::stop) to shut
    /// down what did start.
    #[error(transparent)]
    Startup(#[from] BackendStartupError),

    /// An eagerly created root service, a feature loader's dependency, or a service a host
    /// asked for could not be built.
    #[error(transparent)]
    Service(#[from] ServiceError),

    /// A feature loader failed.
    #[error("Feature loader {description} failed; caused by {source}")]
    Loader {
        /// `created at '<file>:<line>:<col>'`.
        description: String,
        /// What the loader returned.
        #[source]
        source: backstage_core_plugin_api::BoxError,
    },

    /// `start()` was called twice.
    #[error("Backend has already started")]
    AlreadyStarted,

    /// `start()` was called after `stop()`.
    #[error("Backend has already stopped")]
    AlreadyStopped,

    /// `add()` was called after `start()`.
    #[error("feature can not be added after the backend has started")]
    AddAfterStart,

    /// A host asked for a plugin-scoped service through a root-only API.
    #[error("service '{id}' is plugin scoped; ask for it from a plugin")]
    NotRootScoped {
        /// The service id.
        id: &'static str,
    },

    /// The backend was built in embedded mode, or has not started, so it has no address.
    #[error("the backend is not listening (embedded mode, or not started)")]
    NotListening,

    /// Waiting for a shutdown signal failed.
    #[error("could not listen for shutdown signals: {0}")]
    Signal(#[source] std::io::Error),
}
