//! Read endpoints: entities, by-query, by-refs, by-uid, by-name, facets (spec 3.1-3.5, 3.7,
//! 3.10, 3.11). Every one is answered from the in-memory [`EntityIndex`]; entity bodies are
//! the stored JSON bytes, copied verbatim unless a `fields` projection is asked for.
//!
//! Differences from Backstage (decisions.md): unknown query parameters are ignored; order
//! keys are lower-cased in every mode; a missing `orderField` direction means `asc`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, Uri, header};
use axum::response::Response;
use axum::routing::get;
use backstage_core_plugin_api::ApiError;
use serde_json::{Map, Value, json};

use super::CatalogContext;
use crate::error::CatalogError;
use crate::index::{EntityIndex, IndexedEntity, QueryRequest};
use crate::query::cursor::AfterCursor;
use crate::query::fields::FieldSet;
use crate::query::filter::parse_filter_params;
use crate::query::order::{parse_order_field_params, parse_order_params};
use crate::query::{Cursor, FullTextFilter, OrderDirection, OrderField, Predicate};

/// Content type of every success body.
const JSON_UTF8: &str = "application/json; charset=utf-8";
/// Default page size of by-query.
const DEFAULT_QUERY_LIMIT: usize = 200;
/// Bodies at most this large are sent in one piece; larger arrays are streamed in chunks
/// of about this size. A chunk's buffer (this plus [`CHUNK_SLACK`], 32 KiB) stays within the
/// sizes allocators keep in per-thread caches, so streaming a large list reuses the same few
/// buffers instead of mapping and unmapping fresh ones.
const CHUNK_BYTES: usize = 28 * 1024;
/// Room for the entity that crosses [`CHUNK_BYTES`] without growing the buffer.
const CHUNK_SLACK: usize = 4 * 1024;

type Ctx = State<Arc<CatalogContext>>;

pub(crate) fn routes() -> Router<Arc<CatalogContext>> {
    Router::new()
        .route("/entities", get(get_entities))
        .route(
            "/entities/by-query",
            get(get_entities_by_query).post(post_entities_by_query),
        )
        .route(
            "/entities/by-refs",
            axum::routing::post(post_entities_by_refs),
        )
        .route("/entities/by-uid/{uid}", get(get_entity_by_uid))
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}",
            get(get_entity_by_name),
        )
        .route(
            "/entity-facets",
            get(get_entity_facets).post(post_entity_facets),
        )
}

fn input(message: impl Into<String>) -> ApiError {
    ApiError::input(message)
}

// ---- query strings ----

/// The decoded `(name, value)` pairs of a query string, repeated names kept.
struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses the raw query string. For each known parameter, Express's extended parser
    /// rules are applied: `name[]=v` counts as `name`, any other bracket form is an object
    /// (`Invalid <name>, not a string`), and a parameter given once with an empty value is
    /// rejected like the OpenAPI validator does.
    fn parse(raw: Option<&str>, known: &[&str]) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let mut name = name.into_owned();
            if let Some(base) = name.strip_suffix("[]") {
                if known.contains(&base) {
                    name = base.to_owned();
                }
            } else if let Some((base, _)) = name.split_once('[')
                && known.contains(&base)
            {
                return Err(input(format!("Invalid {base}, not a string")));
            }
            pairs.push((name, value.into_owned()));
        }
        let params = Self { pairs };
        for name in known {
            let values = params.all(name);
            if values.len() == 1 && values[0].is_empty() {
                return Err(input(format!(
                    "Empty value found for query parameter '{name}'"
                )));
            }
        }
        Ok(params)
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Backstage's `parseIntegerParam`: the value must be the canonical decimal form of an
/// integer.
fn parse_integer(value: Option<&str>, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.parse::<i64>() {
        Ok(n) if n.to_string() == value => Ok(Some(n)),
        _ => Err(input(format!("Invalid {name}, not an integer"))),
    }
}

