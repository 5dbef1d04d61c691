//! The database-backed scheduler (Backstage's `PluginTaskSchedulerImpl` with its `TaskWorker`
//! and janitor): `global` tasks run on exactly one replica at a time across every process
//! sharing the plugin's database, `local` tasks on each, in process.
//!
//! ```
//! use std::time::Duration;
//!
//! use backstage_backend_common::scheduler::{CancellationToken, TaskDefinition, TaskSchedule};
//! use backstage_core_plugin_api::services::scheduler::SchedulerService;
//! use backstage_database::DatabaseClient;
//! use backstage_database::scheduler::{DatabaseScheduler, SchedulerOptions};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // One connection: every connection to `sqlite::memory:` is a database of its own.
//! let pool = sqlx::sqlite::SqlitePoolOptions::new()
//!     .max_connections(1)
//!     .connect("sqlite::memory:")
//!     .await?;
//! let shutdown = CancellationToken::new();
//! let scheduler = DatabaseScheduler::new(
//!     "catalog",
//!     DatabaseClient::Sqlite(pool),
//!     shutdown.clone(),
//!     SchedulerOptions::default().poll_interval(Duration::from_millis(50)),
//! );
//!
//! let (done, mut runs) = tokio::sync::mpsc::channel(1);
//! scheduler
//!     .schedule_task(TaskDefinition::new(
//!         "rebuild-search-index",
//!         TaskSchedule::manual(Duration::from_secs(60)),
//!         move |_cancel: CancellationToken| {
//!             let done = done.clone();
//!             async move {
//!                 done.send(()).await?;
//!                 Ok(())
//!             }
//!         },
//!     ))
//!     .await?;
//!
//! // Manual tasks only run when triggered; any replica may pick the run up.
//! scheduler.trigger_task("rebuild-search-index").await?;
//! runs.recv().await;
//!
//! let err = scheduler.cancel_task("nope").await.unwrap_err();
//! assert_eq!(err.to_string(), "NotFoundError: Task nope does not exist");
//!
//! shutdown.cancel();
//! scheduler.stopped().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Wiring
//!
//! [`scheduler_service_factory`] replaces the in-process scheduler of
//! `backstage-core-app-api` when a database is configured: install it together with the
//! database service (`crate::database_service_factory`, or any factory for [`DATABASE`]).
//! Each plugin gets a [`DatabaseScheduler`] on its own database, whose endpoints are mounted
//! in the plugin's router, and whose loops stop at root shutdown. The plugin's database is
//! only connected to when the first global task is scheduled, triggered, cancelled or listed.
//!
//! ## How global tasks run
//!
//! The table `backstage_backend_tasks__tasks` (Backstage's columns: `id`, `settings_json`,
//! `next_run_start_at`, `current_run_ticket`, `current_run_started_at`,
//! `current_run_expires_at`, `last_run_ended_at`, `last_run_error_json`) is created in the
//! plugin's database when missing (unless the database service says to skip migrations).
//!
//! * **Registration** upserts the task's row with its settings
//!   ([`TaskSchedule::settings`](backstage_backend_common::scheduler::TaskSchedule::settings)).
//!   A new row starts now, after the initial delay, at the next cron time, or never for a
//!   manual task; an existing row keeps its next start unless that is unset or later than the
//!   newly computed one (now + cadence, or the next cron time).
//! * **Polling**: each replica's worker waits for the task's initial delay (also for manual
//!   tasks, so it ignores triggers until then), then checks the row every
//!   [`poll_interval`](SchedulerOptions::poll_interval) (5 s by default, or the cadence when
//!   shorter). When the task is due and no live lease holds it, the worker claims it with one
//!   atomic `UPDATE … WHERE current_run_ticket IS NULL OR current_run_expires_at < now` that
//!   sets a fresh ticket (`<worker id>/<random>`): only one worker's update matches. A worker
//!   whose row disappeared, or whose stored settings it cannot read (a newer version), ends
//!   its loop, as in Backstage.
//! * **The lease**: the claim sets `current_run_expires_at` to now + the lease, the shorter of
//!   [`lease_duration`](SchedulerOptions::lease_duration) (30 s by default) and the task's
//!   timeout. While the function runs, the worker renews it every poll interval (or a third of
//!   the lease, when shorter), never past the run's start + timeout: a long run within its
//!   timeout keeps the task, and when a replica dies its lease runs out and another replica
//!   claims the task at its next poll. A renewal that finds the ticket gone (cancelled from
//!   another replica, or expired and taken over) fires the run's token, as does failing to
//!   renew for a whole lease (the database is unreachable, so another replica may take over).
//! * **After the run** the worker clears its ticket, records the end time and the run's error
//!   (`serializeError`'s JSON, or null), and sets the next start: previous planned start +
//!   cadence, or now if that has passed; the next cron time; nothing for manual tasks.
//! * **The janitor** ([`janitor_interval`](SchedulerOptions::janitor_interval), a minute by
//!   default) clears tickets whose lease expired, recording `Task timed out`, and leaves the
//!   next start alone, so the lost run is retried.
//! * **Timeouts**: the run's token fires after the timeout (on the worker's clock); a function
//!   that ignores it keeps running, but its lease ends at start + timeout.
//! * **Clocks**: every comparison of leases and start times uses the database server's clock
//!   (`now()` on PostgreSQL, `UTC_TIMESTAMP(3)` on MySQL/MariaDB, `strftime(…, 'now')` on
//!   SQLite), so replicas with skewed clocks agree. Cron times are computed by the replica, in
//!   its local time zone, as Backstage does.
//! * [`trigger_task`](DatabaseScheduler::trigger_task) sets the next start to now unless a run
//!   holds a live lease, and wakes this replica's worker, so the run starts at once when this
//!   replica wins the claim, else within a poll interval.
//!   [`cancel_task`](DatabaseScheduler::cancel_task) clears the ticket (recording `Task was
//!   cancelled`); the holder's token fires at its next renewal, or at once on this replica.
//!   Both work for any task in the table, also one registered by another replica.
//!
//! ## HTTP
//!
//! [`DatabaseScheduler::router`] serves the endpoints of the in-process scheduler (see
//! [`backstage_backend_common::scheduler`]) for both kinds of tasks: `GET
//! /.backstage/scheduler/v1/tasks` lists the tasks registered through this instance, global
//! ones with their `taskState` read from the table (`running` with `startedAt` and
//! `timesOutAt` = the current lease expiry, or `idle` with `startsAt`), and `POST
//! /.backstage/scheduler/v1/tasks/{id}/trigger` and `…/cancel` answer 200, 404 or 409.
//!
//! ## Differences from Backstage
//!
//! * **Leases are renewed**: Backstage's claim holds the task for the whole timeout and a
//!   crashed replica's task waits for it; here a lease is at most
//!   [`lease_duration`](SchedulerOptions::lease_duration), renewed while running, and a claim
//!   takes over an expired lease at once instead of waiting for the janitor.
//! * **Cancel moves the next start** as the end of a run would; Backstage leaves it, so a
//!   cancelled task runs again at the next poll.
//! * **Manual tasks** wait for a trigger even with an initial delay (Backstage runs them once
//!   after the delay).
//! * **Triggering an expired run** is allowed (its lease is dead, so it is not running);
//!   Backstage answers `ConflictError` until the janitor cleared it.
//! * **A triggered task** starts at once on the replica that triggered it when that replica
//!   wins the claim, instead of at its next poll.
//! * **Timestamps** have milliseconds on every engine (`DATETIME(3)` in UTC on MySQL;
//!   Backstage writes whole seconds in the session time zone there). An existing table is used
//!   as it is, but Node and Rust replicas sharing one table is not a supported setup.
//! * **Duplicate IDs** in one scheduler are a `ConflictError`, as in
//!   [`LocalScheduler`].
//! * No metrics or tracing spans per run.

