//! Sort parameters: `order=asc:<field>` of GET /entities and `orderField=<field>,asc|desc` of
//! GET /entities/by-query (spec 2.5, 3.1, 3.2).
//!
//! Field names are lower-cased everywhere (decisions.md), so they match search keys.

use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderDirection {
    /// Ascending (byte order of the lower-cased value).
    #[default]
    Asc,
    /// Descending.
    Desc,
}

impl OrderDirection {
    /// `asc` or `desc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }

    /// The other direction.
    pub fn reversed(self) -> Self {
        match self {
            Self::Asc => Self::Desc,
            Self::Desc => Self::Asc,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "asc" => Some(Self::Asc),
            "desc" => Some(Self::Desc),
            _ => None,
        }
    }
}

/// One sort key: a search key and a direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderField {
    /// The search key (lower-cased when parsed from a request).
    pub field: String,
    /// The direction.
    pub order: OrderDirection,
}

impl OrderField {
    /// A sort key; the field is lower-cased.
    pub fn new(field: &str, order: OrderDirection) -> Self {
        Self {
            field: field.to_lowercase(),
            order,
        }
    }
}

/// Parses the `order` parameters of GET /entities (`asc:<field>` / `desc:<field>`).
///
/// # Errors
/// `Invalid order parameter "<x>", expected "<asc or desc>:<field name>"`.
pub fn parse_order_params<S: AsRef<str>>(values: &[S]) -> Result<Vec<OrderField>> {
    values
        .iter()
        .map(|value| {
            let item = value.as_ref();
            item.split_once(':')
                .and_then(|(dir, field)| {
                    let dir = OrderDirection::parse(dir)?;
                    (!field.is_empty()).then(|| OrderField::new(field, dir))
                })
                .ok_or_else(|| {
                    CatalogError::Input(format!(
                        "Invalid order parameter \"{item}\", expected \"<asc or desc>:<field name>\""
                    ))
                })
        })
        .collect()
}

/// Parses the `orderField` parameters of GET /entities/by-query (`<field>,asc|desc`); a
/// missing direction means ascending (decisions.md).
///
/// # Errors
/// `Invalid order field order, must be asc or desc`.
pub fn parse_order_field_params<S: AsRef<str>>(values: &[S]) -> Result<Vec<OrderField>> {
    values
        .iter()
        .map(|value| {
            let mut parts = value.as_ref().split(',');
            let field = parts.next().unwrap_or_default();
            let order = match parts.next() {
                None => OrderDirection::Asc,
                Some(order) => OrderDirection::parse(order).ok_or_else(|| {
                    CatalogError::Input("Invalid order field order, must be asc or desc".into())
                })?,
            };
            Ok(OrderField::new(field, order))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_params() {
        assert_eq!(
            parse_order_params(&["asc:metadata.Name", "desc:a:b"]).unwrap(),
            vec![
                OrderField::new("metadata.name", OrderDirection::Asc),
                OrderField::new("a:b", OrderDirection::Desc)
            ]
        );
        for bad in ["metadata.name", "up:x", "asc:", "ASC:x"] {
            assert_eq!(
                parse_order_params(&[bad]).unwrap_err().to_string(),
                format!(
                    "Invalid order parameter \"{bad}\", expected \"<asc or desc>:<field name>\""
                )
            );
        }
    }

    #[test]
    fn order_field_params() {
        assert_eq!(
            parse_order_field_params(&["metadata.Name,desc", "kind"]).unwrap(),
            vec![
                OrderField::new("metadata.name", OrderDirection::Desc),
                OrderField::new("kind", OrderDirection::Asc)
            ]
        );
        assert_eq!(
            parse_order_field_params(&["kind,up"])
                .unwrap_err()
                .to_string(),
            "Invalid order field order, must be asc or desc"
        );
    }
}
