//! JSON Schema validation with Backstage's own schemas and Ajv's error messages.
//!
//! Backstage validates entities with Ajv against the schemas under `json/` (copied verbatim
//! from `@backstage/catalog-model`, Apache-2.0). This module compiles those schemas, or any
//! schema of yours that uses the same draft-07 keywords, and evaluates them **in Ajv's
//! keyword order**, so the first error is the one Backstage reports, with the same path and
//! message (`/spec must have required property 'owner' - missingProperty: owner`).
//! It can also return every error, with JSON Pointer paths.
//!
//! Schemas may `$ref` the ids `Entity`, `EntityEnvelope`, `EntityMeta` and
//! `common#<id>` (`reference`, `relation`, `status`, `statusItem`, `statusLevel`, `error`).
//!
//! [`editor_schemas`] bundles self-contained schemas for editors (YAML language servers).

mod compile;
mod eval;
mod export;

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::error::{Error, Result};

pub(crate) use compile::escape;
pub(crate) use eval::js_string;
pub use export::{EditorSchema, editor_schemas};

/// The JSON text of Backstage's schemas, by file name.
pub mod sources {
    /// `Entity.schema.json`: the full entity.
    pub const ENTITY: &str = include_str!("json/Entity.schema.json");
    /// `EntityEnvelope.schema.json`: the lenient pre-check.
    pub const ENTITY_ENVELOPE: &str = include_str!("json/EntityEnvelope.schema.json");
    /// `EntityMeta.schema.json`: `metadata`.
    pub const ENTITY_META: &str = include_str!("json/EntityMeta.schema.json");
    /// `shared/common.schema.json`: relations, status.
    pub const COMMON: &str = include_str!("json/common.schema.json");
    /// Component, v1alpha1 and v1beta1.
    pub const COMPONENT: &str = include_str!("json/Component.v1alpha1.schema.json");
    /// API, v1alpha1 and v1beta1.
    pub const API: &str = include_str!("json/API.v1alpha1.schema.json");
    /// API with `spec.type: mcp-server` (alpha).
    pub const API_MCP_SERVER: &str = include_str!("json/API.v1alpha1.mcp-server.schema.json");
    /// Resource.
    pub const RESOURCE: &str = include_str!("json/Resource.v1alpha1.schema.json");
    /// System.
    pub const SYSTEM: &str = include_str!("json/System.v1alpha1.schema.json");
    /// Domain.
    pub const DOMAIN: &str = include_str!("json/Domain.v1alpha1.schema.json");
    /// Group.
    pub const GROUP: &str = include_str!("json/Group.v1alpha1.schema.json");
    /// User.
    pub const USER: &str = include_str!("json/User.v1alpha1.schema.json");
    /// Location.
    pub const LOCATION: &str = include_str!("json/Location.v1alpha1.schema.json");
    /// AiResource, any `spec.type` (alpha).
    pub const AI_RESOURCE: &str = include_str!("json/AiResource.v1alpha1.schema.json");
    /// AiResource `skill` (alpha).
    pub const AI_RESOURCE_SKILL: &str = include_str!("json/AiResource.v1alpha1.skill.schema.json");
    /// AiResource `rule` (alpha).
    pub const AI_RESOURCE_RULE: &str = include_str!("json/AiResource.v1alpha1.rule.schema.json");
    /// AiResource `plugin` (alpha).
    pub const AI_RESOURCE_PLUGIN: &str =
        include_str!("json/AiResource.v1alpha1.plugin.schema.json");
    /// AiResource `marketplace` (alpha).
    pub const AI_RESOURCE_MARKETPLACE: &str =
        include_str!("json/AiResource.v1alpha1.marketplace.schema.json");
}

/// One schema violation, as Ajv reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    path: String,
    keyword: &'static str,
    message: String,
    params: Vec<(&'static str, String)>,
}

impl SchemaError {
    /// JSON Pointer (RFC 6901) of the offending value; empty for the document root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path as Backstage prints it: the pointer, or `<root>`.
    pub fn display_path(&self) -> &str {
        if self.path.is_empty() {
            "<root>"
        } else {
            &self.path
        }
    }

    /// The failing keyword (`required`, `type`, `enum`, ...).
    pub fn keyword(&self) -> &str {
        self.keyword
    }

    /// Ajv's message without the path (`must have required property 'owner'`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Ajv's params, in order (`missingProperty: owner`).
    pub fn params(&self) -> &[(&'static str, String)] {
        &self.params
    }

    /// `<path> <message>`, without params: the form `SchemaValidEntityPolicy` uses.
    pub fn short(&self) -> String {
        format!("{} {}", self.display_path(), self.message)
    }
}

/// `<path> <message> - <param>: <value>, ...`, as Backstage's schema validators throw it.
impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} - ", self.display_path(), self.message)?;
        for (i, (k, v)) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}: {v}")?;
        }
        Ok(())
    }
}

/// A compiled JSON Schema. Cheap to clone.
#[derive(Clone)]
pub struct JsonSchema {
    inner: Arc<Inner>,
}

