//! Running a backend in a binary: start, wait for SIGINT/SIGTERM, stop.

use crate::{Backend, Error};

/// Installed handlers for SIGINT (Ctrl-C) and SIGTERM. From the moment it exists, those
/// signals no longer end the process: [`recv`](Self::recv) reports them instead.
#[derive(Debug)]
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers.
    ///
    /// # Errors
    ///
    /// [`Error::Signal`] when they cannot be installed.
    pub fn install() -> Result<Self, Error> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).map_err(Error::Signal)?,
                terminate: signal(SignalKind::terminate()).map_err(Error::Signal)?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves on the next SIGINT or SIGTERM.
    ///
    /// # Errors
    ///
    /// [`Error::Signal`] when waiting fails (not on Unix).
    pub async fn recv(&mut self) -> Result<(), Error> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Ok(()),
                _ = self.terminate.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.map_err(Error::Signal)
        }
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM, for hosts that run their own server
/// (`axum::serve(..).with_graceful_shutdown(..)`).
///
/// # Errors
///
/// [`Error::Signal`] when the signal handlers cannot be installed.
pub async fn shutdown_signal() -> Result<(), Error> {
    ShutdownSignal::install()?.recv().await
}

/// Starts the backend, waits for SIGINT or SIGTERM, then stops it.
///
/// The handlers are installed before start-up, so a signal during start-up stops the backend
/// as soon as it has started. Unlike Backstage, a failed start-up is not left running: the
/// error is logged, whatever started is stopped, and the error returned, so a binary can exit
/// non-zero.
///
/// # Errors
///
/// The start-up error, or a signal-handling error.
pub async fn run(backend: Backend) -> Result<(), Error> {
    let mut signal = ShutdownSignal::install()?;
    if let Err(error) = backend.start().await {
        tracing::error!("Backend failed to start: {error}");
        backend.stop().await?;
        return Err(error);
    }
    let received = signal.recv().await;
    tracing::info!("Shutting down");
    backend.stop().await?;
    received
}