mod router;
mod store;
mod worker;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use backstage_backend_common::errors::ApiError;
use backstage_backend_common::scheduler::{
    CancellationToken, LocalScheduler, TaskDefinition, TaskDescriptor, TaskScope,
};
use backstage_core_plugin_api::services::lifecycle::hook;
use backstage_core_plugin_api::services::scheduler::SchedulerService;
use backstage_core_plugin_api::{BoxError, ServiceFactory, core_services};
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use self::store::{Control, Store};
use self::worker::{GlobalWorker, next_start, parse_settings, random_u64};
use crate::{DATABASE, DatabaseClient, DatabaseService, Error};

/// The name of the task table, as Backstage names it.
pub const TASKS_TABLE: &str = store::TABLE;

/// Tuning of a [`DatabaseScheduler`]. The defaults are Backstage's where it has one.
///
/// ```
/// use std::time::Duration;
/// use backstage_database::scheduler::SchedulerOptions;
///
/// let options = SchedulerOptions::default()
///     .poll_interval(Duration::from_millis(500))
///     .lease_duration(Duration::from_secs(10))
///     .worker_id("replica-a");
/// assert_eq!(options.poll_interval, Duration::from_millis(500));
/// assert_eq!(options.janitor_interval, Duration::from_secs(60));
/// assert_eq!(options.worker_id, "replica-a");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchedulerOptions {
    /// How often a worker checks whether its global task is due, and renews the lease of a
    /// run in progress (at most; see [`lease_duration`](Self::lease_duration)). 5 seconds,
    /// Backstage's `workCheckFrequency`; a task with a shorter duration cadence polls at its
    /// cadence.
    pub poll_interval: Duration,
    /// How often expired leases are cleared. 1 minute, as Backstage.
    pub janitor_interval: Duration,
    /// How long a claim or renewal holds a task (capped at the task's timeout): the longest a
    /// dead replica keeps a task from the others. Renewed every poll interval or a third of
    /// it, whichever is shorter. 30 seconds.
    pub lease_duration: Duration,
    /// Names this process in tickets (`<worker id>/<random>` in `current_run_ticket`), so the
    /// table shows which replica runs a task. Defaults to `$HOSTNAME-<pid>-<random>`, or
    /// `<pid>-<random>` without `HOSTNAME`.
    pub worker_id: String,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        let suffix = format!("{}-{:08x}", std::process::id(), random_u64() as u32);
        let worker_id = match std::env::var("HOSTNAME") {
            Ok(host) if !host.trim().is_empty() => format!("{}-{suffix}", host.trim()),
            _ => suffix,
        };
        Self {
            poll_interval: Duration::from_secs(5),
            janitor_interval: Duration::from_secs(60),
            lease_duration: Duration::from_secs(30),
            worker_id,
        }
    }
}

