//! The processor contract: [`CatalogProcessor`], the [`ProcessorContext`] each stage gets,
//! the [`Emitter`] that collects what a processor produces, and the per-processor
//! [`ProcessorCache`].

use std::fmt;

use async_trait::async_trait;
use backstage_catalog_model::stringify_entity_ref_value;
use serde_json::{Map, Value};

use super::error::ProcessorResult;
use crate::model::{
    ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, DeferredEntity, LocationSpec, RelationRow,
    SerializedError,
};

/// The default priority of a processor (Backstage's): lower runs first.
pub const DEFAULT_PRIORITY: i32 = 20;

/// A catalog processor: a set of optional hooks the orchestrator calls, in processor order,
/// on every entity it processes (Backstage's `CatalogProcessor`, spec 4.4).
///
/// The stages, in the order they run for one entity:
///
/// 1. [`pre_process_entity`](Self::pre_process_entity) of every processor: may change the
///    entity (resolve placeholders, add annotations, …);
/// 2. the entity policies (namespace defaulting, schema and format checks), run by the
///    orchestrator;
/// 3. [`validate_entity_kind`](Self::validate_entity_kind) of every processor: at least one
///    must return `Ok(true)`, else the entity is rejected as of a foreign kind;
/// 4. for `Location` entities only, [`read_location`](Self::read_location) of every
///    processor for each target, until one returns `Ok(true)`;
/// 5. [`post_process_entity`](Self::post_process_entity) of every processor: typically
///    emits relations.
///
/// Every method has a default that does nothing, so an implementation writes only the
/// hooks it needs.
///
/// # Contract
///
/// * Processors are shared between concurrent runs: keep per-entity state in the
///   [`ProcessorContext`] (its cache), not in `self`.
/// * Returning `Err` aborts the processing of the entity: the orchestrator wraps the error
///   (`Processor <name> threw an error while preprocessing; caused by …`) and the entity
///   keeps its previous result. To report a problem without aborting, use
///   [`Emitter::error`]; the entity is still not stored, but the other processors run.
/// * `name()` must be stable: it keys the processor's cache and its
///   `catalog.processorOptions.<name>` configuration.
/// * Don't panic on anything an entity, a file or the network controls.
///
/// # Example
///
/// A processor that adds a label to every Component and emits a relation to the entity's
/// owner's manager:
///
/// ```
/// use async_trait::async_trait;
/// use backstage_catalog_backend::model::RelationRow;
/// use backstage_catalog_backend::processing::{
///     CatalogProcessor, ProcessorContext, ProcessorResult,
/// };
/// use serde_json::{Value, json};
///
/// #[derive(Debug)]
/// struct TeamLabel;
///
/// #[async_trait]
/// impl CatalogProcessor for TeamLabel {
///     fn name(&self) -> &str {
///         "TeamLabel"
///     }
///
///     async fn pre_process_entity(
///         &self,
///         mut entity: Value,
///         _ctx: &mut ProcessorContext<'_>,
///     ) -> ProcessorResult<Value> {
///         if entity["kind"] == "Component" {
///             if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
///                 let labels = metadata.entry("labels").or_insert_with(|| json!({}));
///                 if let Some(labels) = labels.as_object_mut() {
///                     labels.insert("team".into(), json!("platform"));
///                 }
///             }
///         }
///         Ok(entity)
///     }
///
///     async fn post_process_entity(
///         &self,
///         entity: Value,
///         ctx: &mut ProcessorContext<'_>,
///     ) -> ProcessorResult<Value> {
///         ctx.emit().relation(RelationRow {
///             source_ref: "group:default/platform".into(),
///             relation_type: "managedBy".into(),
///             target_ref: "user:default/boss".into(),
///         });
///         Ok(entity)
///     }
/// }
/// ```
#[async_trait]
pub trait CatalogProcessor: Send + Sync + fmt::Debug {
    /// A stable, unique name (`PlaceholderProcessor`, `url-reader`, …).
    fn name(&self) -> &str;

    /// Ordering among processors: lower runs first (stable for equal priorities). The
    /// default is [`DEFAULT_PRIORITY`]; `catalog.processorOptions.<name>.priority` overrides
    /// it.
    fn priority(&self) -> i32 {
        DEFAULT_PRIORITY
    }

