//! Flattening a final entity into search rows (spec 2.1): what filters, facets and sort
//! keys see.

use serde_json::Value;

use crate::error::Result;

/// One `(key, value, original_value)` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRow {
    /// Lower-cased dotted path.
    pub key: String,
    /// Lower-cased value; `None` for null or over-long values.
    pub value: Option<String>,
    /// The value with its original case; `None` when `value` is.
    pub original_value: Option<String>,
}

/// Flattens an entity (spec 2.1).
///
/// # Errors
/// [`crate::CatalogError::Input`] when two keys differ only by case.
pub fn flatten(entity: &Value) -> Result<Vec<SearchRow>> {
    let _ = entity;
    Err(crate::CatalogError::Internal("search::flatten is not implemented yet".into()))
}
