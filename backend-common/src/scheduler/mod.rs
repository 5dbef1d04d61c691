//! Scheduled tasks for one plugin, run in this process (Backstage's `SchedulerService` with
//! the semantics of its `LocalTaskWorker`), the task schedule config reader, and the
//! scheduler's HTTP endpoints.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//!
//! use backstage_backend_common::scheduler::{
//!     CancellationToken, LocalScheduler, TaskDefinition, TaskSchedule,
//! };
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let shutdown = CancellationToken::new();
//! let scheduler = LocalScheduler::new("catalog", shutdown.clone());
//!
//! let runs = Arc::new(AtomicUsize::new(0));
//! let counter = Arc::clone(&runs);
//! scheduler.schedule_task(TaskDefinition::new(
//!     "refresh-locations",
//!     TaskSchedule::every(Duration::from_secs(60), Duration::from_secs(10)),
//!     move |cancel: CancellationToken| {
//!         let counter = Arc::clone(&counter);
//!         async move {
//!             // Long work should stop when `cancel` fires (timeout, cancel or shutdown).
//!             if !cancel.is_cancelled() {
//!                 counter.fetch_add(1, Ordering::SeqCst);
//!             }
//!             Ok(())
//!         }
//!     },
//! ))?;
//!
//! // The first run starts at once, then one every 60 seconds.
//! tokio::time::sleep(Duration::from_secs(150)).await;
//! assert_eq!(runs.load(Ordering::SeqCst), 3);
//!
//! let err = scheduler.trigger_task("nope").unwrap_err();
//! assert_eq!(err.to_string(), "NotFoundError: Task nope does not exist");
//!
//! shutdown.cancel();
//! scheduler.stopped().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Pieces
//!
//! | Item | Backstage |
//! |---|---|
//! | [`LocalScheduler`] | `PluginTaskSchedulerImpl` with `LocalTaskWorker`s: `scheduleTask`, `triggerTask`, `cancelTask`, `getScheduledTasks`, `getRouter` |
//! | [`TaskDefinition`] | `SchedulerServiceTaskInvocationDefinition` (`id`, `fn`, `signal`) |
//! | [`TaskSchedule`], [`TaskFrequency`], [`TaskScope`], [`CronExpr`] | `SchedulerServiceTaskScheduleDefinition` |
//! | [`TaskSchedule::settings`] | `TaskSettingsV2` |
//! | [`TaskDescriptor`] | `SchedulerServiceTaskDescriptor` |
//! | [`read_task_schedule`] | `readSchedulerServiceTaskScheduleDefinitionFromConfig` |
//!
//! ## How tasks run
//!
//! Each task gets its own loop on the tokio runtime:
//!
//! * the first run starts right away, or after [`TaskSchedule::initial_delay`];
//! * with [`TaskFrequency::Every`], the next run starts one cadence after the previous one
//!   *started*, or at once if the run took longer: runs never overlap;
//! * with [`TaskFrequency::Cron`], the next run starts at the next time the expression matches
//!   (evaluated in the local time zone, as Backstage does), after the previous run ended;
//! * with [`TaskFrequency::Manual`], runs only start when triggered;
//! * [`LocalScheduler::trigger_task`] while the loop waits ends the wait, so a run starts now;
//! * each run gets a [`CancellationToken`] that fires when the run exceeds
//!   [`TaskSchedule::timeout`], when [`LocalScheduler::cancel_task`] is called, or when the
//!   scheduler's shutdown token (or the task's own [`TaskDefinition::signal`]) fires. The loop
//!   waits for the function to return; a function that ignores its token keeps its loop busy;
//! * a run's error, or panic, is logged (`tracing` error event with `plugin` and `task`
//!   fields) and recorded as the task's `lastRunError`; it never reaches the caller and never
//!   stops the loop;
//! * when the shutdown token fires, every loop ends after its current run;
//!   [`LocalScheduler::stopped`] waits for that.
//!
//! ## Global tasks
//!
//! Backstage coordinates `global` tasks (the default scope) through a table in the plugin's
//! database, so that one run happens across all backend instances. This scheduler has no
//! database: it runs global tasks exactly like local ones, in this process. With one backend
//! instance that is the same thing; with several, each instance runs every task. The scope is
//! still reported as configured. The `backstage-database` crate's `DatabaseScheduler` runs
//! each global task on one instance at a time through the database (it uses
//! [`TaskDefinition::invoke`] and [`TaskDefinition::stop_signal`] to run tasks itself).
//!
//! ## HTTP
//!
//! [`LocalScheduler::router`] serves Backstage's endpoints, to be mounted in the plugin's
//! router (behind its auth):
//!
//! * `GET /.backstage/scheduler/v1/tasks` → `{ "tasks": [{ taskId, pluginId, scope, settings,
//!   taskState, workerState }] }`, where `taskState` is `{ status: "idle", startsAt?,
//!   lastRunEndedAt?, lastRunError? }` or `{ status: "running", startedAt, timesOutAt?,
//!   lastRunEndedAt?, lastRunError? }` and `workerState` is `{ status: "initial-wait" | "idle"
//!   | "running" }`;
//! * `POST /.backstage/scheduler/v1/tasks/{id}/trigger` and `…/cancel` → 200 with an empty
//!   body, or Backstage's error body (404 for an unknown task, 409 for a conflict).
//!
//! ## Differences from Backstage
//!
//! * **Global scope** runs in-process, see [above](#global-tasks).
//! * **Duplicate IDs**: scheduling a second task with an ID already scheduled in the same
//!   scheduler is a `ConflictError`; Backstage starts both.
//! * **Manual tasks** wait for their first trigger, with or without an initial delay. (Backstage's
//!   local worker treats `manual` as a cron expression and fails; its global worker runs a
//!   manual task once after an initial delay.)
//! * **Validation happens up front**: cron expressions are parsed when the schedule is built,
//!   and durations are [`std::time::Duration`]s, so the `Invalid unit <name>` error Backstage
//!   throws for code-built duration objects like `{ secondz: 2 }` cannot happen; from config,
//!   such an object is [`read_task_schedule`]'s `Needs one or more of …` error, as in
//!   Backstage.
//! * **Settings durations** are written in a canonical form (`PT1H30M` where Backstage may
//!   write `PT90M`), see [`TaskSchedule::settings`].
//! * **Timestamps** in task states are UTC with milliseconds (`2024-01-01T12:00:00.000Z`);
//!   Backstage writes `startsAt` in the server's time zone.
//! * **Panics** in a task are caught and recorded; errors are recorded with
//!   `serializeError`'s shape but never with a stack.
//! * No metrics or tracing spans per run; `createScheduledTaskRunner` is left to the service
//!   layer (it is `schedule_task` with a fixed schedule).

