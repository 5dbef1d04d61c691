//! [`LocalScheduler`]: the in-process scheduler of one plugin.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::worker::{ControlError, Worker};
use super::{SchedulerClock, TaskDefinition, TaskScope};
use crate::errors::ApiError;

/// A task registered in a scheduler, as `getScheduledTasks` returns it
/// (Backstage's `SchedulerServiceTaskDescriptor`).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskDescriptor {
    /// The task's ID.
    pub id: String,
    /// The task's scope, as scheduled.
    pub scope: TaskScope,
    /// The version 2 settings (see [`TaskSchedule::settings`](super::TaskSchedule::settings)).
    pub settings: Value,
}

/// The scheduler of one plugin, running every task in this process (see the
/// [module docs](super) for the semantics and for what happens to `global` tasks).
///
/// Cheap to clone: clones share the tasks. Create one per plugin with the root shutdown token;
/// when it fires, every task loop ends.
#[derive(Clone)]
pub struct LocalScheduler {
    inner: Arc<Inner>,
}

struct Inner {
    plugin_id: String,
    shutdown: CancellationToken,
    clock: SchedulerClock,
    tasks: Mutex<Vec<Entry>>,
    loops: Mutex<Vec<JoinHandle<()>>>,
}

struct Entry {
    descriptor: TaskDescriptor,
    worker: Arc<Worker>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LocalScheduler {
    /// A scheduler for `plugin_id` whose task loops stop when `shutdown` fires; it reads the
    /// system clock.
    #[must_use]
    pub fn new(plugin_id: &str, shutdown: CancellationToken) -> Self {
        Self::with_clock(plugin_id, shutdown, SchedulerClock::system())
    }

    /// As [`new`](Self::new), reading wall-clock time (cron times, task state timestamps)
    /// from `clock`; [`SchedulerClock::tokio`] makes cron schedules testable with
    /// `tokio::time::pause`.
    #[must_use]
    pub fn with_clock(plugin_id: &str, shutdown: CancellationToken, clock: SchedulerClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                plugin_id: plugin_id.to_owned(),
                shutdown,
                clock,
                tasks: Mutex::new(Vec::new()),
                loops: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The plugin this scheduler belongs to.
    #[must_use]
    pub fn plugin_id(&self) -> &str {
        &self.inner.plugin_id
    }

    /// Registers `task` and starts its loop on the current tokio runtime (Backstage's
    /// `scheduleTask`). Returns once the task is registered; its first run starts at once, or
    /// after its initial delay.
    ///
    /// # Errors
    ///
    /// * `InputError` `<id> is not a valid ID, expected non-empty string` for a blank ID
    ///   (Backstage's message);
    /// * `ConflictError` `Task <id> is already scheduled for plugin <plugin>` when this
    ///   scheduler already has a task with that ID;
    /// * an internal error when called outside a tokio runtime.
    pub fn schedule_task(&self, task: TaskDefinition) -> Result<(), ApiError> {
        let TaskDefinition {
            id,
            schedule,
            func,
            signal,
        } = task;
        if id.trim().is_empty() {
            return Err(ApiError::input(format!(
                "{id} is not a valid ID, expected non-empty string"
            )));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ApiError::internal(format!(
                "cannot schedule task {id}: LocalScheduler::schedule_task must be called from within a tokio runtime"
            ))
        })?;

        let inner = &self.inner;
        let mut tasks = lock(&inner.tasks);
        if tasks.iter().any(|entry| entry.descriptor.id == id) {
            return Err(ApiError::conflict(format!(
                "Task {id} is already scheduled for plugin {}",
                inner.plugin_id
            )));
        }

        let settings = schedule.settings();
        tracing::info!(
            plugin = %inner.plugin_id,
            task = %id,
            "Registered scheduled task: {id}, {settings}"
        );

        let stop = inner.shutdown.child_token();
        if let Some(signal) = signal {
            let stop = stop.clone();
            runtime.spawn(async move {
                tokio::select! {
                    () = signal.cancelled() => stop.cancel(),
                    () = stop.cancelled() => {}
                }
            });
        }
        let worker = Arc::new(Worker::new(
            id.clone(),
            inner.plugin_id.clone(),
            inner.clock.clone(),
        ));
        let scope = schedule.scope;
        let handle = runtime.spawn(Arc::clone(&worker).run(schedule, func, stop));
        lock(&inner.loops).push(handle);
        tasks.push(Entry {
            descriptor: TaskDescriptor {
                id,
                scope,
                settings,
            },
            worker,
        });
        Ok(())
    }

    /// Starts a run of task `id` now, ending its wait (Backstage's `triggerTask`).
    ///
    /// # Errors
    ///
    /// `NotFoundError` `Task <id> does not exist`; `ConflictError` `Task <id> is currently
    /// running` when a run is in progress (or the task's loop has ended).
    pub fn trigger_task(&self, id: &str) -> Result<(), ApiError> {
        self.worker(id)?
            .trigger()
            .map_err(|err| control_error(id, &err))
    }

    /// Fires the cancellation token of task `id`'s current run (Backstage's `cancelTask`).
    /// The run ends when its function returns; the loop then waits for the next run as usual.
    ///
    /// # Errors
    ///
    /// `NotFoundError` `Task <id> does not exist`; `ConflictError` `Task <id> is not running`.
    pub fn cancel_task(&self, id: &str) -> Result<(), ApiError> {
        self.worker(id)?
            .cancel()
            .map_err(|err| control_error(id, &err))
    }

    /// The tasks registered in this scheduler, in registration order (Backstage's
    /// `getScheduledTasks`).
    #[must_use]
    pub fn scheduled_tasks(&self) -> Vec<TaskDescriptor> {
        lock(&self.inner.tasks)
            .iter()
            .map(|entry| entry.descriptor.clone())
            .collect()
    }

    /// Waits until every task loop started so far has ended. Loops end when the shutdown
    /// token (or a task's own signal) fires and the current run has returned, so call this
    /// after firing the token for a clean shutdown.
    pub async fn stopped(&self) {
        loop {
            let handles = std::mem::take(&mut *lock(&self.inner.loops));
            if handles.is_empty() {
                return;
            }
            for handle in handles {
                // A loop never panics (task panics are caught inside it); an aborted or
                // panicked loop has ended all the same.
                let _ = handle.await;
            }
        }
    }

    /// The scheduler's HTTP endpoints (see the [module docs](super#http)).
    pub fn router(&self) -> axum::Router {
        super::router::router(self.clone())
    }

    /// The body of `GET /.backstage/scheduler/v1/tasks`.
    pub(super) fn tasks_json(&self) -> Value {
        let inner = &self.inner;
        let tasks: Vec<Value> = lock(&inner.tasks)
            .iter()
            .map(|entry| {
                let mut task = Map::new();
                task.insert(
                    "taskId".to_owned(),
                    Value::from(entry.descriptor.id.clone()),
                );
                task.insert("pluginId".to_owned(), Value::from(inner.plugin_id.clone()));
                task.insert(
                    "scope".to_owned(),
                    Value::from(entry.descriptor.scope.as_str()),
                );
                task.insert("settings".to_owned(), entry.descriptor.settings.clone());
                task.insert("taskState".to_owned(), entry.worker.task_state_json());
                task.insert("workerState".to_owned(), entry.worker.worker_state_json());
                Value::Object(task)
            })
            .collect();
        let mut body = Map::new();
        body.insert("tasks".to_owned(), Value::Array(tasks));
        Value::Object(body)
    }

    fn worker(&self, id: &str) -> Result<Arc<Worker>, ApiError> {
        lock(&self.inner.tasks)
            .iter()
            .find(|entry| entry.descriptor.id == id)
            .map(|entry| Arc::clone(&entry.worker))
            .ok_or_else(|| ApiError::not_found(format!("Task {id} does not exist")))
    }
}

fn control_error(id: &str, err: &ControlError) -> ApiError {
    ApiError::conflict(match err {
        ControlError::Running => format!("Task {id} is currently running"),
        ControlError::NotRunning => format!("Task {id} is not running"),
    })
}

impl fmt::Debug for LocalScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks: Vec<String> = lock(&self.inner.tasks)
            .iter()
            .map(|entry| entry.descriptor.id.clone())
            .collect();
        f.debug_struct("LocalScheduler")
            .field("plugin_id", &self.inner.plugin_id)
            .field("tasks", &tasks)
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}
