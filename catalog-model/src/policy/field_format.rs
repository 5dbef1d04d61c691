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

    /// Visits the checks in order; `sink` returns false to stop. Nothing is allocated unless
    /// a check fails.
    fn run(&self, entity: &Value, sink: &mut dyn FnMut(Problem) -> bool) {
        let v = &self.validators;
        let meta = crate::js::get(entity, "metadata");
        let get = |key: &str| meta.and_then(|m| crate::js::get(m, key));

        // Reports a failure: `$field` and `$ptr` are only evaluated then.
        macro_rules! check {
            ($outcome:expr, $value:expr, $validator:expr, $field:expr, $ptr:expr) => {
                if let Some(failure) = $outcome
                    && !sink(failure.problem(&$field, $ptr, $value, $validator))
                {
                    return;
                }
            };
        }

        let api_version = crate::js::get(entity, "apiVersion");
        check!(
            require(api_version, &v.api_version, false),
            api_version,
            &v.api_version,
            "apiVersion",
            "/apiVersion".into()
        );
        let kind = crate::js::get(entity, "kind");
        check!(
            require(kind, &v.kind, false),
            kind,
            &v.kind,
            "kind",
            "/kind".into()
        );
        let name = get("name");
        check!(
            require(name, &v.entity_name, false),
            name,
            &v.entity_name,
            "metadata.name",
            "/metadata/name".into()
        );
        let namespace = get("namespace");
        check!(
            require(namespace, &v.namespace, true),
            namespace,
            &v.namespace,
            "metadata.namespace",
            "/metadata/namespace".into()
        );

        for (section, key_v, value_v) in [
            ("labels", &v.label_key, &v.label_value),
            ("annotations", &v.annotation_key, &v.annotation_value),
        ] {
            match get(section) {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    for (k, val) in crate::js::ordered(map) {
                        let field = || format!("{section}.{k}");
                        let ptr = || format!("/metadata/{section}/{}", esc(k));
                        if !key_v.check_str(k) {
                            let key = Value::String(k.clone());
                            check!(Some(Failure::Invalid), Some(&key), key_v, field(), ptr());
                        }
                        check!(
                            require(Some(val), value_v, false),
                            Some(val),
                            value_v,
                            field(),
                            ptr()
                        );
                    }
                }
                Some(_) => {
                    let problem = Problem::new(
                        format!("/metadata/{section}"),
                        format!("metadata.{section} must be an object"),
                    );
                    if !sink(problem) {
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
                        require(Some(tag), &v.tag, false),
                        Some(tag),
                        &v.tag,
                        format!("tags.{i}"),
                        format!("/metadata/tags/{i}")
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
                    let at = |k: &str| crate::js::get(link, k);
                    for (key, validator, optional) in [
                        ("url", &URL, false),
                        ("title", &NON_EMPTY, true),
                        ("icon", &NON_EMPTY, true),
                    ] {
                        let value = at(key);
                        check!(
                            require(value, validator, optional),
                            value,
                            validator,
                            format!("links.{i}.{key}"),
                            format!("/metadata/links/{i}/{key}")
                        );
                    }
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

static URL: Validator = Validator::builtin(Builtin::Url);
static NON_EMPTY: Validator = Validator::builtin(Builtin::NonEmptyString);

/// Why a field failed.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// Absent or `null`.
    Missing,
    /// The predicate said no.
    Invalid,
}

impl Failure {
    fn problem(
        self,
        field: &str,
        pointer: String,
        value: Option<&Value>,
        validator: &Validator,
    ) -> Problem {
        match (self, value) {
            (Failure::Invalid, Some(value)) => {
                let expectation = match validator.expectation() {
                    Some(text) => format!(" expected {text} but found \"{}\".", js_template(value)),
                    None => String::new(),
                };
                Problem::new(
                    pointer,
                    format!("\"{field}\" is not valid;{expectation}{LEARN_MORE}"),
                )
            }
            _ => Problem::new(pointer, format!("{field} must have a value")),
        }
    }
}

/// Backstage's `require`/`optional` helpers: `None` when fine.
fn require(value: Option<&Value>, validator: &Validator, optional: bool) -> Option<Failure> {
    match value {
        None if optional => None,
        None | Some(Value::Null) => Some(Failure::Missing),
        Some(v) if validator.check(v) => None,
        Some(_) => Some(Failure::Invalid),
    }
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
