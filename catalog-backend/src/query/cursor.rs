//! Cursors: the by-query continuation token (spec 3.2) and the `after` token of paginated
//! GET /entities (spec 3.1).
//!
//! Both are base64 (standard alphabet when written; standard or URL-safe, padded or not,
//! when read, as Node's decoder) of JSON. A by-query cursor stores its filter as a
//! predicate under `query`, so `@backstage/catalog-client` sends continuation requests of
//! filtered queries to `POST /entities/by-query`; the legacy `filter` shape of older cursors
//! is still accepted.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value, json};

use super::filter::parse_legacy_entity_filter;
use super::{OrderDirection, OrderField, Predicate};
use crate::error::{CatalogError, Result};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes standard or URL-safe base64, with or without padding, ignoring whitespace.
pub(crate) fn decode_base64(input: &str) -> Option<Vec<u8>> {
    let normalized: String = input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    LENIENT.decode(normalized.trim_end_matches('=')).ok()
}

/// The full-text part of a by-query request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FullTextFilter {
    /// The term (matched case-insensitively, literally, as a substring).
    pub term: String,
    /// The keys searched; `None` means the default (the sort field, else `metadata.uid`).
    pub fields: Option<Vec<String>>,
}

impl FullTextFilter {
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("term".into(), Value::String(self.term.clone()));
        if let Some(fields) = &self.fields {
            map.insert("fields".into(), json!(fields));
        }
        Value::Object(map)
    }
}

/// A by-query cursor: the whole query plus the position.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cursor {
    /// Sort keys (only the first is used).
    pub order_fields: Vec<OrderField>,
    /// The keyset position: `[value, uid]` with a sort field, `[uid]` without.
    pub order_field_values: Vec<Option<String>>,
    /// Whether this cursor walks backwards from `order_field_values`.
    pub is_previous: bool,
    /// The filter.
    pub query: Option<Predicate>,
    /// The full-text filter.
    pub full_text_filter: Option<FullTextFilter>,
    /// The sort values of the first row of the first page (to know when a backwards walk
    /// reached the start).
    pub first_sort_field_values: Option<Vec<Option<String>>>,
    /// `totalItems` of the first page.
    pub total_items: Option<u64>,
}