    /// Runs before the policies; may change the entity (but not its kind, namespace or
    /// name: that is a `ConflictError`). The default returns it unchanged.
    ///
    /// # Errors
    /// Any error aborts the processing of the entity.
    async fn pre_process_entity(
        &self,
        entity: Value,
        ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<Value> {
        let _ = ctx;
        Ok(entity)
    }

    /// Whether this processor recognises the entity's kind and finds it valid. `Ok(false)`
    /// means "not mine" (the default); `Err` means "mine, but invalid". The entity has passed
    /// the policies (its envelope is valid and its namespace is set).
    ///
    /// # Errors
    /// An invalid entity of a kind this processor owns.
    async fn validate_entity_kind(&self, entity: &Value) -> ProcessorResult<bool> {
        let _ = entity;
        Ok(false)
    }

    /// Reads a location a `Location` entity points at, emitting what it finds with
    /// [`Emitter::entity`] (and errors, refresh keys). Returns `Ok(true)` when this
    /// processor handles `location.kind` (even when reading failed and an error was emitted),
    /// `Ok(false)` (the default) to let the next processor try. `optional` is true for
    /// `presence: optional`: a missing target is then not an error.
    ///
    /// In this stage, [`ProcessorContext::cache`] is scoped to the target as well as to the
    /// processor.
    ///
    /// # Errors
    /// Any error aborts the processing of the Location entity.
    async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<bool> {
        let _ = (location, optional, ctx);
        Ok(false)
    }

    /// Runs last, on the validated entity; may change it (not its ref) and typically emits
    /// relations. The default returns it unchanged.
    ///
    /// # Errors
    /// Any error aborts the processing of the entity.
    async fn post_process_entity(
        &self,
        entity: Value,
        ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<Value> {
        let _ = ctx;
        Ok(entity)
    }
}

/// What a processor stage gets besides the entity: where the entity came from, the
/// [`Emitter`] and this processor's [`ProcessorCache`].
#[derive(Debug)]
pub struct ProcessorContext<'a> {
    location: &'a LocationSpec,
    origin_location: &'a LocationSpec,
    emitter: &'a mut Emitter,
    cache: &'a mut ProcessorCache,
}

impl<'a> ProcessorContext<'a> {
    /// A context over the given parts (the orchestrator builds these; handy in tests of a
    /// processor).
    pub fn new(
        location: &'a LocationSpec,
        origin_location: &'a LocationSpec,
        emitter: &'a mut Emitter,
        cache: &'a mut ProcessorCache,
    ) -> Self {
        Self {
            location,
            origin_location,
            emitter,
            cache,
        }
    }

    /// The location the entity was read from (its `backstage.io/managed-by-location`).
    pub fn location(&self) -> &LocationSpec {
        self.location
    }

    /// The location originally registered (its `backstage.io/managed-by-origin-location`).
    pub fn origin_location(&self) -> &LocationSpec {
        self.origin_location
    }

    /// Where to emit children, relations, errors and refresh keys.
    pub fn emit(&mut self) -> &mut Emitter {
        self.emitter
    }

    /// This processor's cache for this entity (and, in `read_location`, this target).
    pub fn cache(&mut self) -> &mut ProcessorCache {
        self.cache
    }
}

/// Collects what processors emit while one entity is processed (Backstage's
/// `ProcessorOutputCollector`).
#[derive(Debug, Default)]
pub struct Emitter {
    parent_ref: String,
    parent_location: String,
    parent_origin: String,
    pub(crate) children: Vec<DeferredEntity>,
    pub(crate) relations: Vec<RelationRow>,
    pub(crate) errors: Vec<SerializedError>,
    pub(crate) refresh_keys: Vec<String>,
}

impl Emitter {
    /// An emitter for the entity with canonical ref `parent_ref` whose
    /// `managed-by-location` and `managed-by-origin-location` annotations are
    /// `parent_location` and `parent_origin`.
    pub fn new(
        parent_ref: impl Into<String>,
        parent_location: impl Into<String>,
        parent_origin: impl Into<String>,
    ) -> Self {
        Self {
            parent_ref: parent_ref.into(),
            parent_location: parent_location.into(),
            parent_origin: parent_origin.into(),
            ..Self::default()
        }
    }

    /// Emits a child entity read from `location`, owned by the location key
    /// `<type>:<target>` of that location (see [`Emitter::entity_with_location_key`]).
    pub fn entity(&mut self, location: &LocationSpec, entity: Value) {
        let key = location.location_ref();
        self.push_entity(location, entity, Some(key));
    }

