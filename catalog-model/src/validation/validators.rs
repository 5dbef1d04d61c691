//! The set of nine field-format predicates the catalog uses (Backstage's `makeValidator`),
//! each individually replaceable.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::{common, kubernetes};

/// A field-format predicate: a built-in rule, or a custom function.
///
/// Built-in rules know the expectation text Backstage prints when they fail
/// (`expected a valid prefix and/or suffix but found "..."`); custom ones print none, as in
/// Backstage.
#[derive(Clone)]
pub struct Validator {
    kind: ValidatorKind,
}

#[derive(Clone)]
enum ValidatorKind {
    Builtin(Builtin),
    Custom(Arc<dyn Fn(&Value) -> bool + Send + Sync>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    ApiVersion,
    Kind,
    ObjectName,
    Namespace,
    LabelKey,
    LabelValue,
    AnnotationKey,
    AnnotationValue,
    Tag,
    Url,
    NonEmptyString,
}

impl Builtin {
    fn check_str(self, s: &str) -> bool {
        match self {
            Builtin::ApiVersion => kubernetes::api_version(s),
            Builtin::Kind => kubernetes::kind(s),
            Builtin::ObjectName => kubernetes::object_name(s),
            Builtin::Namespace => common::dns_label(s),
            Builtin::LabelKey | Builtin::AnnotationKey => kubernetes::label_key(s),
            Builtin::LabelValue => s.is_empty() || kubernetes::object_name(s),
            Builtin::AnnotationValue => true,
            Builtin::Tag => common::tag_like(s, true),
            Builtin::Url => common::valid_url(s),
            Builtin::NonEmptyString => !common::js_trim(s).is_empty(),
        }
    }

    fn check(self, v: &Value) -> bool {
        match self {
            Builtin::ApiVersion => kubernetes::is_valid_api_version(v),
            Builtin::Kind => kubernetes::is_valid_kind(v),
            Builtin::ObjectName => kubernetes::is_valid_object_name(v),
            Builtin::Namespace => kubernetes::is_valid_namespace(v),
            Builtin::LabelKey => kubernetes::is_valid_label_key(v),
            Builtin::LabelValue => kubernetes::is_valid_label_value(v),
            Builtin::AnnotationKey => kubernetes::is_valid_annotation_key(v),
            Builtin::AnnotationValue => kubernetes::is_valid_annotation_value(v),
            Builtin::Tag => kubernetes::is_valid_catalog_tag(v),
            Builtin::Url => common::is_valid_url(v),
            Builtin::NonEmptyString => common::is_non_empty_string(v),
        }
    }

    fn expectation(self) -> &'static str {
        match self {
            Builtin::ObjectName | Builtin::LabelValue => {
                "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"
            }
            Builtin::ApiVersion | Builtin::LabelKey | Builtin::AnnotationKey => {
                "a valid prefix and/or suffix"
            }
            Builtin::Namespace => {
                "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total"
            }
            Builtin::Tag => {
                "a string that is sequences of [a-z0-9+#] separated by [-], at most 63 characters in total"
            }
            Builtin::AnnotationValue => "a string",
            Builtin::Kind => {
                "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total"
            }
            Builtin::Url => "a string that is a valid url",
            Builtin::NonEmptyString => "a non empty string",
        }
    }
}

impl Validator {
    pub(crate) const fn builtin(b: Builtin) -> Self {
        Self {
            kind: ValidatorKind::Builtin(b),
        }
    }

    /// A custom predicate. Failures report no expectation text.
    pub fn custom(f: impl Fn(&Value) -> bool + Send + Sync + 'static) -> Self {
        Self {
            kind: ValidatorKind::Custom(Arc::new(f)),
        }
    }

    /// Runs the predicate on a string without building a JSON value for built-in rules.
    pub fn check_str(&self, value: &str) -> bool {
        match &self.kind {
            ValidatorKind::Builtin(b) => b.check_str(value),
            ValidatorKind::Custom(f) => f(&Value::String(value.to_owned())),
        }
    }

    /// Runs the predicate.
    pub fn check(&self, value: &Value) -> bool {
        match &self.kind {
            ValidatorKind::Builtin(b) => b.check(value),
            ValidatorKind::Custom(f) => f(value),
        }
    }

