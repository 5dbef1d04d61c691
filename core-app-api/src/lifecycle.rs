//! The lifecycle services (spec §3.3), provided by the backend itself.
//!
//! Startup and before-shutdown hooks of one phase run concurrently; shutdown hooks run one at
//! a time, last added first (so a resource is torn down before what it was built on), each
//! bounded by a timeout. Failures and timeouts are logged and never stop the phase.

use std::sync::Mutex;
use std::time::Duration;

use backstage_core_plugin_api::Error as ApiBoundaryError;
use backstage_core_plugin_api::services::lifecycle::{
    Hook, LifecycleService, RootLifecycleService,
};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Default bound for one shutdown hook (`backend.lifecycle.shutdownHookTimeout`).
pub const DEFAULT_SHUTDOWN_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    started: bool,
    before_shutdown_started: bool,
    shutdown_started: bool,
    startup: Vec<Hook>,
    before_shutdown: Vec<Hook>,
    shutdown: Vec<Hook>,
}

/// One lifecycle: the root one (`plugin_id` `None`) or a plugin's.
pub(crate) struct LifecycleImpl {
    plugin_id: Option<String>,
    state: Mutex<State>,
    shutdown_hook_timeout: Mutex<Duration>,
}

impl LifecycleImpl {
    pub(crate) fn new(plugin_id: Option<String>) -> Self {
        Self {
            plugin_id,
            state: Mutex::default(),
            shutdown_hook_timeout: Mutex::new(DEFAULT_SHUTDOWN_HOOK_TIMEOUT),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set_shutdown_hook_timeout(&self, timeout: Duration) {
        *self
            .shutdown_hook_timeout
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = timeout;
    }

    fn span(&self) -> tracing::Span {
        match &self.plugin_id {
            Some(id) => tracing::info_span!("plugin", plugin = %id),
            None => tracing::Span::none(),
        }
    }

    async fn run_concurrently(&self, hooks: Vec<Hook>, failure: &'static str) {
        let mut set = JoinSet::new();
        for hook in hooks {
            set.spawn(hook().instrument(self.span()));
        }
        while let Some(outcome) = set.join_next().await {
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    let _span = self.span().entered();
                    tracing::error!(error = %error, "{failure}, {error}");
                }
                Err(join) => {
                    let _span = self.span().entered();
                    tracing::error!("{failure}, the hook panicked: {join}");
                }
            }
        }
    }

    /// Runs the startup hooks (once).
    pub(crate) async fn startup(&self) {
        let hooks = {
            let mut state = self.state();
            if state.started {
                return;
            }
            state.started = true;
            std::mem::take(&mut state.startup)
        };
        let message = if self.plugin_id.is_some() {
            "Plugin startup hook failed"
        } else {
            "Startup hook failed"
        };
        self.run_concurrently(hooks, message).await;
    }

    /// Runs the before-shutdown hooks (once).
    pub(crate) async fn before_shutdown(&self) {
        let hooks = {
            let mut state = self.state();
            if state.before_shutdown_started {
                return;
            }
            state.before_shutdown_started = true;
            std::mem::take(&mut state.before_shutdown)
        };
        self.run_concurrently(hooks, "Before shutdown hook failed")
            .await;
    }

    /// Runs the shutdown hooks (once), last added first, each bounded by the timeout.
    pub(crate) async fn shutdown(&self) {
        let hooks = {
            let mut state = self.state();
            if state.shutdown_started {
                return;
            }
            state.shutdown_started = true;
            state.before_shutdown_started = true;
            std::mem::take(&mut state.shutdown)
        };
        let timeout = *self
            .shutdown_hook_timeout
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for hook in hooks.into_iter().rev() {
            // Spawned, so a panicking hook is contained.
            let task = tokio::spawn(hook().instrument(self.span()));
            let abort = task.abort_handle();
            match tokio::time::timeout(timeout, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => {
                    let _span = self.span().entered();
                    tracing::error!(error = %error, "Shutdown hook failed, {error}");
                }
                Ok(Err(join)) => {
                    let _span = self.span().entered();
                    tracing::error!("Shutdown hook failed, the hook panicked: {join}");
                }
                Err(_) => {
                    abort.abort();
                    let _span = self.span().entered();
                    tracing::error!(
                        "Shutdown hook failed, it did not finish within {} ms",
                        timeout.as_millis()
                    );
                }
            }
        }
    }
}

