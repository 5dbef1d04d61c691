//! Loading catalog descriptor files (`catalog-info.yaml`) into JSON values, with source
//! positions.
//!
//! The result matches what Backstage gets from the JavaScript `yaml` library (v2,
//! `parseAllDocuments`, YAML 1.2 core schema) followed by `toJSON()`:
//!
//! * Every document of a multi-document stream is loaded on its own; a syntax error affects only
//!   its document. Empty documents (only comments or whitespace) are skipped but keep their index.
//! * Plain scalars resolve with the core schema: `~`/`null`/empty are null, only
//!   `true`/`false` (three spellings each) are booleans, `012` is 12, `0o17` is 15, `0x1F` is 31,
//!   `yes`, `on`, `2021-01-01` and `1_000` stay strings. Quoted and block scalars are strings.
//!   Explicit core tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`) are honoured when the
//!   text fits them; other tags are ignored.
//! * Non-finite floats (`.inf`, `.nan`) become `null`, as `JSON.stringify` does. Integral floats
//!   within ±2^53 (`1.0`, `1e3`) become JSON integers, as JavaScript prints them. Integers beyond
//!   64 bits become floats.
//! * Keys are converted to strings the JavaScript way (`1.0:` is `"1"`, `0x10:` is `"16"`,
//!   `null:` is `""`); duplicate keys (after conversion) are an error; collection keys are
//!   rejected. `<<` is an ordinary key (no merge).
//! * Aliases are expanded by copying. The expansion is bounded by a per-document node budget of
//!   `1_000_000 + 2 × document length` (nodes, plus one unit per 16 bytes of string), so alias
//!   bombs fail fast with [`YamlErrorKind::AliasLimit`]. Nesting is limited to 256 levels
//!   ([`YamlErrorKind::TooDeep`]), so building and dropping values never overflows the stack.
//! * A leading UTF-8 byte order mark is ignored; `\n`, `\r\n` and `\r` line breaks are accepted.
//!
//! Positions are 1-based lines and columns (columns count characters) in the whole input. A node
//! is located where the parser sees it start: at its anchor or tag if it has one, at the first
//! key of a block mapping, at the `-` of a block sequence, at the opening bracket or quote of
//! flow collections and quoted scalars, and at the first content line of a block scalar (`|`,
//! `>`). An empty value (`key:`) is located at its `:`. A copy made by an alias is located at the
//! alias; its inner nodes keep the positions of the anchored original.

mod error;
mod loader;
mod scalar;
mod split;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

pub use error::{YamlError, YamlErrorKind};

/// 1-based line and column (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters (not bytes).
    pub column: usize,
}

impl fmt::Display for Position {
    /// Formats as `LINE:COLUMN`, ready to be appended to a file name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Positions of one node, stored in pre-order (a node, then its children's subtrees).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PosEntry {
    line: u32,
    column: u32,
    /// Position of the key when the node is a mapping value; line 0 otherwise.
    key_line: u32,
    key_column: u32,
    /// Number of entries of the node's subtree, itself included.
    size: u32,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl PosEntry {
    fn new(position: Position, key: Option<Position>) -> Self {
        let mut entry = Self {
            line: 0,
            column: 0,
            key_line: 0,
            key_column: 0,
            size: 1,
        };
        entry.set_position(position, key);
        entry
    }

    fn set_position(&mut self, position: Position, key: Option<Position>) {
        self.line = to_u32(position.line);
        self.column = to_u32(position.column);
        let key = key.unwrap_or(Position { line: 0, column: 0 });
        self.key_line = to_u32(key.line);
        self.key_column = to_u32(key.column);
    }

    fn position(&self) -> Position {
        Position {
            line: self.line as usize,
            column: self.column as usize,
        }
    }

    fn key_position(&self) -> Option<Position> {
        (self.key_line != 0).then_some(Position {
            line: self.key_line as usize,
            column: self.key_column as usize,
        })
    }
}

/// One parsed document of a multi-document stream.
#[derive(Debug, Clone)]
pub struct YamlDocument {
    index: usize,
    value: Value,
    /// Pre-order positions parallel to `value`; object members in insertion order, which
    /// `serde_json`'s `preserve_order` feature keeps.
    positions: Vec<PosEntry>,
}

impl YamlDocument {
    /// 0-based index of this document in the stream. Empty documents are not returned but count.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Where the document's root node starts.
    #[must_use]
    pub fn position(&self) -> Position {
        self.positions
            .first()
            .map_or(Position { line: 1, column: 1 }, PosEntry::position)
    }

