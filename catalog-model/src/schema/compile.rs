//! Compiles a JSON Schema document (the draft-07 subset Backstage's schemas use) into a flat
//! node arena that [`super::eval`] walks.

use std::collections::HashMap;

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// JSON types as JSON Schema names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonType {
    Null,
    Boolean,
    Object,
    Array,
    Number,
    Integer,
    String,
}

impl JsonType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "null" => JsonType::Null,
            "boolean" => JsonType::Boolean,
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            "number" => JsonType::Number,
            "integer" => JsonType::Integer,
            "string" => JsonType::String,
            _ => return None,
        })
    }

    pub(crate) fn matches(self, v: &Value) -> bool {
        match (self, v) {
            (JsonType::Null, Value::Null)
            | (JsonType::Boolean, Value::Bool(_))
            | (JsonType::Object, Value::Object(_))
            | (JsonType::Array, Value::Array(_))
            | (JsonType::Number, Value::Number(_))
            | (JsonType::String, Value::String(_)) => true,
            (JsonType::Integer, Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        }
    }
}

/// A compiled regular expression with the source text Ajv prints.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) source: String,
    pub(crate) regex: Regex,
    /// `^.+$`, which Backstage uses for label and annotation keys: a non-empty string
    /// without JavaScript line terminators. Checked without the regex engine.
    non_empty_line: bool,
}

impl Pattern {
    /// Whether `s` matches, with JavaScript semantics.
    pub(crate) fn matches(&self, s: &str) -> bool {
        if self.non_empty_line {
            if s.is_empty() || s.bytes().any(|b| b == b'\n' || b == b'\r') {
                return false;
            }
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8: look only if E2 occurs.
            return !(s.as_bytes().contains(&0xE2) && s.contains(['\u{2028}', '\u{2029}']));
        }
        self.regex.is_match(s)
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) enum Additional {
    #[default]
    Allowed,
    Forbidden,
    Schema(usize),
}

#[derive(Debug, Clone, Default)]
pub(crate) enum Items {
    #[default]
    None,
    All(usize),
    Tuple(Vec<usize>),
}

/// Shapes common enough in entity schemas to check without walking every keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Simple {
    /// `{type: string}`
    String,
    /// `{type: string, minLength: 1}`
    NonEmptyString,
    /// `{type: array, items: {type: string, minLength: 1}}`
    NonEmptyStringArray,
}

impl Simple {
    pub(crate) fn check(self, v: &Value) -> bool {
        match self {
            Simple::String => v.is_string(),
            Simple::NonEmptyString => v.as_str().is_some_and(|s| !s.is_empty()),
            Simple::NonEmptyStringArray => v.as_array().is_some_and(|items| {
                items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.is_empty()))
            }),
        }
    }
}

/// One compiled schema object. Keywords are grouped the way Ajv evaluates them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// Set when the node is exactly one of the [`Simple`] shapes (validity checks only).
    pub(crate) simple: Option<Simple>,
    pub(crate) always_false: bool,
    pub(crate) reference: Option<usize>,
    pub(crate) types: Vec<JsonType>,
    /// The raw `type` value, for the error params.
    pub(crate) type_text: String,
    /// Report a type mismatch before all other keywords (Ajv does this unless the schema has
    /// a single type and keywords for that type; then the mismatch is reported in that
    /// type's keyword group).
    pub(crate) type_upfront: bool,
    // Untyped group, in Ajv's order.
    pub(crate) constant: Option<Value>,
    pub(crate) enumeration: Option<Vec<Value>>,
    pub(crate) not: Option<usize>,
    pub(crate) any_of: Vec<usize>,
    pub(crate) one_of: Vec<usize>,
    pub(crate) all_of: Vec<usize>,
    pub(crate) if_then_else: Option<(usize, Option<usize>, Option<usize>)>,
    // Numbers.
    pub(crate) maximum: Option<f64>,
    pub(crate) minimum: Option<f64>,
    pub(crate) exclusive_maximum: Option<f64>,
    pub(crate) exclusive_minimum: Option<f64>,
    // Strings.
    pub(crate) max_length: Option<u64>,
    pub(crate) min_length: Option<u64>,
    pub(crate) pattern: Option<Pattern>,
    // Arrays.
    pub(crate) max_items: Option<u64>,
    pub(crate) min_items: Option<u64>,
    pub(crate) unique_items: bool,
    pub(crate) items: Items,
    pub(crate) additional_items: Additional,
    // Objects.
    pub(crate) max_properties: Option<u64>,
    pub(crate) min_properties: Option<u64>,
    pub(crate) required: Vec<String>,
    pub(crate) additional: Additional,
    pub(crate) properties: Vec<(String, usize)>,
    pub(crate) pattern_properties: Vec<(Pattern, usize)>,
}