impl LifecycleService for LifecycleImpl {
    fn add_startup_hook(&self, hook: Hook) -> Result<(), ApiBoundaryError> {
        let mut state = self.state();
        if state.started {
            return Err(ApiBoundaryError::HookAfterPhase(
                "Attempted to add startup hook after startup",
            ));
        }
        state.startup.push(hook);
        Ok(())
    }

    fn add_shutdown_hook(&self, hook: Hook) -> Result<(), ApiBoundaryError> {
        let mut state = self.state();
        if state.shutdown_started {
            return Err(ApiBoundaryError::HookAfterPhase(
                "Attempted to add shutdown hook after shutdown",
            ));
        }
        state.shutdown.push(hook);
        Ok(())
    }
}

impl RootLifecycleService for LifecycleImpl {
    fn add_before_shutdown_hook(&self, hook: Hook) -> Result<(), ApiBoundaryError> {
        let mut state = self.state();
        if state.before_shutdown_started {
            return Err(ApiBoundaryError::HookAfterPhase(
                "Attempt to add before shutdown hook after shutdown has started",
            ));
        }
        state.before_shutdown.push(hook);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstage_core_plugin_api::BoxError;
    use backstage_core_plugin_api::services::lifecycle::hook;
    use std::sync::Arc;

    fn recorder() -> (Arc<Mutex<Vec<&'static str>>>, impl Fn(&'static str) -> Hook) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let make = move |name: &'static str| {
            let l = l.clone();
            hook(move || async move {
                l.lock().unwrap().push(name);
                Ok::<_, BoxError>(())
            })
        };
        (log, make)
    }

    #[tokio::test]
    async fn shutdown_hooks_run_last_added_first_and_once() {
        let lifecycle = LifecycleImpl::new(Some("p".into()));
        let (log, make) = recorder();
        for name in ["db", "cache", "server"] {
            lifecycle.add_shutdown_hook(make(name)).unwrap();
        }
        lifecycle.shutdown().await;
        lifecycle.shutdown().await;
        assert_eq!(*log.lock().unwrap(), ["server", "cache", "db"]);
        let err = lifecycle.add_shutdown_hook(make("late")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Attempted to add shutdown hook after shutdown"
        );
    }

    #[tokio::test]
    async fn failing_and_hanging_hooks_do_not_stop_the_phase() {
        let lifecycle = LifecycleImpl::new(None);
        lifecycle.set_shutdown_hook_timeout(Duration::from_millis(50));
        let (log, make) = recorder();
        lifecycle.add_shutdown_hook(make("first")).unwrap();
        lifecycle
            .add_shutdown_hook(hook(|| async {
                std::future::pending::<()>().await;
                Ok::<_, BoxError>(())
            }))
            .unwrap();
        lifecycle
            .add_shutdown_hook(hook(|| async { Err::<(), BoxError>("boom".into()) }))
            .unwrap();
        lifecycle
            .add_shutdown_hook(Box::new(|| Box::pin(async { panic!("hook panicked") })))
            .unwrap();
        lifecycle.shutdown().await;
        assert_eq!(*log.lock().unwrap(), ["first"]);
    }

    #[tokio::test]
    async fn startup_hooks_run_once_and_late_additions_fail() {
        let lifecycle = LifecycleImpl::new(None);
        let (log, make) = recorder();
        lifecycle.add_startup_hook(make("a")).unwrap();
        lifecycle
            .add_startup_hook(hook(|| async { Err::<(), BoxError>("boom".into()) }))
            .unwrap();
        lifecycle.add_startup_hook(make("b")).unwrap();
        lifecycle.startup().await;
        lifecycle.startup().await;
        let mut seen = log.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, ["a", "b"]);
        assert_eq!(
            lifecycle
                .add_startup_hook(make("c"))
                .unwrap_err()
                .to_string(),
            "Attempted to add startup hook after startup"
        );
        lifecycle.before_shutdown().await;
        assert_eq!(
            lifecycle
                .add_before_shutdown_hook(make("d"))
                .unwrap_err()
                .to_string(),
            "Attempt to add before shutdown hook after shutdown has started"
        );
    }
}