fn non_negative(value: Option<i64>, name: &str) -> Result<Option<usize>, ApiError> {
    match value {
        None => Ok(None),
        Some(n) => usize::try_from(n)
            .map(Some)
            .map_err(|_| input(format!("Invalid {name}, must be zero or greater"))),
    }
}

fn catalog(error: CatalogError) -> ApiError {
    error.into_api_error()
}

// ---- bodies ----

fn json_body(bytes: impl Into<Bytes>) -> Response {
    let mut response = Response::new(Body::from(bytes.into()));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

fn value_response(value: &Value) -> Response {
    json_body(value.to_string())
}

/// Appends one entity (verbatim, or projected) to `out`.
fn write_entity(entity: &IndexedEntity, fields: Option<&FieldSet>, out: &mut Vec<u8>) {
    match fields {
        Some(fields) => fields.project_into(entity.json(), out),
        None => out.extend_from_slice(entity.json()),
    }
}

/// Appends a JSON array of entities (or nulls) to `out`.
fn write_entity_array<'a>(
    items: impl IntoIterator<Item = Option<&'a IndexedEntity>>,
    fields: Option<&FieldSet>,
    out: &mut Vec<u8>,
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match item {
            Some(entity) => write_entity(entity, fields, out),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.push(b']');
}

/// Chunks of a JSON array of entities, produced lazily so a large response never exists
/// in memory at once.
struct ArrayChunks {
    items: Vec<IndexedEntity>,
    fields: Option<FieldSet>,
    position: usize,
    done: bool,
}

impl Iterator for ArrayChunks {
    type Item = Result<Bytes, Infallible>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK_BYTES + CHUNK_SLACK);
        if self.position == 0 {
            buf.push(b'[');
        }
        while self.position < self.items.len() && buf.len() < CHUNK_BYTES {
            if self.position > 0 {
                buf.push(b',');
            }
            write_entity(&self.items[self.position], self.fields.as_ref(), &mut buf);
            self.position += 1;
        }
        if self.position == self.items.len() {
            buf.push(b']');
            self.done = true;
        }
        Some(Ok(Bytes::from(buf)))
    }
}

/// A JSON array response: one piece when small, streamed in chunks otherwise.
fn entity_array_response(items: Vec<IndexedEntity>, fields: Option<FieldSet>) -> Response {
    let estimate: usize = match &fields {
        Some(_) => items.len() * 64,
        None => items.iter().map(|e| e.json().len() + 1).sum(),
    };
    if estimate <= CHUNK_BYTES {
        let mut out = Vec::with_capacity(estimate + 2);
        write_entity_array(items.iter().map(Some), fields.as_ref(), &mut out);
        return json_body(out);
    }
    let chunks = ArrayChunks {
        items,
        fields,
        position: 0,
        done: false,
    };
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

/// Parses a JSON request body; an empty body is `{}` (Express's `json()` default).
fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    Ok(super::body::optional_json(body)?.unwrap_or_else(|| Value::Object(Map::new())))
}

