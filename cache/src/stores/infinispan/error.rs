//! [`HotRodError`]: what can go wrong talking Hot Rod.

use std::io;
use std::time::Duration;

/// A failed Hot Rod operation or an invalid `backend.cache.infinispan` block.
///
/// The cache store turns every runtime error into a miss (`get`) or a no-op (`set`, `delete`)
/// one level up; [`HotRodClient`](super::HotRodClient) users see them directly.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HotRodError {
    /// A config value is missing, of the wrong type, or names something we do not support.
    #[error("invalid config at '{key}': {message}")]
    Config {
        /// The full config key (`backend.cache.infinispan.ssl.trustCerts`).
        key: String,
        /// What is wrong and what to change.
        message: String,
    },

    /// A config value could not be read (wrong type, bad key).
    #[error(transparent)]
    ConfigRead(#[from] backstage_backend_common::Error),

    /// A TCP connection (or the TLS handshake on it) could not be established.
    #[error("cannot connect to {server}")]
    Connect {
        /// `host:port`.
        server: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Reading from or writing to an established connection failed (the server went away).
    #[error("connection to {server} failed")]
    Io {
        /// `host:port`.
        server: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The server sent bytes that are not a valid Hot Rod reply (or one larger than our limits).
    #[error("malformed reply from {server}: {message}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// What was wrong with it.
        message: String,
    },

    /// The server answered with an error response (opcode `0x50`).
    #[error("{server} answered with error status {status:#04x}: {message}")]
    Server {
        /// `host:port`.
        server: String,
        /// The Hot Rod status byte (`0x81`–`0x88`).
        status: u8,
        /// The server's message.
        message: String,
    },

    /// SASL authentication failed or could not be negotiated.
    #[error("authentication with {server} failed: {message}")]
    Auth {
        /// `host:port`.
        server: String,
        /// Why.
        message: String,
    },

    /// The operation did not finish within the configured time.
    #[error("operation timed out after {timeout:?}")]
    Timeout {
        /// The time budget that ran out.
        timeout: Duration,
    },

    /// Every server is down or backing off after recent failures.
    #[error("no Infinispan server is available ({detail})")]
    Unavailable {
        /// Which servers were tried or skipped.
        detail: String,
        /// The last error seen, if any server was tried.
        #[source]
        last: Option<Box<HotRodError>>,
    },

    /// The request cannot be sent (a key or value over the size limit).
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// Why.
        message: String,
    },

    /// A stored value cannot be read in the configured value media type (not UTF-8, not JSON).
    #[error("stored value cannot be decoded: {message}")]
    InvalidValue {
        /// Why.
        message: String,
    },

    /// The client was closed.
    #[error("the Hot Rod client is closed")]
    Closed,
}

impl HotRodError {
    /// Whether retrying later can help: true for network trouble, timeouts and busy servers,
    /// false for configuration, authentication and protocol errors.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            HotRodError::Connect { .. }
            | HotRodError::Io { .. }
            | HotRodError::Timeout { .. }
            | HotRodError::Unavailable { .. } => true,
            // Timed out, node suspected, illegal lifecycle state (a node shutting down).
            HotRodError::Server { status, .. } => matches!(status, 0x86..=0x88),
            HotRodError::Config { .. }
            | HotRodError::ConfigRead(_)
            | HotRodError::Protocol { .. }
            | HotRodError::Auth { .. }
            | HotRodError::InvalidRequest { .. }
            | HotRodError::InvalidValue { .. }
            | HotRodError::Closed => false,
        }
    }
}

impl From<HotRodError> for crate::Error {
    fn from(error: HotRodError) -> Self {
        match error {
            HotRodError::Config { key, message } => crate::Error::InvalidConfig { key, message },
            HotRodError::ConfigRead(source) => crate::Error::Config(source),
            other => crate::Error::StoreSetup {
                store: "infinispan",
                message: chain(&other),
            },
        }
    }
}

/// An error and its sources, `: `-separated.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
