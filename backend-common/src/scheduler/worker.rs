//! One task's loop (Backstage's `LocalTaskWorker`) and the state it reports.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use serde_json::{Map, Value};
use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;

use super::clock::{SchedulerClock, iso_timestamp};
use super::{TaskFn, TaskFrequency, TaskSchedule};
use crate::errors::{ApiError, serialize_error};

/// A task's worker: its id, the function, and the state shared with the scheduler.
pub(super) struct Worker {
    id: String,
    plugin_id: String,
    clock: SchedulerClock,
    state: Mutex<State>,
}

/// What the worker is doing, plus the tokens `trigger` and `cancel` use.
#[derive(Default)]
struct State {
    task: TaskState,
    worker: WorkerStatus,
    /// Set while the loop waits (initial delay or between runs): cancelling it ends the wait
    /// (Backstage's `abortWait`).
    wait: Option<CancellationToken>,
    /// Set while a run is in progress: cancelling it fires the run's token (Backstage's
    /// `taskAbortController`).
    run: Option<CancellationToken>,
}

/// Backstage's `taskState`.
#[derive(Default)]
struct TaskState {
    status: RunStatus,
    last_run_ended_at: Option<DateTime<Utc>>,
    /// `JSON.stringify(serializeError(error))`.
    last_run_error: Option<String>,
}

#[derive(Default)]
enum RunStatus {
    #[default]
    Idle,
    /// Waiting; `starts_at` is when the next run is due, if known.
    Waiting { starts_at: Option<DateTime<Utc>> },
    Running {
        started_at: DateTime<Utc>,
        times_out_at: Option<DateTime<Utc>>,
    },
}

/// Backstage's `workerState`.
#[derive(Default, Clone, Copy)]
enum WorkerStatus {
    InitialWait,
    #[default]
    Idle,
    Running,
}

/// Why `trigger` or `cancel` failed.
pub(super) enum ControlError {
    Running,
    NotRunning,
}