fn string_array(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

// ---- GET /entities ----

async fn get_entities(
    State(ctx): Ctx,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(
        raw.as_deref(),
        &["filter", "fields", "order", "limit", "offset", "after"],
    )?;
    let filter = parse_filter_params(&params.all("filter")).map_err(catalog)?;
    let fields = FieldSet::parse(&params.all("fields")).map_err(catalog)?;
    let order = parse_order_params(&params.all("order")).map_err(catalog)?;
    let mut offset = parse_integer(params.first("offset"), "offset")?;
    let mut limit = parse_integer(params.first("limit"), "limit")?;
    let after = params.first("after");

    if offset.is_none() && limit.is_none() && after.is_none() {
        let index: &EntityIndex = &ctx.index;
        let items = index.list(filter.as_ref(), order.first());
        return Ok(entity_array_response(items, fields));
    }
    if offset.is_some_and(|o| o < 0) {
        return Err(input("Invalid offset, must be zero or greater"));
    }
    if limit.is_some_and(|l| l <= 0) {
        return Err(input("Invalid limit, must be greater than zero"));
    }
    if let Some(after) = after {
        if after.is_empty() {
            return Err(input("Invalid after, must not be empty"));
        }
        let cursor = AfterCursor::decode(after).map_err(catalog)?;
        if let Some(l) = cursor.limit {
            limit = Some(i64::try_from(l).unwrap_or(i64::MAX));
        }
        if let Some(o) = cursor.offset {
            offset = Some(i64::try_from(o).unwrap_or(i64::MAX));
        }
    }
    let offset = usize::try_from(offset.unwrap_or(0)).unwrap_or(0);
    let limit = limit.and_then(|l| usize::try_from(l).ok());
    let (items, more) = ctx
        .index
        .list_paginated(filter.as_ref(), &order, offset, limit);

    let mut response = entity_array_response(items, fields);
    if let (true, Some(limit)) = (more, limit) {
        let next = AfterCursor::encode(limit as u64, (offset + limit) as u64);
        let mut pairs: Vec<(String, String)> = params
            .pairs
            .into_iter()
            .filter(|(n, _)| n != "offset")
            .collect();
        match pairs.iter().position(|(n, _)| n == "after") {
            Some(i) => {
                pairs[i].1 = next;
                let mut seen = false;
                pairs.retain(|(n, _)| n != "after" || !std::mem::replace(&mut seen, true));
            }
            None => pairs.push(("after".into(), next)),
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        let link = format!("<{}?{query}>; rel=\"next\"", uri.path());
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

// ---- by-query ----

fn query_response(
    index: &EntityIndex,
    request: &QueryRequest,
    fields: Option<&FieldSet>,
) -> Response {
    let page = index.query(request);
    let mut out =
        Vec::with_capacity(page.items.iter().map(|e| e.json().len() + 1).sum::<usize>() + 256);
    out.extend_from_slice(b"{\"items\":");
    write_entity_array(page.items.iter().map(Some), fields, &mut out);
    out.extend_from_slice(format!(",\"totalItems\":{},\"pageInfo\":", page.total_items).as_bytes());
    let mut info = Map::new();
    if let Some(next) = &page.next_cursor {
        info.insert("nextCursor".into(), Value::String(next.encode()));
    }
    if let Some(prev) = &page.prev_cursor {
        info.insert("prevCursor".into(), Value::String(prev.encode()));
    }
    out.extend_from_slice(Value::Object(info).to_string().as_bytes());
    out.push(b'}');
    json_body(out)
}

fn parse_total_items(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("include") => Ok(false),
        Some("exclude") => Ok(true),
        Some(_) => Err(input("Invalid totalItems, must be one of include, exclude")),
    }
}

async fn get_entities_by_query(
    State(ctx): Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(
        raw.as_deref(),
        &[
            "filter",
            "orderField",
            "fullTextFilterTerm",
            "fullTextFilterFields",
            "totalItems",
            "limit",
            "offset",
            "fields",
            "cursor",
        ],
    )?;
    let fields = FieldSet::parse(&params.all("fields")).map_err(catalog)?;
    let limit = non_negative(parse_integer(params.first("limit"), "limit")?, "limit")?
        .unwrap_or(DEFAULT_QUERY_LIMIT);

    let request = if let Some(token) = params.first("cursor") {
        QueryRequest {
            cursor: Cursor::decode(token).map_err(catalog)?,
            offset: 0,
            limit,
            skip_total_items: false,
        }
    } else {
        let filter = parse_filter_params(&params.all("filter")).map_err(catalog)?;
        let order_fields = parse_order_field_params(&params.all("orderField")).map_err(catalog)?;
        let offset =
            non_negative(parse_integer(params.first("offset"), "offset")?, "offset")?.unwrap_or(0);
        let skip_total_items = parse_total_items(params.first("totalItems"))?;
        let term = params.first("fullTextFilterTerm").unwrap_or("").to_owned();
        let text_fields: Vec<String> = params
            .all("fullTextFilterFields")
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
        let full_text_filter = (!term.trim().is_empty()).then(|| FullTextFilter {
            term,
            fields: (!text_fields.is_empty()).then_some(text_fields),
        });
        QueryRequest {
            cursor: Cursor {
                order_fields,
                query: filter,
                full_text_filter,
                ..Cursor::default()
            },
            offset,
            limit,
            skip_total_items,
        }
    };
    Ok(query_response(&ctx.index, &request, fields.as_ref()))
}

fn body_usize(body: &Map<String, Value>, name: &str) -> Result<Option<usize>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| input(format!("Invalid {name}, must be a non-negative integer"))),
        Some(_) => Err(input(format!(
            "Invalid {name}, must be a non-negative integer"
        ))),
    }
}

