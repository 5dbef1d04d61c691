//! Value transforms inside config files: `${VAR}` substitution and the `$env`, `$file` and
//! `$include` directives (Backstage's `applyConfigTransforms`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::loader::{read_text, resolve_path};
use super::{js, yaml};
use crate::error::FileProblem;
use crate::{Error, Result};

/// The include directives, in Backstage's order.
const INCLUDE_KEYS: [&str; 3] = ["$file", "$env", "$include"];

/// How deep transformed data may nest (files and their includes together). Deeper data is an
/// error rather than a risk to the stack.
pub(crate) const MAX_DEPTH: usize = 256;

/// Substitutes `${…}` tokens in a string; `None` means "undefined": the value is removed.
///
/// Tokens are `${…}` and `$${…}` where `…` contains no braces. `$${X}` is the literal `${X}`;
/// `${NAME}` is the variable (name and value trimmed; unset makes the **whole** string
/// undefined); `${NAME:-fallback}` uses the trimmed fallback when the variable is unset or
/// empty (undefined if the fallback is empty too).
pub(crate) fn substitute(input: &str, env: &BTreeMap<String, String>) -> Option<String> {
    if !input.contains("${") {
        return Some(input.to_owned());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some((before, token, after)) = next_token(rest) {
        out.push_str(before);
        if let Some(escaped) = token.strip_prefix('$').filter(|t| t.starts_with('$')) {
            out.push_str(escaped);
        } else {
            // `token` is `${…}`: strip the `${` and `}`.
            let inner = token.get(2..token.len().saturating_sub(1)).unwrap_or("");
            let value = match inner.split_once(":-") {
                Some((name, fallback)) => lookup(env, js::trim(name))
                    .filter(|v| !v.is_empty())
                    .or_else(|| Some(js::trim(fallback).to_owned()).filter(|f| !f.is_empty())),
                None => lookup(env, js::trim(inner)),
            };
            out.push_str(&value?);
        }
        rest = after;
    }
    out.push_str(rest);
    Some(out)
}

/// An environment variable's value, trimmed (Backstage's `process.env[name]?.trim()`).
fn lookup(env: &BTreeMap<String, String>, name: &str) -> Option<String> {
    env.get(name).map(|value| js::trim(value).to_owned())
}

/// The first token matching `\$?\$\{[^{}]*\}`: text before it, the token, text after it.
fn next_token(s: &str) -> Option<(&str, &str, &str)> {
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(offset) = s.get(start..).and_then(|rest| rest.find('$')) {
        let at = start + offset;
        // Try `$${…}` first (the optional `$` is greedy), then `${…}`.
        for open in [at + 1, at] {
            if bytes.get(open) == Some(&b'$')
                && bytes.get(open + 1) == Some(&b'{')
                && let Some(close) = closing_brace(bytes, open + 2)
            {
                return Some((s.get(..at)?, s.get(at..=close)?, s.get(close + 1..)?));
            }
        }
        start = at + 1;
    }
    None
}

/// The index of the `}` that closes a token whose content starts at `from`, if no `{` comes
/// first.
fn closing_brace(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let end = rest.iter().position(|&b| b == b'{' || b == b'}')?;
    (rest.get(end) == Some(&b'}')).then_some(from + end)
}

/// Transforms one parsed config file. The result is the file's data (an object).
///
/// # Errors
///
/// [`Error::File`] naming `file` and the node where the problem is.
pub(crate) fn transform_file(
    data: Value,
    file: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Map<String, Value>> {
    let dir = file.parent().unwrap_or(file);
    let mut transformer = Transformer {
        env,
        includes: Vec::new(),
    };
    let mut node = String::new();
    match transformer.transform(data, &mut node, dir, 0) {
        Ok(Some(Value::Object(map))) => Ok(map),
        Ok(_) => Err(Error::File {
            path: file.to_owned(),
            node: None,
            problem: FileProblem::RootNotObject,
        }),
        Err((node, problem)) => Err(Error::File {
            path: file.to_owned(),
            node: Some(node),
            problem,
        }),
    }
}

/// The result of an include directive.
struct Included {
    /// `None` removes the node.
    value: Option<Value>,
    /// The included file's directory, for `$include`.
    dir: Option<PathBuf>,
    /// The absolute path and `#` selector of an `$include`, for cycle detection.
    source: Option<(PathBuf, String)>,
}

struct Transformer<'a> {
    env: &'a BTreeMap<String, String>,
    /// The `$include`s being expanded, outermost first.
    includes: Vec<(PathBuf, String)>,
}

impl Transformer<'_> {
    /// Transforms a node; `Ok(None)` removes it. Errors carry the node path (`.a.b[0]`).
    fn transform(
        &mut self,
        input: Value,
        node: &mut String,
        dir: &Path,
        depth: usize,
    ) -> std::result::Result<Option<Value>, (String, FileProblem)> {
        if depth > MAX_DEPTH {
            return Err((node.clone(), FileProblem::TooDeep { limit: MAX_DEPTH }));
        }
        let mut dir = Cow::Borrowed(dir);
        let mut entered = false;
        let value = match input {
            Value::String(s) => return Ok(substitute(&s, self.env).map(Value::String)),
            Value::Object(map) => match self.include(&map, &dir) {
                Err(problem) => return Err((node.clone(), problem)),
                Ok(None) => Value::Object(map),
                Ok(Some(included)) => {
                    let Some(value) = included.value else {
                        return Ok(None);
                    };
                    if let Some(new_dir) = included.dir {
                        dir = Cow::Owned(new_dir);
                    }
                    if let Some(source) = included.source
                        && (value.is_object() || value.is_array())
                    {
                        if self.includes.contains(&source) {
                            let (resolved, selector) = source;
                            return Err((
                                node.clone(),
                                FileProblem::IncludeCycle { resolved, selector },
                            ));
                        }
                        self.includes.push(source);
                        entered = true;
                    }
                    value
                }
            },
            other => other,
        };
        let result = match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    let len = node.len();
                    let _ = write!(node, "[{index}]");
                    if let Some(item) = self.transform(item, node, &dir, depth + 1)? {
                        out.push(item);
                    }
                    node.truncate(len);
                }
                Value::Array(out)
            }
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, item) in map {
                    let len = node.len();
                    node.push('.');
                    node.push_str(&key);
                    if let Some(item) = self.transform(item, node, &dir, depth + 1)? {
                        out.insert(key, item);
                    }
                    node.truncate(len);
                }
                Value::Object(out)
            }
            scalar => scalar,
        };
        if entered {
            self.includes.pop();
        }
        Ok(Some(result))
    }

    /// Applies an include directive if `map` is one (`Ok(None)` when it is not).
    fn include(
        &self,
        map: &Map<String, Value>,
        dir: &Path,
    ) -> std::result::Result<Option<Included>, FileProblem> {
        let Some(include_key) = js::object_keys(map)
            .into_iter()
            .find_map(|key| INCLUDE_KEYS.into_iter().find(|k| *k == key.as_str()))
        else {
            return Ok(None);
        };
        if map.len() != 1 {
            return Err(FileProblem::IncludeAdjacentKeys { include_key });
        }
        let Some(Value::String(raw)) = map.get(include_key) else {
            return Err(FileProblem::IncludeNotString { include_key });
        };
        let Some(target) = substitute(raw, self.env) else {
            return Err(FileProblem::IncludeUndefined { include_key });
        };
        let included = match include_key {
            "$file" => {
                let resolved = resolve_path(dir, Path::new(&target));
                let text = match read_text(&resolved) {
                    Ok(text) => text,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {
                        return Err(FileProblem::FileNotFound { target, resolved });
                    }
                    Err(source) => {
                        return Err(FileProblem::FileRead {
                            target,
                            resolved,
                            source,
                        });
                    }
                };
                Included {
                    value: Some(Value::String(js::trim_end(&text).to_owned())),
                    dir: None,
                    source: None,
                }
            }
            "$env" => Included {
                value: lookup(self.env, &target).map(Value::String),
                dir: None,
                source: None,
            },
            _ => self.include_file(&target, dir)?,
        };
        Ok(Some(included))
    }

    /// `$include: path[#a.b]`.
    fn include_file(&self, target: &str, dir: &Path) -> std::result::Result<Included, FileProblem> {
        let (file_path, selector) = split_selector(target);
        let parse: fn(&str) -> std::result::Result<Value, String> = match extname(file_path) {
            ".json" => |text| {
                serde_json::from_str::<Value>(text)
                    .map(js::normalize_numbers)
                    .map_err(|e| format!("SyntaxError: {e}"))
            },
            ".yaml" | ".yml" => {
                |text| yaml::parse(text).map_err(|e| format!("YAMLParseError: {e}"))
            }
            _ => {
                return Err(FileProblem::IncludeNoParser {
                    target: file_path.to_owned(),
                });
            }
        };
        let resolved = resolve_path(dir, Path::new(file_path));
        let text = match read_text(&resolved) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(FileProblem::IncludeNotFound { resolved });
            }
            Err(source) => return Err(FileProblem::IncludeRead { resolved, source }),
        };
        let new_dir = resolved.parent().map(Path::to_path_buf);
        let mut value = Some(parse(&text).map_err(|message| FileProblem::IncludeParse {
            target: file_path.to_owned(),
            message,
        })?);
        let parts: Vec<&str> = if selector.is_empty() {
            Vec::new()
        } else {
            selector.split('.').collect()
        };
        for (index, part) in parts.iter().enumerate() {
            let Some(Value::Object(mut object)) = value else {
                return Err(FileProblem::IncludeNotObject {
                    target: file_path.to_owned(),
                    at: parts.get(..index).unwrap_or_default().join("."),
                });
            };
            value = object.remove(*part);
        }
        if let Some(Value::String(s)) = &value {
            value = substitute(s, self.env).map(Value::String);
        }
        Ok(Included {
            value,
            dir: new_dir,
            source: Some((resolved, selector.to_owned())),
        })
    }
}

