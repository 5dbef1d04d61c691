//! YAML config text to JSON values, as Backstage's `yaml.parse` (the JavaScript `yaml`
//! library 2.x, YAML 1.2 core schema) produces them.
//!
//! Built on `saphyr-parser`'s event stream, because the results must follow the JavaScript
//! library where `yaml_serde` (libyaml's YAML 1.1 habits) does not: `017` and `08` are numbers,
//! `0b101`, `-0x10`, `+0o7` are strings, integers of any size are numbers, U+0085 is not a line
//! break, `!!float 1` stays a string and `!!null ''` is null.
//!
//! * One document per file: an empty stream (or only comments) is `null`, a second document is
//!   an error.
//! * Plain scalars resolve with the core schema: `~`/`null`/empty are null; only `true`/`false`
//!   (three spellings each) are booleans, so `yes`, `no`, `on`, `off`, `y` and `n` stay
//!   strings; `012` is 12, `0o17` is 15, `0x1F` is 31; `2021-01-01` and `1_000` stay strings.
//!   Quoted and block scalars are strings. Explicit core tags (`!!str`, `!!int`, `!!float`,
//!   `!!bool`, `!!null`) apply when the text fits them, else the scalar stays a string; a
//!   scalar with any other tag is a string (`!foo 12` is `"12"`); tags on collections are
//!   ignored.
//! * Numbers are stored as JavaScript holds them: integral values are integers (`1.0` is 1),
//!   integers beyond 2^53 lose precision, non-finite numbers (`.inf`, `.nan`, `1e400`) become
//!   `null`, which is what `JSON.stringify` makes of them.
//! * Keys become strings the JavaScript way (`1.0` and `1` are `"1"`, `true` is `"true"`, `~`
//!   is `""`). Two keys that are the same scalar (`1` and `01`, or `a` twice) are an error; a
//!   string and a number that print the same (`'1'` and `1`) are not: the later wins, as in
//!   JavaScript. Sequence and mapping keys are rejected (JavaScript turns them into strings).
//!   `<<` is an ordinary key.
//! * Aliases are copied. Copies are bounded by a budget of `1_000_000 + 2 × length` nodes
//!   (strings count one more per 16 bytes), so alias bombs fail fast; nesting is limited to 256
//!   levels.
//! * Not followed: a `%YAML 1.1` directive (the JavaScript library then switches to YAML 1.1
//!   scalars).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Value};

use super::js;

/// Maximum nesting depth of mappings and sequences.
pub(crate) const MAX_DEPTH: usize = 256;

/// A string costs one more budget unit per this many bytes.
const BYTES_PER_UNIT: usize = 16;

/// Prefix of the core-schema tags (`!!str` is `tag:yaml.org,2002:str`).
const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// Parses one YAML document into JSON.
///
/// # Errors
///
/// A message for syntax errors, more than one document, duplicate keys, collection keys, and
/// exceeded limits.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::new(text.len());
    let mut documents = 0;
    while let Some(next) = parser.next_event() {
        let (event, _span) = next.map_err(|e| scan_error(&e))?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(
                        "source contains more than one document (a config file holds one)"
                            .to_owned(),
                    );
                }
            }
            other => builder.event(other)?,
        }
    }
    if !builder.stack.is_empty() {
        return Err("unexpected end of input".to_owned());
    }
    Ok(builder.root.unwrap_or(Value::Null))
}

fn scan_error(error: &ScanError) -> String {
    let marker = error.marker();
    format!(
        "{} at line {} column {}",
        error.info(),
        marker.line(),
        marker.col() + 1
    )
}

/// A mapping key's identity, to tell duplicate keys (the same scalar) from keys that merely
/// print the same.
#[derive(Debug, Clone, PartialEq)]
enum KeyId {
    Str,
    Num(f64),
    Bool(bool),
    Null,
}

/// A resolved scalar; `Str` keeps the scalar's text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Number(f64),
    Str,
}