    /// Emits a child entity read from `location` with an explicit location key (`None`: any
    /// later writer may claim the ref, spec 4.10).
    ///
    /// The child's envelope is checked (a malformed one becomes an error instead), its
    /// `backstage.io/managed-by-location` is set to `location` and its
    /// `backstage.io/managed-by-origin-location` to the parent's origin, overriding what the
    /// child had. A child with the parent's own ref is ignored with a warning.
    pub fn entity_with_location_key(
        &mut self,
        location: &LocationSpec,
        entity: Value,
        location_key: Option<String>,
    ) {
        self.push_entity(location, entity, location_key);
    }

    fn push_entity(&mut self, location: &LocationSpec, mut entity: Value, key: Option<String>) {
        if !super::envelope_is_valid(&entity) {
            let message = match backstage_catalog_model::schema::validate_envelope(&entity) {
                Err(e) => e.to_string(),
                Ok(()) => "Malformed entity envelope".to_owned(),
            };
            tracing::debug!(location = %location.location_ref(), "envelope validation failed: {message}");
            self.errors.push(SerializedError::new("TypeError", message));
            return;
        }
        let child_ref = stringify_entity_ref_value(&entity).unwrap_or_default();
        if child_ref == self.parent_ref {
            tracing::warn!(
                "Ignoring emitted entity {child_ref} at {}: it has the same ref as its parent",
                location.location_ref()
            );
            return;
        }
        let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        match annotations {
            Value::Null => {
                let mut map = Map::new();
                map.insert(
                    ANNOTATION_ORIGIN_LOCATION.to_owned(),
                    Value::String(self.parent_origin.clone()),
                );
                map.insert(
                    ANNOTATION_LOCATION.to_owned(),
                    Value::String(location.location_ref()),
                );
                *annotations = Value::Object(map);
            }
            Value::Object(map) => {
                map.insert(
                    ANNOTATION_ORIGIN_LOCATION.to_owned(),
                    Value::String(self.parent_origin.clone()),
                );
                map.insert(
                    ANNOTATION_LOCATION.to_owned(),
                    Value::String(location.location_ref()),
                );
            }
            // Malformed annotations are left for the child's own validation to report.
            _ => {}
        }
        self.children.push(DeferredEntity {
            entity,
            location_key: key,
        });
    }

    /// Emits a child `Location` entity for `spec` (spec 4.3), with the parent's location
    /// annotations; its location key is the parent's location.
    pub fn location(&mut self, spec: &LocationSpec) {
        let entity = spec.to_location_entity(&self.parent_location, &self.parent_origin);
        self.children.push(DeferredEntity {
            entity,
            location_key: Some(self.parent_location.clone()),
        });
    }

    /// Emits a relation owned by the entity being processed (refs canonical).
    pub fn relation(&mut self, relation: RelationRow) {
        self.relations.push(relation);
    }

    /// Emits an error found at `location`: the entity's result is not stored, but the other
    /// processors still run.
    pub fn error(&mut self, location: &LocationSpec, error: impl Into<SerializedError>) {
        let _ = location;
        self.errors.push(error.into());
    }

    /// Emits a refresh key (`url:<target>`, `file:<path>`): refreshing that key reprocesses
    /// this entity.
    pub fn refresh(&mut self, key: impl Into<String>) {
        self.refresh_keys.push(key.into());
    }

    /// The children emitted so far.
    pub fn children(&self) -> &[DeferredEntity] {
        &self.children
    }

    /// The relations emitted so far.
    pub fn relations(&self) -> &[RelationRow] {
        &self.relations
    }

    /// The errors emitted so far.
    pub fn errors(&self) -> &[SerializedError] {
        &self.errors
    }

    /// The refresh keys emitted so far.
    pub fn refresh_keys(&self) -> &[String] {
        &self.refresh_keys
    }

    /// The canonical ref of the entity being processed.
    pub fn parent_ref(&self) -> &str {
        &self.parent_ref
    }
}

/// A processor's cache for one entity: a JSON object persisted between runs (spec 4.4).
///
/// As in Backstage, [`get`](Self::get) reads the state of the **previous** run and
/// [`set`](Self::set) writes the state of this one. When a run sets nothing, the previous
/// state is kept; when it sets anything, only what it set is kept. The engine drops the
/// state after five consecutive failed runs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessorCache {
    existing: Option<Map<String, Value>>,
    new: Option<Map<String, Value>>,
}