    /// The document as JSON.
    #[must_use]
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The document as JSON, consuming the document.
    #[must_use]
    pub fn into_value(self) -> Value {
        self.value
    }

    /// Position of the node at an RFC 6901 JSON pointer (`""` is the root, `"/metadata/name"`,
    /// `"/spec/providesApis/0"`, keys escaped with `~0` and `~1`).
    ///
    /// For a pointer to a missing node (or a malformed pointer), the position of its nearest
    /// existing ancestor, so a "missing property 'owner'" error at `/spec/owner` points at the
    /// `spec` mapping.
    #[must_use]
    pub fn position_of(&self, pointer: &str) -> Position {
        self.positions
            .get(self.locate(pointer))
            .map_or_else(|| self.position(), PosEntry::position)
    }

    /// Position of the key of the node at `pointer` when that node is a mapping value
    /// (`/metadata/name` gives the position of `name:`), usually the better place to point an
    /// error message at.
    ///
    /// Like [`position_of`](Self::position_of), a missing node resolves to its nearest existing
    /// ancestor. `None` when the node is the root or a sequence item.
    #[must_use]
    pub fn key_position_of(&self, pointer: &str) -> Option<Position> {
        self.positions
            .get(self.locate(pointer))
            .and_then(PosEntry::key_position)
    }

    /// Index of the position entry of the deepest existing node along `pointer`.
    fn locate(&self, pointer: &str) -> usize {
        let Some(tokens) = pointer.strip_prefix('/') else {
            return 0;
        };
        let mut entry = 0;
        let mut value = &self.value;
        for token in tokens.split('/') {
            let child = match value {
                Value::Object(map) => map
                    .iter()
                    .enumerate()
                    .find(|(_, (key, _))| pointer_token_eq(token, key))
                    .map(|(i, (_, child))| (i, child)),
                Value::Array(items) => {
                    array_index(token).and_then(|i| items.get(i).map(|child| (i, child)))
                }
                _ => None,
            };
            let Some((nth, child)) = child else {
                break;
            };
            // Children follow their parent's entry; skip the subtrees of earlier siblings.
            let mut next = entry + 1;
            for _ in 0..nth {
                next += self
                    .positions
                    .get(next)
                    .map_or(1, |e| (e.size as usize).max(1));
            }
            entry = next;
            value = child;
        }
        entry
    }
}

/// Compare an RFC 6901 reference token (with `~0`/`~1` escapes) to a key.
fn pointer_token_eq(token: &str, key: &str) -> bool {
    if !token.contains('~') {
        return token == key;
    }
    let mut expected = key.chars();
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        let c = match c {
            '~' => match chars.next() {
                Some('0') => '~',
                Some('1') => '/',
                _ => return false,
            },
            c => c,
        };
        if expected.next() != Some(c) {
            return false;
        }
    }
    expected.next().is_none()
}

/// An RFC 6901 array index: `0` or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok()
}

/// Parse every document of a YAML stream into JSON values.
///
/// Returns one result per non-empty document, in stream order. Empty documents (nothing but
/// comments or whitespace) are skipped but still consume an index. A document with a syntax
/// error yields an error while the other documents are still parsed. Never panics.
#[must_use]
pub fn parse_yaml_documents(text: &str) -> Vec<Result<YamlDocument, YamlError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut next_index = 0;
    for chunk in split::split_documents(text) {
        loader::load_chunk(text, chunk, &mut next_index, &mut out);
    }
    out
}

/// Like [`parse_yaml_documents`], but a document whose root is not a mapping is an error
/// `expected object at root, got <type>` ([`YamlErrorKind::NotAnObject`]), where `<type>` is the
/// JavaScript `typeof` name, as in Backstage: `"object"` for a sequence, `"string"`,
/// `"number"` or `"boolean"`. A document whose root is an explicit `null` (`--- ~`) is skipped,
/// as Backstage skips it.
#[must_use]
pub fn parse_entity_documents(text: &str) -> Vec<Result<YamlDocument, YamlError>> {
    parse_yaml_documents(text)
        .into_iter()
        .filter_map(|result| {
            let doc = match result {
                Ok(doc) => doc,
                Err(e) => return Some(Err(e)),
            };
            let found = match doc.value() {
                Value::Object(_) => return Some(Ok(doc)),
                Value::Null => return None,
                Value::Array(_) => "object",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
            };
            Some(Err(YamlError::new(
                doc.index(),
                Some(doc.position()),
                YamlErrorKind::NotAnObject { found },
            )))
        })
        .collect()
}