struct Inner {
    nodes: Vec<compile::Node>,
    root: usize,
    source: Value,
}

impl fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonSchema")
            .field("id", &self.id())
            .field("nodes", &self.inner.nodes.len())
            .finish()
    }
}

fn builtin_documents() -> &'static [Value] {
    static DOCS: OnceLock<Vec<Value>> = OnceLock::new();
    DOCS.get_or_init(|| {
        [
            sources::ENTITY_ENVELOPE,
            sources::ENTITY,
            sources::ENTITY_META,
            sources::COMMON,
        ]
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
    })
}

impl JsonSchema {
    /// Compiles a schema. It may `$ref` Backstage's shared schemas by id.
    ///
    /// ```
    /// use backstage_catalog_model::schema::JsonSchema;
    /// use serde_json::json;
    /// let schema = JsonSchema::compile(json!({
    ///     "type": "object", "required": ["owner"],
    ///     "properties": { "owner": { "type": "string", "minLength": 1 } }
    /// }))?;
    /// let err = schema.first_error(&json!({ "owner": "" })).unwrap();
    /// assert_eq!(err.to_string(), "/owner must NOT have fewer than 1 characters - limit: 1");
    /// # Ok::<(), backstage_catalog_model::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidSchema`] for malformed schemas, unresolvable `$ref`s, regular expressions
    /// Rust cannot compile, and keywords outside the supported draft-07 subset.
    pub fn compile(schema: Value) -> Result<Self> {
        Self::compile_with(schema, &[])
    }

    /// Compiles a schema that may also `$ref` the given extra documents by their `$id`.
    ///
    /// # Errors
    /// As [`JsonSchema::compile`].
    pub fn compile_with(schema: Value, extra: &[Value]) -> Result<Self> {
        let mut compiler = compile::Compiler::new();
        let root_doc = compiler.add_document(&schema);
        for doc in extra.iter().chain(builtin_documents()) {
            compiler.add_document(doc);
        }
        let root = compiler.compile_document(root_doc)?;
        let nodes = std::mem::take(&mut compiler.nodes);
        drop(compiler);
        Ok(Self {
            inner: Arc::new(Inner {
                nodes,
                root,
                source: schema,
            }),
        })
    }

    /// The schema document this was compiled from.
    pub fn source(&self) -> &Value {
        &self.inner.source
    }

    /// The schema's `$id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.inner.source.get("$id").and_then(Value::as_str)
    }

    /// Whether `value` is valid.
    pub fn is_valid(&self, value: &Value) -> bool {
        eval::fast_valid(&self.inner.nodes, self.inner.root, value)
    }

    /// The first error in Ajv's evaluation order, the one Backstage reports.
    pub fn first_error(&self, value: &Value) -> Option<SchemaError> {
        if self.is_valid(value) {
            return None;
        }
        let mut ev = eval::Evaluator::new(&self.inner.nodes, false);
        ev.validate(self.inner.root, value);
        ev.errors.into_iter().next()
    }

    /// Every error (Ajv's `allErrors` mode), in evaluation order.
    pub fn errors(&self, value: &Value) -> Vec<SchemaError> {
        let mut ev = eval::Evaluator::new(&self.inner.nodes, true);
        ev.validate(self.inner.root, value);
        ev.errors
    }
}

fn compile_builtin(text: &str) -> JsonSchema {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => unreachable!("built-in schema is valid JSON: {e}"),
    };
    match JsonSchema::compile(value) {
        Ok(s) => s,
        Err(e) => unreachable!("built-in schema compiles: {e}"),
    }
}

/// The full entity schema (`Entity`), compiled once.
pub fn entity_schema() -> &'static JsonSchema {
    static S: OnceLock<JsonSchema> = OnceLock::new();
    S.get_or_init(|| compile_builtin(sources::ENTITY))
}

/// The lenient envelope schema (`EntityEnvelope`), compiled once.
pub fn envelope_schema() -> &'static JsonSchema {
    static S: OnceLock<JsonSchema> = OnceLock::new();
    S.get_or_init(|| compile_builtin(sources::ENTITY_ENVELOPE))
}

/// Validates against the envelope schema (Backstage's `entityEnvelopeSchemaValidator()`).
///
/// # Errors
/// [`Error::InvalidEntity`] with the first error in Ajv's format.
pub fn validate_envelope(entity: &Value) -> Result<()> {
    check_with(envelope_schema(), entity)
}

/// Validates against the full entity schema (Backstage's `entitySchemaValidator()`).
///
/// # Errors
/// [`Error::InvalidEntity`] with the first error in Ajv's format.
pub fn validate_entity_schema(entity: &Value) -> Result<()> {
    check_with(entity_schema(), entity)
}

fn check_with(schema: &JsonSchema, entity: &Value) -> Result<()> {
    match schema.first_error(entity) {
        None => Ok(()),
        Some(e) => Err(Error::invalid_entity(
            e.to_string(),
            Some(e.path().to_owned()),
        )),
    }
}

#[cfg(test)]
mod tests;
