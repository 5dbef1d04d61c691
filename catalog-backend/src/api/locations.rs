//! Location endpoints (spec 3.12-3.18).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use backstage_core_plugin_api::ApiError;
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::body::{optional_json, require_json_object};
use super::{CatalogContext, json_response};
use crate::config::ConflictStrategy;
use crate::model::{ANNOTATION_ORIGIN_LOCATION, DeferredEntity, Location, LocationSpec, Presence};
use crate::providers::LOCATION_STORE_PROVIDER;
use crate::storage::RemovedEntity;

type Ctx = State<Arc<CatalogContext>>;

pub(crate) fn routes() -> Router<Arc<CatalogContext>> {
    Router::new()
        .route("/locations", get(list).post(create))
        .route("/locations/by-query", post(by_query))
        .route(
            "/locations/by-entity/{kind}/{namespace}/{name}",
            get(by_entity),
        )
        .route(
            "/locations/{id}",
            get(get_one).put(update).delete(delete_one),
        )
}

const READONLY: &str = "This operation not allowed in readonly mode";

/// The Location entity of a registered location row. Its name comes from the stored
/// `entityRef`, which `PUT` keeps (spec 3.16).
pub(crate) fn location_row_entity(location: &Location) -> DeferredEntity {
    let spec = LocationSpec::new(location.kind.clone(), location.target.clone());
    let mut entity = spec.to_root_location_entity();
    if let Some(name) = location.entity_ref.strip_prefix("location:default/")
        && let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut)
    {
        metadata.insert("name".into(), Value::String(name.to_owned()));
    }
    DeferredEntity {
        entity,
        location_key: Some(spec.location_ref()),
    }
}

/// Parses a strict `{type, target, presence?}` body; `presence_allowed` for POST.
fn parse_spec(body: &Map<String, Value>, presence_allowed: bool) -> Result<LocationSpec, ApiError> {
    for key in body.keys() {
        let known = key == "type" || key == "target" || (presence_allowed && key == "presence");
        if !known {
            return Err(ApiError::input(format!(
                "Malformed request: must NOT have additional properties '{key}'"
            )));
        }
    }
    let field = |name: &str| -> Result<String, ApiError> {
        match body.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::input(format!(
                "Malformed request: /{name} must be string"
            ))),
            None => Err(ApiError::input(format!(
                "Malformed request: must have required property '{name}'"
            ))),
        }
    };
    let kind = field("type")?;
    let target = field("target")?;
    let presence = match body.get("presence") {
        None => Presence::Required,
        Some(Value::String(s)) if s == "required" => Presence::Required,
        Some(Value::String(s)) if s == "optional" => Presence::Optional,
        Some(_) => {
            return Err(ApiError::input(
                "Malformed request: /presence must be equal to one of the allowed values 'required', 'optional'",
            ));
        }
    };
    Ok(LocationSpec {
        kind,
        target,
        presence,
    })
}

fn check_allowed_type(ctx: &CatalogContext, kind: &str) -> Result<(), ApiError> {
    let allowed = ctx.orchestrator.allowed_location_types();
    if allowed.iter().any(|t| t == kind) {
        Ok(())
    } else {
        Err(ApiError::input(format!(
            "Registered locations must be of an allowed type {}",
            serde_json::to_string(&allowed).unwrap_or_default()
        )))
    }
}

/// `yn`-style truthy strings.
fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "y" | "1" | "on"
    )
}

