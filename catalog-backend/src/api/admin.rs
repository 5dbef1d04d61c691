//! Entity endpoints that change state or walk the processing graph: `POST /refresh`,
//! `DELETE /entities/by-uid/:uid`, ancestry (spec 3.6, 3.8, 3.9).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use backstage_core_plugin_api::ApiError;
use serde_json::Value;

use super::CatalogContext;
use super::body::require_json_object;

type Ctx = State<Arc<CatalogContext>>;

pub(crate) fn routes() -> Router<Arc<CatalogContext>> {
    Router::new()
        .route("/refresh", post(refresh))
        .route("/entities/by-uid/{uid}", delete(delete_by_uid))
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}/ancestry",
            get(ancestry),
        )
}

async fn refresh(State(ctx): Ctx, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let body = require_json_object(&headers, &body)?;
    for key in body.keys() {
        if key != "entityRef" && key != "authorizationToken" {
            return Err(ApiError::input(format!(
                "Malformed request: must NOT have additional properties '{key}'"
            )));
        }
    }
    let Some(Value::String(entity_ref)) = body.get("entityRef") else {
        return Err(ApiError::input(
            "Malformed request: must have required property 'entityRef'",
        ));
    };
    ctx.store
        .refresh_entity(&entity_ref.to_lowercase())
        .await
        .map_err(ApiError::from)?;
    Ok(StatusCode::OK.into_response())
}

async fn delete_by_uid(State(ctx): Ctx, Path(uid): Path<String>) -> Result<Response, ApiError> {
    ctx.store
        .delete_entity_by_uid(&uid)
        .await
        .map_err(ApiError::from)?;
    // 204 whether or not the uid existed (spec 3.6: unconditional delete permission).
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn ancestry(
    State(ctx): Ctx,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let root = format!(
        "{}:{}/{}",
        kind.to_lowercase(),
        namespace.to_lowercase(),
        name.to_lowercase()
    );
    if ctx.index.get_by_ref(&root).is_none() {
        return Err(ApiError::not_found(format!("No such entity {root}")));
    }
    let chain = ctx.store.ancestry(&root).await.map_err(ApiError::from)?;
    // Written by hand so the stored entity JSON goes out verbatim.
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"rootEntityRef\":");
    out.extend_from_slice(&serde_json::to_vec(&root).unwrap_or_default());
    out.extend_from_slice(b",\"items\":[");
    let mut first = true;
    for (entity_ref, parents) in chain {
        let Some(entity) = ctx.index.get_by_ref(&entity_ref) else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(b"{\"entity\":");
        out.extend_from_slice(entity.json());
        out.extend_from_slice(b",\"parentEntityRefs\":");
        out.extend_from_slice(&serde_json::to_vec(&parents).unwrap_or_default());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok((
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        out,
    )
        .into_response())
}
