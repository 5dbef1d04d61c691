use serde_json::Value;

use super::{EntityPolicy, Problem};
use crate::error::Result;
use crate::schema_escape as esc;
use crate::validation::{Builtin, Validator, Validators};

const LEARN_MORE: &str = " To learn more about catalog file format, visit: https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/adr002-default-catalog-file-format.md";

/// Checks the formats of the envelope fields with the nine [`Validators`] and the fixed link
/// checks, in Backstage's order, with Backstage's messages:
/// `"metadata.name" is not valid; expected ... but found "a b". To learn more ...`.
///
/// Unlike Backstage (which crashes or iterates characters), non-object `labels` or
/// `annotations` and non-array `tags` or `links` are reported as problems.
#[derive(Debug, Clone, Default)]
pub struct FieldFormatEntityPolicy {
    validators: Validators,
}

impl FieldFormatEntityPolicy {
    /// A policy using these predicates.
    pub fn new(validators: Validators) -> Self {
        Self { validators }
    }

    /// Visits the checks in order; `sink` returns false to stop.
    fn run(&self, entity: &Value, sink: &mut dyn FnMut(Problem) -> bool) {
        let v = &self.validators;
        let url = Validator::builtin(Builtin::Url);
        let non_empty = Validator::builtin(Builtin::NonEmptyString);
        let meta = entity.get("metadata");
        let get = |key: &str| meta.and_then(|m| m.get(key));

        macro_rules! check {
            ($field:expr, $ptr:expr, $value:expr, $validator:expr, $optional:expr) => {
                if let Some(p) = require($field, $ptr, $value, $validator, $optional)
                    && !sink(p)
                {
                    return;
                }
            };
        }

        check!(
            "apiVersion",
            "/apiVersion".into(),
            entity.get("apiVersion"),
            &v.api_version,
            false
        );
        check!("kind", "/kind".into(), entity.get("kind"), &v.kind, false);
        check!(
            "metadata.name",
            "/metadata/name".into(),
            get("name"),
            &v.entity_name,
            false
        );
        check!(
            "metadata.namespace",
            "/metadata/namespace".into(),
            get("namespace"),
            &v.namespace,
            true
        );

        for (section, key_v, value_v) in [
            ("labels", &v.label_key, &v.label_value),
            ("annotations", &v.annotation_key, &v.annotation_value),
        ] {
            match get(section) {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    for (k, val) in crate::js::ordered(map) {
                        let field = format!("{section}.{k}");
                        let ptr = format!("/metadata/{section}/{}", esc(k));
                        let key = Value::String(k.clone());
                        check!(&field, ptr.clone(), Some(&key), key_v, false);
                        check!(&field, ptr, Some(val), value_v, false);
                    }
                }
                Some(_) => {
                    if !sink(Problem::new(
                        format!("/metadata/{section}"),
                        format!("metadata.{section} must be an object"),
                    )) {
                        return;
                    }
                }
            }
        }

        match get("tags") {
            None | Some(Value::Null) => {}
            Some(Value::Array(tags)) => {
                for (i, tag) in tags.iter().enumerate() {
                    check!(
                        &format!("tags.{i}"),
                        format!("/metadata/tags/{i}"),
                        Some(tag),
                        &v.tag,
                        false
                    );
                }
            }
            Some(_) => {
                if !sink(Problem::new(
                    "/metadata/tags",
                    "metadata.tags must be an array",
                )) {
                    return;
                }
            }
        }

        match get("links") {
            None | Some(Value::Null) => {}
            Some(Value::Array(links)) => {
                for (i, link) in links.iter().enumerate() {
                    let at = |k: &str| link.as_object().and_then(|m| m.get(k));
                    check!(
                        &format!("links.{i}.url"),
                        format!("/metadata/links/{i}/url"),
                        at("url"),
                        &url,
                        false
                    );
                    check!(
                        &format!("links.{i}.title"),
                        format!("/metadata/links/{i}/title"),
                        at("title"),
                        &non_empty,
                        true
                    );
                    check!(
                        &format!("links.{i}.icon"),
                        format!("/metadata/links/{i}/icon"),
                        at("icon"),
                        &non_empty,
                        true
                    );
                }
            }
            Some(_) => {
                let _ = sink(Problem::new(
                    "/metadata/links",
                    "metadata.links must be an array",
                ));
            }
        }
    }
}

/// Backstage's `require`/`optional` helpers: `None` when fine.
fn require(
    field: &str,
    pointer: String,
    value: Option<&Value>,
    validator: &Validator,
    optional: bool,
) -> Option<Problem> {
    let value = match value {
        None if optional => return None,
        None | Some(Value::Null) => {
            return Some(Problem::new(pointer, format!("{field} must have a value")));
        }
        Some(v) => v,
    };
    if validator.check(value) {
        return None;
    }
    let expectation = match validator.expectation() {
        Some(text) => format!(" expected {text} but found \"{}\".", js_template(value)),
        None => String::new(),
    };
    Some(Problem::new(
        pointer,
        format!("\"{field}\" is not valid;{expectation}{LEARN_MORE}"),
    ))
}

/// How a JavaScript template literal renders a value.
fn js_template(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => crate::schema_js_string(other),
    }
}

impl EntityPolicy for FieldFormatEntityPolicy {
    fn enforce(&self, entity: Value) -> Result<Option<Value>> {
        let mut first = None;
        self.run(&entity, &mut |p| {
            first = Some(p);
            false
        });
        match first {
            Some(p) => Err(p.into_error()),
            None => Ok(Some(entity)),
        }
    }

    fn problems(&self, entity: &Value) -> Vec<Problem> {
        let mut all = Vec::new();
        self.run(entity, &mut |p| {
            all.push(p);
            true
        });
        all
    }
}