impl Cursor {
    /// The cursor as JSON (the shape of spec 3.2).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert(
            "orderFields".into(),
            Value::Array(
                self.order_fields
                    .iter()
                    .map(|f| json!({"field": f.field, "order": f.order.as_str()}))
                    .collect(),
            ),
        );
        map.insert("orderFieldValues".into(), json!(self.order_field_values));
        map.insert("isPrevious".into(), Value::Bool(self.is_previous));
        if let Some(query) = &self.query {
            map.insert("query".into(), query.to_json());
        }
        if let Some(full_text) = &self.full_text_filter {
            map.insert("fullTextFilter".into(), full_text.to_json());
        }
        if let Some(first) = &self.first_sort_field_values {
            map.insert("firstSortFieldValues".into(), json!(first));
        }
        if let Some(total) = self.total_items {
            map.insert("totalItems".into(), json!(total));
        }
        Value::Object(map)
    }

    /// The opaque token: standard base64 of the JSON.
    pub fn encode(&self) -> String {
        STANDARD.encode(self.to_json().to_string())
    }

    /// Decodes a token.
    ///
    /// # Errors
    /// `Malformed cursor: <details>` ([`CatalogError::Input`]).
    pub fn decode(token: &str) -> Result<Self> {
        Self::decode_inner(token)
            .map_err(|detail| CatalogError::Input(format!("Malformed cursor: {detail}")))
    }

    fn decode_inner(token: &str) -> std::result::Result<Self, String> {
        let bytes = decode_base64(token).ok_or("invalid base64")?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("invalid JSON, {e}"))?;
        let Value::Object(map) = value else {
            return Err("expected an object".into());
        };
        let order_fields = match map.get("orderFields") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    let field = item
                        .get("field")
                        .and_then(Value::as_str)
                        .ok_or("orderFields[].field must be a string")?;
                    let order = match item.get("order") {
                        None | Some(Value::Null) => OrderDirection::Asc,
                        Some(Value::String(s)) if s == "asc" => OrderDirection::Asc,
                        Some(Value::String(s)) if s == "desc" => OrderDirection::Desc,
                        Some(_) => return Err("orderFields[].order must be asc or desc"),
                    };
                    Ok(OrderField::new(field, order))
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
            _ => return Err("orderFields must be an array".into()),
        };
        let order_field_values = string_or_null_array(map.get("orderFieldValues"))
            .ok_or("orderFieldValues must be an array of strings or nulls")?;
        let is_previous = map
            .get("isPrevious")
            .and_then(Value::as_bool)
            .ok_or("isPrevious must be a boolean")?;
        let query = match map.get("query") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                let parsed: Value =
                    serde_json::from_str(text).map_err(|e| format!("invalid query, {e}"))?;
                Some(Predicate::parse(&parsed).map_err(|e| e.to_string())?)
            }
            Some(value) => Some(Predicate::parse(value).map_err(|e| e.to_string())?),
        };
        let legacy = match map.get("filter") {
            None | Some(Value::Null) => None,
            Some(value) => Some(parse_legacy_entity_filter(value)?),
        };
        let full_text_filter = match map.get("fullTextFilter") {
            None | Some(Value::Null) => None,
            Some(Value::Object(ft)) => {
                let term = match ft.get("term") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(_) => return Err("fullTextFilter.term must be a string".into()),
                };
                let fields = match ft.get("fields") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(items)) => Some(
                        items
                            .iter()
                            .map(|v| v.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                            .ok_or("fullTextFilter.fields must be strings")?,
                    ),
                    Some(_) => return Err("fullTextFilter.fields must be an array".into()),
                };
                Some(FullTextFilter { term, fields })
            }
            Some(_) => return Err("fullTextFilter must be an object".into()),
        };
        let first_sort_field_values = match map.get("firstSortFieldValues") {
            None | Some(Value::Null) => None,
            value => Some(
                string_or_null_array(value)
                    .ok_or("firstSortFieldValues must be an array of strings or nulls")?,
            ),
        };
        let total_items = match map.get("totalItems") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.as_u64()
                    .or_else(|| {
                        n.as_f64()
                            .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                            .map(|f| f as u64)
                    })
                    .ok_or("totalItems must be a non-negative integer")?,
            ),
            Some(_) => return Err("totalItems must be a number".into()),
        };
        Ok(Self {
            order_fields,
            order_field_values,
            is_previous,
            query: Predicate::and(query, legacy),
            full_text_filter,
            first_sort_field_values,
            total_items,
        })
    }
}

