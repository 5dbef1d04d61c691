//! The built-in kinds: their validators (from Backstage's schemas), type guards, and typed
//! views of their `spec`.
//!
//! A [`KindValidator`] answers three ways, like Backstage's: `Ok(true)` (this kind, valid),
//! `Ok(false)` (not this kind or apiVersion), `Err` (this kind, invalid). Kinds from outside
//! catalog-model (the scaffolder's `Template`, your own) plug in by implementing the trait or
//! by compiling their JSON Schema with [`SchemaKindValidator::from_schema`].

mod ai_resource;
mod api;
mod component;
mod domain;
mod group;
mod location;
mod profile;
mod resource;
mod system;
mod user;

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entity::{Entity, EntityMeta, EntityRelation, EntityStatus};
use crate::error::{Error, Result};
use crate::schema::{JsonSchema, SchemaError, sources};

pub use ai_resource::{
    AiResourceSpec, AiResourceSpecBase, MarketplaceAiResourceSpec, PluginAiResourceSpec,
    RuleAiResourceSpec, SkillAiResourceSpec,
};
pub use api::{ApiSpec, McpServerApiSpec, McpServerRemote};
pub use component::ComponentSpec;
pub use domain::DomainSpec;
pub use group::{GroupProfile, GroupSpec};
pub use location::{LocationPresence, LocationSpec};
pub use profile::Profile;
pub use resource::ResourceSpec;
pub use system::SystemSpec;
pub use user::{UserProfile, UserSpec};

/// Recognises and validates one kind (Backstage's `KindValidator`).
///
/// # Contract
/// `check` must not panic on any JSON input. Return `Ok(false)` only when the entity is not
/// meant for this validator (different `kind` or `apiVersion`), so that the next validator
/// is tried; return `Err` when it is meant for this validator but invalid.
pub trait KindValidator: Send + Sync + fmt::Debug {
    /// `Ok(true)`: recognised and valid; `Ok(false)`: not recognised; `Err`: invalid.
    ///
    /// # Errors
    /// [`Error::InvalidEntity`] when the entity is of this kind but invalid.
    fn check(&self, entity: &Value) -> Result<bool>;

    /// Like [`KindValidator::check`], for an entity the caller has already validated against
    /// the full entity schema (as the catalog's policy chain does). Validators built on that
    /// schema may skip re-checking it; the answer must be the same as `check`'s.
    ///
    /// # Errors
    /// As [`KindValidator::check`].
    fn check_with_valid_envelope(&self, entity: &Value) -> Result<bool> {
        self.check(entity)
    }

    /// Every problem, when the entity is of this kind; `None` when it is not.
    /// The default runs [`KindValidator::check`] and reports its error only.
    fn problems(&self, entity: &Value) -> Option<Vec<SchemaError>> {
        let _ = entity;
        None
    }
}

/// A kind validator built from a JSON Schema (Backstage's `entityKindSchemaValidator`):
/// the entity is "not for this schema" when every error at `/kind` or `/apiVersion` is an
/// `enum` mismatch (and there is at least one).
#[derive(Debug, Clone)]
pub struct SchemaKindValidator {
    schema: JsonSchema,
    /// For the built-in schemas only: the allowed kinds and apiVersions, which let a foreign
    /// entity be turned away without evaluating the schema.
    shortcut: Option<(&'static [&'static str], &'static [&'static str])>,
    /// For schemas of the shape `{allOf: [{$ref: Entity}, KIND]}`: `KIND` alone, enough for
    /// entities already known to satisfy `Entity`.
    kind_part: Option<JsonSchema>,
}

/// `KIND` from a kind schema of the shape `{allOf: [{$ref: "Entity"}, KIND]}`.
fn kind_part(schema: &JsonSchema) -> Option<JsonSchema> {
    let all_of = schema.source().get("allOf")?.as_array()?;
    let [first, second] = all_of.as_slice() else {
        return None;
    };
    let first = first.as_object()?;
    if first.len() != 1 || first.get("$ref").and_then(Value::as_str) != Some("Entity") {
        return None;
    }
    JsonSchema::compile(second.clone()).ok()
}