impl SchedulerOptions {
    /// Sets [`poll_interval`](Self::poll_interval).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets [`janitor_interval`](Self::janitor_interval).
    #[must_use]
    pub fn janitor_interval(mut self, interval: Duration) -> Self {
        self.janitor_interval = interval;
        self
    }

    /// Sets [`lease_duration`](Self::lease_duration).
    #[must_use]
    pub fn lease_duration(mut self, lease: Duration) -> Self {
        self.lease_duration = lease;
        self
    }

    /// Sets [`worker_id`](Self::worker_id).
    #[must_use]
    pub fn worker_id(mut self, worker_id: impl Into<String>) -> Self {
        self.worker_id = worker_id.into();
        self
    }
}

/// The scheduler of one plugin, coordinating `global` tasks through the plugin's database
/// (see the [module docs](self)) and running `local` tasks in an inner
/// [`LocalScheduler`].
///
/// Cheap to clone: clones share the tasks. When the shutdown token fires, every loop ends
/// after its current run; [`stopped`](Self::stopped) waits for that.
#[derive(Clone)]
pub struct DatabaseScheduler {
    inner: Arc<Inner>,
}

enum Source {
    Client(DatabaseClient),
    Service(Arc<dyn DatabaseService>),
}

struct Inner {
    plugin_id: String,
    source: Source,
    shutdown: CancellationToken,
    options: SchedulerOptions,
    local: LocalScheduler,
    store: tokio::sync::OnceCell<Store>,
    /// Serializes `schedule_task`, so an ID is checked and registered at once.
    registering: tokio::sync::Mutex<()>,
    tasks: Mutex<Vec<Entry>>,
    loops: Mutex<Vec<JoinHandle<()>>>,
}