fn body_fields(body: &Map<String, Value>) -> Result<Option<FieldSet>, ApiError> {
    match body.get("fields") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let fields = string_array(value)
                .ok_or_else(|| input("Invalid fields, must be an array of strings"))?;
            FieldSet::parse(&fields).map_err(catalog)
        }
    }
}

fn body_query(body: &Map<String, Value>) -> Result<Option<Predicate>, ApiError> {
    match body.get("query") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => Predicate::parse(value).map(Some).map_err(catalog),
    }
}

async fn post_entities_by_query(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let Value::Object(body) = parse_body(&body)? else {
        return Err(input("Invalid request body, expected a JSON object"));
    };
    let fields = body_fields(&body)?;
    let limit = body_usize(&body, "limit")?.unwrap_or(DEFAULT_QUERY_LIMIT);
    let request = match body.get("cursor") {
        Some(Value::String(token)) if token.is_empty() => {
            return Err(input("Cursor cannot be empty"));
        }
        Some(Value::String(token)) => QueryRequest {
            cursor: Cursor::decode(token).map_err(catalog)?,
            offset: 0,
            limit,
            skip_total_items: false,
        },
        Some(value) if !value.is_null() => return Err(input("Invalid cursor, must be a string")),
        _ => {
            let query = body_query(&body)?;
            let order_fields = match body.get("orderBy") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        let field = item.get("field").and_then(Value::as_str);
                        let order = match item.get("order").and_then(Value::as_str) {
                            Some("asc") => Some(OrderDirection::Asc),
                            Some("desc") => Some(OrderDirection::Desc),
                            _ => None,
                        };
                        match (field, order) {
                            (Some(field), Some(order)) => Ok(OrderField::new(field, order)),
                            _ => Err(input(
                                "Invalid orderBy, expected an array of {field: string, order: \"asc\" | \"desc\"}",
                            )),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Some(_) => return Err(input("Invalid orderBy, must be an array")),
            };
            let full_text_filter = match body.get("fullTextFilter") {
                None | Some(Value::Null) => None,
                Some(Value::Object(ft)) => {
                    let term = match ft.get("term") {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(_) => {
                            return Err(input("Invalid fullTextFilter.term, must be a string"));
                        }
                    };
                    let fields = match ft.get("fields") {
                        None | Some(Value::Null) => None,
                        Some(value) => Some(string_array(value).ok_or_else(|| {
                            input("Invalid fullTextFilter.fields, must be an array of strings")
                        })?),
                    };
                    (!term.trim().is_empty()).then_some(FullTextFilter { term, fields })
                }
                Some(_) => return Err(input("Invalid fullTextFilter, must be an object")),
            };
            let skip_total_items = match body.get("totalItems") {
                None | Some(Value::Null) => false,
                Some(Value::String(s)) => parse_total_items(Some(s))?,
                Some(_) => {
                    return Err(input("Invalid totalItems, must be one of include, exclude"));
                }
            };
            QueryRequest {
                cursor: Cursor {
                    order_fields,
                    query,
                    full_text_filter,
                    ..Cursor::default()
                },
                offset: body_usize(&body, "offset")?.unwrap_or(0),
                limit,
                skip_total_items,
            }
        }
    };
    Ok(query_response(&ctx.index, &request, fields.as_ref()))
}