async fn create(
    State(ctx): Ctx,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut dry_run = false;
    let mut on_conflict = ctx.config.default_conflict_strategy;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "dryRun" => dry_run = truthy(&value),
            "onConflict" => {
                on_conflict = match value.as_ref() {
                    "reject" => ConflictStrategy::Reject,
                    "refresh" => ConflictStrategy::Refresh,
                    other => {
                        return Err(ApiError::input(format!(
                            "Invalid onConflict value '{other}', expected 'refresh' or 'reject'"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    let body = require_json_object(&headers, &body)?;
    let spec = parse_spec(&body, true)?;
    if !dry_run && ctx.config.readonly {
        return Err(ApiError::not_allowed(READONLY));
    }
    check_allowed_type(&ctx, &spec.kind)?;

    if dry_run {
        let exists = ctx
            .store
            .find_location(&spec.kind, &spec.target)
            .await
            .map_err(ApiError::from)?
            .is_some();
        let entities = ctx
            .orchestrator
            .dry_run_location(&spec)
            .await
            .map_err(|error| ApiError::input(error.to_string()))?;
        let body = json!({
            "exists": exists,
            "location": {
                "type": spec.kind,
                "target": spec.target,
                "id": spec.location_ref(),
                "entityRef": spec.generated_entity_ref(),
            },
            "entities": entities,
        });
        return Ok(json_response(StatusCode::CREATED, &body));
    }

    let existing = ctx
        .store
        .find_location(&spec.kind, &spec.target)
        .await
        .map_err(ApiError::from)?;
    let location = match existing {
        Some(location) if on_conflict == ConflictStrategy::Reject => {
            return Err(ApiError::conflict(format!(
                "Location {}:{} already exists",
                location.kind, location.target
            )));
        }
        Some(location) => location,
        None => ctx
            .store
            .create_location(&spec)
            .await
            .map_err(ApiError::from)?,
    };
    ctx.store
        .apply_mutation(
            LOCATION_STORE_PROVIDER,
            crate::storage::EntityMutation::Delta {
                added: vec![location_row_entity(&location)],
                removed: Vec::new(),
            },
        )
        .await
        .map_err(ApiError::from)?;
    if on_conflict == ConflictStrategy::Refresh {
        // Reprocess the Location entity now (it may be unchanged, so the mutation alone
        // would not reschedule it).
        ctx.store
            .reprocess_now(&location.entity_ref)
            .await
            .map_err(ApiError::from)?;
    }
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "location": location, "entities": [] }),
    ))
}

async fn list(State(ctx): Ctx) -> Result<Response, ApiError> {
    let locations = ctx.store.list_locations().await.map_err(ApiError::from)?;
    let items: Vec<Value> = locations
        .into_iter()
        .map(|l| json!({ "data": l }))
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(items)))
}

async fn get_one(State(ctx): Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    match ctx.store.get_location(&id).await.map_err(ApiError::from)? {
        Some(location) => Ok(json_response(StatusCode::OK, &json!(location))),
        None => Err(ApiError::not_found(format!(
            "Found no location with ID {id}"
        ))),
    }
}

async fn update(
    State(ctx): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = require_json_object(&headers, &body)?;
    let spec = parse_spec(&body, false)?;
    if ctx.config.readonly {
        return Err(ApiError::not_allowed(READONLY));
    }
    check_allowed_type(&ctx, &spec.kind)?;
    let location = ctx
        .store
        .update_location(&id, &spec.kind, &spec.target)
        .await
        .map_err(ApiError::from)?;
    ctx.store
        .apply_mutation(
            LOCATION_STORE_PROVIDER,
            crate::storage::EntityMutation::Delta {
                added: vec![location_row_entity(&location)],
                removed: Vec::new(),
            },
        )
        .await
        .map_err(ApiError::from)?;
    Ok(json_response(StatusCode::OK, &json!(location)))
}

async fn delete_one(State(ctx): Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    if ctx.config.readonly {
        return Err(ApiError::not_allowed(READONLY));
    }
    let location = ctx
        .store
        .delete_location(&id)
        .await
        .map_err(ApiError::from)?;
    ctx.store
        .apply_mutation(
            LOCATION_STORE_PROVIDER,
            crate::storage::EntityMutation::Delta {
                added: Vec::new(),
                removed: vec![RemovedEntity {
                    entity_ref: location.entity_ref.clone(),
                    location_key: Some(format!("{}:{}", location.kind, location.target)),
                }],
            },
        )
        .await
        .map_err(ApiError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn by_entity(
    State(ctx): Ctx,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let entity_ref = format!(
        "{}:{}/{}",
        kind.to_lowercase(),
        namespace.to_lowercase(),
        name.to_lowercase()
    );
    let Some(entity) = ctx.index.get_by_ref(&entity_ref) else {
        return Err(ApiError::not_found(format!(
            "found no entity for ref {entity_ref}"
        )));
    };
    let parsed: Value = serde_json::from_slice(entity.json())
        .map_err(|e| ApiError::internal(format!("stored entity {entity_ref} is not JSON: {e}")))?;
    let origin = parsed
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION_ORIGIN_LOCATION))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::not_found(format!("found no origin annotation for ref {entity_ref}"))
        })?;
    let Some((kind, target)) = origin.split_once(':') else {
        return Err(ApiError::not_found(format!(
            "found no origin annotation for ref {entity_ref}"
        )));
    };
    match ctx
        .store
        .find_location(kind, target)
        .await
        .map_err(ApiError::from)?
    {
        Some(location) => Ok(json_response(StatusCode::OK, &json!(location))),
        None => Err(ApiError::not_found(format!(
            "Found no location with type {kind} and target {target}"
        ))),
    }
}

// ---- POST /locations/by-query ------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum LocationPredicate {
    All(Vec<LocationPredicate>),
    Any(Vec<LocationPredicate>),
    Not(Box<LocationPredicate>),
    Field { field: LocationField, cond: Cond },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocationField {
    Id,
    Type,
    Target,
    EntityRef,
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Eq(String),
    In(Vec<String>),
    HasPrefix(String),
    Exists(bool),
    Contains,
}