    /// The text Backstage prints after "expected" when this predicate fails, if any.
    pub fn expectation(&self) -> Option<&'static str> {
        match &self.kind {
            ValidatorKind::Builtin(b) => Some(b.expectation()),
            ValidatorKind::Custom(_) => None,
        }
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ValidatorKind::Builtin(b) => write!(f, "Validator::{b:?}"),
            ValidatorKind::Custom(_) => f.write_str("Validator::Custom"),
        }
    }
}

/// The nine predicates used by [`crate::policy::FieldFormatEntityPolicy`]
/// (Backstage's `makeValidator()`). `Validators::default()` gives Backstage's defaults;
/// the `with_*` methods replace one each, like `makeValidator({ isValidTag: ... })`.
///
/// ```
/// use backstage_catalog_model::validation::{Validator, Validators};
/// use serde_json::json;
/// // Allow upper-case tags.
/// let validators = Validators::default().with_tag(Validator::custom(|v| {
///     v.as_str().is_some_and(|s| !s.is_empty() && s.len() <= 63)
/// }));
/// assert!(validators.tag.check(&json!("Java")));
/// assert!(!Validators::default().tag.check(&json!("Java")));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Validators {
    /// `isValidApiVersion`.
    pub api_version: Validator,
    /// `isValidKind`.
    pub kind: Validator,
    /// `isValidEntityName`.
    pub entity_name: Validator,
    /// `isValidNamespace`.
    pub namespace: Validator,
    /// `isValidLabelKey`.
    pub label_key: Validator,
    /// `isValidLabelValue`.
    pub label_value: Validator,
    /// `isValidAnnotationKey`.
    pub annotation_key: Validator,
    /// `isValidAnnotationValue`.
    pub annotation_value: Validator,
    /// `isValidTag`.
    pub tag: Validator,
}

impl Validators {
    /// Whether every predicate is Backstage's default.
    pub fn is_default(&self) -> bool {
        let d = Validators::default();
        [
            (&self.api_version, &d.api_version),
            (&self.kind, &d.kind),
            (&self.entity_name, &d.entity_name),
            (&self.namespace, &d.namespace),
            (&self.label_key, &d.label_key),
            (&self.label_value, &d.label_value),
            (&self.annotation_key, &d.annotation_key),
            (&self.annotation_value, &d.annotation_value),
            (&self.tag, &d.tag),
        ]
        .iter()
        .all(|(a, b)| {
            matches!(
                (&a.kind, &b.kind),
                (ValidatorKind::Builtin(x), ValidatorKind::Builtin(y)) if x == y
            )
        })
    }
}

impl Default for Validators {
    fn default() -> Self {
        Self {
            api_version: Validator::builtin(Builtin::ApiVersion),
            kind: Validator::builtin(Builtin::Kind),
            entity_name: Validator::builtin(Builtin::ObjectName),
            namespace: Validator::builtin(Builtin::Namespace),
            label_key: Validator::builtin(Builtin::LabelKey),
            label_value: Validator::builtin(Builtin::LabelValue),
            annotation_key: Validator::builtin(Builtin::AnnotationKey),
            annotation_value: Validator::builtin(Builtin::AnnotationValue),
            tag: Validator::builtin(Builtin::Tag),
        }
    }
}

macro_rules! with {
    ($($method:ident => $field:ident),* $(,)?) => {
        impl Validators {
            $(
                #[doc = concat!("Replaces the `", stringify!($field), "` predicate.")]
                #[must_use]
                pub fn $method(mut self, v: Validator) -> Self {
                    self.$field = v;
                    self
                }
            )*
        }
    };
}

with! {
    with_api_version => api_version,
    with_kind => kind,
    with_entity_name => entity_name,
    with_namespace => namespace,
    with_label_key => label_key,
    with_label_value => label_value,
    with_annotation_key => annotation_key,
    with_annotation_value => annotation_value,
    with_tag => tag,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_use_the_catalog_tag_rule() {
        let v = Validators::default();
        assert!(v.tag.check(&json!("lang:java")));
        assert!(
            v.tag
                .expectation()
                .is_some_and(|e| e.contains("[a-z0-9+#]"))
        );
    }

    #[test]
    fn custom_validators_have_no_expectation() {
        let v = Validators::default().with_entity_name(Validator::custom(|_| false));
        assert!(!v.entity_name.check(&json!("fine")));
        assert_eq!(v.entity_name.expectation(), None);
        assert!(v.namespace.check(&json!("default")));
    }
}
