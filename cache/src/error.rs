//! The crate's error type.
//!
//! Plugins rarely see it: a failing store never fails a cache call (a `get` misses, a
//! `set`/`delete` does nothing, see [`CacheClient`](crate::CacheClient)). It is returned by
//! configuration and construction ([`CacheManager::from_config`](crate::CacheManager::from_config),
//! the stores' constructors), by the typed helpers of
//! [`CacheServiceExt`](crate::CacheServiceExt) when a value does not (de)serialize, and by a
//! failing loader of [`get_or_compute`](crate::CacheServiceExt::get_or_compute).

use backstage_core_plugin_api::BoxError;

use crate::store::StoreError;

/// What went wrong.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `backend.cache.store` names a store this crate does not know.
    #[error("Unknown cache store: {store}")]
    UnknownStore {
        /// The configured value.
        store: String,
    },

    /// The configured store exists but its cargo feature is not enabled in this build.
    #[error(
        "cache store '{store}' is not built in: enable the `{store}` feature of backstage-cache"
    )]
    StoreNotBuilt {
        /// The store (and feature) name.
        store: &'static str,
    },

    /// A config value has the wrong shape or an invalid value.
    #[error("invalid cache config at '{key}': {message}")]
    InvalidConfig {
        /// The full config path, e.g. `backend.cache.defaultTtl`.
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },

    /// Reading the config failed (wrong type, invalid duration, …).
    #[error("invalid cache config")]
    Config(#[source] backstage_backend_common::Error),

    /// A store could not be created (a bad connection URL, a missing TLS setup, …).
    #[error("cannot create the {store} cache store: {message}")]
    StoreSetup {
        /// The store.
        store: &'static str,
        /// What failed.
        message: String,
    },

    /// A store operation failed. Only surfaced where a caller asked for it (the
    /// [`CacheStore`](crate::CacheStore) layer); the plugin-facing client logs and swallows it.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// A value could not be converted to or from JSON (typed helpers).
    #[error("cache value is not valid for the requested type")]
    Json(#[source] serde_json::Error),

    /// The loader of `get_or_compute` failed with an error that was not the caller's own type.
    #[error("cache loader failed")]
    Loader(#[source] BoxError),
}

impl Error {
    /// Whether trying again later can succeed (a store that is down), as opposed to a problem
    /// that needs a change of config or code.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Store(_) | Error::Loader(_))
    }

    /// An [`Error::InvalidConfig`] at `key`.
    pub fn invalid_config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl From<backstage_backend_common::Error> for Error {
    fn from(error: backstage_backend_common::Error) -> Self {
        Error::Config(error)
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::Json(error)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
