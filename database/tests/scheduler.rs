//! The database-backed scheduler against real servers: PostgreSQL and MariaDB from
//! `scripts/with-servers` (a missing server fails the test), SQLite in a temporary file.
//!
//! Every engine gets the same tests (one database per test); on PostgreSQL, a multi-process
//! test re-executes this binary three times (`multi_process_worker`) to prove that a global
//! task runs on one process at a time and moves to another when its holder is killed.
//!
//! Run with `scripts/with-servers cargo test -p backstage-database --all-features --test
//! scheduler`.

// Test helpers outside `#[test]` functions panic on purpose, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The server helpers are unused in builds without the server engines.
#![cfg_attr(not(all(feature = "postgres", feature = "mysql")), allow(dead_code))]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backstage_backend_common::ErrorKind;
use backstage_backend_common::scheduler::{
    BoxError, CancellationToken, CronExpr, TaskDefinition, TaskSchedule, TaskScope,
};
use backstage_database::scheduler::{DatabaseScheduler, SchedulerOptions, TASKS_TABLE};
use backstage_database::{DatabaseClient, Engine};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

const PLUGIN: &str = "sched";

/// A database of its own for one test, on one engine.
struct TestDb {
    engine: Engine,
    name: String,
    admin_url: String,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    async fn create(engine: Engine) -> TestDb {
        let name = backstage_test_support::unique_name("sched");
        match engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres => {
                use sqlx::Connection;
                let admin_url = backstage_test_support::Server::Postgres.url();
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let url = database_url(&admin_url, &name);
                TestDb {
                    engine,
                    name,
                    admin_url,
                    url,
                    _dir: None,
                }
            }
            #[cfg(feature = "mysql")]
            Engine::MySql => {
                use sqlx::Connection;
                let admin_url = backstage_test_support::Server::MySql.url();
                let mut admin = sqlx::MySqlConnection::connect(&admin_url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let url = database_url(&admin_url, &name);
                TestDb {
                    engine,
                    name,
                    admin_url,
                    url,
                    _dir: None,
                }
            }
            #[cfg(feature = "sqlite")]
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = dir
                    .path()
                    .join(format!("{name}.sqlite"))
                    .to_string_lossy()
                    .into_owned();
                TestDb {
                    engine,
                    name,
                    admin_url: String::new(),
                    url,
                    _dir: Some(dir),
                }
            }
            #[allow(unreachable_patterns)]
            _ => panic!("{engine} is not enabled in this build"),
        }
    }

    /// A new pool on the test database: another "replica".
    async fn client(&self) -> DatabaseClient {
        match self.engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres => DatabaseClient::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(5)
                    .connect(&self.url)
                    .await
                    .unwrap(),
            ),
            #[cfg(feature = "mysql")]
            Engine::MySql => DatabaseClient::MySql(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(5)
                    .connect(&self.url)
                    .await
                    .unwrap(),
            ),
            #[cfg(feature = "sqlite")]
            Engine::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&self.url)
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10));
                DatabaseClient::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(5)
                        .connect_with(options)
                        .await
                        .unwrap(),
                )
            }
            #[allow(unreachable_patterns)]
            _ => panic!("{} is not enabled in this build", self.engine),
        }
    }

    /// Drops the database (a test that panics drops it in [`Drop`]).
    async fn drop_database(mut self) {
        drop_server_database(self.engine, &self.admin_url, &self.name)
            .await
            .unwrap();
        self.admin_url.clear();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.admin_url.is_empty() || self.name.is_empty() {
            return;
        }
        // A failed test: drop the database from a thread of its own (no async in `drop`).
        let (engine, admin_url, name) = (
            self.engine,
            std::mem::take(&mut self.admin_url),
            std::mem::take(&mut self.name),
        );
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(drop_server_database(engine, &admin_url, &name))
                .map_err(std::io::Error::other)
        })
        .join();
    }
}

async fn drop_server_database(
    engine: Engine,
    admin_url: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    match engine {
        #[cfg(feature = "postgres")]
        Engine::Postgres => {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
            admin.close().await
        }
        #[cfg(feature = "mysql")]
        Engine::MySql => {
            use sqlx::Connection;
            let mut admin = sqlx::MySqlConnection::connect(admin_url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .execute(&mut admin)
            .await?;
            admin.close().await
        }
        _ => {
            let _ = (admin_url, name);
            Ok(())
        }
    }
}

/// `server_url` with its path replaced by `/name`.
fn database_url(server_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(server_url).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Text columns of the task's row: ticket, settings, last error.
#[derive(Debug)]
struct RowText {
    ticket: Option<String>,
    settings: String,
    error: Option<String>,
}

async fn row_text(client: &DatabaseClient, id: &str) -> Option<RowText> {
    let sql = format!(
        "SELECT current_run_ticket, settings_json, last_run_error_json FROM {TASKS_TABLE} WHERE id = '{id}'"
    );
    macro_rules! read {
        ($pool:expr) => {{
            use sqlx::Row;
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_optional($pool)
                .await
                .unwrap()
                .map(|row| RowText {
                    ticket: row.try_get(0).unwrap(),
                    settings: row.try_get(1).unwrap(),
                    error: row.try_get(2).unwrap(),
                })
        }};
    }
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => read!(pool),
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => read!(pool),
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => read!(pool),
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    }
}

/// Runs an SQL statement on the test database.
async fn execute(client: &DatabaseClient, sql: &str) {
    let sql = sql.to_owned();
    match client {
        #[cfg(feature = "postgres")]
        DatabaseClient::Postgres(pool) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .unwrap();
        }
        #[cfg(feature = "mysql")]
        DatabaseClient::MySql(pool) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .unwrap();
        }
        #[cfg(feature = "sqlite")]
        DatabaseClient::Sqlite(pool) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .unwrap();
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    }
}