struct Entry {
    descriptor: TaskDescriptor,
    /// `None` for a local task.
    worker: Option<Arc<GlobalWorker>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DatabaseScheduler {
    /// A scheduler for `plugin_id` storing global tasks through `client`, whose loops stop
    /// when `shutdown` fires. Nothing touches the database until a global task is scheduled
    /// (or triggered, cancelled, listed).
    #[must_use]
    pub fn new(
        plugin_id: &str,
        client: DatabaseClient,
        shutdown: CancellationToken,
        options: SchedulerOptions,
    ) -> Self {
        Self::with_source(plugin_id, Source::Client(client), shutdown, options)
    }

    /// As [`new`](Self::new), with the plugin's database service: connects on first use
    /// (retrying on the next use after a failure), and does not create the table when the
    /// service says to skip migrations.
    #[must_use]
    pub fn from_service(
        plugin_id: &str,
        database: Arc<dyn DatabaseService>,
        shutdown: CancellationToken,
        options: SchedulerOptions,
    ) -> Self {
        Self::with_source(plugin_id, Source::Service(database), shutdown, options)
    }

    fn with_source(
        plugin_id: &str,
        source: Source,
        shutdown: CancellationToken,
        options: SchedulerOptions,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                plugin_id: plugin_id.to_owned(),
                local: LocalScheduler::new(plugin_id, shutdown.child_token()),
                source,
                shutdown,
                options,
                store: tokio::sync::OnceCell::new(),
                registering: tokio::sync::Mutex::new(()),
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

    /// The options.
    #[must_use]
    pub fn options(&self) -> &SchedulerOptions {
        &self.inner.options
    }

    /// Registers `task` and starts it (Backstage's `scheduleTask`): a local task in the inner
    /// [`LocalScheduler`]; a global task is first stored in the table, then its worker loop
    /// starts on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// * `InputError` `<id> is not a valid ID, expected non-empty string` for a blank ID;
    /// * `ConflictError` `Task <id> is already scheduled for plugin <plugin>` when this
    ///   scheduler already has a task with that ID;
    /// * an internal error `Failed to persist task, <cause>` when the database fails, or when
    ///   called outside a tokio runtime.
    pub async fn schedule_task(&self, task: TaskDefinition) -> Result<(), ApiError> {
        let id = task.id().to_owned();
        if id.trim().is_empty() {
            return Err(ApiError::input(format!(
                "{id} is not a valid ID, expected non-empty string"
            )));
        }
        let _registering = self.inner.registering.lock().await;
        if self.entry_exists(&id) {
            return Err(ApiError::conflict(format!(
                "Task {id} is already scheduled for plugin {}",
                self.inner.plugin_id
            )));
        }
        let scope = task.schedule().scope;
        let settings = task.schedule().settings();

        if scope == TaskScope::Local {
            self.inner.local.schedule_task(task)?;
            lock(&self.inner.tasks).push(Entry {
                descriptor: TaskDescriptor {
                    id,
                    scope,
                    settings,
                },
                worker: None,
            });
            return Ok(());
        }

        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ApiError::internal(format!(
                "cannot schedule task {id}: DatabaseScheduler::schedule_task must be called from within a tokio runtime"
            ))
        })?;
        let store = self.store().await.map_err(|err| persist_error(&id, err))?;
        let signal = task.stop_signal().cloned();
        let worker = Arc::new(GlobalWorker::new(
            &self.inner.plugin_id,
            store.clone(),
            task,
            self.inner.options.clone(),
        ));
        worker
            .persist()
            .await
            .map_err(|err| persist_error(&id, err))?;
        tracing::info!(
            plugin = %self.inner.plugin_id,
            task = %id,
            "Registered scheduled task: {id}, {settings}"
        );
        let stop = self.inner.shutdown.child_token();
        if let Some(signal) = signal {
            let stop = stop.clone();
            runtime.spawn(async move {
                tokio::select! {
                    () = signal.cancelled() => stop.cancel(),
                    () = stop.cancelled() => {}
                }
            });
        }
        let handle = runtime.spawn(Arc::clone(&worker).run(stop));
        lock(&self.inner.loops).push(handle);
        lock(&self.inner.tasks).push(Entry {
            descriptor: TaskDescriptor {
                id,
                scope,
                settings,
            },
            worker: Some(worker),
        });
        Ok(())
    }

    /// Starts a run of task `id` now (Backstage's `triggerTask`). A local task's wait ends; a
    /// global task (registered by any replica) becomes due now.
    ///
    /// # Errors
    ///
    /// `NotFoundError` `Task <id> does not exist`; `ConflictError` `Task <id> is currently
    /// running` while a run holds a live lease; an internal error when the database fails.
    pub async fn trigger_task(&self, id: &str) -> Result<(), ApiError> {
        if self.is_local(id) {
            return self.inner.local.trigger_task(id);
        }
        let store = self.store().await?;
        match store.trigger(id).await.map_err(query_error)? {
            Control::Done => {
                if let Some(worker) = self.global_worker(id) {
                    worker.wake();
                }
                Ok(())
            }
            Control::NotFound => Err(not_found(id)),
            Control::Conflict => Err(ApiError::conflict(format!(
                "Task {id} is currently running"
            ))),
        }
    }

