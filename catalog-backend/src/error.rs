//! [`CatalogError`]: the one error type of this crate.

use backstage_core_plugin_api::ApiError;

/// Everything that can go wrong in the catalog, with the HTTP status it maps to when it
/// reaches the REST API (see [`CatalogError::into_api_error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// Malformed input from a caller: a filter, a cursor, a request body (400, `InputError`).
    #[error("{0}")]
    Input(String),
    /// Something named by the request does not exist (404, `NotFoundError`).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409, `ConflictError`).
    #[error("{0}")]
    Conflict(String),
    /// The operation is not allowed (403, `NotAllowedError`), e.g. in read-only mode.
    #[error("{0}")]
    NotAllowed(String),
    /// Invalid `catalog.*` configuration; the message names the key.
    #[error("invalid catalog configuration: {0}")]
    Config(String),
    /// The database failed; `context` says what the catalog was doing.
    #[error("catalog database error while {context}: {source}")]
    Database {
        /// What the catalog was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Any other internal failure (500).
    #[error("{0}")]
    Internal(String),
}

impl CatalogError {
    /// Wraps a driver error with what the catalog was doing.
    pub fn database(context: impl Into<String>, source: sqlx::Error) -> Self {
        Self::Database {
            context: context.into(),
            source,
        }
    }

    /// The error as the REST API renders it (Backstage's error names and statuses).
    pub fn into_api_error(self) -> ApiError {
        match self {
            Self::Input(m) => ApiError::input(m),
            Self::NotFound(m) => ApiError::not_found(m),
            Self::Conflict(m) => ApiError::conflict(m),
            Self::NotAllowed(m) => ApiError::not_allowed(m),
            Self::Config(m) => ApiError::internal(format!("invalid catalog configuration: {m}")),
            Self::Database { context, source } => {
                ApiError::internal(format!("database error while {context}")).with_cause(source)
            }
            Self::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        error.into_api_error()
    }
}

/// `Result` with [`CatalogError`].
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