impl Node {
    pub(crate) fn has_number_rules(&self) -> bool {
        self.maximum.is_some()
            || self.minimum.is_some()
            || self.exclusive_maximum.is_some()
            || self.exclusive_minimum.is_some()
    }
    pub(crate) fn has_string_rules(&self) -> bool {
        self.max_length.is_some() || self.min_length.is_some() || self.pattern.is_some()
    }
    pub(crate) fn has_array_rules(&self) -> bool {
        self.max_items.is_some()
            || self.min_items.is_some()
            || self.unique_items
            || !matches!(self.items, Items::None)
    }
    pub(crate) fn has_object_rules(&self) -> bool {
        self.max_properties.is_some()
            || self.min_properties.is_some()
            || !self.required.is_empty()
            || !matches!(self.additional, Additional::Allowed)
            || !self.properties.is_empty()
            || !self.pattern_properties.is_empty()
    }
}

/// Keywords that carry no validation and are accepted anywhere.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "definitions",
    "$defs",
    "format",
];

/// A schema document and its base id.
struct Doc<'a> {
    id: String,
    root: &'a Value,
}

pub(crate) struct Compiler<'a> {
    docs: Vec<Doc<'a>>,
    /// Absolute id (`Entity`, `common#relation`) → (doc index, JSON pointer).
    aliases: HashMap<String, (usize, String)>,
    /// (doc index, pointer) → node index.
    memo: HashMap<(usize, String), usize>,
    pub(crate) nodes: Vec<Node>,
}

impl<'a> Compiler<'a> {
    pub(crate) fn new() -> Self {
        Self {
            docs: Vec::new(),
            aliases: HashMap::new(),
            memo: HashMap::new(),
            nodes: Vec::new(),
        }
    }

