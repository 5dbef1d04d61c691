//! The crate's error type.

use crate::yaml::YamlError;

/// Everything that can go wrong in this crate.
///
/// Where Backstage has a well-known message for a failure (entity refs, location refs,
/// policies, schema violations), the `Display` text reproduces Backstage's wording so that
/// users recognise it. Those messages start with a capital letter, unlike the rest.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An entity reference could not be parsed.
    #[error("{message}")]
    InvalidEntityRef {
        /// Backstage's message, e.g. `Entity reference must not be empty`.
        message: String,
    },

    /// A location reference (`<type>:<target>`) could not be parsed or stringified.
    #[error("{message}")]
    InvalidLocationRef {
        /// Backstage's message, e.g. `Unable to parse location ref 'x', expected '<type>:<target>', e.g. 'url:https://host/path'`.
        message: String,
    },

    /// An entity failed validation (a schema, a policy or a kind validator).
    #[error("{message}")]
    InvalidEntity {
        /// The first problem, in Backstage's wording.
        message: String,
        /// JSON Pointer (RFC 6901) to the offending value, when known.
        path: Option<String>,
    },

    /// No kind validator recognised the entity's `kind` and `apiVersion`.
    #[error(
        "No processor recognized the entity {entity_ref} as valid, possibly caused by a foreign kind or apiVersion"
    )]
    UnknownKind {
        /// The canonical ref of the entity.
        entity_ref: String,
    },

    /// An entity has neither a source-location nor a managed-by-location annotation.
    #[error("Entity '{entity_ref}' is missing location")]
    MissingLocation {
        /// The canonical ref of the entity.
        entity_ref: String,
    },

    /// A JSON Schema handed to [`crate::schema::JsonSchema::compile`] uses something we
    /// don't support or is malformed.
    #[error("invalid JSON schema at {pointer}: {message}")]
    InvalidSchema {
        /// JSON Pointer into the schema document.
        pointer: String,
        /// What is wrong and what to change.
        message: String,
    },

    /// A policy was configured with an invalid argument.
    #[error("{message}")]
    InvalidPolicy {
        /// What is wrong, e.g. `group parent must be a group`.
        message: String,
    },

    /// A YAML document could not be parsed.
    #[error(transparent)]
    Yaml(#[from] YamlError),
}

impl Error {
    pub(crate) fn invalid_entity(message: impl Into<String>, path: Option<String>) -> Self {
        Error::InvalidEntity {
            message: message.into(),
            path,
        }
    }

    /// The JSON Pointer of the offending value, for [`Error::InvalidEntity`].
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::InvalidEntity { path, .. } => path.as_deref(),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
