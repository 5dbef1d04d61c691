//! Running a backend in a binary: start, wait for SIGINT/SIGTERM, stop.

use crate::{Backend, Error};

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
///
/// # Errors
///
/// [`Error::Signal`] when the signal handlers cannot be installed.
pub async fn shutdown_signal() -> Result<(), Error> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map_err(Error::Signal),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(Error::Signal)
    }
}

/// Starts the backend, waits for SIGINT or SIGTERM, then stops it.
///
/// Unlike Backstage, a failed start-up is not left running: the error is logged, whatever
/// started is stopped, and the error returned, so a binary can exit non-zero.
///
/// # Errors
///
/// The start-up error, or a signal-handling error.
pub async fn run(backend: Backend) -> Result<(), Error> {
    if let Err(error) = backend.start().await {
        tracing::error!("Backend failed to start: {error}");
        backend.stop().await?;
        return Err(error);
    }
    let signal = shutdown_signal().await;
    tracing::info!("Shutting down");
    backend.stop().await?;
    signal
}
