//! `run` stops the backend on SIGTERM. Its own test binary: once a SIGTERM handler is
//! installed, the signal no longer kills the process, which must not leak into other tests.

#![cfg(unix)]
// Test helpers outside `#[test]` functions panic on purpose, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backstage_core_app_api::{Backend, run};
use backstage_core_plugin_api::services::lifecycle::hook;
use backstage_core_plugin_api::{BoxError, Plugin, core_services};
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_backend_and_runs_shutdown_hooks() {
    let stopped = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
    let backend = Backend::new(vec![]).unwrap();
    let flag = stopped.clone();
    backend
        .add(Plugin::new("p", move |reg| {
            let flag = flag.clone();
            let started_tx = started_tx.clone();
            reg.register_init(core_services::LIFECYCLE, move |lifecycle| async move {
                lifecycle.add_startup_hook(hook(move || async move {
                    if let Some(tx) = started_tx.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    Ok::<_, BoxError>(())
                }))?;
                lifecycle.add_shutdown_hook(hook(move || async move {
                    flag.store(true, Ordering::SeqCst);
                    Ok::<_, BoxError>(())
                }))?;
                Ok::<_, BoxError>(())
            })
        }))
        .unwrap();
    let running = tokio::spawn(run(backend));
    // `run` installs its handlers before starting, so once the plugin started, SIGTERM is
    // routed to it.
    started_rx.await.unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run returns after SIGTERM")
        .unwrap()
        .unwrap();
    assert!(stopped.load(Ordering::SeqCst), "shutdown hooks ran");
}

#[tokio::test]
async fn run_returns_start_up_errors_after_stopping() {
    let backend = Backend::new(vec![]).unwrap();
    backend
        .add(Plugin::new("broken", |reg| {
            reg.register_init((), |()| async { Err::<(), BoxError>("broken".into()) })
        }))
        .unwrap();
    let err = run(backend).await.unwrap_err();
    assert!(
        err.to_string().contains("Plugin 'broken' startup failed"),
        "{err}"
    );
}