impl Worker {
    pub(super) fn new(id: String, plugin_id: String, clock: SchedulerClock) -> Self {
        Self {
            id,
            plugin_id,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across a panic point, but never propagate poisoning either.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the current wait, so the next run starts now.
    pub(super) fn trigger(&self) -> Result<(), ControlError> {
        let state = self.lock();
        match &state.wait {
            Some(wait) => {
                wait.cancel();
                Ok(())
            }
            None => Err(ControlError::Running),
        }
    }

    /// Fires the current run's cancellation token.
    pub(super) fn cancel(&self) -> Result<(), ControlError> {
        let state = self.lock();
        match &state.run {
            Some(run) => {
                run.cancel();
                Ok(())
            }
            None => Err(ControlError::NotRunning),
        }
    }

    /// Backstage's `taskState` as JSON.
    pub(super) fn task_state_json(&self) -> Value {
        let state = self.lock();
        let task = &state.task;
        let mut out = Map::new();
        match &task.status {
            RunStatus::Idle => {
                out.insert("status".to_owned(), Value::from("idle"));
            }
            RunStatus::Waiting { starts_at } => {
                out.insert("status".to_owned(), Value::from("idle"));
                if let Some(at) = starts_at {
                    out.insert("startsAt".to_owned(), Value::from(iso_timestamp(*at)));
                }
            }
            RunStatus::Running {
                started_at,
                times_out_at,
            } => {
                out.insert("status".to_owned(), Value::from("running"));
                out.insert(
                    "startedAt".to_owned(),
                    Value::from(iso_timestamp(*started_at)),
                );
                if let Some(at) = times_out_at {
                    out.insert("timesOutAt".to_owned(), Value::from(iso_timestamp(*at)));
                }
            }
        }
        if let Some(at) = task.last_run_ended_at {
            out.insert("lastRunEndedAt".to_owned(), Value::from(iso_timestamp(at)));
        }
        if let Some(error) = &task.last_run_error {
            out.insert("lastRunError".to_owned(), Value::from(error.clone()));
        }
        Value::Object(out)
    }

    /// Backstage's `workerState` as JSON.
    pub(super) fn worker_state_json(&self) -> Value {
        let status = match self.lock().worker {
            WorkerStatus::InitialWait => "initial-wait",
            WorkerStatus::Idle => "idle",
            WorkerStatus::Running => "running",
        };
        let mut out = Map::new();
        out.insert("status".to_owned(), Value::from(status));
        Value::Object(out)
    }

    /// The loop: the initial delay, then run, wait, run, … until `stop` fires.
    pub(super) async fn run(
        self: Arc<Self>,
        schedule: TaskSchedule,
        func: TaskFn,
        stop: CancellationToken,
    ) {
        let manual = matches!(schedule.frequency, TaskFrequency::Manual);
        match schedule.initial_delay {
            // A manual task's first run is its first trigger: it has nothing to delay.
            Some(delay) if !manual => {
                let starts_at = self.clock.now().checked_add_signed(chrono_duration(delay));
                self.sleep(Some(delay), starts_at, WorkerStatus::InitialWait, &stop)
                    .await;
            }
            _ => {}
        }
        if manual {
            self.sleep(None, None, WorkerStatus::Idle, &stop).await;
        }
        while !stop.is_cancelled() {
            let started = tokio::time::Instant::now();
            self.run_once(&schedule, &func, &stop).await;
            if stop.is_cancelled() {
                break;
            }
            self.wait_until_next(&schedule, started.elapsed(), &stop)
                .await;
        }
        tracing::info!(
            plugin = %self.plugin_id,
            task = %self.id,
            "Task worker finished: {}",
            self.id
        );
    }

    /// One run, with its token cancelled on timeout, `cancel` or `stop`. The function runs in
    /// its own tokio task, so a panic is recorded like an error.
    async fn run_once(&self, schedule: &TaskSchedule, func: &TaskFn, stop: &CancellationToken) {
        let token = stop.child_token();
        let now = self.clock.now();
        {
            let mut state = self.lock();
            state.task.status = RunStatus::Running {
                started_at: now,
                times_out_at: now.checked_add_signed(chrono_duration(schedule.timeout)),
            };
            state.worker = WorkerStatus::Running;
            state.run = Some(token.clone());
        }

        let run = {
            let func = Arc::clone(func);
            let token = token.clone();
            tokio::spawn(async move { func(token).await })
        };
        let timeout = tokio::time::sleep(schedule.timeout);
        tokio::pin!(run, timeout);
        let joined = tokio::select! {
            joined = &mut run => joined,
            () = &mut timeout => {
                tracing::debug!(plugin = %self.plugin_id, task = %self.id, "task run timed out, cancelling it");
                token.cancel();
                run.await
            }
        };
        token.cancel();

        let error = match joined {
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                tracing::error!(
                    plugin = %self.plugin_id,
                    task = %self.id,
                    error = %err,
                    "Task {} failed: {err}",
                    self.id
                );
                Some(serialize_task_error(err.as_ref()))
            }
            Err(join) => {
                let message = join_error_message(join);
                tracing::error!(
                    plugin = %self.plugin_id,
                    task = %self.id,
                    error = %message,
                    "Task {} failed: {message}",
                    self.id
                );
                Some(error_json(&message))
            }
        };

        let mut state = self.lock();
        state.task.last_run_ended_at = Some(self.clock.now());
        state.task.last_run_error = error;
        state.run = None;
    }

    /// Sleeps until the next run is due: `cadence − time taken` for durations (never
    /// negative), the next cron time, or until triggered for manual tasks.
    async fn wait_until_next(
        &self,
        schedule: &TaskSchedule,
        time_taken: Duration,
        stop: &CancellationToken,
    ) {
        let now = self.clock.now();
        let delay = match &schedule.frequency {
            TaskFrequency::Every(cadence) => Some(cadence.saturating_sub(time_taken)),
            TaskFrequency::Cron(cron) => match cron.next_after(&now.with_timezone(&Local)) {
                Some(next) => Some(
                    (next.with_timezone(&Utc) - now)
                        .to_std()
                        .unwrap_or(Duration::ZERO),
                ),
                None => {
                    tracing::warn!(
                        plugin = %self.plugin_id,
                        task = %self.id,
                        "cron expression '{cron}' of task {} never matches again; the task only runs when triggered",
                        self.id
                    );
                    None
                }
            },
            TaskFrequency::Manual => None,
        };
        let starts_at = delay.and_then(|d| now.checked_add_signed(chrono_duration(d)));
        if let Some(at) = starts_at {
            tracing::debug!(
                plugin = %self.plugin_id,
                task = %self.id,
                "task: {} will next occur around {}",
                self.id,
                iso_timestamp(at)
            );
        }
        self.sleep(delay, starts_at, WorkerStatus::Idle, stop).await;
    }

    /// Waits for `duration` (forever if `None`), or until triggered or stopped.
    async fn sleep(
        &self,
        duration: Option<Duration>,
        starts_at: Option<DateTime<Utc>>,
        status: WorkerStatus,
        stop: &CancellationToken,
    ) {
        let wait = stop.child_token();
        {
            let mut state = self.lock();
            state.task.status = RunStatus::Waiting { starts_at };
            state.worker = status;
            state.wait = Some(wait.clone());
        }
        match duration {
            Some(duration) => {
                tokio::select! {
                    () = tokio::time::sleep(duration) => {}
                    () = wait.cancelled() => {}
                }
            }
            None => wait.cancelled().await,
        }
        let mut state = self.lock();
        state.wait = None;
    }
}

/// `duration` for chrono arithmetic, saturating.
fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// Backstage's `serializeError` of a run's error, as a JSON string: `{"name","message"}`
/// plus `cause` for an error's source chain; [`ApiError`]s keep their name and fields.
/// A task run's error as the JSON string Backstage stores in `lastRunError`: an [`ApiError`]
/// serialised as Backstage serialises errors, any other error as `{"name":"Error","message":…}`
/// with its sources as nested `cause`s. Shared with schedulers built outside this crate.
pub fn serialize_task_error(err: &(dyn StdError + Send + Sync + 'static)) -> String {
    let value = match err.downcast_ref::<ApiError>() {
        Some(api) => serialize_error(api, false),
        None => plain_error_value(err),
    };
    value.to_string()
}

fn plain_error_value(err: &(dyn StdError + 'static)) -> Value {
    let mut out = Map::new();
    out.insert("name".to_owned(), Value::from("Error"));
    out.insert("message".to_owned(), Value::from(err.to_string()));
    if let Some(source) = err.source() {
        out.insert("cause".to_owned(), plain_error_value(source));
    }
    Value::Object(out)
}

/// `{"name": "Error", "message": <message>}` as a JSON string.
fn error_json(message: &str) -> String {
    let mut out = Map::new();
    out.insert("name".to_owned(), Value::from("Error"));
    out.insert("message".to_owned(), Value::from(message));
    Value::Object(out).to_string()
}

/// What a run's `JoinError` means: a panic (with its message when it is a string) or an abort.
/// What a run's `JoinError` means: `Task panicked: <message>` or `Task was aborted`. Shared
/// with schedulers built outside this crate.
pub fn join_error_message(err: JoinError) -> String {
    match err.try_into_panic() {
        Ok(payload) => match crate::http::util::panic_message(payload.as_ref()) {
            Some(message) => format!("Task panicked: {message}"),
            None => "Task panicked".to_owned(),
        },
        Err(_) => "Task was aborted".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::BoxError;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("sync failed")
        }
    }

    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn run_errors_are_serialized_like_backstage() {
        let err: BoxError = "boom".into();
        assert_eq!(
            serialize_task_error(err.as_ref()),
            r#"{"name":"Error","message":"boom"}"#
        );
        let err: BoxError = Box::new(ApiError::not_found("no such entity"));
        assert_eq!(
            serialize_task_error(err.as_ref()),
            r#"{"name":"NotFoundError","message":"no such entity"}"#
        );
        let err: BoxError = Box::new(Outer(std::io::Error::other("disk full")));
        assert_eq!(
            serialize_task_error(err.as_ref()),
            r#"{"name":"Error","message":"sync failed","cause":{"name":"Error","message":"disk full"}}"#
        );
        assert_eq!(error_json("x"), r#"{"name":"Error","message":"x"}"#);
    }

    #[tokio::test]
    async fn panics_are_described_without_the_tokio_task_id() {
        let panicked = tokio::spawn(async { panic!("oh no") }).await.unwrap_err();
        assert_eq!(join_error_message(panicked), "Task panicked: oh no");
        let panicked = tokio::spawn(async { panic!("{}", String::from("formatted")) })
            .await
            .unwrap_err();
        assert_eq!(join_error_message(panicked), "Task panicked: formatted");
        let handle = tokio::spawn(std::future::pending::<()>());
        handle.abort();
        let aborted = handle.await.unwrap_err();
        assert_eq!(join_error_message(aborted), "Task was aborted");
    }
}
