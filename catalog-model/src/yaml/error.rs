//! Error type of the YAML loader.

use std::fmt;

use super::Position;

/// An error that made one document of a YAML stream unusable.
///
/// Other documents of the same stream are unaffected: every document gets its own
/// `Result` from [`parse_yaml_documents`](super::parse_yaml_documents).
///
/// Displayed as `line L column C: message` (or just `message` when no position is known),
/// lowercase and without a trailing period, for example
/// `line 3 column 5: map keys must be unique (duplicate key "name")`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct YamlError {
    document: usize,
    position: Option<Position>,
    kind: YamlErrorKind,
}

impl YamlError {
    pub(crate) fn new(document: usize, position: Option<Position>, kind: YamlErrorKind) -> Self {
        Self {
            document,
            position,
            kind,
        }
    }

    /// 0-based index of the failing document in the stream (same numbering as
    /// [`YamlDocument::index`](super::YamlDocument::index)).
    #[must_use]
    pub fn document(&self) -> usize {
        self.document
    }

    /// Where in the whole input the problem was detected, if known.
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &YamlErrorKind {
        &self.kind
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "line {} column {}: {}", p.line, p.column, self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// The reason a document could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlErrorKind {
    /// The text is not well-formed YAML (message from the YAML parser).
    #[error("{message}")]
    Syntax {
        /// Human-readable description from the parser.
        message: String,
    },
    /// A mapping contains the same key twice (compared after keys are converted to strings,
    /// so `1:` and `"1":` collide).
    #[error("map keys must be unique (duplicate key {key:?})")]
    DuplicateKey {
        /// The duplicated key, as a string.
        key: String,
    },
    /// The document root is not a mapping
    /// (only from [`parse_entity_documents`](super::parse_entity_documents)).
    #[error("expected object at root, got {found}")]
    NotAnObject {
        /// JavaScript `typeof` name of what was found: `"object"` (sequence or null),
        /// `"string"`, `"number"` or `"boolean"`.
        found: &'static str,
    },
    /// Mappings and sequences are nested deeper than allowed.
    #[error("nesting depth exceeds the limit of {limit}")]
    TooDeep {
        /// The maximum nesting depth.
        limit: usize,
    },
    /// Expanding aliases would produce too much data (an "alias bomb" / "billion laughs").
    #[error("document expands to more than {limit} nodes (too many aliases)")]
    AliasLimit {
        /// The node budget of the document.
        limit: usize,
    },
    /// A mapping key is itself a mapping or a sequence, which JSON objects cannot represent.
    #[error("unsupported map key: a {found} cannot be used as a key")]
    UnsupportedKey {
        /// `"mapping"` or `"sequence"`.
        found: &'static str,
    },
    /// An alias (`*name`) refers to an anchor that is not defined before it, or to a node
    /// that contains the alias itself.
    #[error("unknown alias *{name}")]
    UnknownAlias {
        /// The alias name, without the `*`.
        name: String,
    },
}