impl SchemaKindValidator {
    /// Wraps a compiled schema.
    pub fn new(schema: JsonSchema) -> Self {
        Self {
            kind_part: kind_part(&schema),
            schema,
            shortcut: None,
        }
    }

    /// Compiles a kind schema (it may `$ref` `Entity`, `EntityMeta` and `common#...`).
    ///
    /// # Errors
    /// [`Error::InvalidSchema`] when the schema cannot be compiled.
    pub fn from_schema(schema: Value) -> Result<Self> {
        Ok(Self::new(JsonSchema::compile(schema)?))
    }

    /// The underlying schema.
    pub fn schema(&self) -> &JsonSchema {
        &self.schema
    }

    fn foreign_by_shortcut(&self, entity: &Value) -> bool {
        let Some((kinds, versions)) = self.shortcut else {
            return false;
        };
        match (
            crate::js::get(entity, "kind").and_then(Value::as_str),
            crate::js::get(entity, "apiVersion").and_then(Value::as_str),
        ) {
            // Non-empty strings can only fail the kind schema's `enum` at these paths.
            (Some(k), Some(v)) if !k.is_empty() && !v.is_empty() => {
                !kinds.contains(&k) || !versions.contains(&v)
            }
            _ => false,
        }
    }

    /// `None` when valid, `Some(Ok(()))`... see [`KindValidator::check`]; this returns the full
    /// error list when the entity is for this schema and invalid.
    fn evaluate(&self, entity: &Value) -> Option<std::result::Result<(), Vec<SchemaError>>> {
        if self.foreign_by_shortcut(entity) {
            return None;
        }
        if self.schema.is_valid(entity) {
            return Some(Ok(()));
        }
        let errors = self.schema.errors(entity);
        let mut soft = errors
            .iter()
            .filter(|e| e.path() == "/kind" || e.path() == "/apiVersion")
            .peekable();
        if soft.peek().is_some() && soft.all(|e| e.keyword() == "enum") {
            return None;
        }
        Some(Err(errors))
    }
}

impl KindValidator for SchemaKindValidator {
    fn check_with_valid_envelope(&self, entity: &Value) -> Result<bool> {
        if self.foreign_by_shortcut(entity) {
            return Ok(false);
        }
        // With `Entity` satisfied, the whole schema holds exactly when its kind part does.
        if let Some(part) = &self.kind_part
            && part.is_valid(entity)
        {
            return Ok(true);
        }
        self.check(entity)
    }

    fn check(&self, entity: &Value) -> Result<bool> {
        match self.evaluate(entity) {
            None => Ok(false),
            Some(Ok(())) => Ok(true),
            Some(Err(errors)) => {
                let first = errors.into_iter().next();
                Err(match first {
                    Some(e) => Error::invalid_entity(e.to_string(), Some(e.path().to_owned())),
                    None => Error::invalid_entity("Unknown error", None),
                })
            }
        }
    }

    fn problems(&self, entity: &Value) -> Option<Vec<SchemaError>> {
        match self.evaluate(entity)? {
            Ok(()) => Some(Vec::new()),
            Err(errors) => Some(errors),
        }
    }
}

const STABLE_VERSIONS: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];
const ALPHA_ONLY: &[&str] = &["backstage.io/v1alpha1"];

fn builtin(
    text: &str,
    kinds: &'static [&'static str],
    versions: &'static [&'static str],
) -> Arc<dyn KindValidator> {
    let schema = match serde_json::from_str(text)
        .map_err(|e| e.to_string())
        .and_then(|v| JsonSchema::compile(v).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => unreachable!("built-in kind schema compiles: {e}"),
    };
    Arc::new(SchemaKindValidator {
        kind_part: kind_part(&schema),
        schema,
        shortcut: Some((kinds, versions)),
    })
}

macro_rules! validators {
    ($($(#[$doc:meta])* $fn:ident => $text:expr, $kind:literal, $versions:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn() -> Arc<dyn KindValidator> {
                static V: OnceLock<Arc<dyn KindValidator>> = OnceLock::new();
                V.get_or_init(|| builtin($text, &[$kind], $versions)).clone()
            }
        )*
    };
}