mod clock;
mod local;
mod router;
mod schedule;
mod worker;

#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use clock::SchedulerClock;
pub use local::{LocalScheduler, TaskDescriptor};
pub use schedule::{CronExpr, TaskFrequency, TaskSchedule, TaskScope, read_task_schedule};
/// The token a task function receives, and the scheduler's shutdown token (re-exported from
/// `tokio-util`).
pub use tokio_util::sync::CancellationToken;
pub use worker::{join_error_message, serialize_task_error};

/// The error a task function returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A task's future, boxed.
type TaskFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;

/// A task's function, shared between its runs.
type TaskFn = Arc<dyn Fn(CancellationToken) -> TaskFuture + Send + Sync + 'static>;

/// A task to schedule: its ID, its schedule and the async function that does the work
/// (Backstage's `scheduleTask` argument).
///
/// The function is called once per run with a [`CancellationToken`] that fires when the run
/// times out, is cancelled, or the scheduler shuts down; long work should watch it and return
/// early. Returning an error marks the run as failed (the error is logged and recorded); it does
/// not stop future runs.
///
/// ```
/// use std::time::Duration;
/// use backstage_backend_common::scheduler::{CancellationToken, TaskDefinition, TaskSchedule};
///
/// let stop_this_task = CancellationToken::new();
/// let task = TaskDefinition::new(
///     "cleanup",
///     TaskSchedule::every(Duration::from_secs(3600), Duration::from_secs(60)),
///     |cancel: CancellationToken| async move {
///         tokio::select! {
///             () = cancel.cancelled() => Err("cancelled before the work was done".into()),
///             () = tokio::time::sleep(Duration::from_millis(1)) => Ok(()),
///         }
///     },
/// )
/// .signal(stop_this_task.clone());
/// assert_eq!(task.id(), "cleanup");
/// ```
pub struct TaskDefinition {
    id: String,
    schedule: TaskSchedule,
    func: TaskFn,
    signal: Option<CancellationToken>,
}

impl TaskDefinition {
    /// A task with `id`, `schedule` and function `f`. The ID is checked when the task is
    /// scheduled: it must not be blank.
    pub fn new<F, Fut>(id: impl Into<String>, schedule: TaskSchedule, f: F) -> Self
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let func: TaskFn = Arc::new(move |token| -> TaskFuture { Box::pin(f(token)) });
        Self {
            id: id.into(),
            schedule,
            func,
            signal: None,
        }
    }

    /// A token that ends this task's loop when it fires, as the scheduler's shutdown token does
    /// for all tasks (Backstage's `signal`). A run in progress sees its token fire.
    #[must_use]
    pub fn signal(mut self, signal: CancellationToken) -> Self {
        self.signal = Some(signal);
        self
    }

    /// The task's ID.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The task's schedule.
    #[must_use]
    pub fn schedule(&self) -> &TaskSchedule {
        &self.schedule
    }

    /// The token set with [`signal`](Self::signal), if any. For schedulers built outside
    /// this crate (the database-backed one in `backstage-database`).
    #[must_use]
    pub fn stop_signal(&self) -> Option<&CancellationToken> {
        self.signal.as_ref()
    }

    /// Starts one run of the task's function with `cancel` as its token, returning its future.
    /// For schedulers built outside this crate; the caller is responsible for the timeout
    /// and for never overlapping runs.
    pub fn invoke(
        &self,
        cancel: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>> {
        (self.func)(cancel)
    }
}

impl fmt::Debug for TaskDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskDefinition")
            .field("id", &self.id)
            .field("schedule", &self.schedule)
            .field("signal", &self.signal.is_some())
            .finish_non_exhaustive()
    }
}