impl ProcessorCache {
    /// A cache holding `existing` as the previous run's state (non-objects count as empty).
    pub fn from_existing(existing: Option<Value>) -> Self {
        Self {
            existing: match existing {
                Some(Value::Object(map)) => Some(map),
                _ => None,
            },
            new: None,
        }
    }

    /// A value stored by the previous run.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.existing.as_ref().and_then(|m| m.get(key))
    }

    /// Stores a value for the next run.
    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        self.new
            .get_or_insert_with(Map::new)
            .insert(key.into(), value);
    }

    /// Removes and returns a key of the previous state (internal: lets sub-caches move
    /// their state out without cloning).
    pub(crate) fn take_existing(&mut self, key: &str) -> Option<Value> {
        self.existing.as_mut().and_then(|m| m.remove(key))
    }

    /// The state to persist: what this run set, else the previous state.
    pub(crate) fn collect(self) -> Option<Map<String, Value>> {
        self.new.or(self.existing)
    }

    /// The previous state, untouched by this run's `set`s.
    pub(crate) fn into_existing(self) -> Option<Map<String, Value>> {
        self.existing
    }

    /// Whether this run has set anything.
    #[cfg(test)]
    pub(crate) fn has_new(&self) -> bool {
        self.new.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn component(name: &str) -> Value {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
               "metadata": {"name": name, "annotations": {"backstage.io/managed-by-location": "x:y"}}})
    }

    #[test]
    fn emitted_children_get_location_annotations() {
        let mut e = Emitter::new(
            "location:default/l",
            "url:https://a/b.yaml",
            "url:https://a/root.yaml",
        );
        let at = LocationSpec::new("url", "https://a/c.yaml");
        e.entity(&at, component("c"));
        let child = &e.children()[0];
        assert_eq!(child.location_key.as_deref(), Some("url:https://a/c.yaml"));
        let a = &child.entity["metadata"]["annotations"];
        assert_eq!(a[ANNOTATION_LOCATION], "url:https://a/c.yaml");
        assert_eq!(a[ANNOTATION_ORIGIN_LOCATION], "url:https://a/root.yaml");
        e.entity_with_location_key(&at, component("d"), None);
        assert_eq!(e.children()[1].location_key, None);
    }

    #[test]
    fn malformed_and_self_children_are_not_added() {
        let mut e = Emitter::new("component:default/me", "url:x", "url:x");
        let at = LocationSpec::new("url", "x");
        e.entity(&at, json!({"kind": "Component", "metadata": {"name": "a"}}));
        assert!(e.children().is_empty());
        assert_eq!(e.errors().len(), 1);
        assert!(
            e.errors()[0].message.contains("apiVersion"),
            "{:?}",
            e.errors()
        );
        e.entity(&at, component("ME"));
        assert!(e.children().is_empty());
        assert_eq!(e.errors().len(), 1);
    }

    #[test]
    fn emitted_locations_inherit_parent_annotations() {
        let mut e = Emitter::new(
            "location:default/l",
            "url:https://a/b.yaml",
            "url:https://a/root.yaml",
        );
        e.location(&LocationSpec::new("url", "https://a/d.yaml"));
        let child = &e.children()[0];
        assert_eq!(child.location_key.as_deref(), Some("url:https://a/b.yaml"));
        assert_eq!(child.entity["spec"]["target"], "https://a/d.yaml");
        assert_eq!(
            child.entity["metadata"]["annotations"][ANNOTATION_LOCATION],
            "url:https://a/b.yaml"
        );
    }

    #[test]
    fn cache_reads_previous_state_and_keeps_it_unless_set() {
        let mut c = ProcessorCache::from_existing(Some(json!({"a": 1})));
        assert_eq!(c.get("a"), Some(&json!(1)));
        assert_eq!(
            c.clone().collect(),
            Some(json!({"a": 1}).as_object().cloned().unwrap_or_default())
        );
        c.set("b", json!(2));
        assert_eq!(c.get("b"), None, "set values are for the next run");
        assert_eq!(
            Value::Object(c.collect().unwrap_or_default()),
            json!({"b": 2})
        );
    }
}