#[derive(Debug)]
enum Frame {
    Sequence(Vec<Value>),
    Mapping {
        map: Map<String, Value>,
        ids: HashMap<String, KeyId>,
        pending: Option<String>,
    },
}

#[derive(Debug)]
struct Collection {
    frame: Frame,
    anchor: usize,
    /// Largest height among finished children.
    child_height: usize,
    /// Budget used before the collection started.
    cost_before: usize,
}

/// An anchored node, kept for aliases.
#[derive(Debug)]
struct Anchored {
    value: Value,
    height: usize,
    cost: usize,
}

struct Builder {
    stack: Vec<Collection>,
    anchors: HashMap<usize, Anchored>,
    used: usize,
    budget: usize,
    root: Option<Value>,
}

impl Builder {
    fn new(len: usize) -> Self {
        Self {
            stack: Vec::new(),
            anchors: HashMap::new(),
            used: 0,
            budget: 1_000_000_usize.saturating_add(len.saturating_mul(2)),
            root: None,
        }
    }

    fn charge(&mut self, units: usize) -> Result<(), String> {
        self.used = self.used.saturating_add(units);
        if self.used > self.budget {
            return Err(format!("aliases expand to more than {} nodes", self.budget));
        }
        Ok(())
    }

    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Collection {
                frame: Frame::Mapping { pending: None, .. },
                ..
            })
        )
    }

    fn set_key(&mut self, key: String, id: KeyId) -> Result<(), String> {
        self.charge(key.len() / BYTES_PER_UNIT)?;
        if let Some(Collection {
            frame: Frame::Mapping { ids, pending, .. },
            ..
        }) = self.stack.last_mut()
        {
            if ids.get(&key) == Some(&id) {
                return Err(format!("map keys must be unique (duplicate key \"{key}\")"));
            }
            ids.insert(key.clone(), id);
            *pending = Some(key);
        }
        Ok(())
    }

    fn attach(&mut self, value: Value, height: usize) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(collection) => {
                collection.child_height = collection.child_height.max(height);
                match &mut collection.frame {
                    Frame::Sequence(items) => items.push(value),
                    Frame::Mapping { map, pending, .. } => {
                        if let Some(key) = pending.take() {
                            map.insert(key, value);
                        }
                    }
                }
            }
        }
    }

    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let resolved = resolve(&text, style, tag.as_deref());
                let units = 1 + if resolved == Scalar::Str {
                    text.len() / BYTES_PER_UNIT
                } else {
                    0
                };
                let value = match resolved {
                    Scalar::Null => Value::Null,
                    Scalar::Bool(b) => Value::Bool(b),
                    Scalar::Number(n) => js::number_value(n),
                    Scalar::Str => Value::String(text.into_owned()),
                };
                if anchor != 0 {
                    self.charge(units)?;
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            value: value.clone(),
                            height: 0,
                            cost: units,
                        },
                    );
                }
                if self.expects_key() {
                    let (key, id) = key_of(resolved, &value);
                    return self.set_key(key, id);
                }
                self.charge(units)?;
                self.attach(value, 0);
            }
            Event::Alias(id) => self.alias(id)?,
            Event::SequenceStart(anchor, _) => {
                self.start(Frame::Sequence(Vec::new()), anchor)?;
            }
            Event::MappingStart(anchor, _) => self.start(
                Frame::Mapping {
                    map: Map::new(),
                    ids: HashMap::new(),
                    pending: None,
                },
                anchor,
            )?,
            Event::SequenceEnd | Event::MappingEnd => self.end()?,
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn start(&mut self, frame: Frame, anchor: usize) -> Result<(), String> {
        if self.expects_key() {
            return Err("mapping keys must be scalars, not sequences or mappings".to_owned());
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        let cost_before = self.used;
        self.charge(1)?;
        self.stack.push(Collection {
            frame,
            anchor,
            child_height: 0,
            cost_before,
        });
        Ok(())
    }

    fn end(&mut self) -> Result<(), String> {
        let Some(collection) = self.stack.pop() else {
            return Err("unexpected end of collection".to_owned());
        };
        let value = match collection.frame {
            Frame::Sequence(items) => Value::Array(items),
            Frame::Mapping {
                map, pending: None, ..
            } => Value::Object(map),
            Frame::Mapping {
                pending: Some(_), ..
            } => return Err("mapping key without value".to_owned()),
        };
        let height = collection.child_height + 1;
        if collection.anchor != 0 {
            let cost = self.used.saturating_sub(collection.cost_before);
            self.charge(cost)?;
            self.anchors.insert(
                collection.anchor,
                Anchored {
                    value: value.clone(),
                    height,
                    cost,
                },
            );
        }
        self.attach(value, height);
        Ok(())
    }

    fn alias(&mut self, id: usize) -> Result<(), String> {
        let Some(anchored) = self.anchors.get(&id) else {
            return Err("alias refers to a node that contains it".to_owned());
        };
        if self.expects_key() {
            let value = anchored.value.clone();
            let resolved = match &value {
                Value::Null => Scalar::Null,
                Value::Bool(b) => Scalar::Bool(*b),
                Value::Number(n) => Scalar::Number(n.as_f64().unwrap_or(f64::NAN)),
                Value::String(_) => Scalar::Str,
                Value::Array(_) | Value::Object(_) => {
                    return Err(
                        "mapping keys must be scalars, not sequences or mappings".to_owned()
                    );
                }
            };
            let (key, key_id) = key_of(resolved, &value);
            return self.set_key(key, key_id);
        }
        let (height, cost) = (anchored.height, anchored.cost);
        if self.stack.len() + height > MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        self.charge(cost)?;
        let value = self
            .anchors
            .get(&id)
            .map_or(Value::Null, |anchored| anchored.value.clone());
        self.attach(value, height);
        Ok(())
    }
}

