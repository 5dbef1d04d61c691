//! The scheduler's HTTP endpoints (`/.backstage/scheduler/v1/…`), driven through
//! [`LocalScheduler::router`] with `tower::ServiceExt::oneshot`, on tokio's paused clock.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use backstage_backend_common::config::ConfigReader;
use backstage_backend_common::scheduler::{
    CancellationToken, CronExpr, LocalScheduler, SchedulerClock, TaskDefinition, TaskSchedule,
    TaskScope, read_task_schedule,
};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

const TASKS: &str = "/.backstage/scheduler/v1/tasks";

async fn call(router: &Router, method: &str, uri: &str) -> (StatusCode, Option<String>, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("valid request");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible router");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII content type").to_owned());
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("readable body");
    (status, content_type, body.to_vec())
}

async fn json_call(router: &Router, method: &str, uri: &str) -> (StatusCode, Value) {
    let (status, content_type, body) = call(router, method, uri).await;
    assert_eq!(
        content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    (status, serde_json::from_slice(&body).expect("JSON body"))
}

/// A task that works for `work` unless its token fires first.
fn task(id: &str, schedule: TaskSchedule, work: Duration) -> TaskDefinition {
    TaskDefinition::new(id, schedule, move |cancel: CancellationToken| async move {
        tokio::select! {
            () = tokio::time::sleep(work) => Ok(()),
            () = cancel.cancelled() => Err("run was cancelled".into()),
        }
    })
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn scheduler() -> (LocalScheduler, CancellationToken) {
    let shutdown = CancellationToken::new();
    let start = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
    let scheduler =
        LocalScheduler::with_clock("catalog", shutdown.clone(), SchedulerClock::tokio(start));
    (scheduler, shutdown)
}

#[tokio::test(start_paused = true)]
async fn list_reports_every_task_with_backstages_shape() {
    let (scheduler, shutdown) = scheduler();
    let config = ConfigReader::from_value(json!({
        "frequency": { "minutes": 10 },
        "timeout": "PT1M",
        "initialDelay": "30s",
        "scope": "local",
    }));
    scheduler
        .schedule_task(task(
            "delayed",
            read_task_schedule(&config).unwrap(),
            Duration::from_secs(1),
        ))
        .unwrap();
    scheduler
        .schedule_task(task(
            "busy",
            TaskSchedule::every(Duration::from_secs(2), Duration::from_secs(600)),
            Duration::from_secs(120),
        ))
        .unwrap();
    scheduler
        .schedule_task(task(
            "nightly",
            TaskSchedule::cron(
                CronExpr::parse("0 0 * * *").unwrap(),
                Duration::from_secs(3600),
            ),
            Duration::from_secs(1),
        ))
        .unwrap();
    scheduler
        .schedule_task(task(
            "on-demand",
            TaskSchedule::manual(Duration::from_secs(60)),
            Duration::from_secs(1),
        ))
        .unwrap();
    settle().await;

    let router = scheduler.router();
    let (status, body) = json_call(&router, "GET", TASKS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "tasks": [
                {
                    "taskId": "delayed",
                    "pluginId": "catalog",
                    "scope": "local",
                    "settings": {
                        "version": 2,
                        "cadence": "PT10M",
                        "initialDelayDuration": "PT30S",
                        "timeoutAfterDuration": "PT1M",
                    },
                    "taskState": { "status": "idle", "startsAt": "2025-01-02T03:04:35.000Z" },
                    "workerState": { "status": "initial-wait" },
                },
                {
                    "taskId": "busy",
                    "pluginId": "catalog",
                    "scope": "global",
                    "settings": {
                        "version": 2,
                        "cadence": "PT2S",
                        "timeoutAfterDuration": "PT10M",
                    },
                    "taskState": {
                        "status": "running",
                        "startedAt": "2025-01-02T03:04:05.000Z",
                        "timesOutAt": "2025-01-02T03:14:05.000Z",
                    },
                    "workerState": { "status": "running" },
                },
                {
                    "taskId": "nightly",
                    "pluginId": "catalog",
                    "scope": "global",
                    "settings": {
                        "version": 2,
                        "cadence": "0 0 * * *",
                        "timeoutAfterDuration": "PT1H",
                    },
                    "taskState": {
                        "status": "running",
                        "startedAt": "2025-01-02T03:04:05.000Z",
                        "timesOutAt": "2025-01-02T04:04:05.000Z",
                    },
                    "workerState": { "status": "running" },
                },
                {
                    "taskId": "on-demand",
                    "pluginId": "catalog",
                    "scope": "global",
                    "settings": {
                        "version": 2,
                        "cadence": "manual",
                        "timeoutAfterDuration": "PT1M",
                    },
                    "taskState": { "status": "idle" },
                    "workerState": { "status": "idle" },
                },
            ]
        })
    );
    assert_eq!(
        scheduler
            .scheduled_tasks()
            .iter()
            .map(|t| (t.id.as_str(), t.scope))
            .collect::<Vec<_>>(),
        [
            ("delayed", TaskScope::Local),
            ("busy", TaskScope::Global),
            ("nightly", TaskScope::Global),
            ("on-demand", TaskScope::Global),
        ]
    );
    shutdown.cancel();
    scheduler.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn trigger_starts_a_run_and_reports_conflicts_and_unknown_tasks() {
    let (scheduler, _shutdown) = scheduler();
    scheduler
        .schedule_task(task(
            "on-demand",
            TaskSchedule::manual(Duration::from_secs(60)),
            Duration::from_secs(30),
        ))
        .unwrap();
    settle().await;
    let router = scheduler.router();

    let (status, content_type, body) =
        call(&router, "POST", &format!("{TASKS}/on-demand/trigger")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, None);
    assert!(body.is_empty());
    settle().await;
    let (_, list) = json_call(&router, "GET", TASKS).await;
    assert_eq!(list["tasks"][0]["taskState"]["status"], "running");
    assert_eq!(list["tasks"][0]["workerState"]["status"], "running");

    let (status, body) = json_call(&router, "POST", &format!("{TASKS}/on-demand/trigger")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["error"],
        json!({ "name": "ConflictError", "message": "Task on-demand is currently running" })
    );
    assert_eq!(body["response"], json!({ "statusCode": 409 }));

    let (status, body) = json_call(&router, "POST", &format!("{TASKS}/missing/trigger")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["error"],
        json!({ "name": "NotFoundError", "message": "Task missing does not exist" })
    );

    // Percent-encoded IDs are decoded, as Express does.
    let (status, body) = json_call(&router, "POST", &format!("{TASKS}/a%20b/trigger")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "Task a b does not exist");

    tokio::time::sleep(Duration::from_secs(31)).await;
    let (_, list) = json_call(&router, "GET", TASKS).await;
    assert_eq!(
        list["tasks"][0]["taskState"],
        json!({ "status": "idle", "lastRunEndedAt": "2025-01-02T03:04:35.000Z" })
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_aborts_the_current_run() {
    let (scheduler, _shutdown) = scheduler();
    scheduler
        .schedule_task(task(
            "long",
            TaskSchedule::every(Duration::from_secs(3600), Duration::from_secs(3600)),
            Duration::from_secs(600),
        ))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let router = scheduler.router();

    let (status, _, body) = call(&router, "POST", &format!("{TASKS}/long/cancel")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    settle().await;

    let (_, list) = json_call(&router, "GET", TASKS).await;
    assert_eq!(
        list["tasks"][0]["taskState"],
        json!({
            "status": "idle",
            "startsAt": "2025-01-02T04:04:05.000Z",
            "lastRunEndedAt": "2025-01-02T03:04:10.000Z",
            "lastRunError": "{\"name\":\"Error\",\"message\":\"run was cancelled\"}",
        })
    );

    let (status, body) = json_call(&router, "POST", &format!("{TASKS}/long/cancel")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["message"], "Task long is not running");

    let (status, body) = json_call(&router, "POST", &format!("{TASKS}/missing/cancel")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "Task missing does not exist");
}

#[tokio::test]
async fn other_methods_and_paths_are_not_routed() {
    let (scheduler, _shutdown) = scheduler();
    let router = scheduler.router();
    let (status, _, _) = call(&router, "GET", &format!("{TASKS}/x/trigger")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _, _) = call(&router, "GET", "/.backstage/scheduler/v1/other").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = json_call(&router, "GET", TASKS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "tasks": [] }));
}
