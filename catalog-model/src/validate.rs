//! The catalog's validation pipeline in one type: the default policy chain, then the kind
//! validators.

use std::sync::Arc;

use serde_json::Value;

use crate::entity_ref::display_ref;
use crate::error::{Error, Result};
use crate::kinds::{KindValidator, builtin_kind_validators};
use crate::policy::{AllOf, DefaultNamespaceEntityPolicy, EntityPolicy, Problem, default_policies};
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
    /// The policy chain is exactly the default one, so its output satisfies the entity
    /// schema and kind validators need not check it again.
    envelope_checked: bool,
    /// The chain is the default one with the default predicates: the single-pass check of
    /// [`crate::fast`] may answer for it.
    fused: bool,
    /// Applied on the single-pass path, built once.
    default_namespace: DefaultNamespaceEntityPolicy,
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
        let entity = if self.fused && crate::fast::default_chain_accepts(&entity) {
            // The chain would pass; only DefaultNamespace changes anything.
            self.default_namespace.apply(entity)
        } else if let Some(e) = self.policies.enforce(entity)? {
            e
        } else {
            return Err(Error::invalid_entity(
                "The policy chain did not return a result",
                None,
            ));
        };
        for kind in &self.kinds {
            let recognised = if self.envelope_checked {
                kind.check_with_valid_envelope(&entity)?
            } else {
                kind.check(&entity)?
            };
            if recognised {
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
    ///
    /// Paths point into the document **as written**: unlike [`EntityValidator::validate`],
    /// this does not sort the relation arrays first, so `/spec/providesApis/1` is the second
    /// item in the file. A field-format "must have a value" problem is left out when the
    /// schema already reported the same missing property.
    pub fn problems(&self, entity: &Value) -> Vec<Problem> {
        // Most documents are valid: answer those with the fast first-problem path.
        if self.validate(entity.clone()).is_ok() {
            return Vec::new();
        }
        let mut out = dedupe_missing(self.policies.problems(entity));
        let normalised = match self.policies.enforce(entity.clone()) {
            Ok(Some(e)) => e,
            _ => entity.clone(),
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
        if out.is_empty() {
            // `validate` failed, so there is a reason; never report an invalid entity without one.
            if let Err(e) = self.validate(entity.clone()) {
                out.push(Problem::new(e.path().unwrap_or_default(), e.to_string()));
            }
        }
        out
    }
}

/// Drops `<field> must have a value` problems whose property (or an ancestor of it) the schema
/// already reported as missing (`<parent> must have required property '<leaf>'`).
fn dedupe_missing(problems: Vec<Problem>) -> Vec<Problem> {
    let missing: Vec<String> = problems
        .iter()
        .filter_map(|p| {
            let (_, rest) = p.message.split_once("must have required property '")?;
            let leaf = rest.split('\'').next()?;
            Some(format!("{}/{}", p.path, crate::schema_escape(leaf)))
        })
        .collect();
    problems
        .into_iter()
        .filter(|p| {
            !p.message.ends_with(" must have a value")
                || !missing.iter().any(|m| {
                    p.path == *m
                        || (p.path.starts_with(m.as_str()) && p.path[m.len()..].starts_with('/'))
                })
        })
        .collect()
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
        let envelope_checked = self.replace_policies.is_none() && self.extra_policies.is_empty();
        let fused = envelope_checked && self.validators.is_default();
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
            envelope_checked,
            fused,
            default_namespace: DefaultNamespaceEntityPolicy::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn component(spec: Value) -> Value {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "c"}, "spec": spec})
    }

    #[test]
    fn problem_paths_index_arrays_as_written() {
        let v = EntityValidator::default();
        let e = component(
            json!({"type": "t", "lifecycle": "l", "owner": "o", "providesApis": ["b", ""]}),
        );
        let problems = v.problems(&e);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "/spec/providesApis/1");
        // `validate` sorts first, as the catalog does, so its path counts in sorted order.
        assert_eq!(
            v.validate(e).unwrap_err().path(),
            Some("/spec/providesApis/0")
        );
    }

    #[test]
    fn missing_property_is_reported_once() {
        let v = EntityValidator::default();
        let mut e = component(json!({"type": "t", "lifecycle": "l", "owner": "o"}));
        e.as_object_mut().unwrap().remove("apiVersion");
        let problems = v.problems(&e);
        let texts: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert!(
            texts
                .iter()
                .any(|m| m.contains("must have required property 'apiVersion'")),
            "{texts:?}"
        );
        assert!(
            !texts
                .iter()
                .any(|m| m.contains("apiVersion must have a value")),
            "{texts:?}"
        );
    }

    #[test]
    fn valid_entities_have_no_problems_and_unknown_kinds_one() {
        let v = EntityValidator::default();
        assert!(
            v.problems(&component(
                json!({"type": "t", "lifecycle": "l", "owner": "o"})
            ))
            .is_empty()
        );
        let mut e = component(json!({}));
        e["kind"] = json!("Template");
        let problems = v.problems(&e);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .message
                .starts_with("No processor recognized the entity template:default/c")
        );
        assert!(matches!(v.validate(e), Err(Error::UnknownKind { .. })));
    }

    #[test]
    fn builder_options() {
        let no_sort = EntityValidator::builder()
            .sort_relation_fields(false)
            .build();
        let e = component(
            json!({"type": "t", "lifecycle": "l", "owner": "o", "dependsOn": ["b:x", "a:y"]}),
        );
        assert_eq!(
            no_sort.validate(e.clone()).unwrap()["spec"]["dependsOn"],
            json!(["b:x", "a:y"])
        );
        assert_eq!(
            EntityValidator::default().validate(e).unwrap()["spec"]["dependsOn"],
            json!(["a:y", "b:x"])
        );
        let only_groups = EntityValidator::builder()
            .kind_validators(vec![crate::kinds::group_validator()])
            .build();
        assert!(matches!(
            only_groups.validate(component(
                json!({"type": "t", "lifecycle": "l", "owner": "o"})
            )),
            Err(Error::UnknownKind { .. })
        ));
        let replaced = EntityValidator::builder().replace_policies(vec![]).build();
        let mut e = component(json!({"type": "t", "lifecycle": "l", "owner": "o"}));
        e["metadata"]["name"] = json!("not valid name");
        assert!(replaced.validate(e.clone()).is_ok(), "field format is gone");
        e["metadata"]["name"] = json!("");
        assert!(
            replaced.validate(e).is_err(),
            "schema-valid is always first"
        );
    }
}
