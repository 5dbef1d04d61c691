//! Types shared by the catalog's parts: locations, deferred entities, relations, processing
//! output.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

/// Annotation: the location an entity was read from (`<type>:<target>`).
pub const ANNOTATION_LOCATION: &str = "backstage.io/managed-by-location";
/// Annotation: the location originally registered, above every intermediate file.
pub const ANNOTATION_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";
/// Annotation added to entities no parent emits any more.
pub const ANNOTATION_ORPHAN: &str = "backstage.io/orphan";

/// Whether a location's target must exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// A missing target is a processing error (the default).
    #[default]
    Required,
    /// A missing target is silently empty.
    Optional,
}

impl Presence {
    /// `required` or `optional`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Optional => "optional",
        }
    }
}

/// What to read: `{type, target, presence}` (`url` / `file` and a URL or path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationSpec {
    /// `url`, `file`, or a type an extension added.
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL or path.
    pub target: String,
    /// Whether the target must exist.
    #[serde(default)]
    pub presence: Presence,
}

impl LocationSpec {
    /// A required location.
    pub fn new(kind: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            target: target.into(),
            presence: Presence::Required,
        }
    }

    /// `<type>:<target>`: the location key and the value of the location annotations.
    pub fn location_ref(&self) -> String {
        format!("{}:{}", self.kind, self.target)
    }

    /// The name of the generated Location entity: `generated-<sha1 hex of "type:target">`.
    pub fn generated_entity_name(&self) -> String {
        let digest = Sha1::digest(self.location_ref().as_bytes());
        let mut name = String::with_capacity(10 + 40);
        name.push_str("generated-");
        for byte in digest {
            use std::fmt::Write;
            let _ = write!(name, "{byte:02x}");
        }
        name
    }

    /// The ref of the generated Location entity: `location:default/generated-…`.
    pub fn generated_entity_ref(&self) -> String {
        format!("location:default/{}", self.generated_entity_name())
    }

    /// The Location entity Backstage builds for a registered location (spec 4.3), with the
    /// given location annotations (both `<type>:<target>` of this spec for a root).
    pub fn to_location_entity(&self, managed_by: &str, origin: &str) -> Value {
        json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Location",
            "metadata": {
                "name": self.generated_entity_name(),
                "namespace": "default",
                "annotations": {
                    ANNOTATION_LOCATION: managed_by,
                    ANNOTATION_ORIGIN_LOCATION: origin,
                },
            },
            "spec": {
                "type": self.kind,
                "target": self.target,
                "presence": self.presence.as_str(),
            },
        })
    }

    /// The Location entity of a root location: both annotations are this location.
    pub fn to_root_location_entity(&self) -> Value {
        let r = self.location_ref();
        self.to_location_entity(&r, &r)
    }
}

/// A registered location as the REST API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// A UUID.
    pub id: String,
    /// `url`, `file`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL or path.
    pub target: String,
    /// The ref of its Location entity.
    pub entity_ref: String,
}

/// An entity handed to the catalog by a provider or a processor, not yet processed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeferredEntity {
    /// The entity document.
    pub entity: Value,
    /// Which source owns the ref (conflict resolution, spec 4.10); `None` lets any later
    /// writer claim it.
    pub location_key: Option<String>,
}

/// A relation row: `source —type→ target`, refs canonical (lower-case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RelationRow {
    /// Canonical source ref.
    pub source_ref: String,
    /// Relation type as spelled (`ownedBy`).
    pub relation_type: String,
    /// Canonical target ref.
    pub target_ref: String,
}

/// An error recorded while processing an entity, serialised like Backstage's
/// `serializeError`: `{name, message, cause?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerializedError {
    /// `InputError`, `NotFoundError`, `NotAllowedError`, `ConflictError`, `Error`, …
    pub name: String,
    /// The message.
    pub message: String,
    /// An optional cause, itself serialised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<SerializedError>>,
}

impl SerializedError {
    /// An error with a name and a message.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
            cause: None,
        }
    }
}

/// What processing one entity produced (spec 4.4).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessingOutput {
    /// `false` when any error was emitted or thrown; then only `errors` (and `cache`) are
    /// written and the previous result stays.
    pub ok: bool,
    /// The processed entity (namespace defaulted, annotations added, placeholders
    /// resolved) when `ok`.
    pub entity: Option<Value>,
    /// Emitted child entities, annotations already set.
    pub children: Vec<DeferredEntity>,
    /// Emitted relations.
    pub relations: Vec<RelationRow>,
    /// Errors, in emission order.
    pub errors: Vec<SerializedError>,
    /// Refresh keys (`url:<target>`, `file:<path>`).
    pub refresh_keys: Vec<String>,
    /// Processor cache state to persist for the next run (spec 4.4), or `Null`.
    pub cache: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_location_name_is_sha1_of_type_and_target() {
        let spec = LocationSpec::new("url", "https://example.com/catalog-info.yaml");
        let name = spec.generated_entity_name();
        assert!(name.starts_with("generated-"));
        assert_eq!(name.len(), "generated-".len() + 40);
        // sha1("url:https://example.com/catalog-info.yaml")
        let expected = Sha1::digest(b"url:https://example.com/catalog-info.yaml");
        assert_eq!(&name[10..12], format!("{:02x}", expected[0]));
        let entity = spec.to_root_location_entity();
        assert_eq!(
            entity["metadata"]["annotations"][ANNOTATION_LOCATION],
            "url:https://example.com/catalog-info.yaml"
        );
        assert_eq!(entity["spec"]["presence"], "required");
    }
}

/// One change of the final-entity table, in commit order: the feed every replica's
/// in-memory index follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalEntityChange {
    /// Monotonic position in the feed; a replica asks for changes after the last one it saw.
    pub seq: i64,
    /// `metadata.uid`.
    pub uid: String,
    /// Canonical ref.
    pub entity_ref: String,
    /// The stitched entity's JSON text, or `None` when the entity was deleted.
    pub json: Option<String>,
}