fn primitive(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn invalid(message: impl std::fmt::Display) -> ApiError {
    ApiError::input(format!("Invalid filter predicate, {message}"))
}

fn parse_location_predicate(value: &Value) -> Result<LocationPredicate, ApiError> {
    let Value::Object(map) = value else {
        return Err(invalid("expected an object"));
    };
    if let Some((key, inner)) = map.iter().next()
        && map.len() == 1
        && key.starts_with('$')
    {
        return match key.as_str() {
            "$all" | "$any" => {
                let Value::Array(items) = inner else {
                    return Err(invalid(format!("{key} expects an array")));
                };
                let parsed = items
                    .iter()
                    .map(parse_location_predicate)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if key == "$all" {
                    LocationPredicate::All(parsed)
                } else {
                    LocationPredicate::Any(parsed)
                })
            }
            "$not" => Ok(LocationPredicate::Not(Box::new(parse_location_predicate(
                inner,
            )?))),
            other => Err(invalid(format!("unknown operator '{other}'"))),
        };
    }
    let mut parts = Vec::new();
    for (key, cond) in map {
        let field = match key.to_ascii_lowercase().as_str() {
            "id" => LocationField::Id,
            "type" => LocationField::Type,
            "target" => LocationField::Target,
            "entityref" => LocationField::EntityRef,
            _ => {
                return Err(invalid(format!(
                    "expected key to be 'id', 'type', 'target', or 'entityRef', got '{key}'"
                )));
            }
        };
        let cond = if let Some(p) = primitive(cond) {
            Cond::Eq(p)
        } else if let Value::Object(op) = cond
            && op.len() == 1
            && let Some((name, arg)) = op.iter().next()
        {
            match (name.as_str(), arg) {
                ("$exists", Value::Bool(b)) => Cond::Exists(*b),
                ("$in", Value::Array(items)) => Cond::In(
                    items
                        .iter()
                        .map(|v| primitive(v).ok_or_else(|| invalid("$in expects primitives")))
                        .collect::<Result<_, _>>()?,
                ),
                ("$hasPrefix", Value::String(s)) => Cond::HasPrefix(s.clone()),
                ("$contains", _) => Cond::Contains,
                _ => return Err(invalid(format!("unsupported value for '{key}'"))),
            }
        } else {
            return Err(invalid(format!("unsupported value for '{key}'")));
        };
        parts.push(LocationPredicate::Field { field, cond });
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        LocationPredicate::All(parts)
    })
}

fn location_matches(predicate: &LocationPredicate, location: &Location) -> bool {
    match predicate {
        LocationPredicate::All(items) => {
            !items.is_empty() && items.iter().all(|p| location_matches(p, location))
        }
        LocationPredicate::Any(items) => items.iter().any(|p| location_matches(p, location)),
        LocationPredicate::Not(inner) => !location_matches(inner, location),
        LocationPredicate::Field { field, cond } => {
            let value = match field {
                LocationField::Id => &location.id,
                LocationField::Type => &location.kind,
                LocationField::Target => &location.target,
                LocationField::EntityRef => &location.entity_ref,
            };
            match cond {
                Cond::Eq(v) => value.to_uppercase() == v.to_uppercase(),
                Cond::In(items) if *field == LocationField::Id => items.iter().any(|v| v == value),
                Cond::In(items) => {
                    let upper = value.to_uppercase();
                    items.iter().any(|v| v.to_uppercase() == upper)
                }
                Cond::HasPrefix(p) => value.to_uppercase().starts_with(&p.to_uppercase()),
                Cond::Exists(b) => *b,
                Cond::Contains => false,
            }
        }
    }
}