fn string_or_null_array(value: Option<&Value>) -> Option<Vec<Option<String>>> {
    match value? {
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Null => Some(None),
                Value::String(s) => Some(Some(s.clone())),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The `after` cursor of paginated GET /entities: `{limit, offset}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AfterCursor {
    /// Page size.
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: Option<u64>,
}

impl AfterCursor {
    /// The token: standard base64 of `{"limit":…,"offset":…}`.
    pub fn encode(limit: u64, offset: u64) -> String {
        STANDARD.encode(json!({"limit": limit, "offset": offset}).to_string())
    }

    /// Decodes a token.
    ///
    /// # Errors
    /// `Malformed after cursor, could not be parsed`, `…, limit was not an number`,
    /// `…, offset was not a number` ([`CatalogError::Input`]).
    pub fn decode(token: &str) -> Result<Self> {
        let parsed =
            decode_base64(token).and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        let Some(value) = parsed else {
            return Err(CatalogError::Input(
                "Malformed after cursor, could not be parsed".into(),
            ));
        };
        let integer = |name: &str, message: &str| -> Result<Option<u64>> {
            match value.get(name) {
                None => Ok(None),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .or_else(|| {
                        n.as_f64()
                            .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                            .map(|f| f as u64)
                    })
                    .map(Some)
                    .ok_or_else(|| CatalogError::Input(message.to_owned())),
                Some(_) => Err(CatalogError::Input(message.to_owned())),
            }
        };
        Ok(Self {
            limit: integer("limit", "Malformed after cursor, limit was not an number")?,
            offset: integer("offset", "Malformed after cursor, offset was not a number")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn cursor_round_trip_keeps_query_under_query_key() {
        let cursor = Cursor {
            order_fields: vec![OrderField::new("metadata.name", OrderDirection::Desc)],
            order_field_values: vec![Some("b".into()), Some("uid-2".into())],
            is_previous: true,
            query: Some(Predicate::equals("kind", "component")),
            full_text_filter: Some(FullTextFilter {
                term: "foo".into(),
                fields: Some(vec!["metadata.name".into()]),
            }),
            first_sort_field_values: Some(vec![Some("a".into()), None]),
            total_items: Some(12),
        };
        let token = cursor.encode();
        let json: Value = serde_json::from_slice(&STANDARD.decode(&token).unwrap()).unwrap();
        assert_eq!(json["query"], json!({"kind": "component"}));
        assert_eq!(
            json["orderFields"],
            json!([{"field": "metadata.name", "order": "desc"}])
        );
        assert_eq!(Cursor::decode(&token).unwrap(), cursor);
        // URL-safe alphabet without padding is accepted too.
        let url_safe = URL_SAFE_NO_PAD.encode(json.to_string());
        assert_eq!(Cursor::decode(&url_safe).unwrap(), cursor);
    }

    #[test]
    fn legacy_filter_and_missing_order() {
        let json = json!({
            "orderFields": [{"field": "metadata.Name"}],
            "orderFieldValues": ["x", "u"],
            "isPrevious": false,
            "filter": {"key": "kind", "values": ["API"]},
        });
        let cursor = Cursor::decode(&STANDARD.encode(json.to_string())).unwrap();
        assert_eq!(
            cursor.order_fields,
            vec![OrderField::new("metadata.name", OrderDirection::Asc)]
        );
        assert_eq!(cursor.query, Some(Predicate::equals("kind", "api")));
    }

    #[test]
    fn malformed_cursors() {
        for token in [
            "!!!",
            &STANDARD.encode("nope"),
            &STANDARD.encode("{\"orderFields\": 1}"),
        ] {
            let err = Cursor::decode(token).unwrap_err().to_string();
            assert!(err.starts_with("Malformed cursor: "), "{err}");
        }
        let missing =
            STANDARD.encode(json!({"orderFields": [], "orderFieldValues": []}).to_string());
        assert_eq!(
            Cursor::decode(&missing).unwrap_err().to_string(),
            "Malformed cursor: isPrevious must be a boolean"
        );
    }

    #[test]
    fn after_cursor() {
        let token = AfterCursor::encode(10, 20);
        assert_eq!(
            AfterCursor::decode(&token).unwrap(),
            AfterCursor {
                limit: Some(10),
                offset: Some(20)
            }
        );
        assert_eq!(
            AfterCursor::decode("***").unwrap_err().to_string(),
            "Malformed after cursor, could not be parsed"
        );
        let bad = STANDARD.encode("{\"limit\": \"x\"}");
        assert_eq!(
            AfterCursor::decode(&bad).unwrap_err().to_string(),
            "Malformed after cursor, limit was not an number"
        );
        let bad = STANDARD.encode("{\"offset\": 1.5}");
        assert_eq!(
            AfterCursor::decode(&bad).unwrap_err().to_string(),
            "Malformed after cursor, offset was not a number"
        );
    }
}