validators! {
    /// `Component` (`componentEntityV1alpha1Validator`).
    component_validator => sources::COMPONENT, "Component", STABLE_VERSIONS;
    /// `API` (`apiEntityV1alpha1Validator`); requires `spec.definition`.
    api_validator => sources::API, "API", STABLE_VERSIONS;
    /// `API` with `spec.type: mcp-server` (alpha `mcpServerApiEntityValidator`).
    mcp_server_api_validator => sources::API_MCP_SERVER, "API", STABLE_VERSIONS;
    /// `Resource`.
    resource_validator => sources::RESOURCE, "Resource", STABLE_VERSIONS;
    /// `System`.
    system_validator => sources::SYSTEM, "System", STABLE_VERSIONS;
    /// `Domain`.
    domain_validator => sources::DOMAIN, "Domain", STABLE_VERSIONS;
    /// `Group`.
    group_validator => sources::GROUP, "Group", STABLE_VERSIONS;
    /// `User`.
    user_validator => sources::USER, "User", STABLE_VERSIONS;
    /// `Location`.
    location_validator => sources::LOCATION, "Location", STABLE_VERSIONS;
    /// `AiResource`, any `spec.type` (alpha, `backstage.io/v1alpha1` only).
    ai_resource_validator => sources::AI_RESOURCE, "AiResource", ALPHA_ONLY;
    /// `AiResource` `skill` (alpha). Throws on other `spec.type`s, as in Backstage.
    skill_ai_resource_validator => sources::AI_RESOURCE_SKILL, "AiResource", ALPHA_ONLY;
    /// `AiResource` `rule` (alpha).
    rule_ai_resource_validator => sources::AI_RESOURCE_RULE, "AiResource", ALPHA_ONLY;
    /// `AiResource` `plugin` (alpha).
    plugin_ai_resource_validator => sources::AI_RESOURCE_PLUGIN, "AiResource", ALPHA_ONLY;
    /// `AiResource` `marketplace` (alpha).
    marketplace_ai_resource_validator => sources::AI_RESOURCE_MARKETPLACE, "AiResource", ALPHA_ONLY;
}

/// The eight stable kind validators in the order the catalog's built-in processor tries
/// them: API, Component, Resource, Group, Location, User, System, Domain.
pub fn builtin_kind_validators() -> Vec<Arc<dyn KindValidator>> {
    vec![
        api_validator(),
        component_validator(),
        resource_validator(),
        group_validator(),
        location_validator(),
        user_validator(),
        system_validator(),
        domain_validator(),
    ]
}

fn kind_upper_is(entity: &Value, upper: &str) -> bool {
    entity.get("kind").and_then(Value::as_str).is_some_and(|k| {
        if k.is_ascii() {
            k.eq_ignore_ascii_case(upper)
        } else {
            k.to_uppercase() == upper
        }
    })
}

macro_rules! guards {
    ($($(#[$doc:meta])* $fn:ident => $upper:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(entity: &Value) -> bool {
                kind_upper_is(entity, $upper)
            }
        )*
    };
}

guards! {
    /// `kind` upper-cased is `API` (apiVersion and spec are not checked).
    is_api_entity => "API";
    /// `kind` upper-cased is `COMPONENT`.
    is_component_entity => "COMPONENT";
    /// `kind` upper-cased is `DOMAIN`.
    is_domain_entity => "DOMAIN";
    /// `kind` upper-cased is `GROUP`.
    is_group_entity => "GROUP";
    /// `kind` upper-cased is `LOCATION`.
    is_location_entity => "LOCATION";
    /// `kind` upper-cased is `RESOURCE`.
    is_resource_entity => "RESOURCE";
    /// `kind` upper-cased is `SYSTEM` (Unicode-aware: `ſystem` matches).
    is_system_entity => "SYSTEM";
    /// `kind` upper-cased is `USER`.
    is_user_entity => "USER";
}

/// Alpha: `apiVersion` is exactly `backstage.io/v1alpha1` and `kind` exactly `AiResource`.
pub fn is_ai_resource_entity(entity: &Value) -> bool {
    entity.get("apiVersion").and_then(Value::as_str) == Some("backstage.io/v1alpha1")
        && entity.get("kind").and_then(Value::as_str) == Some("AiResource")
}

