//! The entity document: envelope, metadata, links, relations and status as serde types.
//!
//! [`Entity`] round-trips any valid entity: unknown keys under `metadata`, `spec`, `status`,
//! status items and links are kept (in order) in `extra` maps. Validation works on
//! [`serde_json::Value`] so that untrusted documents never need to fit these types first;
//! deserialize into [`Entity`] (or a typed kind view, see [`crate::kinds`]) after validating.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::entity_ref::{CompoundEntityRef, stringify_entity_ref};
use crate::error::{Error, Result};

/// The namespace used when an entity or ref does not name one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// An entity: the unit of the software catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    /// Format version of the kind, e.g. `backstage.io/v1alpha1`.
    pub api_version: String,
    /// The entity kind, e.g. `Component`.
    pub kind: String,
    /// Metadata shared by every kind.
    pub metadata: EntityMeta,
    /// Kind-specific data, kept as free JSON. See [`crate::kinds`] for typed views.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Map<String, Value>>,
    /// Relations computed by the catalog (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relations: Option<Vec<EntityRelation>>,
    /// Status computed by the catalog (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EntityStatus>,
}

impl Entity {
    /// Converts a JSON value (already validated, typically) into an entity.
    ///
    /// # Errors
    /// [`Error::InvalidEntity`] when the value does not have the entity's shape.
    pub fn from_value(value: Value) -> Result<Self> {
        serde_json::from_value(value).map_err(|e| Error::invalid_entity(e.to_string(), None))
    }

    /// The entity as JSON.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The namespace, `default` when absent or empty.
    pub fn namespace(&self) -> &str {
        match self.metadata.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => ns,
            _ => DEFAULT_NAMESPACE,
        }
    }

    /// The compound ref, case preserved (Backstage's `getCompoundEntityRef`).
    pub fn compound_ref(&self) -> CompoundEntityRef {
        CompoundEntityRef::new(&self.kind, self.namespace(), &self.metadata.name)
    }

    /// The canonical, lower-cased string ref (Backstage's `stringifyEntityRef(entity)`).
    pub fn entity_ref(&self) -> String {
        let ns = self
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(DEFAULT_NAMESPACE);
        stringify_entity_ref(&self.kind, ns, &self.metadata.name)
    }

    /// An annotation value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    /// A label value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(key).map(String::as_str)
    }
}

/// `metadata`: the fields every kind shares. Unknown keys are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityMeta {
    /// Server-assigned unique id (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Change token (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Name, unique per kind and namespace (case-insensitively).
    pub name: String,
    /// Namespace; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Short description; may be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Identifying key/value pairs, in document order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<IndexMap<String, String>>,
    /// Non-identifying key/value pairs, in document order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<IndexMap<String, String>>,
    /// Classification tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// External links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<EntityLink>>,
    /// Any other metadata keys, in document order.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An entry of `metadata.links`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityLink {
    /// Absolute URL.
    pub url: String,
    /// Display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Icon id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Link type, e.g. `runbook`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An entry of `relations`: a typed edge from this entity to a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRelation {
    /// Relation type, e.g. `ownedBy`.
    #[serde(rename = "type")]
    pub relation_type: String,
    /// Canonical string ref of the target.
    pub target_ref: String,
    /// Deprecated compound form of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<CompoundEntityRef>,
}

/// `status` (output only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityStatus {
    /// Status items, e.g. processing errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<EntityStatusItem>>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One status item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityStatusItem {
    /// Item type, e.g. `backstage.io/catalog-processing`.
    #[serde(rename = "type")]
    pub item_type: String,
    /// Severity.
    pub level: EntityStatusLevel,
    /// Message; may be empty.
    pub message: String,
    /// The serialized error behind the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SerializedError>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Status item severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityStatusLevel {
    /// Informational.
    Info,
    /// A warning.
    Warning,
    /// An error.
    Error,
}

/// A serialized error, as Backstage's `serializeError` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerializedError {
    /// Error name, e.g. `InputError`.
    pub name: String,
    /// Error message.
    pub message: String,
    /// Error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Stack trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The status item type the catalog uses for processing errors.
pub const STATUS_TYPE_CATALOG_PROCESSING: &str = "backstage.io/catalog-processing";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn full_entity_round_trips_unchanged() {
        let doc = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": "svc", "namespace": "ns", "uid": "u", "etag": "e", "title": "T",
                "description": "", "labels": {"b": "2", "a": "1"},
                "annotations": {"x.io/y": "z"}, "tags": ["java"],
                "links": [{"url": "https://x", "title": "X", "type": "docs", "custom": 1}],
                "generation": 3, "weird": {"nested": [1, null]}
            },
            "spec": {"type": "service", "owner": "me", "unknown": {"deep": true}},
            "relations": [{"type": "ownedBy", "targetRef": "group:default/me"}],
            "status": {"items": [{"type": "t", "level": "error", "message": "m",
                "error": {"name": "Error", "message": "x", "extra": 1}, "more": 2}], "other": 1}
        });
        let entity = Entity::from_value(doc.clone()).unwrap();
        assert_eq!(entity.to_value(), doc);
        let labels: Vec<_> = entity
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(labels, ["b", "a"], "label order is kept");
        assert_eq!(entity.entity_ref(), "component:ns/svc");
        assert_eq!(entity.annotation("x.io/y"), Some("z"));
    }

    #[test]
    fn entity_ref_keeps_empty_namespace_like_backstage() {
        let e = Entity::from_value(
            json!({"apiVersion": "v1", "kind": "K", "metadata": {"name": "N", "namespace": ""}}),
        )
        .unwrap();
        assert_eq!(e.entity_ref(), "k:/n");
        assert_eq!(e.compound_ref().namespace, "default");
    }

    #[test]
    fn wrong_shape_is_an_error_not_a_panic() {
        assert!(Entity::from_value(json!({"kind": 1})).is_err());
        assert!(Entity::from_value(json!([])).is_err());
    }
}
