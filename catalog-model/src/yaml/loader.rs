//! Turning the parser's event stream of one chunk into JSON values with positions.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScanError, Span};
use serde_json::{Map, Value};

use super::error::{YamlError, YamlErrorKind};
use super::scalar::{self, Scalar};
use super::split::Chunk;
use super::{PosEntry, Position, YamlDocument};

/// Maximum nesting depth of mappings and sequences (the root collection is depth 1).
pub(crate) const MAX_DEPTH: usize = 256;

/// Fixed part of the per-document node budget, see [`node_budget`].
const BASE_NODE_BUDGET: usize = 1_000_000;

/// A string costs one budget unit per this many bytes (on top of its node's unit), so that
/// aliasing long strings is bounded too.
const BYTES_PER_UNIT: usize = 16;

/// The node budget of a document whose text is `len` bytes long: `1_000_000 + 2 × len` units,
/// where every produced node (including every copy made by an alias) costs one unit and strings
/// additionally cost one unit per 16 bytes. Text without aliases never needs more than about
/// `1.1 × len` units, so only alias expansion can exhaust it.
fn node_budget(len: usize) -> usize {
    BASE_NODE_BUDGET
        .saturating_add(len.saturating_mul(2))
        .min(u32::MAX as usize)
}

/// A finished node that carries an anchor, kept so aliases can copy it.
#[derive(Debug)]
struct Anchored {
    value: Value,
    /// Range of the node's entries in the position list (`len == 0` for keys, which have none).
    pos_start: usize,
    pos_len: usize,
    /// Nesting depth of the node itself (0 for scalars).
    height: usize,
    /// Budget units the node cost.
    cost: usize,
}

/// A collection under construction.
#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    /// Index of the collection's entry in the position list.
    entry: usize,
    /// Anchor id (0 = none).
    anchor: usize,
    /// Largest height among finished children.
    child_height: usize,
    /// Budget units used before the collection started.
    cost_before: usize,
}

#[derive(Debug)]
enum FrameKind {
    Sequence(Vec<Value>),
    /// A mapping and the key waiting for its value, with the key's position.
    Mapping(Map<String, Value>, Option<(String, Position)>),
}

/// Builds one document from events.
struct Builder<'a> {
    src: &'a str,
    /// Lines in `src`, for markers the parser puts past the end.
    lines: usize,
    line_offset: usize,
    index: usize,
    stack: Vec<Frame>,
    positions: Vec<PosEntry>,
    anchors: HashMap<usize, Anchored>,
    used: usize,
    budget: usize,
    root: Option<Value>,
    /// The document consists of nothing (no node at all).
    empty: bool,
}

/// Outcome of one document.
type DocResult = Result<Option<YamlDocument>, YamlError>;

impl<'a> Builder<'a> {
    fn new(src: &'a str, line_offset: usize, index: usize) -> Self {
        Self {
            src,
            lines: line_count(src),
            line_offset,
            index,
            stack: Vec::new(),
            positions: Vec::new(),
            anchors: HashMap::new(),
            used: 0,
            budget: node_budget(src.len()),
            root: None,
            empty: false,
        }
    }

    fn position(&self, marker: Marker) -> Position {
        if marker.line() > self.lines {
            return chunk_position(self.src, self.line_offset, marker);
        }
        Position {
            line: marker.line().saturating_add(self.line_offset),
            column: marker.col().saturating_add(1),
        }
    }

    fn error(&self, position: Position, kind: YamlErrorKind) -> YamlError {
        YamlError::new(self.index, Some(position), kind)
    }

    fn charge(&mut self, units: usize, position: Position) -> Result<(), YamlError> {
        self.used = self.used.saturating_add(units);
        if self.used > self.budget {
            return Err(self.error(position, YamlErrorKind::AliasLimit { limit: self.budget }));
        }
        Ok(())
    }

