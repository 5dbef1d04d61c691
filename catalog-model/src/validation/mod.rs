//! Validator functions: the building blocks of entity validation.
//!
//! - [`common`]: Backstage's `CommonValidatorFunctions` (DNS labels, URLs, non-empty strings).
//! - [`kubernetes`]: Backstage's `KubernetesValidatorFunctions` (apiVersion, kind, names,
//!   namespaces, label and annotation keys and values) and the catalog's tag rule.
//! - [`Validators`]: the set of nine predicates the field-format policy uses
//!   (`makeValidator`), each replaceable.
//!
//! All functions take untrusted [`serde_json::Value`]s and return `false` for anything that
//! is not a string; none of them panics.

pub mod common;
pub mod kubernetes;
mod validators;

pub(crate) use validators::Builtin;
pub use validators::{Validator, Validators};