    /// Aborts the current run of task `id` (Backstage's `cancelTask`). For a global task
    /// (registered by any replica) the ticket is cleared and `Task was cancelled` recorded;
    /// the replica running it fires the run's token at its next lease renewal (at once when
    /// that is this replica), and the next start is set as at the end of a run.
    ///
    /// # Errors
    ///
    /// `NotFoundError` `Task <id> does not exist`; `ConflictError` `Task <id> is not
    /// running`; an internal error when the database fails.
    pub async fn cancel_task(&self, id: &str) -> Result<(), ApiError> {
        if self.is_local(id) {
            return self.inner.local.cancel_task(id);
        }
        let store = self.store().await?;
        let Some(settings) = store.settings(id).await.map_err(query_error)? else {
            return Err(not_found(id));
        };
        let next = parse_settings(&settings)
            .ok()
            .map(|schedule| next_start(&schedule));
        match store.cancel(id, next.as_ref()).await.map_err(query_error)? {
            Control::Done => {
                if let Some(worker) = self.global_worker(id) {
                    worker.abort_run();
                }
                Ok(())
            }
            Control::NotFound => Err(not_found(id)),
            Control::Conflict => Err(ApiError::conflict(format!("Task {id} is not running"))),
        }
    }

    /// The tasks registered through this scheduler, in registration order (Backstage's
    /// `getScheduledTasks`).
    #[must_use]
    pub fn scheduled_tasks(&self) -> Vec<TaskDescriptor> {
        lock(&self.inner.tasks)
            .iter()
            .map(|entry| entry.descriptor.clone())
            .collect()
    }

    /// Waits until every loop started so far (workers, janitor, local tasks) has ended; call
    /// it after firing the shutdown token.
    pub async fn stopped(&self) {
        loop {
            let handles = std::mem::take(&mut *lock(&self.inner.loops));
            if handles.is_empty() {
                break;
            }
            for handle in handles {
                // Loops never panic (task panics are caught in them).
                let _ = handle.await;
            }
        }
        self.inner.local.stopped().await;
    }

    /// The scheduler's HTTP endpoints (see the [module docs](self#http)), to be mounted in
    /// the plugin's router.
    pub fn router(&self) -> axum::Router {
        router::router(self.clone())
    }

    /// The table, connecting and creating it on first use and starting the janitor.
    async fn store(&self) -> Result<&Store, ApiError> {
        let inner = &self.inner;
        inner
            .store
            .get_or_try_init(|| async {
                let (client, skip_create) = match &inner.source {
                    Source::Client(client) => (client.clone(), false),
                    Source::Service(service) => {
                        (service.client().await?, service.migrations_skip())
                    }
                };
                let store = Store::new(&inner.plugin_id, client);
                if !skip_create {
                    store.ensure_table().await?;
                }
                let janitor = tokio::spawn(janitor(
                    store.clone(),
                    inner.plugin_id.clone(),
                    inner.options.janitor_interval,
                    inner.shutdown.clone(),
                ));
                lock(&inner.loops).push(janitor);
                Ok::<_, Error>(store)
            })
            .await
            .map_err(query_error)
    }

    fn entry_exists(&self, id: &str) -> bool {
        lock(&self.inner.tasks)
            .iter()
            .any(|entry| entry.descriptor.id == id)
    }

    fn is_local(&self, id: &str) -> bool {
        lock(&self.inner.tasks)
            .iter()
            .any(|entry| entry.descriptor.id == id && entry.worker.is_none())
    }

    fn global_worker(&self, id: &str) -> Option<Arc<GlobalWorker>> {
        lock(&self.inner.tasks)
            .iter()
            .find(|entry| entry.descriptor.id == id)
            .and_then(|entry| entry.worker.clone())
    }

    /// The body of `GET /.backstage/scheduler/v1/tasks`.
    pub(crate) async fn tasks_json(&self) -> Result<Value, ApiError> {
        let entries: Vec<(TaskDescriptor, Option<Arc<GlobalWorker>>)> = lock(&self.inner.tasks)
            .iter()
            .map(|entry| (entry.descriptor.clone(), entry.worker.clone()))
            .collect();
        let local = if entries.iter().any(|(_, worker)| worker.is_none()) {
            router::local_tasks(&self.inner.local).await?
        } else {
            Map::new()
        };
        let rows = if entries.iter().any(|(_, worker)| worker.is_some()) {
            self.store().await?.rows().await.map_err(query_error)?
        } else {
            Vec::new()
        };

        let tasks = entries
            .into_iter()
            .map(|(descriptor, worker)| match worker {
                None => local.get(&descriptor.id).cloned().unwrap_or_else(|| {
                    router::task_json(&self.inner.plugin_id, &descriptor, Value::Null, Value::Null)
                }),
                Some(worker) => {
                    let state = rows
                        .iter()
                        .find(|row| row.id == descriptor.id)
                        .map_or(Value::Null, router::task_state_json);
                    let mut worker_state = Map::new();
                    worker_state.insert("status".to_owned(), Value::from(worker.status().as_str()));
                    router::task_json(
                        &self.inner.plugin_id,
                        &descriptor,
                        state,
                        Value::Object(worker_state),
                    )
                }
            })
            .collect();
        let mut body = Map::new();
        body.insert("tasks".to_owned(), Value::Array(tasks));
        Ok(Value::Object(body))
    }
}