async fn by_query(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = optional_json(&body)?.unwrap_or(Value::Object(Map::new()));
    let Value::Object(body) = body else {
        return Err(ApiError::input("Expected body to be a JSON object"));
    };
    let mut limit = match body.get("limit") {
        None => 1000,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => n as usize,
            _ => return Err(ApiError::input("Limit must be a positive integer >= 1")),
        },
    };
    let mut query = body.get("query").cloned();
    let mut after_id: Option<String> = None;
    match body.get("cursor") {
        None => {}
        Some(Value::String(c)) if c.is_empty() => {
            return Err(ApiError::input("Cursor cannot be empty"));
        }
        Some(Value::String(c)) => {
            let decoded = decode_base64(c)
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .and_then(|v| v.as_object().cloned())
                .ok_or_else(|| ApiError::input("Malformed cursor, could not be parsed"))?;
            if let Some(l) = decoded.get("limit") {
                limit = l
                    .as_u64()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| ApiError::input("Malformed cursor, invalid limit"))?
                    as usize;
            }
            after_id = decoded
                .get("afterId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            query = decoded.get("query").filter(|q| !q.is_null()).cloned();
        }
        Some(_) => return Err(ApiError::input("Malformed cursor, expected a string")),
    }
    let predicate = query.as_ref().map(parse_location_predicate).transpose()?;
    let mut matches: Vec<Location> = ctx
        .store
        .list_locations()
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .filter(|l| predicate.as_ref().is_none_or(|p| location_matches(p, l)))
        .collect();
    matches.sort_by(|a, b| a.id.cmp(&b.id));
    let total = matches.len();
    let start = after_id.as_ref().map_or(0, |after| {
        matches.partition_point(|l| l.id.as_str() <= after.as_str())
    });
    let page: Vec<Location> = matches.iter().skip(start).take(limit).cloned().collect();
    let mut page_info = Map::new();
    if start + page.len() < total
        && let Some(last) = page.last()
    {
        let mut cursor = json!({ "limit": limit, "afterId": last.id });
        if let Some(query) = &query {
            cursor["query"] = query.clone();
        }
        page_info.insert(
            "nextCursor".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(cursor.to_string())),
        );
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({ "items": page, "totalItems": total, "pageInfo": page_info }),
    ))
}

/// Standard or URL-safe base64, padded or not (as Node's decoder accepts).
pub(crate) fn decode_base64(input: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    STANDARD
        .decode(input)
        .or_else(|_| STANDARD_NO_PAD.decode(input))
        .or_else(|_| URL_SAFE.decode(input))
        .or_else(|_| URL_SAFE_NO_PAD.decode(input))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(id: &str, kind: &str, target: &str) -> Location {
        Location {
            id: id.into(),
            kind: kind.into(),
            target: target.into(),
            entity_ref: "location:default/generated-x".into(),
        }
    }

    #[test]
    fn location_predicates_follow_backstage() {
        let l = loc("b1", "url", "https://Example.com/a.yaml");
        let p = |v: Value| parse_location_predicate(&v).unwrap();
        assert!(location_matches(&p(json!({"TYPE": "URL"})), &l));
        assert!(location_matches(
            &p(json!({"target": {"$hasPrefix": "https://example.COM"}})),
            &l
        ));
        assert!(!location_matches(&p(json!({"id": {"$in": ["B1"]}})), &l));
        assert!(location_matches(&p(json!({"id": {"$in": ["b1"]}})), &l));
        assert!(!location_matches(&p(json!({"$all": []})), &l));
        assert!(!location_matches(&p(json!({"$any": []})), &l));
        assert!(location_matches(&p(json!({"$not": {"type": "file"}})), &l));
        assert!(!location_matches(
            &p(json!({"target": {"$contains": "x"}})),
            &l
        ));
        let err = parse_location_predicate(&json!({"name": "x"})).unwrap_err();
        assert!(
            err.message()
                .contains("expected key to be 'id', 'type', 'target', or 'entityRef'")
        );
    }

    #[test]
    fn strict_bodies() {
        let body = |v: Value| v.as_object().unwrap().clone();
        let spec = parse_spec(
            &body(json!({"type": "url", "target": "https://x", "presence": "optional"})),
            true,
        )
        .unwrap();
        assert_eq!(spec.presence, Presence::Optional);
        assert!(
            parse_spec(
                &body(json!({"type": "url", "target": "x", "extra": 1})),
                true
            )
            .is_err()
        );
        assert!(
            parse_spec(
                &body(json!({"type": "url", "target": "x", "presence": "optional"})),
                false
            )
            .is_err()
        );
        assert!(parse_spec(&body(json!({"type": "url"})), true).is_err());
        assert!(parse_spec(&body(json!({"type": 1, "target": "x"})), true).is_err());
    }

    #[test]
    fn renamed_location_keeps_its_entity_name() {
        let mut l = loc("id", "url", "https://new");
        l.entity_ref = "location:default/generated-old".into();
        let e = location_row_entity(&l);
        assert_eq!(e.entity["metadata"]["name"], "generated-old");
        assert_eq!(e.entity["spec"]["target"], "https://new");
        assert_eq!(e.location_key.as_deref(), Some("url:https://new"));
    }

    #[test]
    fn base64_variants() {
        assert_eq!(decode_base64("eyJhIjoxfQ==").unwrap(), b"{\"a\":1}");
        assert_eq!(decode_base64("eyJhIjoxfQ").unwrap(), b"{\"a\":1}");
        assert!(decode_base64("!!").is_none());
    }
}