/// Splits `path#a.b` at the first `#` (the selector stops at a line break, as JavaScript's
/// `/#(.*)/` does).
fn split_selector(target: &str) -> (&str, &str) {
    match target.split_once('#') {
        Some((path, rest)) => {
            let end = rest
                .find(['\n', '\r', '\u{2028}', '\u{2029}'])
                .unwrap_or(rest.len());
            (path, rest.get(..end).unwrap_or(rest))
        }
        None => (target, ""),
    }
}

/// Node's `path.extname`: the last `.`-suffix of the last path segment, not counting a
/// leading dot (`.yaml` has none).
fn extname(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    if base == ".." {
        return "";
    }
    match base.rfind('.') {
        Some(0) | None => "",
        Some(dot) => base.get(dot..).unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn substitution_replaces_variables_trimmed() {
        let env = env(&[("A", " a "), ("EMPTY", ""), ("PORT", "7007")]);
        assert_eq!(substitute("x-${A}-y", &env).as_deref(), Some("x-a-y"));
        assert_eq!(substitute("${ A }", &env).as_deref(), Some("a"));
        assert_eq!(substitute("${PORT}", &env).as_deref(), Some("7007"));
        assert_eq!(substitute("[${EMPTY}]", &env).as_deref(), Some("[]"));
        assert_eq!(
            substitute("plain $A {A}", &env).as_deref(),
            Some("plain $A {A}")
        );
    }

    #[test]
    fn an_unset_variable_removes_the_whole_value() {
        let env = env(&[("A", "a")]);
        assert_eq!(substitute("a-${UNSET}-b", &env), None);
        assert_eq!(substitute("${A}${UNSET}", &env), None);
        assert_eq!(substitute("${}", &env), None);
    }

    #[test]
    fn escapes_consume_one_dollar() {
        let env = env(&[("X", "x")]);
        assert_eq!(substitute("$${X}", &env).as_deref(), Some("${X}"));
        assert_eq!(substitute("$$${X}", &env).as_deref(), Some("$${X}"));
        assert_eq!(
            substitute("a$${UNSET}b", &env).as_deref(),
            Some("a${UNSET}b")
        );
    }

    #[test]
    fn fallbacks_apply_to_unset_and_empty_variables() {
        let env = env(&[("T", "t"), ("E", "")]);
        assert_eq!(substitute("${T:-x:-y}", &env).as_deref(), Some("t"));
        assert_eq!(substitute("${U:- fb }", &env).as_deref(), Some("fb"));
        assert_eq!(substitute("${E:-fb}", &env).as_deref(), Some("fb"));
        assert_eq!(substitute("${U:-x:-y}", &env).as_deref(), Some("x:-y"));
        assert_eq!(substitute("${U:-}", &env), None);
        assert_eq!(substitute("${U:- }", &env), None);
    }

    #[test]
    fn braces_inside_a_token_make_it_literal() {
        let env = env(&[("B", "b")]);
        assert_eq!(substitute("${A{B}}", &env).as_deref(), Some("${A{B}}"));
        assert_eq!(substitute("${A{${B}", &env).as_deref(), Some("${A{b"));
        assert_eq!(
            substitute("${unclosed", &env).as_deref(),
            Some("${unclosed")
        );
        assert_eq!(substitute("$$", &env).as_deref(), Some("$$"));
    }

    #[test]
    fn selectors_split_at_the_first_hash() {
        assert_eq!(split_selector("a.yaml#x.y#z"), ("a.yaml", "x.y#z"));
        assert_eq!(split_selector("a.yaml#"), ("a.yaml", ""));
        assert_eq!(split_selector("a.yaml"), ("a.yaml", ""));
        assert_eq!(split_selector("a.yaml#x\ny"), ("a.yaml", "x"));
    }

    #[test]
    fn extname_matches_node() {
        assert_eq!(extname("a.yaml"), ".yaml");
        assert_eq!(extname("dir/a.b.json"), ".json");
        assert_eq!(extname(".yaml"), "");
        assert_eq!(extname("dir.yaml/file"), "");
        assert_eq!(extname("a.yaml/"), ".yaml");
        assert_eq!(extname("a."), ".");
        assert_eq!(extname(".."), "");
        assert_eq!(extname("a.YAML"), ".YAML");
    }
}
