//! `POST /validate-entity` (spec 3.20) and `POST /analyze-location` (spec 3.19).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use backstage_catalog_model::location::parse_location_ref;
use backstage_core_plugin_api::ApiError;
use serde_json::{Map, Value, json};

use super::CatalogContext;
use super::body::require_json_object;
use crate::model::{LocationSpec, Presence, SerializedError};
use crate::processing::{Orchestrator, analyze_location};

/// The routes of this module, for `api::router` to merge.
pub(crate) fn routes() -> Router<Arc<CatalogContext>> {
    Router::new()
        .route(
            "/validate-entity",
            post(
                |State(ctx): State<Arc<CatalogContext>>, headers: HeaderMap, body: Bytes| async move {
                    validate_entity(&ctx.orchestrator, &headers, &body).await
                },
            ),
        )
        .route(
            "/analyze-location",
            post(
                |State(ctx): State<Arc<CatalogContext>>, headers: HeaderMap, body: Bytes| async move {
                    analyze(&ctx.orchestrator, &headers, &body)
                },
            ),
        )
}

/// zod's `getParsedType` for JSON values.
fn zod_type(value: Option<&Value>) -> &'static str {
    match value {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// A zod `invalid_type` issue.
fn type_issue(path: &[&str], expected: &str, value: Option<&Value>) -> Value {
    let received = zod_type(value);
    let message = if value.is_none() {
        "Required".to_owned()
    } else {
        format!("Expected {expected}, received {received}")
    };
    json!({"code": "invalid_type", "expected": expected, "received": received, "path": path, "message": message})
}

/// `Malformed request: <zod issues as indented JSON>`, as `validateRequestBody` throws it.
fn malformed(issues: Vec<Value>) -> String {
    let text = serde_json::to_string_pretty(&Value::Array(issues)).unwrap_or_default();
    format!("Malformed request: {text}")
}

fn errors_response(errors: Vec<SerializedError>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"errors": errors})),
    )
        .into_response()
}

fn input_error(message: impl Into<String>) -> SerializedError {
    SerializedError::new("InputError", message)
}

/// `POST /validate-entity` (spec 3.20): body problems, an invalid envelope or a location
/// that is not `url:<target>` → `400 {"errors": [...]}`; otherwise the entity is processed
/// in memory: errors → `400 {"errors": [...]}`, success → `200` with an empty body.
pub(crate) async fn validate_entity(
    orchestrator: &Orchestrator,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let mut body = match require_json_object(headers, body) {
        Ok(body) => body,
        Err(e) if e.name() == "InputError" => {
            return errors_response(vec![input_error(e.message())]);
        }
        Err(e) => return e.into_response(),
    };
    let location = match body.get("location") {
        Some(Value::String(s)) => s.clone(),
        other => {
            return errors_response(vec![input_error(malformed(vec![type_issue(
                &["location"],
                "string",
                other,
            )]))]);
        }
    };
    let entity = body.remove("entity").unwrap_or(Value::Null);
    if let Err(e) = backstage_catalog_model::schema::validate_envelope(&entity) {
        return errors_response(vec![SerializedError::new("TypeError", e.to_string())]);
    }
    match parse_location_ref(&location) {
        Err(e) => return errors_response(vec![SerializedError::new("TypeError", e.to_string())]),
        Ok(parsed) if parsed.location_type != "url" => {
            return errors_response(vec![SerializedError::new(
                "TypeError",
                format!(
                    "Invalid location ref {location}, only 'url:<target>' is supported, e.g. url:https://host/path"
                ),
            )]);
        }
        Ok(_) => {}
    }
    let errors = orchestrator.validate_entity(entity, &location).await;
    if errors.is_empty() {
        StatusCode::OK.into_response()
    } else {
        errors_response(errors)
    }
}

/// Reads `{location: {type, target, presence?}, catalogFilename?}` strictly (zod's
/// `locationInput`).
fn parse_analyze_body(body: &Map<String, Value>) -> Result<LocationSpec, ApiError> {
    let mut issues = Vec::new();
    let mut spec = None;
    match body.get("location") {
        Some(Value::Object(location)) => {
            let kind = location.get("type");
            let target = location.get("target");
            if !matches!(kind, Some(Value::String(_))) {
                issues.push(type_issue(&["location", "type"], "string", kind));
            }
            if !matches!(target, Some(Value::String(_))) {
                issues.push(type_issue(&["location", "target"], "string", target));
            }
            let presence = match location.get("presence") {
                None => Some(Presence::Required),
                Some(Value::String(p)) if p == "required" => Some(Presence::Required),
                Some(Value::String(p)) if p == "optional" => Some(Presence::Optional),
                Some(_) => {
                    issues.push(json!({"code": "invalid_union", "path": ["location", "presence"], "message": "Invalid input"}));
                    None
                }
            };
            let unknown: Vec<&str> = location
                .keys()
                .map(String::as_str)
                .filter(|k| !matches!(*k, "type" | "target" | "presence"))
                .collect();
            if !unknown.is_empty() {
                let quoted: Vec<String> = unknown.iter().map(|k| format!("'{k}'")).collect();
                issues.push(
                    json!({"code": "unrecognized_keys", "keys": unknown, "path": ["location"],
                    "message": format!("Unrecognized key(s) in object: {}", quoted.join(", "))}),
                );
            }
            if let (Some(Value::String(kind)), Some(Value::String(target)), Some(presence)) =
                (kind, target, presence)
            {
                spec = Some(LocationSpec {
                    kind: kind.clone(),
                    target: target.clone(),
                    presence,
                });
            }
        }
        other => issues.push(type_issue(&["location"], "object", other)),
    }
    match body.get("catalogFilename") {
        None | Some(Value::String(_)) => {}
        other => issues.push(type_issue(&["catalogFilename"], "string", other)),
    }
    match spec {
        Some(spec) if issues.is_empty() => Ok(spec),
        _ => Err(ApiError::input(malformed(issues))),
    }
}

