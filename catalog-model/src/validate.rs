//! The catalog's validation pipeline in one type: the default policy chain, then the kind
//! validators.

use std::sync::Arc;

use serde_json::Value;

use crate::entity_ref::display_ref;
use crate::error::{Error, Result};
use crate::kinds::{KindValidator, builtin_kind_validators};
use crate::policy::{AllOf, EntityPolicy, Problem, default_policies};
use crate::relations::sort_relation_fields;
use crate::validation::Validators;

/// Validates entity documents the way the catalog does: the policy chain
/// (schema-valid, default namespace, no foreign root fields, field format, plus any extra
/// policies), then the kind validators in order (the first that recognises the entity
/// decides).
///
/// [`EntityValidator::validate`] stops at the first problem and returns Backstage's message;
/// [`EntityValidator::problems`] returns every problem with its JSON Pointer.
///
/// ```
/// use backstage_catalog_model::EntityValidator;
/// use serde_json::json;
/// let validator = EntityValidator::default();
/// let entity = validator.validate(json!({
///     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
///     "metadata": { "name": "svc" },
///     "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" }
/// }))?;
/// assert_eq!(entity["metadata"]["namespace"], "default");
///
/// let bad = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
///     "metadata": { "name": "a b" }, "spec": { "type": "service" } });
/// let problems = validator.problems(&bad);
/// assert_eq!(problems[0].path, "/metadata/name");
/// assert_eq!(problems[1].message, "/spec must have required property 'lifecycle' - missingProperty: lifecycle");
/// # Ok::<(), backstage_catalog_model::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EntityValidator {
    policies: AllOf,
    kinds: Vec<Arc<dyn KindValidator>>,
    sort_relation_fields: bool,
}

impl Default for EntityValidator {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl EntityValidator {
    /// A builder starting from the catalog's defaults.
    pub fn builder() -> EntityValidatorBuilder {
        EntityValidatorBuilder {
            validators: Validators::default(),
            extra_policies: Vec::new(),
            replace_policies: None,
            kinds: builtin_kind_validators(),
            sort_relation_fields: true,
        }
    }

    /// Validates one entity and returns it as the catalog would store it before relations
    /// are attached (namespace defaulted, relation arrays sorted).
    ///
    /// # Errors
    /// [`Error::InvalidEntity`] with the first problem, or [`Error::UnknownKind`] when no
    /// kind validator recognises the entity.
    pub fn validate(&self, entity: Value) -> Result<Value> {
        let mut entity = entity;
        if self.sort_relation_fields {
            sort_relation_fields(&mut entity);
        }
        let entity = match self.policies.enforce(entity)? {
            Some(e) => e,
            None => {
                return Err(Error::invalid_entity(
                    "The policy chain did not return a result",
                    None,
                ));
            }
        };
        for kind in &self.kinds {
            if kind.check(&entity)? {
                return Ok(entity);
            }
        }
        Err(Error::UnknownKind {
            entity_ref: display_ref(&entity),
        })
    }

    /// Every problem found, in the order [`EntityValidator::validate`] would meet them:
    /// all policy problems, then (when the policies pass far enough to identify the kind)
    /// all problems of the kind validator that recognises the entity. Empty when valid.
    pub fn problems(&self, entity: &Value) -> Vec<Problem> {
        let mut entity = entity.clone();
        if self.sort_relation_fields {
            sort_relation_fields(&mut entity);
        }
        let mut out = self.policies.problems(&entity);
        let normalised = match self.policies.enforce(entity.clone()) {
            Ok(Some(e)) => e,
            _ => entity,
        };
        let mut recognised = false;
        for kind in &self.kinds {
            match kind.problems(&normalised) {
                Some(found) => {
                    recognised = true;
                    for e in found {
                        let message = e.to_string();
                        if !out
                            .iter()
                            .any(|p| p.path == e.path() && p.message.ends_with(e.short().as_str()))
                        {
                            out.push(Problem::new(e.path(), message));
                        }
                    }
                    break;
                }
                None => match kind.check(&normalised) {
                    Ok(true) => {
                        recognised = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        recognised = true;
                        out.push(Problem::new(e.path().unwrap_or_default(), e.to_string()));
                        break;
                    }
                },
            }
        }
        if !recognised && out.is_empty() {
            out.push(Problem::new(
                "/kind",
                Error::UnknownKind {
                    entity_ref: display_ref(&normalised),
                }
                .to_string(),
            ));
        }
        out
    }
}

/// Builds an [`EntityValidator`].
#[must_use]
#[derive(Debug, Clone)]
pub struct EntityValidatorBuilder {
    validators: Validators,
    extra_policies: Vec<Arc<dyn EntityPolicy>>,
    replace_policies: Option<Vec<Arc<dyn EntityPolicy>>>,
    kinds: Vec<Arc<dyn KindValidator>>,
    sort_relation_fields: bool,
}

impl EntityValidatorBuilder {
    /// Replaces the field-format predicates (the catalog's "field format validators").
    pub fn validators(mut self, validators: Validators) -> Self {
        self.validators = validators;
        self
    }

    /// Appends a policy after the default chain.
    pub fn policy(mut self, policy: Arc<dyn EntityPolicy>) -> Self {
        self.extra_policies.push(policy);
        self
    }

    /// Replaces the default chain. As in the catalog, the schema-valid policy still runs
    /// first.
    pub fn replace_policies(mut self, policies: Vec<Arc<dyn EntityPolicy>>) -> Self {
        self.replace_policies = Some(policies);
        self
    }

    /// Adds a kind validator after the built-in ones (e.g. the scaffolder's `Template`).
    pub fn kind_validator(mut self, validator: Arc<dyn KindValidator>) -> Self {
        self.kinds.push(validator);
        self
    }

    /// Replaces the kind validators.
    pub fn kind_validators(mut self, validators: Vec<Arc<dyn KindValidator>>) -> Self {
        self.kinds = validators;
        self
    }

    /// Whether to sort relation arrays before validating (default true, as the catalog does).
    pub fn sort_relation_fields(mut self, yes: bool) -> Self {
        self.sort_relation_fields = yes;
        self
    }

    /// Builds the validator.
    pub fn build(self) -> EntityValidator {
        let policies = match self.replace_policies {
            Some(list) => {
                let mut all: Vec<Arc<dyn EntityPolicy>> =
                    vec![Arc::new(crate::policy::SchemaValidEntityPolicy::new())];
                all.extend(list);
                all.extend(self.extra_policies);
                AllOf::new(all)
            }
            None => {
                let mut all = default_policies(self.validators).policies().to_vec();
                all.extend(self.extra_policies);
                AllOf::new(all)
            }
        };
        EntityValidator {
            policies,
            kinds: self.kinds,
            sort_relation_fields: self.sort_relation_fields,
        }
    }
}
