//! The scheduler's HTTP endpoints, for global and local tasks alike.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use backstage_backend_common::errors::ApiError;
use backstage_backend_common::scheduler::{LocalScheduler, TaskDescriptor};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use tower::ServiceExt;

use super::DatabaseScheduler;
use super::store::TaskRow;

/// The content type Express's `res.json` sends.
const JSON_UTF8: &str = "application/json; charset=utf-8";

const TASKS_PATH: &str = "/.backstage/scheduler/v1/tasks";

/// The largest task list read back from the in-process scheduler's router.
const MAX_LOCAL_BODY: usize = 64 * 1024 * 1024;

pub(super) fn router(scheduler: DatabaseScheduler) -> Router {
    Router::new()
        .route(TASKS_PATH, get(list_tasks))
        .route(
            "/.backstage/scheduler/v1/tasks/{id}/trigger",
            post(trigger_task),
        )
        .route(
            "/.backstage/scheduler/v1/tasks/{id}/cancel",
            post(cancel_task),
        )
        .with_state(scheduler)
}

async fn list_tasks(State(scheduler): State<DatabaseScheduler>) -> Result<Response, ApiError> {
    let body = scheduler.tasks_json().await?.to_string();
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    Ok(response)
}

async fn trigger_task(
    State(scheduler): State<DatabaseScheduler>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    scheduler.trigger_task(&id).await?;
    Ok(StatusCode::OK)
}

async fn cancel_task(
    State(scheduler): State<DatabaseScheduler>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    scheduler.cancel_task(&id).await?;
    Ok(StatusCode::OK)
}

/// The local tasks' entries of the in-process scheduler's task list, by ID.
pub(super) async fn local_tasks(local: &LocalScheduler) -> Result<Map<String, Value>, ApiError> {
    let request = Request::get(TASKS_PATH)
        .body(Body::empty())
        .map_err(|err| ApiError::internal(format!("cannot list local tasks: {err}")))?;
    let response = match local.router().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let bytes = axum::body::to_bytes(response.into_body(), MAX_LOCAL_BODY)
        .await
        .map_err(|err| ApiError::internal(format!("cannot list local tasks: {err}")))?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::internal(format!("cannot list local tasks: {err}")))?;
    let mut out = Map::new();
    if let Some(tasks) = body.get("tasks").and_then(Value::as_array) {
        for task in tasks {
            if let Some(id) = task.get("taskId").and_then(Value::as_str) {
                out.insert(id.to_owned(), task.clone());
            }
        }
    }
    Ok(out)
}

/// One entry of the task list.
pub(super) fn task_json(
    plugin_id: &str,
    descriptor: &TaskDescriptor,
    task_state: Value,
    worker_state: Value,
) -> Value {
    let mut task = Map::new();
    task.insert("taskId".to_owned(), Value::from(descriptor.id.clone()));
    task.insert("pluginId".to_owned(), Value::from(plugin_id));
    task.insert("scope".to_owned(), Value::from(descriptor.scope.as_str()));
    task.insert("settings".to_owned(), descriptor.settings.clone());
    task.insert("taskState".to_owned(), task_state);
    task.insert("workerState".to_owned(), worker_state);
    Value::Object(task)
}

/// A global task's `taskState` from its row (Backstage's `TaskWorker.taskStates`).
pub(super) fn task_state_json(row: &TaskRow) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, time: Option<DateTime<Utc>>| {
        if let Some(time) = time {
            out.insert(key.to_owned(), Value::from(iso_timestamp(time)));
        }
    };
    match row.current_run_started_at {
        Some(started) => {
            put("startedAt", Some(started));
            put("timesOutAt", row.current_run_expires_at);
        }
        None => put("startsAt", row.next_run_start_at),
    }
    put("lastRunEndedAt", row.last_run_ended_at);
    let status = if row.current_run_started_at.is_some() {
        "running"
    } else {
        "idle"
    };
    out.insert("status".to_owned(), Value::from(status));
    if let Some(error) = &row.last_run_error_json {
        out.insert("lastRunError".to_owned(), Value::from(error.clone()));
    }
    // Key order as Backstage: status first.
    let mut ordered = Map::new();
    for key in [
        "status",
        "startedAt",
        "timesOutAt",
        "startsAt",
        "lastRunEndedAt",
        "lastRunError",
    ] {
        if let Some(value) = out.remove(key) {
            ordered.insert(key.to_owned(), value);
        }
    }
    Value::Object(ordered)
}

/// `2024-01-01T12:00:00.000Z`.
fn iso_timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn task_states_follow_backstage() {
        let at = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
        let idle = TaskRow {
            id: "a".to_owned(),
            next_run_start_at: Some(at),
            last_run_error_json: Some(r#"{"name":"Error","message":"x"}"#.to_owned()),
            ..TaskRow::default()
        };
        assert_eq!(
            task_state_json(&idle).to_string(),
            r#"{"status":"idle","startsAt":"2024-01-01T12:00:00.000Z","lastRunError":"{\"name\":\"Error\",\"message\":\"x\"}"}"#
        );
        let running = TaskRow {
            id: "a".to_owned(),
            next_run_start_at: Some(at),
            current_run_ticket: Some("t".to_owned()),
            current_run_started_at: Some(at),
            current_run_expires_at: Some(at + chrono::Duration::seconds(30)),
            last_run_ended_at: Some(at - chrono::Duration::seconds(1)),
            last_run_error_json: None,
        };
        assert_eq!(
            task_state_json(&running).to_string(),
            r#"{"status":"running","startedAt":"2024-01-01T12:00:00.000Z","timesOutAt":"2024-01-01T12:00:30.000Z","lastRunEndedAt":"2024-01-01T11:59:59.000Z"}"#
        );
    }
}