// ---- by-refs ----

async fn post_entities_by_refs(
    State(ctx): Ctx,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), &["filter", "fields"])?;
    let filter = parse_filter_params(&params.all("filter")).map_err(catalog)?;
    let malformed = |details: &str| {
        input(format!(
            "Malformed request body (did you remember to specify an application/json content type?), {details}"
        ))
    };
    let Value::Object(body) = parse_body(&body)? else {
        return Err(malformed("expected an object"));
    };
    let refs = body
        .get("entityRefs")
        .and_then(string_array)
        .ok_or_else(|| malformed("entityRefs must be an array of strings"))?;
    let mut field_values = match body.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => {
            string_array(value).ok_or_else(|| malformed("fields must be an array of strings"))?
        }
    };
    field_values.extend(params.all("fields").into_iter().map(str::to_owned));
    let fields = FieldSet::parse(&field_values).map_err(catalog)?;
    let query = body_query(&body)?;
    let predicate = Predicate::and(filter, query);

    let items = ctx.index.by_refs(&refs, predicate.as_ref());
    let mut out = Vec::with_capacity(
        items
            .iter()
            .flatten()
            .map(|e| e.json().len() + 1)
            .sum::<usize>()
            + 16,
    );
    out.extend_from_slice(b"{\"items\":");
    write_entity_array(items.iter().map(Option::as_ref), fields.as_ref(), &mut out);
    out.push(b'}');
    Ok(json_body(out))
}

// ---- single entities ----

async fn get_entity_by_uid(State(ctx): Ctx, Path(uid): Path<String>) -> Result<Response, ApiError> {
    match ctx.index.get_by_uid(&uid) {
        Some(entity) => Ok(json_body(entity.json_bytes())),
        None => Err(ApiError::not_found(format!("No entity with uid {uid}"))),
    }
}

async fn get_entity_by_name(
    State(ctx): Ctx,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let entity_ref = format!("{kind}:{namespace}/{name}").to_lowercase();
    match ctx.index.get_by_ref(&entity_ref) {
        Some(entity) => Ok(json_body(entity.json_bytes())),
        None => Err(ApiError::not_found(format!(
            "No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
        ))),
    }
}

// ---- facets ----

fn facets_response(index: &EntityIndex, facets: &[String], filter: Option<&Predicate>) -> Response {
    let counts = index.facets(facets, filter);
    let mut map = Map::new();
    for (facet, values) in facets.iter().zip(counts) {
        map.insert(
            facet.clone(),
            Value::Array(
                values
                    .into_iter()
                    .map(|c| json!({"value": c.value, "count": c.count}))
                    .collect(),
            ),
        );
    }
    value_response(&json!({ "facets": map }))
}

async fn get_entity_facets(State(ctx): Ctx, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), &["facet", "filter"])?;
    let facets: Vec<String> = params
        .all("facet")
        .into_iter()
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    if facets.is_empty() {
        return Err(input("Missing facet parameter"));
    }
    let filter = parse_filter_params(&params.all("filter")).map_err(catalog)?;
    Ok(facets_response(&ctx.index, &facets, filter.as_ref()))
}

async fn post_entity_facets(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let Value::Object(body) = parse_body(&body)? else {
        return Err(input("Invalid request body, expected a JSON object"));
    };
    let facets: Vec<String> = match body.get("facets") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => string_array(value)
            .ok_or_else(|| input("Invalid facets, must be an array of strings"))?
            .into_iter()
            .filter(|f| !f.is_empty())
            .collect(),
    };
    if facets.is_empty() {
        return Err(input("Missing or empty facets parameter"));
    }
    let query = body_query(&body)?;
    Ok(facets_response(&ctx.index, &facets, query.as_ref()))
}
