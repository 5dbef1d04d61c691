//! The scheduler's HTTP endpoints (`getRouter` of Backstage's `PluginTaskSchedulerImpl`).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};

use super::LocalScheduler;
use crate::errors::ApiError;

/// The content type Express's `res.json` sends.
const JSON_UTF8: &str = "application/json; charset=utf-8";

pub(super) fn router(scheduler: LocalScheduler) -> Router {
    Router::new()
        .route("/.backstage/scheduler/v1/tasks", get(list_tasks))
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

async fn list_tasks(State(scheduler): State<LocalScheduler>) -> Response {
    let body = scheduler.tasks_json().to_string();
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

async fn trigger_task(
    State(scheduler): State<LocalScheduler>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    scheduler.trigger_task(&id)?;
    Ok(StatusCode::OK)
}

async fn cancel_task(
    State(scheduler): State<LocalScheduler>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    scheduler.cancel_task(&id)?;
    Ok(StatusCode::OK)
}
