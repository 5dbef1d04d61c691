//! The plugin lifecycle gate of spec §3.5 step 3 and the `backend.lifecycle.*` durations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{ConfigReader, read_duration};
use crate::errors::ApiError;
use crate::{Error, Result};

/// Backstage's default `startupRequestPauseTimeout`.
pub const DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT: Duration = Duration::from_secs(5);

const STARTING: u8 = 0;
const STARTED: u8 = 1;
const CLOSED: u8 = 2;

/// Plugin lifecycle gate of spec §3.5 step 3: holds a plugin's requests until the plugin has
/// started.
///
/// [`new`](Self::new) is *starting*: [`wait`](Self::wait) pauses until [`open`](Self::open)
/// (the plugin's startup hooks ran) releases it, or fails with
/// `ServiceUnavailableError: Service has not started up yet` (503) after the timeout. After
/// [`close`](Self::close) (the plugin's shutdown hooks begin) every wait, including those
/// already waiting, fails at once with `ServiceUnavailableError: Service is shutting down`.
/// `open` after `close` has no effect. Clones share the state.
///
/// ```
/// use std::time::Duration;
/// use backstage_backend_common::http::LifecycleGate;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let gate = LifecycleGate::new();
/// let err = gate.wait(Duration::from_millis(1)).await.unwrap_err();
/// assert_eq!(err.to_string(), "ServiceUnavailableError: Service has not started up yet");
/// gate.open();
/// assert!(gate.wait(Duration::from_millis(1)).await.is_ok());
/// gate.close();
/// assert_eq!(gate.wait(Duration::ZERO).await.unwrap_err().status(), 503);
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LifecycleGate {
    inner: Arc<GateInner>,
}

#[derive(Debug)]
struct GateInner {
    /// The state, read without locking on every request.
    state: AtomicU8,
    /// Wakes the waiting requests.
    changes: watch::Sender<u8>,
}

impl Default for LifecycleGate {
    fn default() -> Self {
        Self::new()
    }
}

impl LifecycleGate {
    /// A gate in the *starting* state.
    #[must_use]
    pub fn new() -> Self {
        let (changes, _) = watch::channel(STARTING);
        Self {
            inner: Arc::new(GateInner {
                state: AtomicU8::new(STARTING),
                changes,
            }),
        }
    }

    /// The plugin started: releases the waiting requests and lets later ones through.
    pub fn open(&self) {
        if self
            .inner
            .state
            .compare_exchange(STARTING, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.inner.changes.send_replace(STARTED);
        }
    }

    /// The plugin is shutting down: fails the waiting requests and every later one.
    pub fn close(&self) {
        self.inner.state.store(CLOSED, Ordering::Release);
        self.inner.changes.send_replace(CLOSED);
    }

    /// Whether requests pass (the gate is open and not closed).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == STARTED
    }

    /// Waits until the gate lets the request through.
    ///
    /// # Errors
    ///
    /// A `ServiceUnavailableError` (503): `Service has not started up yet` when the gate is
    /// still starting after `timeout`, `Service is shutting down` when it is (or gets) closed.
    pub async fn wait(&self, timeout: Duration) -> Result<(), ApiError> {
        match self.inner.state.load(Ordering::Acquire) {
            STARTED => return Ok(()),
            CLOSED => return Err(shutting_down()),
            _ => {}
        }
        let mut changes = self.inner.changes.subscribe();
        let waited = tokio::time::timeout(timeout, changes.wait_for(|state| *state != STARTING));
        match waited.await {
            Ok(Ok(state)) if *state == STARTED => Ok(()),
            Ok(_) => Err(shutting_down()),
            Err(_elapsed) => match self.inner.state.load(Ordering::Acquire) {
                STARTED => Ok(()),
                CLOSED => Err(shutting_down()),
                _ => Err(ApiError::service_unavailable(
                    "Service has not started up yet",
                )),
            },
        }
    }
}