    /// Adds a document that `$ref`s may point to. Returns its index.
    pub(crate) fn add_document(&mut self, root: &'a Value) -> usize {
        let id = root
            .get("$id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let index = self.docs.len();
        if !id.is_empty() {
            self.aliases
                .entry(id.clone())
                .or_insert((index, String::new()));
        }
        self.docs.push(Doc {
            id: id.clone(),
            root,
        });
        // Register nested `$id`s (Backstage uses fragment ids like `#relation`).
        let mut todo = vec![(root, String::new())];
        while let Some((v, ptr)) = todo.pop() {
            let Value::Object(map) = v else { continue };
            if !ptr.is_empty()
                && let Some(sub) = map.get("$id").and_then(Value::as_str)
            {
                let abs = if sub.starts_with('#') {
                    format!("{id}{sub}")
                } else {
                    sub.to_owned()
                };
                self.aliases.entry(abs).or_insert((index, ptr.clone()));
            }
            for (k, child) in map {
                if matches!(k.as_str(), "enum" | "const" | "default" | "examples") {
                    continue;
                }
                match child {
                    Value::Object(_) => todo.push((child, format!("{ptr}/{}", escape(k)))),
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            todo.push((item, format!("{ptr}/{}/{i}", escape(k))));
                        }
                    }
                    _ => {}
                }
            }
        }
        index
    }

    pub(crate) fn compile_document(&mut self, doc: usize) -> Result<usize> {
        self.compile_at(doc, String::new())
    }

    fn compile_at(&mut self, doc: usize, pointer: String) -> Result<usize> {
        if let Some(&idx) = self.memo.get(&(doc, pointer.clone())) {
            return Ok(idx);
        }
        let root = self.docs[doc].root;
        let value = if pointer.is_empty() {
            Some(root)
        } else {
            root.pointer(&pointer)
        };
        let Some(value) = value else {
            return Err(invalid(&pointer, "the schema location does not exist"));
        };
        let idx = self.nodes.len();
        self.nodes.push(Node::default());
        self.memo.insert((doc, pointer.clone()), idx);
        let node = self.compile_value(doc, &pointer, value)?;
        self.nodes[idx] = node;
        Ok(idx)
    }

    fn compile_value(&mut self, doc: usize, ptr: &str, value: &Value) -> Result<Node> {
        let map = match value {
            Value::Bool(true) => return Ok(Node::default()),
            Value::Bool(false) => {
                return Ok(Node {
                    always_false: true,
                    ..Node::default()
                });
            }
            Value::Object(map) => map,
            _ => return Err(invalid(ptr, "a schema must be an object or a boolean")),
        };
        let mut node = Node::default();
        for (key, v) in map {
            let at = format!("{ptr}/{}", escape(key));
            match key.as_str() {
                k if ANNOTATIONS.contains(&k) => {}
                "$ref" => {
                    let r = v
                        .as_str()
                        .ok_or_else(|| invalid(&at, "$ref must be a string"))?;
                    node.reference = Some(self.resolve_ref(doc, &at, r)?);
                }
                "type" => {
                    let names: Vec<&str> = match v {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(a) => a
                            .iter()
                            .map(|t| {
                                t.as_str()
                                    .ok_or_else(|| invalid(&at, "type names must be strings"))
                            })
                            .collect::<Result<_>>()?,
                        _ => return Err(invalid(&at, "type must be a string or an array")),
                    };
                    for n in &names {
                        node.types.push(
                            JsonType::parse(n)
                                .ok_or_else(|| invalid(&at, format!("unknown type \"{n}\"")))?,
                        );
                    }
                    node.type_text = names.join(",");
                }
                "const" => node.constant = Some(v.clone()),
                "enum" => {
                    node.enumeration = Some(
                        v.as_array()
                            .ok_or_else(|| invalid(&at, "enum must be an array"))?
                            .clone(),
                    );
                }
                "not" => node.not = Some(self.compile_at(doc, at)?),
                "anyOf" | "oneOf" | "allOf" => {
                    let n = v
                        .as_array()
                        .ok_or_else(|| invalid(&at, format!("{key} must be an array")))?
                        .len();
                    let mut list = Vec::with_capacity(n);
                    for i in 0..n {
                        list.push(self.compile_at(doc, format!("{at}/{i}"))?);
                    }
                    match key.as_str() {
                        "anyOf" => node.any_of = list,
                        "oneOf" => node.one_of = list,
                        _ => node.all_of = list,
                    }
                }
                "if" => {
                    let cond = self.compile_at(doc, at)?;
                    let then = match map.get("then") {
                        Some(_) => Some(self.compile_at(doc, format!("{ptr}/then"))?),
                        None => None,
                    };
                    let otherwise = match map.get("else") {
                        Some(_) => Some(self.compile_at(doc, format!("{ptr}/else"))?),
                        None => None,
                    };
                    node.if_then_else = Some((cond, then, otherwise));
                }
                "then" | "else" => {}
                "maximum" => node.maximum = Some(number(&at, v)?),
                "minimum" => node.minimum = Some(number(&at, v)?),
                "exclusiveMaximum" => node.exclusive_maximum = Some(number(&at, v)?),
                "exclusiveMinimum" => node.exclusive_minimum = Some(number(&at, v)?),
                "maxLength" => node.max_length = Some(count(&at, v)?),
                "minLength" => node.min_length = Some(count(&at, v)?),
                "pattern" => node.pattern = Some(pattern(&at, v)?),
                "maxItems" => node.max_items = Some(count(&at, v)?),
                "minItems" => node.min_items = Some(count(&at, v)?),
                "uniqueItems" => node.unique_items = v.as_bool().unwrap_or(false),
                "items" => {
                    node.items = match v {
                        Value::Array(a) => {
                            let mut list = Vec::with_capacity(a.len());
                            for i in 0..a.len() {
                                list.push(self.compile_at(doc, format!("{at}/{i}"))?);
                            }
                            Items::Tuple(list)
                        }
                        _ => Items::All(self.compile_at(doc, at)?),
                    }
                }
                "additionalItems" => node.additional_items = self.additional(doc, at, v)?,
                "maxProperties" => node.max_properties = Some(count(&at, v)?),
                "minProperties" => node.min_properties = Some(count(&at, v)?),
                "required" => {
                    node.required = v
                        .as_array()
                        .ok_or_else(|| invalid(&at, "required must be an array"))?
                        .iter()
                        .map(|p| {
                            p.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| invalid(&at, "required entries must be strings"))
                        })
                        .collect::<Result<_>>()?;
                }
                "additionalProperties" => node.additional = self.additional(doc, at, v)?,
                "properties" => {
                    let props = object(&at, v)?;
                    for name in props.keys() {
                        let child = self.compile_at(doc, format!("{at}/{}", escape(name)))?;
                        node.properties.push((name.clone(), child));
                    }
                }
                "patternProperties" => {
                    let props = object(&at, v)?;
                    for name in props.keys() {
                        let p = pattern(&at, &Value::String(name.clone()))?;
                        let child = self.compile_at(doc, format!("{at}/{}", escape(name)))?;
                        node.pattern_properties.push((p, child));
                    }
                }
                other => {
                    return Err(invalid(
                        &at,
                        format!(
                            "unsupported keyword \"{other}\"; supported are the draft-07 validation keywords except contains, propertyNames, dependencies and multipleOf"
                        ),
                    ));
                }
            }
        }
        node.simple = self.simple_shape(&node);
        if !node.types.is_empty() {
            node.type_upfront = !(node.types.len() == 1 && {
                match node.types[0] {
                    JsonType::Number | JsonType::Integer => node.has_number_rules(),
                    JsonType::String => node.has_string_rules(),
                    JsonType::Array => node.has_array_rules(),
                    JsonType::Object => node.has_object_rules(),
                    JsonType::Null | JsonType::Boolean => false,
                }
            });
        }
        Ok(node)
    }

    /// Recognises the [`Simple`] shapes: only `type`, `minLength` (and `items`) are set.
    fn simple_shape(&self, node: &Node) -> Option<Simple> {
        let only_basic = !node.always_false
            && node.reference.is_none()
            && node.constant.is_none()
            && node.enumeration.is_none()
            && node.not.is_none()
            && node.any_of.is_empty()
            && node.one_of.is_empty()
            && node.all_of.is_empty()
            && node.if_then_else.is_none()
            && !node.has_number_rules()
            && node.max_length.is_none()
            && node.pattern.is_none()
            && node.max_items.is_none()
            && node.min_items.is_none()
            && !node.unique_items
            && matches!(node.additional_items, Additional::Allowed)
            && !node.has_object_rules();
        if !only_basic {
            return None;
        }
        match (node.types.as_slice(), node.min_length, &node.items) {
            ([JsonType::String], None, Items::None) => Some(Simple::String),
            ([JsonType::String], Some(1), Items::None) => Some(Simple::NonEmptyString),
            ([JsonType::Array], None, Items::All(item)) => match self.nodes.get(*item) {
                Some(child) if child.simple == Some(Simple::NonEmptyString) => {
                    Some(Simple::NonEmptyStringArray)
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn additional(&mut self, doc: usize, at: String, v: &Value) -> Result<Additional> {
        Ok(match v {
            Value::Bool(true) => Additional::Allowed,
            Value::Bool(false) => Additional::Forbidden,
            _ => Additional::Schema(self.compile_at(doc, at)?),
        })
    }

    fn resolve_ref(&mut self, doc: usize, at: &str, r: &str) -> Result<usize> {
        let (target_doc, fragment) = match r.split_once('#') {
            Some(("", frag)) => (doc, frag),
            Some((id, frag)) => (self.doc_by_id(at, id)?, frag),
            None => (self.doc_by_id(at, r)?, ""),
        };
        if fragment.is_empty() || fragment.starts_with('/') {
            let pointer = fragment
                .split('/')
                .map(|seg| seg.replace("%25", "%"))
                .collect::<Vec<_>>()
                .join("/");
            return self.compile_at(target_doc, pointer);
        }
        let abs = format!("{}#{fragment}", self.docs[target_doc].id);
        match self.aliases.get(&abs).cloned() {
            Some((d, p)) => self.compile_at(d, p),
            None => Err(invalid(at, format!("cannot resolve $ref \"{r}\""))),
        }
    }

    fn doc_by_id(&self, at: &str, id: &str) -> Result<usize> {
        match self.aliases.get(id) {
            Some((d, p)) if p.is_empty() => Ok(*d),
            _ => Err(invalid(
                at,
                format!(
                    "cannot resolve $ref to \"{id}\": known schema ids are Entity, EntityEnvelope, EntityMeta, common and the documents you passed"
                ),
            )),
        }
    }
}

fn invalid(pointer: &str, message: impl Into<String>) -> Error {
    Error::InvalidSchema {
        pointer: if pointer.is_empty() {
            "<root>".to_owned()
        } else {
            pointer.to_owned()
        },
        message: message.into(),
    }
}

fn number(at: &str, v: &Value) -> Result<f64> {
    v.as_f64().ok_or_else(|| invalid(at, "must be a number"))
}

fn count(at: &str, v: &Value) -> Result<u64> {
    v.as_u64()
        .ok_or_else(|| invalid(at, "must be a non-negative integer"))
}

fn object<'v>(at: &str, v: &'v Value) -> Result<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| invalid(at, "must be an object"))
}