fn options(worker: &str) -> SchedulerOptions {
    SchedulerOptions::default()
        .poll_interval(Duration::from_millis(50))
        .janitor_interval(Duration::from_millis(100))
        .lease_duration(Duration::from_secs(2))
        .worker_id(worker)
}

fn scheduler(
    client: DatabaseClient,
    shutdown: &CancellationToken,
    options: SchedulerOptions,
) -> DatabaseScheduler {
    DatabaseScheduler::new(PLUGIN, client, shutdown.child_token(), options)
}

/// The task list of the scheduler's router.
async fn list(scheduler: &DatabaseScheduler) -> Value {
    let response = scheduler
        .router()
        .oneshot(
            Request::get("/.backstage/scheduler/v1/tasks")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn post(scheduler: &DatabaseScheduler, path: &str) -> (StatusCode, Value) {
    let response = scheduler
        .router()
        .oneshot(Request::post(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The `taskState` of task `id` in the scheduler's list.
async fn task_state(scheduler: &DatabaseScheduler, id: &str) -> Value {
    let list = list(scheduler).await;
    list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["taskId"] == id)
        .unwrap_or_else(|| panic!("no task {id} in {list}"))["taskState"]
        .clone()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(
        value
            .as_str()
            .unwrap_or_else(|| panic!("not a time: {value}")),
    )
    .unwrap()
    .with_timezone(&Utc)
}

/// Waits until `check` holds, polling every 20 ms, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A task function that counts runs and sleeps `run_for` (or until its token fires),
/// recording whether it was cancelled, and checks that no two runs overlap.
#[derive(Clone, Default)]
struct Probe {
    runs: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    max_running: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
    /// (worker, start, end) of finished runs.
    log: Arc<Mutex<Vec<(String, Instant, Instant)>>>,
}

impl Probe {
    fn task(
        &self,
        id: &str,
        schedule: TaskSchedule,
        worker: &str,
        run_for: Duration,
    ) -> TaskDefinition {
        let probe = self.clone();
        let worker = worker.to_owned();
        TaskDefinition::new(id, schedule, move |cancel: CancellationToken| {
            let probe = probe.clone();
            let worker = worker.clone();
            async move {
                let start = Instant::now();
                probe.runs.fetch_add(1, Ordering::SeqCst);
                let now_running = probe.running.fetch_add(1, Ordering::SeqCst) + 1;
                probe.max_running.fetch_max(now_running, Ordering::SeqCst);
                let result: Result<(), BoxError> = tokio::select! {
                    () = tokio::time::sleep(run_for) => Ok(()),
                    () = cancel.cancelled() => {
                        probe.cancelled.fetch_add(1, Ordering::SeqCst);
                        Err("the run was cancelled".into())
                    }
                };
                probe.running.fetch_sub(1, Ordering::SeqCst);
                probe
                    .log
                    .lock()
                    .unwrap()
                    .push((worker, start, Instant::now()));
                result
            }
        })
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

async fn stop(shutdown: CancellationToken, schedulers: &[&DatabaseScheduler]) {
    shutdown.cancel();
    for scheduler in schedulers {
        tokio::time::timeout(Duration::from_secs(10), scheduler.stopped())
            .await
            .expect("the scheduler stops");
    }
}

// ---------------------------------------------------------------------------------------
// The tests, run on every engine.
// ---------------------------------------------------------------------------------------

/// Registration stores the settings and Backstage's first start; an existing row keeps an
/// earlier next start.
async fn schedule_persists_settings(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let client = db.client().await;
    let a = scheduler(client.clone(), &shutdown, options("a"));
    let probe = Probe::default();

    let delayed = TaskSchedule::every(Duration::from_secs(3600), Duration::from_secs(60))
        .initial_delay(Duration::from_secs(30));
    let before = Utc::now();
    a.schedule_task(probe.task("delayed", delayed.clone(), "a", Duration::ZERO))
        .await
        .unwrap();
    let row = row_text(&client, "delayed").await.unwrap();
    assert_eq!(row.settings, delayed.settings().to_string());
    assert_eq!(
        serde_json::from_str::<Value>(&row.settings).unwrap(),
        json!({"version": 2, "cadence": "PT1H", "initialDelayDuration": "PT30S", "timeoutAfterDuration": "PT1M"})
    );
    assert_eq!(row.ticket, None);
    let state = task_state(&a, "delayed").await;
    assert_eq!(state["status"], "idle");
    let starts = time(&state["startsAt"]);
    let offset = (starts - before).num_milliseconds();
    assert!(
        (28_000..=32_000).contains(&offset),
        "starts {offset} ms after registration"
    );

    // Another replica registers the same task with a longer cadence: the earlier start stays,
    // the new settings are stored.
    let b = scheduler(db.client().await, &shutdown, options("b"));
    let longer = TaskSchedule::every(Duration::from_secs(7200), Duration::from_secs(60))
        .initial_delay(Duration::from_secs(3600));
    b.schedule_task(probe.task("delayed", longer.clone(), "b", Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(time(&task_state(&b, "delayed").await["startsAt"]), starts);
    assert_eq!(
        row_text(&client, "delayed").await.unwrap().settings,
        longer.settings().to_string()
    );
    // A cadence due earlier than the stored start moves it.
    let c = scheduler(db.client().await, &shutdown, options("c"));
    let shorter = TaskSchedule::every(Duration::from_secs(5), Duration::from_secs(60))
        .initial_delay(Duration::from_secs(3600));
    c.schedule_task(probe.task("delayed", shorter, "c", Duration::ZERO))
        .await
        .unwrap();
    let moved =
        (time(&task_state(&c, "delayed").await["startsAt"]) - Utc::now()).num_milliseconds();
    assert!((0..=6_000).contains(&moved), "moved to {moved} ms from now");

    // Manual: no start. Cron: the next cron time.
    a.schedule_task(probe.task(
        "manual",
        TaskSchedule::manual(Duration::from_secs(5)),
        "a",
        Duration::ZERO,
    ))
    .await
    .unwrap();
    let state = task_state(&a, "manual").await;
    assert_eq!(state, json!({"status": "idle"}));
    let cron = TaskSchedule::cron(
        CronExpr::parse("0 0 1 1 *").unwrap(),
        Duration::from_secs(5),
    );
    a.schedule_task(probe.task("yearly", cron.clone(), "a", Duration::ZERO))
        .await
        .unwrap();
    let next = CronExpr::parse("0 0 1 1 *")
        .unwrap()
        .next_after(&chrono::Local::now())
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(time(&task_state(&a, "yearly").await["startsAt"]), next);
    assert_eq!(
        row_text(&client, "yearly").await.unwrap().settings,
        r#"{"version":2,"cadence":"0 0 1 1 *","timeoutAfterDuration":"PT5S"}"#
    );

    // The list holds what this instance registered, in order, with worker states.
    let listed = list(&a).await;
    let ids: Vec<&str> = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["delayed", "manual", "yearly"]);
    assert_eq!(listed["tasks"][0]["pluginId"], PLUGIN);
    assert_eq!(listed["tasks"][0]["scope"], "global");
    assert_eq!(
        listed["tasks"][0]["workerState"],
        json!({"status": "initial-wait"})
    );
    assert_eq!(listed["tasks"][1]["workerState"], json!({"status": "idle"}));
    assert_eq!(a.scheduled_tasks().len(), 3);
    assert_eq!(probe.runs(), 0);

    stop(shutdown, &[&a, &b, &c]).await;
    db.drop_database().await;
}

/// Backstage's errors for trigger and cancel, and what they do.
async fn trigger_and_cancel(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let a = scheduler(db.client().await, &shutdown, options("a"));

    let err = a.trigger_task("nope").await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::NotFound));
    assert_eq!(err.to_string(), "NotFoundError: Task nope does not exist");
    let err = a.cancel_task("nope").await.unwrap_err();
    assert_eq!(err.to_string(), "NotFoundError: Task nope does not exist");
    let (status, body) = post(&a, "/.backstage/scheduler/v1/tasks/nope/trigger").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "Task nope does not exist");

    let err = a
        .schedule_task(TaskDefinition::new(
            " ",
            TaskSchedule::manual(Duration::from_secs(1)),
            |_| async { Ok(()) },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "InputError:   is not a valid ID, expected non-empty string"
    );

    let probe = Probe::default();
    let manual = TaskSchedule::manual(Duration::from_secs(30));
    a.schedule_task(probe.task("m", manual.clone(), "a", Duration::from_secs(20)))
        .await
        .unwrap();
    let err = a
        .schedule_task(probe.task("m", manual, "a", Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("ConflictError: Task m is already scheduled for plugin {PLUGIN}")
    );

    let err = a.cancel_task("m").await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Conflict));
    assert_eq!(err.to_string(), "ConflictError: Task m is not running");

    let (status, _) = post(&a, "/.backstage/scheduler/v1/tasks/m/trigger").await;
    assert_eq!(status, StatusCode::OK);
    eventually(Duration::from_secs(5), "the triggered run", || async {
        probe.runs() == 1
    })
    .await;
    let err = a.trigger_task("m").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConflictError: Task m is currently running"
    );
    let state = task_state(&a, "m").await;
    assert_eq!(state["status"], "running");
    let started = time(&state["startedAt"]);
    let times_out = time(&state["timesOutAt"]);
    assert!(times_out > started, "{state}");
    assert_eq!(
        list(&a).await["tasks"][0]["workerState"],
        json!({"status": "running"})
    );

    let (status, _) = post(&a, "/.backstage/scheduler/v1/tasks/m/cancel").await;
    assert_eq!(status, StatusCode::OK);
    eventually(Duration::from_secs(2), "the run's token", || async {
        probe.cancelled.load(Ordering::SeqCst) == 1
    })
    .await;
    let state = task_state(&a, "m").await;
    assert_eq!(state["status"], "idle");
    assert_eq!(
        state["lastRunError"],
        r#"{"name":"Error","message":"Task was cancelled"}"#
    );
    assert!(
        state.get("startsAt").is_none(),
        "a cancelled manual task waits: {state}"
    );
    let err = a.cancel_task("m").await.unwrap_err();
    assert_eq!(err.to_string(), "ConflictError: Task m is not running");

    // Not run again: manual tasks wait for the next trigger.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(probe.runs(), 1);

    stop(shutdown, &[&a]).await;
    db.drop_database().await;
}

/// A manual task runs only when triggered, also when another replica triggers it.
async fn manual_runs_only_on_trigger(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let a = scheduler(db.client().await, &shutdown, options("a"));
    let b = scheduler(db.client().await, &shutdown, options("b"));
    let probe = Probe::default();
    let manual = TaskSchedule::manual(Duration::from_secs(10));
    a.schedule_task(probe.task("m", manual, "a", Duration::from_millis(10)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(probe.runs(), 0);

    // B never registered the task; the row is enough.
    b.trigger_task("m").await.unwrap();
    eventually(Duration::from_secs(3), "the run", || async {
        probe.runs() == 1
    })
    .await;
    eventually(Duration::from_secs(3), "the release", || async {
        task_state(&a, "m").await.get("lastRunEndedAt").is_some()
    })
    .await;
    let state = task_state(&a, "m").await;
    assert_eq!(state["status"], "idle");
    assert!(state.get("startsAt").is_none(), "{state}");
    assert!(state.get("lastRunError").is_none(), "{state}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(probe.runs(), 1);

    stop(shutdown, &[&a, &b]).await;
    db.drop_database().await;
}

/// Three replicas (three pools) with the same task: runs never overlap, and the task keeps
/// running at its cadence.
async fn global_runs_never_overlap(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let a = scheduler(db.client().await, &shutdown, options("a"));
    let b = scheduler(db.client().await, &shutdown, options("b"));
    let c = scheduler(db.client().await, &shutdown, options("c"));
    let probe = Probe::default();
    let every = TaskSchedule::every(Duration::from_millis(20), Duration::from_secs(10));
    for (replica, name) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        replica
            .schedule_task(probe.task("beat", every.clone(), name, Duration::from_millis(60)))
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(10), "fifteen runs", || async {
        probe.runs() >= 15
    })
    .await;
    stop(shutdown, &[&a, &b, &c]).await;

    assert_eq!(
        probe.max_running.load(Ordering::SeqCst),
        1,
        "two runs at once"
    );
    let mut log = probe.log.lock().unwrap().clone();
    log.sort_by_key(|(_, start, _)| *start);
    for pair in log.windows(2) {
        assert!(pair[1].1 >= pair[0].2, "overlapping runs: {pair:?}");
    }
    db.drop_database().await;
}

/// A run longer than the lease keeps the task: the lease is renewed while it runs.
async fn lease_renewal_keeps_long_run(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let lease = Duration::from_millis(300);
    let a = scheduler(
        db.client().await,
        &shutdown,
        options("a").lease_duration(lease),
    );
    let b = scheduler(
        db.client().await,
        &shutdown,
        options("b").lease_duration(lease),
    );
    let probe = Probe::default();
    let manual = TaskSchedule::manual(Duration::from_secs(10));
    a.schedule_task(probe.task("long", manual.clone(), "a", Duration::from_millis(1500)))
        .await
        .unwrap();
    b.schedule_task(probe.task("long", manual, "b", Duration::from_millis(1500)))
        .await
        .unwrap();
    a.trigger_task("long").await.unwrap();
    eventually(Duration::from_secs(3), "the run", || async {
        probe.runs() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    // Three leases later, the run still holds the task, with a renewed lease.
    let state = task_state(&a, "long").await;
    assert_eq!(state["status"], "running", "{state}");
    let held = (time(&state["timesOutAt"]) - time(&state["startedAt"])).num_milliseconds();
    assert!(held > 900, "the lease was not renewed: {state}");
    eventually(Duration::from_secs(3), "the end of the run", || async {
        task_state(&a, "long").await["status"] == "idle"
    })
    .await;
    let state = task_state(&a, "long").await;
    assert!(state.get("lastRunError").is_none(), "{state}");
    assert_eq!(probe.runs(), 1, "another replica took the task over");
    assert_eq!(probe.cancelled.load(Ordering::SeqCst), 0);
    stop(shutdown, &[&a, &b]).await;
    db.drop_database().await;
}

/// A replica that dies mid-run (its runtime is torn down: no renewal, no release) loses the
/// task when its lease expires; the next poll of another replica takes it over.
async fn expired_lease_is_taken_over(engine: Engine) {
    let db = TestDb::create(engine).await;
    let lease = Duration::from_millis(500);
    let every = TaskSchedule::every(Duration::from_secs(3600), Duration::from_secs(30));

    // Replica A, on a runtime of its own.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let a_probe = Probe::default();
    let a_started = {
        let db_client = {
            let url = db.url.clone();
            let engine = db.engine;
            doomed
                .spawn(async move {
                    let db = TestDb {
                        engine,
                        name: String::new(),
                        admin_url: String::new(),
                        url,
                        _dir: None,
                    };
                    db.client().await
                })
                .await
                .unwrap()
        };
        let a = DatabaseScheduler::new(
            PLUGIN,
            db_client,
            CancellationToken::new(),
            options("a").lease_duration(lease),
        );
        let task = a_probe.task("job", every.clone(), "a", Duration::from_secs(60));
        doomed
            .spawn(async move { a.schedule_task(task).await })
            .await
            .unwrap()
            .unwrap();
        eventually(Duration::from_secs(5), "A's run", || async {
            a_probe.runs() == 1
        })
        .await;
        Instant::now()
    };
    let client = db.client().await;
    let ticket = row_text(&client, "job").await.unwrap().ticket.unwrap();
    assert!(ticket.starts_with("a/"), "{ticket}");
    doomed.shutdown_background();
    let died = Instant::now();

    // Replica B joins: the task is "running" until A's lease runs out.
    let shutdown = CancellationToken::new();
    let b = scheduler(
        client.clone(),
        &shutdown,
        options("b").lease_duration(lease),
    );
    let b_probe = Probe::default();
    b.schedule_task(b_probe.task("job", every, "b", Duration::from_secs(60)))
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "B's takeover", || async {
        b_probe.runs() == 1
    })
    .await;
    let took = died.elapsed();
    assert!(
        a_started.elapsed() >= lease - Duration::from_millis(100),
        "taken over before the lease expired"
    );
    assert!(
        took < lease + Duration::from_secs(1),
        "takeover took {took:?}"
    );
    let row = row_text(&client, "job").await.unwrap();
    assert!(row.ticket.unwrap().starts_with("b/"));
    assert_eq!(
        row.error.as_deref(),
        Some(r#"{"name":"Error","message":"Task timed out"}"#)
    );
    assert_eq!(a_probe.runs(), 1);

    b.cancel_task("job").await.unwrap();
    stop(shutdown, &[&b]).await;
    db.drop_database().await;
}

/// The janitor clears an expired lease of a dead replica and records the timeout.
async fn janitor_clears_expired_leases(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let client = db.client().await;
    let a = scheduler(client.clone(), &shutdown, options("a"));
    let probe = Probe::default();
    // Registered on A (which never runs it: an hour of initial delay), then a dead replica's
    // claim is faked with an expired lease.
    a.schedule_task(probe.task(
        "orphan",
        TaskSchedule::manual(Duration::from_secs(60)).initial_delay(Duration::from_secs(3600)),
        "a",
        Duration::ZERO,
    ))
    .await
    .unwrap();
    let past = match engine {
        Engine::Postgres => "now() - interval '1 second'",
        Engine::MySql => "UTC_TIMESTAMP(3) - INTERVAL 1 SECOND",
        Engine::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 seconds')",
    };
    execute(
        &client,
        &format!(
            "UPDATE {TASKS_TABLE} SET current_run_ticket = 'dead/1', current_run_started_at = {past}, \
             current_run_expires_at = {past} WHERE id = 'orphan'"
        ),
    )
    .await;
    eventually(Duration::from_secs(3), "the janitor", || async {
        row_text(&client, "orphan").await.unwrap().ticket.is_none()
    })
    .await;
    let state = task_state(&a, "orphan").await;
    assert_eq!(state["status"], "idle");
    assert_eq!(
        state["lastRunError"],
        r#"{"name":"Error","message":"Task timed out"}"#
    );
    assert!(state.get("lastRunEndedAt").is_some());
    assert_eq!(probe.runs(), 0);
    stop(shutdown, &[&a]).await;
    db.drop_database().await;
}

/// Cancelling from a replica that does not run the task fires the run's token on the one
/// that does, at its next lease renewal.
async fn cancel_from_another_instance(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let a = scheduler(db.client().await, &shutdown, options("a"));
    let b = scheduler(db.client().await, &shutdown, options("b"));
    let probe = Probe::default();
    a.schedule_task(probe.task(
        "slow",
        TaskSchedule::every(Duration::from_secs(3600), Duration::from_secs(30)),
        "a",
        Duration::from_secs(20),
    ))
    .await
    .unwrap();
    eventually(Duration::from_secs(3), "the run", || async {
        probe.runs() == 1
    })
    .await;
    let err = b.trigger_task("slow").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConflictError: Task slow is currently running"
    );

    let cancelled_at = Instant::now();
    b.cancel_task("slow").await.unwrap();
    eventually(Duration::from_secs(2), "A's token", || async {
        probe.cancelled.load(Ordering::SeqCst) == 1
    })
    .await;
    let took = cancelled_at.elapsed();
    assert!(
        took < Duration::from_millis(1000),
        "the run noticed after {took:?}"
    );
    let state = task_state(&a, "slow").await;
    assert_eq!(state["status"], "idle");
    assert_eq!(
        state["lastRunError"],
        r#"{"name":"Error","message":"Task was cancelled"}"#
    );
    // The next start moved as after a run: an hour from the cancelled run's start.
    let next = (time(&state["startsAt"]) - Utc::now()).num_seconds();
    assert!((3500..=3600).contains(&next), "next start in {next} s");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(probe.runs(), 1);
    stop(shutdown, &[&a, &b]).await;
    db.drop_database().await;
}

/// Local tasks run in every instance, through the inner in-process scheduler, and are listed
/// with the global ones.
async fn local_tasks_run_everywhere(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let a = scheduler(db.client().await, &shutdown, options("a"));
    let b = scheduler(db.client().await, &shutdown, options("b"));
    let (pa, pb) = (Probe::default(), Probe::default());
    let local = TaskSchedule::manual(Duration::from_secs(10)).scope(TaskScope::Local);
    a.schedule_task(pa.task("here", local.clone(), "a", Duration::from_millis(10)))
        .await
        .unwrap();
    b.schedule_task(pb.task("here", local, "b", Duration::from_millis(10)))
        .await
        .unwrap();
    a.schedule_task(pa.task(
        "everywhere",
        TaskSchedule::manual(Duration::from_secs(10)),
        "a",
        Duration::ZERO,
    ))
    .await
    .unwrap();
    a.trigger_task("here").await.unwrap();
    b.trigger_task("here").await.unwrap();
    eventually(Duration::from_secs(3), "both local runs", || async {
        pa.runs() == 1 && pb.runs() == 1
    })
    .await;
    // Local tasks never touch the table.
    let client = db.client().await;
    assert!(row_text(&client, "here").await.is_none());
    assert!(row_text(&client, "everywhere").await.is_some());
    // `runs` counts a run when it starts: wait for it to finish before expecting "not running".
    eventually(
        Duration::from_secs(3),
        "both local runs to finish",
        || async { pa.log.lock().unwrap().len() == 1 && pb.log.lock().unwrap().len() == 1 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = a.cancel_task("here").await.unwrap_err();
    assert_eq!(err.to_string(), "ConflictError: Task here is not running");

    let listed = list(&a).await;
    let tasks = listed["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["taskId"], "here");
    assert_eq!(tasks[0]["scope"], "local");
    assert_eq!(tasks[0]["pluginId"], PLUGIN);
    assert_eq!(
        tasks[0]["settings"],
        json!({"version": 2, "cadence": "manual", "timeoutAfterDuration": "PT10S"})
    );
    assert_eq!(tasks[0]["taskState"]["status"], "idle");
    assert!(tasks[0]["taskState"].get("lastRunEndedAt").is_some());
    assert_eq!(tasks[1]["taskId"], "everywhere");
    assert_eq!(tasks[1]["scope"], "global");
    assert_eq!(tasks[1]["taskState"], json!({"status": "idle"}));
    let scopes: Vec<TaskScope> = a.scheduled_tasks().iter().map(|task| task.scope).collect();
    assert_eq!(scopes, [TaskScope::Local, TaskScope::Global]);
    stop(shutdown, &[&a, &b]).await;
    db.drop_database().await;
}

/// A task whose function fails or panics has the error recorded, and keeps its schedule.
async fn run_errors_are_recorded(engine: Engine) {
    let db = TestDb::create(engine).await;
    let shutdown = CancellationToken::new();
    let a = scheduler(db.client().await, &shutdown, options("a"));
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    a.schedule_task(TaskDefinition::new(
        "flaky",
        TaskSchedule::manual(Duration::from_secs(10)),
        move |_cancel: CancellationToken| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err::<(), BoxError>("boom".into())
                } else {
                    panic!("kaput")
                }
            }
        },
    ))
    .await
    .unwrap();
    for (n, want) in [
        (1, r#"{"name":"Error","message":"boom"}"#),
        (2, r#"{"name":"Error","message":"Task panicked: kaput"}"#),
    ] {
        a.trigger_task("flaky").await.unwrap();
        eventually(Duration::from_secs(3), "the recorded error", || async {
            runs.load(Ordering::SeqCst) == n
                && task_state(&a, "flaky").await["lastRunError"] == want
        })
        .await;
    }
    stop(shutdown, &[&a]).await;
    db.drop_database().await;
}

macro_rules! engine_tests {
    ($engine:expr => $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                super::$name($engine).await;
            }
        )*
    };
}

macro_rules! all_engine_tests {
    ($engine:expr) => {
        engine_tests!($engine =>
            schedule_persists_settings,
            trigger_and_cancel,
            manual_runs_only_on_trigger,
            global_runs_never_overlap,
            lease_renewal_keeps_long_run,
            expired_lease_is_taken_over,
            janitor_clears_expired_leases,
            cancel_from_another_instance,
            local_tasks_run_everywhere,
            run_errors_are_recorded,
        );
    };
}

#[cfg(feature = "postgres")]
mod postgres {
    all_engine_tests!(backstage_database::Engine::Postgres);
}

#[cfg(feature = "mysql")]
mod mysql {
    all_engine_tests!(backstage_database::Engine::MySql);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    all_engine_tests!(backstage_database::Engine::Sqlite);
}

// ---------------------------------------------------------------------------------------
// Three processes sharing one PostgreSQL database.
// ---------------------------------------------------------------------------------------

/// Set (to the worker ID) in the worker processes the multi-process test starts.
#[cfg(feature = "postgres")]
const WORKER_ENV: &str = "BACKSTAGE_SCHEDULER_WORKER";
/// The database URL of the worker processes.
#[cfg(feature = "postgres")]
const WORKER_DB_ENV: &str = "BACKSTAGE_SCHEDULER_WORKER_DB";
/// The lease of the worker processes.
#[cfg(feature = "postgres")]
const WORKER_LEASE: Duration = Duration::from_secs(1);
/// How long one run of the workers' task takes.
#[cfg(feature = "postgres")]
const WORKER_RUN: Duration = Duration::from_millis(400);
/// A worker process gives up after this, should the test that started it be gone.
#[cfg(feature = "postgres")]
const WORKER_LIFETIME: Duration = Duration::from_secs(45);

/// The body of a worker process: a replica that registers the global task `heartbeat` (every
/// 200 ms), whose runs record (worker, start, end) in the table `runs`, and lives until
/// killed. Returns at once in a normal test run.
#[cfg(feature = "postgres")]
#[test]
fn multi_process_worker() {
    let Ok(worker) = std::env::var(WORKER_ENV) else {
        return;
    };
    let url = std::env::var(WORKER_DB_ENV).expect("the database URL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let scheduler = DatabaseScheduler::new(
            PLUGIN,
            DatabaseClient::Postgres(pool.clone()),
            shutdown.clone(),
            SchedulerOptions::default()
                .poll_interval(Duration::from_millis(100))
                .janitor_interval(Duration::from_millis(500))
                .lease_duration(WORKER_LEASE)
                .worker_id(worker.clone()),
        );
        scheduler
            .schedule_task(TaskDefinition::new(
                "heartbeat",
                TaskSchedule::every(Duration::from_millis(200), Duration::from_secs(20)),
                move |cancel: CancellationToken| {
                    let pool = pool.clone();
                    let worker = worker.clone();
                    async move {
                        let (id,): (i64,) = sqlx::query_as(
                            "INSERT INTO runs (worker, started_at) VALUES ($1, clock_timestamp()) RETURNING id",
                        )
                        .bind(&worker)
                        .fetch_one(&pool)
                        .await?;
                        tokio::select! {
                            () = tokio::time::sleep(WORKER_RUN) => {}
                            () = cancel.cancelled() => return Err("cancelled".into()),
                        }
                        sqlx::query("UPDATE runs SET ended_at = clock_timestamp() WHERE id = $1")
                            .bind(id)
                            .execute(&pool)
                            .await?;
                        Ok(())
                    }
                },
            ))
            .await
            .unwrap();
        tokio::time::sleep(WORKER_LIFETIME).await;
        shutdown.cancel();
        scheduler.stopped().await;
    });
}

/// Child processes, killed when dropped (also when the test fails).
#[cfg(feature = "postgres")]
struct Workers(Vec<(String, std::process::Child)>);

#[cfg(feature = "postgres")]
impl Drop for Workers {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One row of `runs`: worker, start, end (`None` while running, or when killed mid-run).
#[cfg(feature = "postgres")]
type Run = (String, DateTime<Utc>, Option<DateTime<Utc>>);

#[cfg(feature = "postgres")]
async fn runs(pool: &sqlx::PgPool) -> Vec<Run> {
    sqlx::query_as("SELECT worker, started_at, ended_at FROM runs ORDER BY started_at")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Runs never overlap: each starts after the previous one ended (a run that never ended,
/// because its process was killed, ends at `killed_at`).
#[cfg(feature = "postgres")]
fn assert_no_overlap(runs: &[Run], killed: Option<(&str, DateTime<Utc>)>) {
    for pair in runs.windows(2) {
        let (previous, next) = (&pair[0], &pair[1]);
        let previous_end = match (previous.2, killed) {
            (Some(end), _) => end,
            (None, Some((worker, at))) if worker == previous.0 => at,
            (None, _) => panic!("a run started while another was in progress: {pair:?}"),
        };
        assert!(
            next.1 >= previous_end,
            "overlapping runs across processes: {previous:?} and {next:?}"
        );
    }
}

/// The proof of the issue: three processes share one PostgreSQL database; the global task
/// runs on exactly one at a time; killing the holder mid-run moves the task to another
/// process within the lease time.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_process_global_task_runs_on_one_replica() {
    let db = TestDb::create(Engine::Postgres).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&db.url)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE runs (id bigserial PRIMARY KEY, worker text NOT NULL, \
         started_at timestamptz NOT NULL, ended_at timestamptz)",
    )
    .execute(&pool)
    .await
    .unwrap();

    let exe = std::env::current_exe().unwrap();
    let mut workers = Workers(Vec::new());
    for n in 1..=3 {
        let id = format!("worker-{n}");
        let child = std::process::Command::new(&exe)
            .args(["--exact", "multi_process_worker", "--nocapture"])
            .env(WORKER_ENV, &id)
            .env(WORKER_DB_ENV, &db.url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        workers.0.push((id, child));
    }

    // Phase 1: a series of runs, one at a time, across the processes.
    let started = Instant::now();
    loop {
        let done = runs(&pool)
            .await
            .iter()
            .filter(|run| run.2.is_some())
            .count();
        if done >= 8 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "only {done} runs after 20 s: {:?}",
            runs(&pool).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_no_overlap(&runs(&pool).await, None);

    // Phase 2: kill the process holding the task, early in a run.
    let (holder, run_started): (String, DateTime<Utc>) = loop {
        let fresh: Option<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT worker, started_at FROM runs WHERE ended_at IS NULL \
             AND clock_timestamp() - started_at < interval '150 milliseconds'",
        )
        .fetch_optional(&pool)
        .await
        .unwrap();
        if let Some(fresh) = fresh {
            break fresh;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no run to interrupt"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let position = workers.0.iter().position(|(id, _)| *id == holder).unwrap();
    let (_, mut child) = workers.0.remove(position);
    child.kill().unwrap();
    child.wait().unwrap();
    let (killed_at,): (DateTime<Utc>,) = sqlx::query_as("SELECT clock_timestamp()")
        .fetch_one(&pool)
        .await
        .unwrap();
    // It died mid-run: its run never ended.
    let (ended,): (Option<DateTime<Utc>>,) =
        sqlx::query_as("SELECT ended_at FROM runs WHERE worker = $1 AND started_at = $2")
            .bind(&holder)
            .bind(run_started)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        ended, None,
        "{holder} finished its run before it was killed"
    );

    // Phase 3: another process takes the task over once the lease expires.
    let takeover = loop {
        let next: Option<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT worker, started_at FROM runs WHERE started_at > $1 ORDER BY started_at LIMIT 1",
        )
        .bind(run_started)
        .fetch_optional(&pool)
        .await
        .unwrap();
        if let Some(next) = next {
            break next;
        }
        assert!(
            killed_at
                .signed_duration_since(Utc::now())
                .num_seconds()
                .abs()
                < 10,
            "no takeover 10 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_ne!(takeover.0, holder);
    let delay = (takeover.1 - killed_at).to_std().unwrap_or(Duration::ZERO);
    // The lease, renewed every 100 ms, then one poll (100 ms) and some slack.
    assert!(
        delay <= WORKER_LEASE + Duration::from_millis(700),
        "the task moved {delay:?} after the kill"
    );
    assert!(takeover.1 >= killed_at, "taken over while the holder lived");
    // Not before the lease (renewed at most 100 ms before the kill) ran out.
    assert!(
        delay + Duration::from_millis(300) >= WORKER_LEASE,
        "the task moved {delay:?} after the kill, before the lease expired"
    );

    // Phase 4: the survivors keep taking turns, still one at a time.
    let count = runs(&pool).await.len();
    eventually(
        Duration::from_secs(10),
        "more runs after the takeover",
        || async {
            runs(&pool)
                .await
                .iter()
                .filter(|run| run.2.is_some())
                .count()
                >= count + 3
        },
    )
    .await;
    let all = runs(&pool).await;
    assert_no_overlap(&all, Some((&holder, killed_at)));
    let workers_seen: std::collections::BTreeSet<&str> =
        all.iter().map(|run| run.0.as_str()).collect();
    eprintln!(
        "multi-process: {} runs by {workers_seen:?}; {holder} killed, {} took over after {delay:?}",
        all.len(),
        takeover.0
    );

    drop(workers);
    pool.close().await;
    db.drop_database().await;
}

// ---------------------------------------------------------------------------------------
// The service factory in a backend.
// ---------------------------------------------------------------------------------------

/// A database service handing out one SQLite pool.
#[cfg(feature = "sqlite")]
struct OnePool {
    plugin_id: String,
    client: DatabaseClient,
}

#[cfg(feature = "sqlite")]
#[async_trait::async_trait]
impl backstage_database::DatabaseService for OnePool {
    fn plugin_id(&self) -> &str {
        &self.plugin_id
    }
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
    async fn client(&self) -> Result<DatabaseClient, backstage_database::Error> {
        Ok(self.client.clone())
    }
    fn migrations_skip(&self) -> bool {
        false
    }
}

/// `scheduler_service_factory_with` replaces the in-process scheduler: a plugin's global task
/// lands in the plugin's database, its endpoints are mounted under the plugin's path, and
/// root shutdown stops the loops.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_factory_wires_the_database_scheduler() {
    use backstage_backend_common::config::ConfigReader;
    use backstage_core_app_api::DefaultServices;
    use backstage_core_plugin_api::{Plugin, ServiceFactory, core_services};

    const TOKEN: &str = "a-static-token-for-scheduler-tests";
    let db = TestDb::create(Engine::Sqlite).await;
    let client = db.client().await;
    let config = ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "auth": { "externalAccess": [
                { "type": "static", "options": { "token": TOKEN, "subject": "tests" } },
            ] },
        },
    }));
    let backend = DefaultServices::new()
        .config(config)
        .embedded()
        .backend()
        .unwrap();
    let database_client = client.clone();
    backend
        .add(ServiceFactory::new(
            backstage_database::DATABASE,
            core_services::PLUGIN_METADATA,
            move |metadata| {
                let client = database_client.clone();
                async move {
                    Ok::<_, BoxError>(Arc::new(OnePool {
                        plugin_id: metadata.plugin_id().to_owned(),
                        client,
                    })
                        as Arc<dyn backstage_database::DatabaseService>)
                }
            },
        ))
        .unwrap();
    backend
        .add(backstage_database::scheduler_service_factory_with(options(
            "backend",
        )))
        .unwrap();
    let probe = Probe::default();
    let task_probe = probe.clone();
    backend
        .add(Plugin::new(PLUGIN, move |reg| {
            let probe = task_probe.clone();
            reg.register_init(core_services::SCHEDULER, move |scheduler| {
                let probe = probe.clone();
                async move {
                    scheduler
                        .schedule_task(probe.task(
                            "wired",
                            TaskSchedule::manual(Duration::from_secs(60)),
                            "backend",
                            Duration::from_secs(30),
                        ))
                        .await?;
                    Ok::<_, BoxError>(())
                }
            })
        }))
        .unwrap();
    backend.start().await.unwrap();
    let router = backend.router().await.unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let call = |method: &str, path: &str| {
        Request::builder()
            .method(method)
            .uri(format!("/api/{PLUGIN}/.backstage/scheduler/v1/tasks{path}"))
            .header("authorization", &bearer)
            .body(Body::empty())
            .unwrap()
    };

    let response = router.clone().oneshot(call("GET", "")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        body,
        json!({ "tasks": [{
            "taskId": "wired",
            "pluginId": PLUGIN,
            "scope": "global",
            "settings": { "version": 2, "cadence": "manual", "timeoutAfterDuration": "PT1M" },
            "taskState": { "status": "idle" },
            "workerState": { "status": "idle" },
        }] })
    );
    assert!(row_text(&client, "wired").await.is_some());

    let response = router
        .clone()
        .oneshot(call("POST", "/wired/trigger"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    eventually(Duration::from_secs(3), "the triggered run", || async {
        probe.runs() == 1
    })
    .await;
    let response = router
        .clone()
        .oneshot(call("POST", "/wired/trigger"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // Root shutdown fires the run's token.
    backend.stop().await.unwrap();
    eventually(Duration::from_secs(3), "the run's token", || async {
        probe.cancelled.load(Ordering::SeqCst) == 1
    })
    .await;
    db.drop_database().await;
}
