use serde_json::Value;

use super::{EntityPolicy, Problem};
use crate::error::{Error, Result};

/// Rejects root keys other than the known ones (default `apiVersion`, `kind`, `metadata`,
/// `spec`; so ingested documents may not carry `relations` or `status`): `Unknown field <name>`.
#[derive(Debug, Clone)]
pub struct NoForeignRootFieldsEntityPolicy {
    known: Vec<String>,
}

impl NoForeignRootFieldsEntityPolicy {
    /// A policy allowing exactly these root keys.
    pub fn new<I, S>(known: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            known: known.into_iter().map(Into::into).collect(),
        }
    }

    fn foreign<'a>(&'a self, entity: &'a Value) -> impl Iterator<Item = &'a String> + 'a {
        entity
            .as_object()
            .into_iter()
            .flat_map(crate::js::ordered)
            .map(|(k, _)| k)
            .filter(|k| !self.known.iter().any(|f| f == *k))
    }
}

impl Default for NoForeignRootFieldsEntityPolicy {
    fn default() -> Self {
        Self::new(["apiVersion", "kind", "metadata", "spec"])
    }
}

impl EntityPolicy for NoForeignRootFieldsEntityPolicy {
    fn enforce(&self, entity: Value) -> Result<Option<Value>> {
        if let Some(field) = self.foreign(&entity).next() {
            return Err(Error::invalid_entity(
                format!("Unknown field {field}"),
                Some(format!("/{}", crate::schema_escape(field))),
            ));
        }
        Ok(Some(entity))
    }

    fn problems(&self, entity: &Value) -> Vec<Problem> {
        self.foreign(entity)
            .map(|f| {
                Problem::new(
                    format!("/{}", crate::schema_escape(f)),
                    format!("Unknown field {f}"),
                )
            })
            .collect()
    }
}