/// The object key a scalar becomes (JavaScript's `String(value)`, `null` as `""`) and its
/// identity for duplicate detection.
fn key_of(scalar: Scalar, value: &Value) -> (String, KeyId) {
    match scalar {
        Scalar::Null => (String::new(), KeyId::Null),
        Scalar::Bool(b) => (b.to_string(), KeyId::Bool(b)),
        Scalar::Number(n) => (js::number_to_string(n), KeyId::Num(n)),
        Scalar::Str => (value.as_str().unwrap_or_default().to_owned(), KeyId::Str),
    }
}

/// Which core tag (if any) a node carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CoreTag {
    /// The non-specific tag `!`: the scalar is a string.
    NonSpecific,
    Str,
    Null,
    Bool,
    Int,
    Float,
    /// `!!map`, `!!seq`, unknown core tags and local or global tags: ignored.
    Other,
}

fn core_tag(tag: &Tag) -> CoreTag {
    if tag.handle.is_empty() && tag.suffix == "!" {
        return CoreTag::NonSpecific;
    }
    let name = if tag.handle == CORE_TAG_PREFIX {
        Some(tag.suffix.as_str())
    } else if tag.handle.is_empty() {
        tag.suffix.strip_prefix(CORE_TAG_PREFIX)
    } else {
        None
    };
    match name {
        Some("str") => CoreTag::Str,
        Some("null") => CoreTag::Null,
        Some("bool") => CoreTag::Bool,
        Some("int") => CoreTag::Int,
        Some("float") => CoreTag::Float,
        _ => CoreTag::Other,
    }
}