fn shutting_down() -> ApiError {
    ApiError::service_unavailable("Service is shutting down")
}

/// `backend.lifecycle.startupRequestPauseTimeout` (a duration, §4.6), 5 seconds when absent.
///
/// # Errors
///
/// The duration errors of [`read_duration`], and [`Error::DurationOutOfRange`].
pub fn startup_request_pause_timeout(config: &ConfigReader) -> Result<Duration, Error> {
    const KEY: &str = "backend.lifecycle.startupRequestPauseTimeout";
    if config.has(KEY)? {
        read_duration(config, KEY)?.to_std()
    } else {
        Ok(DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT)
    }
}

/// `backend.lifecycle.serverShutdownDelay` (a duration, §4.6), if set: how long the root
/// before-shutdown hook waits before the server stops accepting.
///
/// # Errors
///
/// The duration errors of [`read_duration`], and [`Error::DurationOutOfRange`].
pub fn server_shutdown_delay(config: &ConfigReader) -> Result<Option<Duration>, Error> {
    const KEY: &str = "backend.lifecycle.serverShutdownDelay";
    if config.has(KEY)? {
        read_duration(config, KEY)?.to_std().map(Some)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn waits_then_times_out_with_503() {
        let gate = LifecycleGate::new();
        let start = Instant::now();
        let err = gate
            .wait(Duration::from_secs(5))
            .await
            .expect_err("times out");
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        assert_eq!(err.status(), 503);
        assert_eq!(err.name(), "ServiceUnavailableError");
        assert_eq!(err.message(), "Service has not started up yet");
    }

    #[tokio::test(start_paused = true)]
    async fn open_releases_waiting_requests() {
        let gate = LifecycleGate::new();
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move {
                let start = Instant::now();
                let result = gate.wait(Duration::from_secs(5)).await;
                (result.is_ok(), start.elapsed())
            }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        gate.open();
        let (ok, elapsed) = waiting.await.expect("task");
        assert!(ok);
        assert_eq!(elapsed, Duration::from_secs(2));
        assert!(gate.is_open());
        // Once open, no waiting at all.
        let start = Instant::now();
        gate.wait(Duration::from_secs(5)).await.expect("open");
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn close_fails_waiting_and_later_requests_immediately() {
        let gate = LifecycleGate::new();
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.wait(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        let start = Instant::now();
        gate.close();
        let err = waiting.await.expect("task").expect_err("closed");
        assert_eq!(err.message(), "Service is shutting down");
        assert_eq!(start.elapsed(), Duration::ZERO);
        gate.open();
        let err = gate.wait(Duration::from_secs(5)).await.expect_err("closed");
        assert_eq!(err.message(), "Service is shutting down");
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(!gate.is_open());
    }

    #[test]
    fn lifecycle_durations_from_config() {
        let config = ConfigReader::from_value(json!({}));
        assert_eq!(
            startup_request_pause_timeout(&config).expect("default"),
            Duration::from_secs(5)
        );
        assert_eq!(server_shutdown_delay(&config).expect("absent"), None);

        let config = ConfigReader::from_value(json!({ "backend": { "lifecycle": {
            "startupRequestPauseTimeout": "PT1M",
            "serverShutdownDelay": { "seconds": 3 },
        } } }));
        assert_eq!(
            startup_request_pause_timeout(&config).expect("valid"),
            Duration::from_secs(60)
        );
        assert_eq!(
            server_shutdown_delay(&config).expect("valid"),
            Some(Duration::from_secs(3))
        );

        let config = ConfigReader::from_value(json!({ "backend": { "lifecycle": {
            "startupRequestPauseTimeout": "soon",
        } } }));
        let err = startup_request_pause_timeout(&config).expect_err("invalid");
        assert!(
            err.to_string()
                .starts_with("Invalid duration 'soon' in config at 'backend.lifecycle.startupRequestPauseTimeout'"),
            "{err}"
        );
    }
}