    /// Whether the next node is a key of the innermost mapping.
    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                kind: FrameKind::Mapping(_, None),
                ..
            })
        )
    }

    /// Position of the pending key when the next node is a mapping value.
    fn pending_key_position(&self) -> Option<Position> {
        match self.stack.last() {
            Some(Frame {
                kind: FrameKind::Mapping(_, Some((_, pos))),
                ..
            }) => Some(*pos),
            _ => None,
        }
    }

    fn push_entry(&mut self, position: Position) -> usize {
        let index = self.positions.len();
        self.positions
            .push(PosEntry::new(position, self.pending_key_position()));
        index
    }

    /// Record a key for the innermost mapping, rejecting duplicates.
    fn set_key(&mut self, key: String, position: Position) -> Result<(), YamlError> {
        self.charge(key.len() / BYTES_PER_UNIT, position)?;
        if let Some(Frame {
            kind: FrameKind::Mapping(map, pending),
            ..
        }) = self.stack.last_mut()
        {
            if map.contains_key(&key) {
                return Err(YamlError::new(
                    self.index,
                    Some(position),
                    YamlErrorKind::DuplicateKey { key },
                ));
            }
            *pending = Some((key, position));
        }
        Ok(())
    }

    /// Place a finished node into its parent (or make it the root).
    fn attach(&mut self, value: Value, height: usize) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(frame) => {
                frame.child_height = frame.child_height.max(height);
                match &mut frame.kind {
                    FrameKind::Sequence(items) => items.push(value),
                    FrameKind::Mapping(map, pending) => {
                        if let Some((key, _)) = pending.take() {
                            map.insert(key, value);
                        }
                    }
                }
            }
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let position = self.position(span.start);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let resolved = scalar::resolve(&text, style, tag.as_deref());
                let units = 1 + if resolved == Scalar::Str {
                    text.len() / BYTES_PER_UNIT
                } else {
                    0
                };
                if self.expects_key() {
                    if anchor != 0 {
                        let value = scalar::to_value(resolved, text.clone());
                        self.store_anchor(anchor, value, (0, 0), 0, units, position)?;
                    }
                    let key = scalar::to_key(resolved, text);
                    return self.set_key(key, position);
                }
                if self.stack.is_empty()
                    && text.is_empty()
                    && style == saphyr_parser::ScalarStyle::Plain
                    && anchor == 0
                    && tag.is_none()
                {
                    self.empty = true;
                }
                self.charge(units, position)?;
                let entry = self.push_entry(position);
                let value = scalar::to_value(resolved, text);
                if anchor != 0 {
                    self.store_anchor(anchor, value.clone(), (entry, 1), 0, units, position)?;
                }
                self.attach(value, 0);
            }
            Event::Alias(id) => self.alias(id, span, position)?,
            Event::SequenceStart(anchor, _) => {
                self.start_collection(FrameKind::Sequence(Vec::new()), anchor, position)?;
            }
            Event::MappingStart(anchor, _) => {
                self.start_collection(FrameKind::Mapping(Map::new(), None), anchor, position)?;
            }
            Event::SequenceEnd | Event::MappingEnd => self.end_collection(position)?,
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn start_collection(
        &mut self,
        kind: FrameKind,
        anchor: usize,
        position: Position,
    ) -> Result<(), YamlError> {
        if self.expects_key() {
            let found = match kind {
                FrameKind::Sequence(_) => "sequence",
                FrameKind::Mapping(..) => "mapping",
            };
            return Err(self.error(position, YamlErrorKind::UnsupportedKey { found }));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(position, YamlErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        let cost_before = self.used;
        self.charge(1, position)?;
        let entry = self.push_entry(position);
        self.stack.push(Frame {
            kind,
            entry,
            anchor,
            child_height: 0,
            cost_before,
        });
        Ok(())
    }

    fn end_collection(&mut self, position: Position) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Err(self.syntax(position, "unexpected end of collection"));
        };
        let value = match frame.kind {
            FrameKind::Sequence(items) => Value::Array(items),
            FrameKind::Mapping(map, None) => Value::Object(map),
            FrameKind::Mapping(_, Some(_)) => {
                return Err(self.syntax(position, "mapping key without value"));
            }
        };
        let len = self.positions.len().saturating_sub(frame.entry);
        if let Some(entry) = self.positions.get_mut(frame.entry) {
            entry.size = u32::try_from(len).unwrap_or(u32::MAX);
        }
        let height = frame.child_height + 1;
        if frame.anchor != 0 {
            let cost = self.used.saturating_sub(frame.cost_before);
            let range = (frame.entry, len);
            self.store_anchor(frame.anchor, value.clone(), range, height, cost, position)?;
        }
        self.attach(value, height);
        Ok(())
    }

    /// Keep a copy of an anchored node for later aliases. The copy is charged to the budget
    /// too, so nested anchors cannot multiply memory use.
    ///
    /// The second argument is the node's (start, length) range in the position list (length 0 for keys).
    fn store_anchor(
        &mut self,
        id: usize,
        value: Value,
        (pos_start, pos_len): (usize, usize),
        height: usize,
        cost: usize,
        position: Position,
    ) -> Result<(), YamlError> {
        self.charge(cost, position)?;
        self.anchors.insert(
            id,
            Anchored {
                value,
                pos_start,
                pos_len,
                height,
                cost,
            },
        );
        Ok(())
    }

    fn alias(&mut self, id: usize, span: Span, position: Position) -> Result<(), YamlError> {
        let Some(anchored) = self.anchors.get(&id) else {
            // The anchor exists (the parser checks that) but its node is not finished yet:
            // the alias is inside the node it refers to.
            let name = alias_name(self.src, span.start);
            return Err(self.error(position, YamlErrorKind::UnknownAlias { name }));
        };
        if self.expects_key() {
            let Some(key) = scalar::value_to_key(&anchored.value) else {
                let found = if anchored.value.is_array() {
                    "sequence"
                } else {
                    "mapping"
                };
                return Err(self.error(position, YamlErrorKind::UnsupportedKey { found }));
            };
            return self.set_key(key, position);
        }
        let (height, cost, pos_start, pos_len) = (
            anchored.height,
            anchored.cost,
            anchored.pos_start,
            anchored.pos_len,
        );
        if self.stack.len() + height > MAX_DEPTH {
            return Err(self.error(position, YamlErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        self.charge(cost, position)?;
        let value = self
            .anchors
            .get(&id)
            .map_or(Value::Null, |anchored| anchored.value.clone());
        let key_position = self.pending_key_position();
        let copied = pos_len > 1 && pos_start.saturating_add(pos_len) <= self.positions.len();
        if copied {
            // Inner nodes keep the positions of the anchored original; the copy's root points
            // at the alias.
            let first = self.positions.len();
            self.positions
                .extend_from_within(pos_start..pos_start + pos_len);
            if let Some(entry) = self.positions.get_mut(first) {
                entry.set_position(position, key_position);
            }
        } else {
            self.push_entry(position);
        }
        self.attach(value, height);
        Ok(())
    }

    fn syntax(&self, position: Position, message: &str) -> YamlError {
        self.error(
            position,
            YamlErrorKind::Syntax {
                message: message.to_owned(),
            },
        )
    }

    /// Finish the document after its `DocumentEnd` event.
    fn finish(self, position: Position) -> DocResult {
        if !self.stack.is_empty() {
            return Err(self.syntax(position, "unexpected end of document"));
        }
        if self.empty {
            return Ok(None);
        }
        let Some(value) = self.root else {
            return Err(self.syntax(position, "document has no content"));
        };
        Ok(Some(YamlDocument {
            index: self.index,
            value,
            positions: self.positions,
        }))
    }
}

/// The name of the alias starting at `marker` (which points at the `*`).
fn alias_name(src: &str, marker: Marker) -> String {
    src.chars()
        .skip(marker.index())
        .skip_while(|&c| c == '*')
        .take_while(|&c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
        .collect()
}

/// The position of a parser marker in the whole file. At the end of an input that does not end
/// with a newline, the parser puts its marker at the start of a line that does not exist;
/// such markers are moved to the end of the last line.
fn chunk_position(src: &str, line_offset: usize, marker: Marker) -> Position {
    let mut line = marker.line();
    let mut column = marker.col().saturating_add(1);
    let lines = line_count(src);
    if line > lines {
        let last_line = src.rsplit(['\n', '\r']).next().unwrap_or("");
        line = lines;
        column = last_line.chars().count() + 1;
    }
    Position {
        line: line.saturating_add(line_offset),
        column,
    }
}

/// Lines of a chunk as YAML counts them (`\n`, `\r\n` and a lone `\r` end a line), including
/// the (possibly empty) one after a final line break.
fn line_count(src: &str) -> usize {
    let b = src.as_bytes();
    let breaks = b
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .count();
    breaks + 1
}

/// Convert a parser error of the chunk into a document error.
fn scan_error(src: &str, line_offset: usize, index: usize, error: &ScanError) -> YamlError {
    let marker = *error.marker();
    let position = chunk_position(src, line_offset, marker);
    let kind = match error.info() {
        "while parsing node, found unknown anchor" => YamlErrorKind::UnknownAlias {
            name: alias_name(src, marker),
        },
        // The parser's own limit on flow collection nesting (`[[[[...`).
        "recursion limit exceeded" => YamlErrorKind::TooDeep {
            limit: usize::from(u8::MAX),
        },
        info => YamlErrorKind::Syntax {
            message: info.to_owned(),
        },
    };
    YamlError::new(index, Some(position), kind)
}

/// Parse the document of one chunk, appending its result (if any) to `out`.
///
/// `next_index` is the index the chunk's document gets; it is advanced when the chunk holds a
/// document (even an empty one, which is not reported) or an error.
pub(crate) fn load_chunk(
    text: &str,
    chunk: Chunk,
    next_index: &mut usize,
    out: &mut Vec<Result<YamlDocument, YamlError>>,
) {
    let src = text.get(chunk.start..chunk.end).unwrap_or_default();
    let line_offset = chunk.first_line.saturating_sub(1);
    let mut parser = Parser::new_from_str(src);
    let mut builder: Option<Builder<'_>> = None;
    // The chunk's finished document, if any.
    let mut done: Option<(usize, DocResult)> = None;

    let outcome = loop {
        let Some(next) = parser.next_event() else {
            break done;
        };
        let (event, span) = match next {
            Ok(ok) => ok,
            Err(error) => {
                let index = match (&builder, &done) {
                    (Some(b), _) => b.index,
                    (None, Some((index, _))) => *index,
                    (None, None) => take_index(next_index),
                };
                break Some((index, Err(scan_error(src, line_offset, index, &error))));
            }
        };
        match event {
            Event::StreamEnd => break done,
            Event::DocumentStart(_) => {
                if let Some((index, _)) = done {
                    // Only possible after `... content` or a byte order mark inside the stream:
                    // one chunk must not produce two documents.
                    let position = chunk_position(src, line_offset, span.start);
                    let error = YamlError::new(
                        index,
                        Some(position),
                        YamlErrorKind::Syntax {
                            message: "unexpected content after the document end marker".to_owned(),
                        },
                    );
                    break Some((index, Err(error)));
                }
                builder = Some(Builder::new(src, line_offset, take_index(next_index)));
            }
            Event::DocumentEnd => {
                if let Some(b) = builder.take() {
                    let index = b.index;
                    let position = b.position(span.start);
                    done = Some((index, b.finish(position)));
                }
            }
            other => {
                if let Some(b) = builder.as_mut()
                    && let Err(error) = b.event(other, span)
                {
                    break Some((b.index, Err(error)));
                }
            }
        }
    };

    match outcome {
        Some((_, Ok(Some(doc)))) => out.push(Ok(doc)),
        Some((_, Err(error))) => out.push(Err(error)),
        Some((_, Ok(None))) | None => {}
    }
}

fn take_index(next_index: &mut usize) -> usize {
    let index = *next_index;
    *next_index += 1;
    index
}