/// `POST /analyze-location` (spec 3.19).
pub(crate) fn analyze(orchestrator: &Orchestrator, headers: &HeaderMap, body: &Bytes) -> Response {
    let result = require_json_object(headers, body)
        .and_then(|body| parse_analyze_body(&body))
        .and_then(|spec| {
            analyze_location(orchestrator.integrations(), &spec).map_err(ApiError::from)
        });
    match result {
        Ok(output) => (StatusCode::OK, axum::Json(output)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::http::header;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h
    }

    async fn read(response: Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    }

    #[tokio::test]
    async fn validate_entity_answers_errors_bodies() {
        let o = Orchestrator::default();
        let h = json_headers();
        let (status, body) =
            read(validate_entity(&o, &HeaderMap::new(), &Bytes::from_static(b"{}")).await).await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"errors": [{"name": "InputError", "message": "Content-Type missing"}]})
            )
        );

        let (status, body) =
            read(validate_entity(&o, &h, &Bytes::from_static(br#"{"entity": {}}"#)).await).await;
        assert_eq!(status, 400);
        assert_eq!(
            body["errors"][0]["message"],
            "Malformed request: [\n  {\n    \"code\": \"invalid_type\",\n    \"expected\": \"string\",\n    \"received\": \"undefined\",\n    \"path\": [\n      \"location\"\n    ],\n    \"message\": \"Required\"\n  }\n]"
        );

        let (status, body) = read(
            validate_entity(
                &o,
                &h,
                &Bytes::from_static(
                    br#"{"entity": {"kind": "Component"}, "location": "url:https://x/c.yaml"}"#,
                ),
            )
            .await,
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"][0]["name"], "TypeError");

        let entity = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "c"},
            "spec": {"type": "service", "lifecycle": "production", "owner": "me"}});
        let request = |location: &str| {
            Bytes::from(
                serde_json::to_vec(&json!({"entity": entity, "location": location})).unwrap(),
            )
        };
        let (status, body) = read(validate_entity(&o, &h, &request("file:/x.yaml")).await).await;
        assert_eq!(status, 400);
        assert_eq!(
            body["errors"][0]["message"],
            "Invalid location ref file:/x.yaml, only 'url:<target>' is supported, e.g. url:https://host/path"
        );
        let (status, body) = read(validate_entity(&o, &h, &request("https://x")).await).await;
        assert_eq!(
            (status, body["errors"][0]["name"].clone()),
            (400, json!("TypeError"))
        );

        let (status, body) =
            read(validate_entity(&o, &h, &request("url:https://example.com/c.yaml")).await).await;
        assert_eq!((status, body), (200, Value::Null));

        let mut invalid = entity.clone();
        invalid["spec"] = json!({"type": "service"});
        let bytes = Bytes::from(
            serde_json::to_vec(
                &json!({"entity": invalid, "location": "url:https://example.com/c.yaml"}),
            )
            .unwrap(),
        );
        let (status, body) = read(validate_entity(&o, &h, &bytes).await).await;
        assert_eq!(status, 400);
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("Processor BuiltinKindsEntityProcessor threw an error while validating the entity component:default/c"), "{message}");
    }

    #[tokio::test]
    async fn analyze_location_proposes_or_refuses() {
        let o = Orchestrator::default();
        let h = json_headers();
        let (status, body) = read(analyze(
            &o,
            &h,
            &Bytes::from_static(
                br#"{"location": {"type": "url", "target": "https://github.com/o/r"}}"#,
            ),
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body["generateEntities"][0]["entity"]["metadata"]["annotations"]["github.com/project-slug"],
            "o/r"
        );
        let (status, body) = read(analyze(
            &o,
            &h,
            &Bytes::from_static(br#"{"location": {"type": "url", "target": "nope"}}"#),
        ))
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body["error"]["message"],
            "The given location.target is not a URL"
        );
        let (status, body) = read(analyze(
            &o,
            &h,
            &Bytes::from_static(
                br#"{"location": {"type": "url", "target": "https://x", "extra": 1}}"#,
            ),
        ))
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["name"], "InputError");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("Unrecognized key(s) in object: 'extra'"),
            "{message}"
        );
        let (status, _) = read(analyze(&o, &HeaderMap::new(), &Bytes::from_static(b"{}"))).await;
        assert_eq!(status, 400);
    }
}