#[async_trait]
impl SchedulerService for DatabaseScheduler {
    async fn schedule_task(&self, task: TaskDefinition) -> Result<(), ApiError> {
        DatabaseScheduler::schedule_task(self, task).await
    }

    async fn trigger_task(&self, id: &str) -> Result<(), ApiError> {
        DatabaseScheduler::trigger_task(self, id).await
    }

    async fn cancel_task(&self, id: &str) -> Result<(), ApiError> {
        DatabaseScheduler::cancel_task(self, id).await
    }

    async fn scheduled_tasks(&self) -> Result<Vec<TaskDescriptor>, ApiError> {
        Ok(DatabaseScheduler::scheduled_tasks(self))
    }
}

impl fmt::Debug for DatabaseScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks: Vec<String> = lock(&self.inner.tasks)
            .iter()
            .map(|entry| entry.descriptor.id.clone())
            .collect();
        f.debug_struct("DatabaseScheduler")
            .field("plugin_id", &self.inner.plugin_id)
            .field("options", &self.inner.options)
            .field("tasks", &tasks)
            .finish_non_exhaustive()
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Task {id} does not exist"))
}

fn query_error(err: Error) -> ApiError {
    ApiError::internal(err.to_string()).with_cause(err)
}

fn persist_error(id: &str, err: impl Into<BoxError> + fmt::Display) -> ApiError {
    let message = format!("Failed to persist task {id}, {err}");
    ApiError::internal(message).with_cause(err)
}

/// Clears expired leases every `every` until `stop` fires (Backstage's
/// `PluginTaskSchedulerJanitor`).
async fn janitor(store: Store, plugin_id: String, every: Duration, stop: CancellationToken) {
    let every = every.max(Duration::from_millis(10));
    while !stop.is_cancelled() {
        match store.expire_leases().await {
            Ok(ids) => {
                for id in ids {
                    tracing::warn!(plugin = %plugin_id, task = %id, "Task timed out and was lost: {id}");
                }
            }
            Err(err) => {
                tracing::warn!(plugin = %plugin_id, "Error while performing janitorial tasks, {err}");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => {}
        }
    }
}

/// The scheduler service factory for backends with a database: plugin-scoped
/// `core.scheduler`, a [`DatabaseScheduler`] per plugin on the plugin's [`DATABASE`] (with
/// default [`SchedulerOptions`]), its endpoints mounted in the plugin's router, its loops
/// stopped by a root shutdown hook. Install it in place of the in-process scheduler, next to a
/// database service factory.
#[must_use]
pub fn scheduler_service_factory() -> ServiceFactory {
    scheduler_service_factory_with(SchedulerOptions::default())
}

/// As [`scheduler_service_factory`], with `options` for every plugin's scheduler.
#[must_use]
pub fn scheduler_service_factory_with(options: SchedulerOptions) -> ServiceFactory {
    ServiceFactory::with_root_context(
        core_services::SCHEDULER,
        core_services::ROOT_LIFECYCLE,
        |lifecycle| async move {
            let shutdown = CancellationToken::new();
            let token = shutdown.clone();
            lifecycle.add_shutdown_hook(hook(move || async move {
                token.cancel();
                Ok::<_, BoxError>(())
            }))?;
            Ok::<_, BoxError>(shutdown)
        },
        (
            DATABASE,
            core_services::PLUGIN_METADATA,
            core_services::HTTP_ROUTER,
        ),
        move |(database, metadata, router), shutdown: Arc<CancellationToken>| {
            let options = options.clone();
            async move {
                let scheduler = DatabaseScheduler::from_service(
                    metadata.plugin_id(),
                    database,
                    shutdown.child_token(),
                    options,
                );
                router.use_router(scheduler.router());
                Ok::<_, BoxError>(Arc::new(scheduler) as Arc<dyn SchedulerService>)
            }
        },
    )
}