/// Resolves a scalar: untagged plain scalars follow the core schema, quoted and block scalars
/// are strings, explicit core tags apply when the text fits them, other tags make strings.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Scalar {
    let Some(tag) = tag else {
        return if style == ScalarStyle::Plain {
            resolve_plain(text)
        } else {
            Scalar::Str
        };
    };
    match core_tag(tag) {
        // Unknown tags are not resolved: the JavaScript library keeps the text (with a warning).
        CoreTag::Other | CoreTag::NonSpecific | CoreTag::Str => Scalar::Str,
        CoreTag::Null => {
            if is_null(text) {
                Scalar::Null
            } else {
                Scalar::Str
            }
        }
        CoreTag::Bool => parse_bool(text).map_or(Scalar::Str, Scalar::Bool),
        CoreTag::Int => parse_int(text).map_or(Scalar::Str, Scalar::Number),
        CoreTag::Float => parse_tagged_float(text).map_or(Scalar::Str, Scalar::Number),
    }
}

fn resolve_plain(text: &str) -> Scalar {
    if is_null(text) {
        return Scalar::Null;
    }
    if let Some(b) = parse_bool(text) {
        return Scalar::Bool(b);
    }
    if let Some(n) = parse_int(text).or_else(|| parse_float(text)) {
        return Scalar::Number(n);
    }
    Scalar::Str
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+` (no sign on the prefixed forms).
fn parse_int(text: &str) -> Option<f64> {
    if let Some(digits) = text.strip_prefix("0o") {
        return parse_radix(digits, 8);
    }
    if let Some(digits) = text.strip_prefix("0x") {
        return parse_radix(digits, 16);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<f64>().ok()
}

fn parse_radix(digits: &str, radix: u32) -> Option<f64> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let prefix = if radix == 16 { "0x" } else { "0o" };
    Some(js::string_to_number(&format!("{prefix}{digits}")))
}

/// The core schema's floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`,
/// `[-+]?.inf` and `.nan` (three spellings each).
fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    match unsigned {
        ".inf" | ".Inf" | ".INF" => {
            return Some(if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    let bytes = unsigned.as_bytes();
    let digits_from = |start: usize| {
        bytes.get(start..).map_or(0, |rest| {
            rest.iter().take_while(|c| c.is_ascii_digit()).count()
        })
    };
    let int_digits = digits_from(0);
    let mut i = int_digits;
    if bytes.get(i) == Some(&b'.') {
        let frac_digits = digits_from(i + 1);
        if int_digits == 0 && frac_digits == 0 {
            return None;
        }
        i += 1 + frac_digits;
    } else if int_digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_digits = digits_from(i);
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok()
}

/// `!!float` needs a point, an exponent, or `.inf`/`.nan`: the JavaScript library leaves
/// `!!float 1` a string.
fn parse_tagged_float(text: &str) -> Option<f64> {
    let looks_float = text.contains(['.', 'e', 'E']);
    parse_float(text).filter(|_| looks_float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> Value {
        parse(text).unwrap()
    }

    #[test]
    fn empty_documents_are_null() {
        assert_eq!(ok(""), Value::Null);
        assert_eq!(ok("# only a comment\n"), Value::Null);
        assert_eq!(ok("~"), Value::Null);
        assert_eq!(ok("---\n"), Value::Null);
        assert_eq!(ok("---\na: 1\n"), json!({ "a": 1 }));
        assert_eq!(ok("a: 1\n...\n"), json!({ "a": 1 }));
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        assert_eq!(
            ok("a: yes\nb: on\nc: no\nd: off\ne: y\nf: n\ng: true\nh: False\ni: TRUE"),
            json!({
                "a": "yes", "b": "on", "c": "no", "d": "off", "e": "y", "f": "n",
                "g": true, "h": false, "i": true
            })
        );
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        assert_eq!(
            ok(
                "a: 0x1F\nb: 0o17\nc: 1e3\nd: 1.0\ne: .5\nf: ~\ng: null\nh: 2001-01-01\n\
                i: 1_000\nj: '42'\nk: 017\nl: 08\nm: 0b101\nn: -0x10\no: +0o7\np: +12\nq: -1.5e-3"
            ),
            json!({
                "a": 31, "b": 15, "c": 1000, "d": 1, "e": 0.5, "f": null, "g": null,
                "h": "2001-01-01", "i": "1_000", "j": "42", "k": 17, "l": 8, "m": "0b101",
                "n": "-0x10", "o": "+0o7", "p": 12, "q": -0.0015
            })
        );
    }

    #[test]
    fn integers_of_any_size_are_numbers() {
        let value =
            ok("a: 123456789012345678901234567890\nb: 0xFFFFFFFFFFFFFFFFFF\nc: 9007199254740993");
        assert_eq!(value["a"].as_f64(), Some(1.234_567_890_123_456_8e29));
        assert_eq!(value["b"].as_f64(), Some(4.722_366_482_869_645e21));
        assert_eq!(value["c"], json!(9_007_199_254_740_992_u64));
    }

    #[test]
    fn non_finite_numbers_become_null() {
        assert_eq!(
            ok("a: .inf\nb: -.inf\nc: .nan\nd: 1e400"),
            json!({ "a": null, "b": null, "c": null, "d": null })
        );
    }

    #[test]
    fn explicit_core_tags_apply_when_the_text_fits() {
        assert_eq!(
            ok(
                "a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!float 1.5\ne: !!null ''\n\
                f: !!bool 'true'\ng: !!int x\nh: ! 12\ni: !foo 12\nj: !foo [1]"
            ),
            json!({
                "a": "12", "b": 7, "c": "1", "d": 1.5, "e": null, "f": true, "g": "x",
                "h": "12", "i": "12", "j": [1]
            })
        );
    }

    #[test]
    fn keys_are_stringified_like_javascript() {
        assert_eq!(
            ok("1: a\n1.5: b\ntrue: c\n~: d\n0x10: e"),
            json!({ "1": "a", "1.5": "b", "true": "c", "": "d", "16": "e" })
        );
        // A string and a number that print the same: the later wins.
        assert_eq!(ok("'1': a\n1: b"), json!({ "1": "b" }));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        for text in [
            "a: 1\na: 2",
            "1: a\n1.0: b",
            "v: {1: a, 01: b}",
            "'a': 1\n\"a\": 2",
        ] {
            assert!(parse(text).unwrap_err().contains("unique"), "{text}");
        }
    }

    #[test]
    fn collection_keys_are_rejected() {
        assert!(parse("? [a]\n: b").is_err());
        assert!(parse("x: &x [1]\n*x : b").is_err());
    }

    #[test]
    fn merge_keys_are_ordinary_keys() {
        assert_eq!(ok("<<: {a: 1}\nb: 2"), json!({ "<<": { "a": 1 }, "b": 2 }));
    }

    #[test]
    fn aliases_expand() {
        assert_eq!(
            ok("a: &x [1]\nb: *x\nc: &s str\n*s : key"),
            json!({ "a": [1], "b": [1], "c": "str", "str": "key" })
        );
    }

    #[test]
    fn nel_is_not_a_line_break() {
        assert_eq!(
            ok("a: \"x\u{85}y\"\nb: x\u{85}y"),
            json!({ "a": "x\u{85}y", "b": "x\u{85}y" })
        );
    }

    #[test]
    fn multiple_documents_and_syntax_errors_are_errors() {
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        assert!(parse("a: 1\n---\n").is_err());
        assert!(parse("a: [1").is_err());
        assert!(parse("a: -").is_err());
        assert!(parse("a: *unknown").is_err());
    }

    #[test]
    fn nesting_and_alias_bombs_are_bounded() {
        let ok_depth = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&ok_depth).is_ok());
        let block: String = (0..200)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        assert!(parse(&block).is_ok());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&deep).is_err());
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for i in 0..9u8 {
            let (name, prev) = (char::from(b'b' + i), char::from(b'a' + i));
            let refs = vec![format!("*{prev}"); 10].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        assert!(parse(&bomb).unwrap_err().contains("aliases"));
    }
}
