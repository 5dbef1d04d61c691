//! # backstage-catalog-model
//!
//! Backstage's software-catalog entity model in Rust: the entity document, entity and
//! location references, the validation policies and kind validators the catalog runs,
//! relations, well-known annotations, `catalog-info.yaml` parsing with line and column, and
//! JSON Schemas for editors. It depends on no other crate of this workspace: use it on its
//! own to validate catalog files in CI, or as the base of a catalog.
//!
//! Behaviour matches `@backstage/catalog-model` 1.10.1, and a differential test compares
//! verdicts and messages against the npm package itself. Where Backstage stops at the first
//! problem, this crate can also report every problem with its JSON Pointer.
//!
//! ```
//! use backstage_catalog_model::{EntityValidator, yaml::parse_entity_documents};
//!
//! let text = r#"
//! apiVersion: backstage.io/v1alpha1
//! kind: Component
//! metadata:
//!   name: petstore
//! spec:
//!   type: service
//!   lifecycle: production
//!   owner: team-a
//! ---
//! apiVersion: backstage.io/v1alpha1
//! kind: Component
//! metadata:
//!   name: bad name
//! spec:
//!   type: service
//!   lifecycle: production
//!   owner: team-a
//! "#;
//! let validator = EntityValidator::default();
//! let mut verdicts = Vec::new();
//! for doc in parse_entity_documents(text) {
//!     let doc = doc?;
//!     match validator.validate(doc.value().clone()) {
//!         Ok(entity) => verdicts.push(format!("ok {}", entity["metadata"]["name"])),
//!         Err(e) => {
//!             let at = doc.position_of(e.path().unwrap_or(""));
//!             verdicts.push(format!("{}:{} invalid", at.line, at.column));
//!         }
//!     }
//! }
//! assert_eq!(verdicts, ["ok \"petstore\"", "14:9 invalid"]);
//! # Ok::<(), backstage_catalog_model::Error>(())
//! ```
//!
//! ## Contents
//!
//! | Module | What | Backstage counterpart |
//! |---|---|---|
//! | [`entity`] | [`Entity`], metadata, links, relations, status as serde types | `Entity`, `EntityMeta`, `AlphaEntity` |
//! | [`entity_ref`] | [`parse_entity_ref`], [`stringify_entity_ref`], [`CompoundEntityRef`] | `parseEntityRef`, `stringifyEntityRef` |
//! | [`validation`] | validator functions and the [`Validators`](validation::Validators) set | `KubernetesValidatorFunctions`, `makeValidator` |
//! | [`schema`] | Backstage's JSON Schemas, evaluated in Ajv's order with Ajv's messages; editor bundles | `entitySchemaValidator`, `entityKindSchemaValidator` |
//! | [`policy`] | entity policies and their composition | `EntityPolicies`, `*EntityPolicy` |
//! | [`kinds`] | kind validators, type guards, typed `spec` views | `*EntityV1alpha1Validator`, `isComponentEntity` |
//! | [`relations`] | relation constants and [`emit_relations`](relations::emit_relations) | `RELATION_*`, `BuiltinKindsEntityProcessor` |
//! | [`annotations`] | well-known annotation keys | `ANNOTATION_*` |
//! | [`location`] | location refs and source locations | `parseLocationRef`, `getEntitySourceLocation` |
//! | [`yaml`] | multi-document `catalog-info.yaml` parsing with positions | the catalog's `parseEntityYaml` |
//! | [`EntityValidator`] | the catalog's whole validation pipeline | the catalog's processing steps 3-4 |
//!
//! ## Differences from Backstage
//!
//! - Functions take untrusted [`serde_json::Value`] and return errors where JavaScript would
//!   throw a `TypeError` or crash (for example a `Group` without `spec` in
//!   [`policy::GroupDefaultParentEntityPolicy`], or non-object `labels` in the field-format
//!   policy).
//! - Policies are synchronous.
//! - [`EntityValidator::problems`] lists every problem; Backstage stops at the first.
//! - YAML: non-finite numbers (`.inf`, `.nan`) become `null`, which is what Backstage ends up
//!   storing; alias expansion and nesting depth are bounded.

pub mod annotations;
pub mod entity;
pub mod entity_ref;
mod error;
mod fast;
mod js;
pub mod kinds;
pub mod location;
pub mod policy;
pub mod relations;
pub mod schema;
mod validate;
pub mod validation;
pub mod yaml;

pub use entity::{DEFAULT_NAMESPACE, Entity, EntityMeta};
pub use entity_ref::{
    CompoundEntityRef, EntityRefView, RefContext, compound_entity_ref, parse_entity_ref,
    parse_entity_ref_value, parse_entity_ref_view, stringify_entity_ref,
    stringify_entity_ref_value,
};
pub use error::{Error, Result};
pub use validate::{EntityValidator, EntityValidatorBuilder};

pub(crate) use schema::{escape as schema_escape, js_string as schema_js_string};