fn pattern(at: &str, v: &Value) -> Result<Pattern> {
    let source = v
        .as_str()
        .ok_or_else(|| invalid(at, "pattern must be a string"))?;
    let regex = Regex::new(&js_regex_to_rust(source)).map_err(|e| {
        invalid(
            at,
            format!("pattern \"{source}\" is not a supported regular expression: {e}"),
        )
    })?;
    Ok(Pattern {
        source: source.to_owned(),
        regex,
        non_empty_line: source == "^.+$",
    })
}

/// Escapes a key for a JSON Pointer (RFC 6901).
pub(crate) fn escape(key: &str) -> String {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1")
    } else {
        key.to_owned()
    }
}

/// Translates the JavaScript regex features that differ in Rust's `regex` crate: `\w`, `\d`
/// and `\s`-free ASCII classes, and `.` (which in JavaScript excludes `\r`, U+2028 and U+2029
/// as well as `\n`).
pub(crate) fn js_regex_to_rust(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 16);
    let mut chars = src.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('w') if in_class => out.push_str("A-Za-z0-9_"),
                Some('w') => out.push_str("[A-Za-z0-9_]"),
                Some('W') => out.push_str("[^A-Za-z0-9_]"),
                Some('d') if in_class => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('/') => out.push('/'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '.' if !in_class => out.push_str("[^\\n\\r\\u{2028}\\u{2029}]"),
            _ => out.push(c),
        }
    }
    out
}