fn spec_type_is(entity: &Value, t: &str) -> bool {
    entity.pointer("/spec/type").and_then(Value::as_str) == Some(t)
}

/// Alpha: an AiResource with `spec.type: skill`.
pub fn is_skill_ai_resource_entity(entity: &Value) -> bool {
    is_ai_resource_entity(entity) && spec_type_is(entity, "skill")
}
/// Alpha: an AiResource with `spec.type: rule`.
pub fn is_rule_ai_resource_entity(entity: &Value) -> bool {
    is_ai_resource_entity(entity) && spec_type_is(entity, "rule")
}
/// Alpha: an AiResource with `spec.type: plugin`.
pub fn is_plugin_ai_resource_entity(entity: &Value) -> bool {
    is_ai_resource_entity(entity) && spec_type_is(entity, "plugin")
}
/// Alpha: an AiResource with `spec.type: marketplace`.
pub fn is_marketplace_ai_resource_entity(entity: &Value) -> bool {
    is_ai_resource_entity(entity) && spec_type_is(entity, "marketplace")
}
/// Alpha: `spec.type` is exactly `mcp-server` (kind not checked, as in Backstage).
pub fn is_mcp_server_api_entity(entity: &Value) -> bool {
    spec_type_is(entity, "mcp-server")
}

/// An entity with a typed `spec`, e.g. `KindEntity<ComponentSpec>` (aliased as
/// [`ComponentEntity`]).
///
/// ```
/// use backstage_catalog_model::kinds::ComponentEntity;
/// use serde_json::json;
/// let c = ComponentEntity::from_value(json!({
///     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
///     "metadata": { "name": "svc" },
///     "spec": { "type": "service", "lifecycle": "production", "owner": "team-a",
///               "providesApis": ["svc-api"], "x-custom": 1 }
/// }))?;
/// assert_eq!(c.spec.owner, "team-a");
/// assert_eq!(c.spec.extra["x-custom"], 1);
/// # Ok::<(), backstage_catalog_model::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindEntity<S> {
    /// Format version.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Metadata.
    pub metadata: EntityMeta,
    /// The typed spec.
    pub spec: S,
    /// Relations (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relations: Option<Vec<EntityRelation>>,
    /// Status (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EntityStatus>,
}

impl<S: DeserializeOwned + Serialize> KindEntity<S> {
    /// Converts JSON into the typed view.
    ///
    /// # Errors
    /// [`Error::InvalidEntity`] when the document does not fit the typed view (validate it
    /// with the kind's validator first for Backstage's messages).
    pub fn from_value(value: Value) -> Result<Self> {
        serde_json::from_value(value).map_err(|e| Error::invalid_entity(e.to_string(), None))
    }

    /// Converts an [`Entity`] into the typed view.
    ///
    /// # Errors
    /// As [`KindEntity::from_value`].
    pub fn from_entity(entity: &Entity) -> Result<Self> {
        Self::from_value(entity.to_value())
    }

    /// The typed view as JSON.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A Component entity.
pub type ComponentEntity = KindEntity<ComponentSpec>;
/// An API entity.
pub type ApiEntity = KindEntity<ApiSpec>;
/// An API entity of the MCP-server variant (alpha).
pub type McpServerApiEntity = KindEntity<McpServerApiSpec>;
/// A Resource entity.
pub type ResourceEntity = KindEntity<ResourceSpec>;
/// A System entity.
pub type SystemEntity = KindEntity<SystemSpec>;
/// A Domain entity.
pub type DomainEntity = KindEntity<DomainSpec>;
/// A Group entity.
pub type GroupEntity = KindEntity<GroupSpec>;
/// A User entity.
pub type UserEntity = KindEntity<UserSpec>;
/// A Location entity.
pub type LocationEntity = KindEntity<LocationSpec>;
/// An AiResource entity (alpha).
pub type AiResourceEntity = KindEntity<AiResourceSpec>;

#[cfg(test)]
mod tests;
