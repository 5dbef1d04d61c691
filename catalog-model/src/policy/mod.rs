//! Entity policies: checks and normalisations applied to every entity before kind
//! validation (Backstage's `EntityPolicy` and `EntityPolicies`).
//!
//! A policy takes an entity and returns `Ok(Some(entity))` (handled, possibly changed),
//! `Ok(None)` ("not handled", meaningful inside [`OneOf`]) or `Err` (invalid). Backstage's
//! policies are async; these are plain functions because they never wait on anything.
//!
//! The catalog's default chain is [`default_policies`]: schema-valid, default namespace,
//! no foreign root fields, field format.

mod default_namespace;
mod field_format;
mod group_default_parent;
mod no_foreign_root_fields;
mod schema_valid;

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::validation::Validators;

pub use default_namespace::DefaultNamespaceEntityPolicy;
pub use field_format::FieldFormatEntityPolicy;
pub use group_default_parent::GroupDefaultParentEntityPolicy;
pub use no_foreign_root_fields::NoForeignRootFieldsEntityPolicy;
pub use schema_valid::SchemaValidEntityPolicy;

/// A problem found in an entity, with the JSON Pointer of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON Pointer (RFC 6901); empty for the document root.
    pub path: String,
    /// What is wrong, in Backstage's wording.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn into_error(self) -> Error {
        Error::invalid_entity(self.message, Some(self.path))
    }
}

/// A check or normalisation of entities.
///
/// # Contract
/// `enforce` must not panic on any JSON input (documents are untrusted; an earlier policy in
/// a chain may not have run).
pub trait EntityPolicy: Send + Sync + fmt::Debug {
    /// Checks (and may change) an entity. `Ok(None)` means "not handled".
    ///
    /// # Errors
    /// [`Error::InvalidEntity`] describing the first problem.
    fn enforce(&self, entity: Value) -> Result<Option<Value>>;

    /// Every problem this policy finds, for reports that list them all. The default
    /// reports the error of [`EntityPolicy::enforce`], if any.
    fn problems(&self, entity: &Value) -> Vec<Problem> {
        match self.enforce(entity.clone()) {
            Err(Error::InvalidEntity { message, path }) => {
                vec![Problem::new(path.unwrap_or_default(), message)]
            }
            Err(other) => vec![Problem::new("", other.to_string())],
            Ok(_) => Vec::new(),
        }
    }

    /// The name used in `Policy <name> did not return a result`.
    fn name(&self) -> &str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }
}

/// Runs policies in order, each on the previous one's output (`EntityPolicies.allOf`).
#[derive(Debug, Clone, Default)]
pub struct AllOf {
    policies: Vec<Arc<dyn EntityPolicy>>,
}

impl AllOf {
    /// A chain of policies.
    pub fn new(policies: Vec<Arc<dyn EntityPolicy>>) -> Self {
        Self { policies }
    }

    /// The policies, in order.
    pub fn policies(&self) -> &[Arc<dyn EntityPolicy>] {
        &self.policies
    }
}

impl EntityPolicy for AllOf {
    fn enforce(&self, entity: Value) -> Result<Option<Value>> {
        let mut current = entity;
        for policy in &self.policies {
            current = match policy.enforce(current)? {
                Some(next) => next,
                None => {
                    return Err(Error::invalid_entity(
                        format!("Policy {} did not return a result", policy.name()),
                        None,
                    ));
                }
            };
        }
        Ok(Some(current))
    }

    fn problems(&self, entity: &Value) -> Vec<Problem> {
        // Each policy reports on the output of the ones before it; when one fails, the rest
        // see the input it was given.
        let mut current = entity.clone();
        let mut out = Vec::new();
        for policy in &self.policies {
            let found = policy.problems(&current);
            if found.is_empty()
                && let Ok(Some(next)) = policy.enforce(current.clone())
            {
                current = next;
            }
            out.extend(found);
        }
        out
    }

    fn name(&self) -> &str {
        "AllEntityPolicies"
    }
}

/// Runs policies on the original entity until one handles it (`EntityPolicies.oneOf`).
#[derive(Debug, Clone, Default)]
pub struct OneOf {
    policies: Vec<Arc<dyn EntityPolicy>>,
}

impl OneOf {
    /// A set of alternative policies.
    pub fn new(policies: Vec<Arc<dyn EntityPolicy>>) -> Self {
        Self { policies }
    }
}

impl EntityPolicy for OneOf {
    fn enforce(&self, entity: Value) -> Result<Option<Value>> {
        for policy in &self.policies {
            if let Some(out) = policy.enforce(entity.clone())? {
                return Ok(Some(out));
            }
        }
        Err(Error::invalid_entity(
            "The entity did not match any known policy",
            None,
        ))
    }

    fn name(&self) -> &str {
        "AnyEntityPolicy"
    }
}

/// The catalog's default chain, with the given field-format predicates:
/// `allOf([SchemaValid, DefaultNamespace, NoForeignRootFields, FieldFormat(validators)])`.
pub fn default_policies(validators: Validators) -> AllOf {
    AllOf::new(vec![
        Arc::new(SchemaValidEntityPolicy::new()),
        Arc::new(DefaultNamespaceEntityPolicy::default()),
        Arc::new(NoForeignRootFieldsEntityPolicy::default()),
        Arc::new(FieldFormatEntityPolicy::new(validators)),
    ])
}

#[cfg(test)]
mod tests;
