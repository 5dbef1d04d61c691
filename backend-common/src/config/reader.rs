//! [`ConfigReader`]: layered lookup with Backstage's rules.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::ConfigLayer;
use super::js;
use crate::{Error, Result};

/// Context of a reader built without a source name.
const MOCK_CONTEXT: &str = "mock-config";

/// Reads typed values from layered configuration: Backstage's `ConfigReader`.
///
/// A reader is one layer's data plus a fallback to the next-lower layer. Lookups follow
/// Backstage's rules exactly:
///
/// * Keys are dotted paths; every segment must match `^[a-z][a-z0-9]*(?:[-_:][a-z0-9]+)*$`
///   (case-insensitive), else [`Error::InvalidKey`]. Arrays are read whole; there is no index
///   syntax.
/// * Typed getters take the value from the **highest** layer that has the key, without merging.
///   A `null` there (or on the way there) means "explicitly absent": lower layers are not asked.
///   Walking through a non-object is an [`Error::InvalidType`] naming that layer's context.
/// * [`get`](Self::get)/[`optional`](Self::optional) deep-merge all layers: objects merge
///   key by key (the higher layer wins), anything else (arrays included) replaces the lower
///   value whole, and `null`s are removed from objects (kept inside arrays).
/// * The optional getters return `Ok(None)` for absent and `null` values; the required ones
///   return [`Error::Missing`] instead, naming the context of the reader they were called on.
///   Empty strings are type errors (`got empty-string`) even for the optional getters.
///
/// A reader is cheap to clone: the data sits behind an [`Arc`]. `Debug` shows contexts and key
/// names, never values.
///
/// ```
/// use backstage_backend_common::config::{ConfigLayer, ConfigReader};
/// use serde_json::json;
///
/// let config = ConfigReader::from_layers(vec![
///     ConfigLayer::new(json!({ "app": { "title": "Base", "port": "7007" } }), "app-config.yaml"),
///     ConfigLayer::new(json!({ "app": { "title": "Local", "port": null } }), "app-config.local.yaml"),
/// ]);
/// assert_eq!(config.string("app.title")?, "Local");
/// assert_eq!(config.optional_number("app.port")?, None); // `null` hides the lower layer
/// assert_eq!(config.get("app")?, json!({ "title": "Local" }));
/// let err = config.string("app.missing").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Missing required config value at 'app.missing' in 'app-config.local.yaml'"
/// );
/// # Ok::<(), backstage_backend_common::Error>(())
/// ```
#[derive(Clone)]
pub struct ConfigReader {
    node: Arc<Node>,
}

struct Node {
    /// `None` only for a reader built from no layers at all.
    data: Option<Value>,
    context: String,
    fallback: Option<ConfigReader>,
    /// The full key of this sub-reader (`backend.database`, `list[0]`), empty at the root.
    prefix: String,
}

/// The outcome of walking a key through one layer.
enum Found<'a> {
    /// The key is not there: ask the fallback.
    Undefined,
    /// `null` at the key or on the way: explicitly absent.
    Null,
    /// A non-null value.
    Value(&'a Value),
}

impl<'a> Found<'a> {
    fn of(value: &'a Value) -> Self {
        if value.is_null() {
            Found::Null
        } else {
            Found::Value(value)
        }
    }
}

/// Why a typed getter rejected a value: what it expected, and optionally the offending array
/// element and its key.
struct Invalid<'a> {
    expected: &'static str,
    element: Option<(String, &'a Value)>,
}

impl Invalid<'_> {
    fn expected(expected: &'static str) -> Self {
        Self {
            expected,
            element: None,
        }
    }
}

/// Backstage's `typeOf` for error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Array(_) => "array",
        Value::String(s) if s.is_empty() => "empty-string",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Object(_) => "object",
    }
}

/// Backstage's `merge(into, from)`: `None` stands for `undefined`. Objects merge key by key
/// (keys of `into` first), `null`s in objects are dropped, anything else in `into` wins whole.
fn merge(into: &Value, from: Option<&Value>) -> Option<Value> {
    match into {
        Value::Null => None,
        Value::Object(into_map) => {
            let from_map = from.and_then(Value::as_object);
            let mut out = Map::new();
            for (key, value) in into_map {
                if let Some(merged) = merge(value, from_map.and_then(|m| m.get(key))) {
                    out.insert(key.clone(), merged);
                }
            }
            for (key, value) in from_map.into_iter().flatten() {
                if !into_map.contains_key(key)
                    && let Some(merged) = merge(value, None)
                {
                    out.insert(key.clone(), merged);
                }
            }
            Some(Value::Object(js::js_ordered(out)))
        }
        other => Some(other.clone()),
    }
}

impl ConfigReader {
    fn with(
        data: Option<Value>,
        context: String,
        fallback: Option<ConfigReader>,
        prefix: String,
    ) -> Self {
        Self {
            node: Arc::new(Node {
                data,
                context,
                fallback,
                prefix,
            }),
        }
    }

    /// A reader over layers, lowest priority first (Backstage's `ConfigReader.fromConfigs`).
    /// With no layers, every value is absent and the context is `mock-config`.
    #[must_use]
    pub fn from_layers(layers: Vec<ConfigLayer>) -> Self {
        let mut reader: Option<ConfigReader> = None;
        for layer in layers {
            reader = Some(Self::with(
                Some(layer.data),
                layer.context,
                reader,
                String::new(),
            ));
        }
        reader.unwrap_or_else(|| Self::with(None, MOCK_CONTEXT.to_owned(), None, String::new()))
    }

    /// A reader over one layer with context `mock-config` (Backstage's `new ConfigReader(data)`).
    #[must_use]
    pub fn from_value(data: Value) -> Self {
        Self::with(Some(data), MOCK_CONTEXT.to_owned(), None, String::new())
    }

    /// The context (source name) of this reader's layer: for error messages.
    #[must_use]
    pub fn context(&self) -> &str {
        &self.node.context
    }

    /// The full key this reader was obtained at (`backend.database`, `list[0]`), empty for the
    /// root reader.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.node.prefix
    }

    fn full_key(&self, key: &str) -> String {
        let prefix = &self.node.prefix;
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    }

    fn missing(&self, key: &str) -> Error {
        Error::Missing {
            key: self.full_key(key),
            context: self.node.context.clone(),
        }
    }

    /// Walks `key` through this layer's data only.
    fn read_value(&self, key: &str) -> Result<Found<'_>> {
        let parts: Vec<&str> = if key.is_empty() {
            Vec::new()
        } else {
            key.split('.').collect()
        };
        if !parts.iter().all(|part| js::is_valid_key_part(part)) {
            return Err(Error::InvalidKey {
                key: key.to_owned(),
            });
        }
        let Some(data) = &self.node.data else {
            return Ok(Found::Undefined);
        };
        let mut current = Found::of(data);
        for (index, part) in parts.iter().enumerate() {
            match current {
                Found::Value(Value::Object(map)) => {
                    current = map.get(*part).map_or(Found::Undefined, Found::of);
                }
                Found::Value(other) => {
                    let walked = parts.get(..index).unwrap_or_default().join(".");
                    return Err(Error::InvalidType {
                        key: self.full_key(&walked),
                        context: self.node.context.clone(),
                        actual: type_name(other),
                        expected: "object",
                    });
                }
                Found::Undefined | Found::Null => {}
            }
        }
        Ok(current)
    }

    /// Backstage's `readConfigValue`: the highest layer that has the key decides.
    fn read_config_value<'s, T>(
        &'s self,
        key: &str,
        validate: &dyn Fn(&'s Value) -> std::result::Result<T, Invalid<'s>>,
    ) -> Result<Option<T>> {
        match self.read_value(key)? {
            Found::Undefined => match &self.node.fallback {
                Some(fallback) => fallback.read_config_value(key, validate),
                None => Ok(None),
            },
            Found::Null => Ok(None),
            Found::Value(value) => match validate(value) {
                Ok(result) => Ok(Some(result)),
                Err(invalid) => {
                    let (bad_key, bad_value) =
                        invalid.element.unwrap_or_else(|| (key.to_owned(), value));
                    Err(Error::InvalidType {
                        key: self.full_key(&bad_key),
                        context: self.node.context.clone(),
                        actual: type_name(bad_value),
                        expected: invalid.expected,
                    })
                }
            },
        }
    }

    /// The deep-merged value of the whole configuration (`get()` without a key). An empty
    /// object when there is nothing.
    #[must_use]
    pub fn value(&self) -> Value {
        self.optional("")
            .ok()
            .flatten()
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// The deep-merged value at `key` (the empty key is the whole config).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`], [`Error::InvalidType`] (a layer walks through a non-object; every
    /// layer is consulted), [`Error::Missing`].
    pub fn get(&self, key: &str) -> Result<Value> {
        self.optional(key)?.ok_or_else(|| self.missing(key))
    }

    /// The deep-merged value at `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`], [`Error::InvalidType`].
    pub fn optional(&self, key: &str) -> Result<Option<Value>> {
        let value = self.read_value(key)?;
        let fallback_value = match &self.node.fallback {
            Some(fallback) => fallback.optional(key)?,
            None => None,
        };
        Ok(match value {
            Found::Null => None,
            Found::Undefined => fallback_value,
            Found::Value(value) => merge(value, fallback_value.as_ref()),
        })
    }

    /// A non-empty string.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`], [`Error::InvalidType`] (including `got empty-string`),
    /// [`Error::InvalidKey`].
    pub fn string(&self, key: &str) -> Result<String> {
        self.optional_string(key)?.ok_or_else(|| self.missing(key))
    }

    /// A non-empty string, if any. The empty string is a type error here too.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidType`], [`Error::InvalidKey`].
    pub fn optional_string(&self, key: &str) -> Result<Option<String>> {
        self.read_config_value(key, &|value| match value {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(Invalid::expected("string")),
        })
    }

    /// A number; strings are converted like JavaScript's `Number(string)` (whitespace ignored,
    /// `""` is 0, `0x`/`0o`/`0b` prefixes, exponents), and must give a finite number.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`], [`Error::InvalidType`], [`Error::Conversion`], [`Error::InvalidKey`].
    pub fn number(&self, key: &str) -> Result<f64> {
        self.optional_number(key)?.ok_or_else(|| self.missing(key))
    }

    /// A number, if any; see [`number`](Self::number).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidType`], [`Error::Conversion`], [`Error::InvalidKey`].
    pub fn optional_number(&self, key: &str) -> Result<Option<f64>> {
        let value = self.read_config_value(key, &|value| match value {
            Value::Number(_) | Value::String(_) => Ok(value),
            _ => Err(Invalid::expected("number")),
        })?;
        let number = match value {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(Value::String(s)) => js::string_to_number(s),
            Some(_) => f64::NAN,
        };
        if number.is_finite() {
            Ok(Some(number))
        } else {
            Err(Error::Conversion {
                key: self.full_key(key),
                context: self.node.context.clone(),
                target: "number",
            })
        }
    }

    /// A boolean; numbers and strings are converted: after trimming, case-insensitively,
    /// `y`, `yes`, `true`, `1`, `on` are true and `n`, `no`, `false`, `0`, `off` are false.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`], [`Error::InvalidType`], [`Error::Conversion`], [`Error::InvalidKey`].
    pub fn boolean(&self, key: &str) -> Result<bool> {
        self.optional_boolean(key)?.ok_or_else(|| self.missing(key))
    }

    /// A boolean, if any; see [`boolean`](Self::boolean).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidType`], [`Error::Conversion`], [`Error::InvalidKey`].
    pub fn optional_boolean(&self, key: &str) -> Result<Option<bool>> {
        let value = self.read_config_value(key, &|value| match value {
            Value::Bool(_) | Value::Number(_) | Value::String(_) => Ok(value),
            _ => Err(Invalid::expected("boolean")),
        })?;
        let text = match value {
            None => return Ok(None),
            Some(Value::Bool(b)) => return Ok(Some(*b)),
            Some(Value::Number(n)) => js::number_to_string(n.as_f64().unwrap_or(f64::NAN)),
            Some(Value::String(s)) => js::trim(s).to_ascii_lowercase(),
            Some(_) => String::new(),
        };
        match text.as_str() {
            "y" | "yes" | "true" | "1" | "on" => Ok(Some(true)),
            "n" | "no" | "false" | "0" | "off" => Ok(Some(false)),
            _ => Err(Error::Conversion {
                key: self.full_key(key),
                context: self.node.context.clone(),
                target: "boolean",
            }),
        }
    }

    /// An array of non-empty strings (`[]` is fine), from the highest layer that has it.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`], [`Error::InvalidType`] (keyed `<key>[<i>]` for a bad element,
    /// `wanted string-array`), [`Error::InvalidKey`].
    pub fn string_array(&self, key: &str) -> Result<Vec<String>> {
        self.optional_string_array(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// An array of non-empty strings, if any; see [`string_array`](Self::string_array).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidType`], [`Error::InvalidKey`].
    pub fn optional_string_array(&self, key: &str) -> Result<Option<Vec<String>>> {
        self.read_config_value(key, &|value| {
            let Value::Array(items) = value else {
                return Err(Invalid::expected("string-array"));
            };
            let mut strings = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) if !s.is_empty() => strings.push(s.clone()),
                    _ => {
                        return Err(Invalid {
                            expected: "string-array",
                            element: Some((format!("{key}[{index}]"), item)),
                        });
                    }
                }
            }
            Ok(strings)
        })
    }

    /// A sub-reader over the object at `key`. Its fallback is the lower layers' sub-reader at
    /// the same key, computed eagerly: a lower layer with a non-object there is an error even
    /// when a higher layer has an object.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`], [`Error::InvalidType`], [`Error::InvalidKey`].
    pub fn config(&self, key: &str) -> Result<ConfigReader> {
        self.optional_config(key)?.ok_or_else(|| self.missing(key))
    }

    /// A sub-reader over the object at `key`, if any; see [`config`](Self::config).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidType`], [`Error::InvalidKey`].
    pub fn optional_config(&self, key: &str) -> Result<Option<ConfigReader>> {
        let value = self.read_value(key)?;
        let fallback_config = match &self.node.fallback {
            Some(fallback) => fallback.optional_config(key)?,
            None => None,
        };
        match value {
            Found::Value(object @ Value::Object(_)) => {
                Ok(Some(self.sub_reader(object.clone(), key, fallback_config)))
            }
            Found::Null => Ok(None),
            Found::Value(other) => Err(Error::InvalidType {
                key: self.full_key(key),
                context: self.node.context.clone(),
                actual: type_name(other),
                expected: "object",
            }),
            Found::Undefined => Ok(fallback_config),
        }
    }

    /// One sub-reader per element of the array of objects at `key`, from the highest layer
    /// that has it. Element readers have no fallback; their keys are prefixed `<key>[<i>]` and
    /// their context is this reader's.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`], [`Error::InvalidType`] (`wanted object-array`), [`Error::InvalidKey`].
    pub fn config_array(&self, key: &str) -> Result<Vec<ConfigReader>> {
        self.optional_config_array(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// The array of objects at `key`, if any; see [`config_array`](Self::config_array).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidType`], [`Error::InvalidKey`].
    pub fn optional_config_array(&self, key: &str) -> Result<Option<Vec<ConfigReader>>> {
        let items = self.read_config_value(key, &|value| {
            let Value::Array(items) = value else {
                return Err(Invalid::expected("object-array"));
            };
            for (index, item) in items.iter().enumerate() {
                if !item.is_object() {
                    return Err(Invalid {
                        expected: "object-array",
                        element: Some((format!("{key}[{index}]"), item)),
                    });
                }
            }
            Ok(items)
        })?;
        Ok(items.map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    self.sub_reader(item.clone(), &format!("{key}[{index}]"), None)
                })
                .collect()
        }))
    }

    fn sub_reader(&self, data: Value, key: &str, fallback: Option<ConfigReader>) -> ConfigReader {
        Self::with(
            Some(data),
            self.node.context.clone(),
            fallback,
            self.full_key(key),
        )
    }

    /// Whether the highest layer that defines `key` has a non-null value there.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`], [`Error::InvalidType`].
    pub fn has(&self, key: &str) -> Result<bool> {
        match self.read_value(key)? {
            Found::Null => Ok(false),
            Found::Value(_) => Ok(true),
            Found::Undefined => match &self.node.fallback {
                Some(fallback) => fallback.has(key),
                None => Ok(false),
            },
        }
    }

    /// The keys of this object across all layers: this layer's first, then new ones from lower
    /// layers; a key whose value is `null` in a layer is hidden unless a higher layer defines it.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        let map = self.node.data.as_ref().and_then(Value::as_object);
        let fallback_keys = self
            .node
            .fallback
            .as_ref()
            .map(ConfigReader::keys)
            .unwrap_or_default();
        let local = map.map(js::object_keys).unwrap_or_default();
        let mut seen = HashSet::new();
        local
            .into_iter()
            .map(String::as_str)
            .chain(fallback_keys.iter().map(String::as_str))
            .filter(|key| seen.insert(*key))
            .filter(|key| !map.and_then(|m| m.get(*key)).is_some_and(Value::is_null))
            .map(str::to_owned)
            .collect()
    }

    fn contexts(&self) -> Vec<&str> {
        let mut contexts = vec![self.node.context.as_str()];
        let mut next = self.node.fallback.as_ref();
        while let Some(reader) = next {
            contexts.push(reader.node.context.as_str());
            next = reader.node.fallback.as_ref();
        }
        contexts
    }
}

impl fmt::Debug for ConfigReader {
    /// Contexts (highest first), prefix and key names; never values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigReader")
            .field("contexts", &self.contexts())
            .field("prefix", &self.node.prefix)
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layered(layers: &[(&str, Value)]) -> ConfigReader {
        ConfigReader::from_layers(
            layers
                .iter()
                .map(|(context, data)| ConfigLayer::new(data.clone(), *context))
                .collect(),
        )
    }

    fn message<T: fmt::Debug>(result: Result<T>) -> String {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(err) => err.to_string(),
        }
    }

    // §4.2 key syntax

    #[test]
    fn invalid_keys_are_type_errors() {
        let config = ConfigReader::from_value(json!({ "a": 1 }));
        for key in ["a..b", ".a", "a.", "1a", "a.$b", "a b", "a.b-", "a--b", "ä"] {
            let err = config.optional(key).unwrap_err();
            assert_eq!(err.to_string(), format!("Invalid config key '{key}'"));
            assert_eq!(err.backstage_name(), "TypeError");
        }
        for key in ["a-b", "a_b", "a:b", "A1", "x.y-1.z_2"] {
            assert!(config.optional(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn invalid_keys_are_rejected_even_without_layers() {
        let config = ConfigReader::from_layers(Vec::new());
        assert_eq!(message(config.has("a..b")), "Invalid config key 'a..b'");
        assert_eq!(config.optional("a").unwrap(), None);
        assert_eq!(config.context(), "mock-config");
    }

    #[test]
    fn data_keys_themselves_are_not_restricted() {
        let config = ConfigReader::from_value(json!({ "$weird key": 1, "a": { "1x": 2 } }));
        assert_eq!(config.keys(), ["$weird key", "a"]);
        assert_eq!(config.config("a").unwrap().keys(), ["1x"]);
    }

    // §4.3 layered lookup

    #[test]
    fn typed_getters_take_the_highest_layer_without_merging() {
        let config = layered(&[
            (
                "low",
                json!({ "list": ["a", "b"], "s": "low", "o": { "x": 1 } }),
            ),
            ("high", json!({ "list": ["c"], "o": { "y": 2 } })),
        ]);
        assert_eq!(config.string_array("list").unwrap(), ["c"]);
        assert_eq!(config.string("s").unwrap(), "low");
        assert_eq!(config.number("o.x").unwrap(), 1.0);
        assert_eq!(config.number("o.y").unwrap(), 2.0);
    }

    #[test]
    fn null_is_explicitly_absent_and_hides_lower_layers() {
        let config = layered(&[
            ("low", json!({ "a": { "b": "x" }, "c": "y" })),
            ("high", json!({ "a": null, "c": null })),
        ]);
        assert_eq!(config.optional_string("a.b").unwrap(), None);
        assert_eq!(config.optional("a").unwrap(), None);
        assert!(!config.has("a.b").unwrap());
        assert!(!config.has("c").unwrap());
        assert_eq!(
            message(config.string("c")),
            "Missing required config value at 'c' in 'high'"
        );
    }

    #[test]
    fn walking_through_a_non_object_names_the_highest_bad_layer() {
        let config = layered(&[
            ("low", json!({ "a": { "b": 1 } })),
            ("high", json!({ "a": "str" })),
        ]);
        assert_eq!(
            message(config.number("a.b")),
            "Invalid type in config for key 'a' in 'high', got string, wanted object"
        );
        let config = layered(&[("low", json!({ "a": [1] })), ("high", json!({ "x": 1 }))]);
        assert_eq!(
            message(config.optional("a.b.c")),
            "Invalid type in config for key 'a' in 'low', got array, wanted object"
        );
    }

    #[test]
    fn get_consults_every_layer_so_a_lower_bad_shape_fails() {
        let config = layered(&[
            ("low", json!({ "a": 5 })),
            ("high", json!({ "a": { "b": 1 } })),
        ]);
        assert_eq!(
            message(config.optional("a.b")),
            "Invalid type in config for key 'a' in 'low', got number, wanted object"
        );
        // Typed getters stop at the first layer that has the value.
        assert_eq!(config.number("a.b").unwrap(), 1.0);
    }

    #[test]
    fn get_deep_merges_objects_and_replaces_arrays() {
        let config = layered(&[
            (
                "low",
                json!({ "a": { "x": 1, "list": [1, 2], "keep": { "k": 1 } }, "s": { "o": 1 } }),
            ),
            ("high", json!({ "a": { "y": 2, "list": [3] }, "s": "str" })),
        ]);
        assert_eq!(
            config.get("a").unwrap(),
            json!({ "y": 2, "list": [3], "x": 1, "keep": { "k": 1 } })
        );
        assert_eq!(config.get("s").unwrap(), json!("str"));
        // A higher object over a lower non-object replaces it.
        let config = layered(&[
            ("low", json!({ "a": "str" })),
            ("high", json!({ "a": { "b": 1 } })),
        ]);
        assert_eq!(config.get("a").unwrap(), json!({ "b": 1 }));
    }

    #[test]
    fn merge_removes_nulls_from_objects_but_keeps_them_in_arrays() {
        let config = layered(&[
            ("low", json!({ "a": { "gone": 1, "kept": 2 } })),
            (
                "high",
                json!({ "a": { "gone": null, "n": null, "list": [null, 1, { "z": null }] } }),
            ),
        ]);
        assert_eq!(
            config.get("a").unwrap(),
            json!({ "list": [null, 1, { "z": null }], "kept": 2 })
        );
        assert_eq!(config.keys(), ["a"]);
    }

    #[test]
    fn value_is_the_whole_merged_config() {
        let config = layered(&[
            ("low", json!({ "a": 1, "b": 2 })),
            ("high", json!({ "b": 3 })),
        ]);
        assert_eq!(config.value(), json!({ "b": 3, "a": 1 }));
        assert_eq!(config.get("").unwrap(), json!({ "b": 3, "a": 1 }));
        assert_eq!(ConfigReader::from_layers(Vec::new()).value(), json!({}));
        assert_eq!(
            message(ConfigReader::from_layers(Vec::new()).get("")),
            "Missing required config value at '' in 'mock-config'"
        );
    }

    #[test]
    fn get_config_fallback_is_eager() {
        let config = layered(&[
            ("low", json!({ "s": "str" })),
            ("high", json!({ "s": { "a": 1 } })),
        ]);
        assert_eq!(config.get("s").unwrap(), json!({ "a": 1 }));
        assert_eq!(
            message(config.config("s")),
            "Invalid type in config for key 's' in 'low', got string, wanted object"
        );
    }

    #[test]
    fn sub_readers_fall_back_to_lower_layers_and_prefix_keys() {
        let config = layered(&[
            (
                "low",
                json!({ "backend": { "listen": { "port": 1 }, "baseUrl": "http://x" } }),
            ),
            ("high", json!({ "backend": { "listen": { "host": "h" } } })),
        ]);
        let backend = config.config("backend").unwrap();
        assert_eq!(backend.prefix(), "backend");
        assert_eq!(backend.string("baseUrl").unwrap(), "http://x");
        let listen = backend.config("listen").unwrap();
        assert_eq!(listen.number("port").unwrap(), 1.0);
        assert_eq!(listen.string("host").unwrap(), "h");
        assert_eq!(listen.keys(), ["host", "port"]);
        assert_eq!(
            message(listen.string("nope")),
            "Missing required config value at 'backend.listen.nope' in 'high'"
        );
        assert_eq!(
            message(listen.string("port")),
            "Invalid type in config for key 'backend.listen.port' in 'low', got number, wanted string"
        );
        // A sub-reader whose key only exists in a lower layer has that layer's context.
        let only_low = layered(&[("low", json!({ "o": { "a": 1 } })), ("high", json!({}))]);
        assert_eq!(
            message(only_low.config("o").unwrap().string("b")),
            "Missing required config value at 'o.b' in 'low'"
        );
    }

    #[test]
    fn null_object_makes_config_absent() {
        let config = layered(&[
            ("low", json!({ "o": { "a": 1 } })),
            ("high", json!({ "o": null })),
        ]);
        assert!(config.optional_config("o").unwrap().is_none());
        assert_eq!(
            message(config.config("o")),
            "Missing required config value at 'o' in 'high'"
        );
    }

    #[test]
    fn has_follows_the_highest_defining_layer() {
        let config = layered(&[
            ("low", json!({ "a": 1, "b": 2 })),
            ("high", json!({ "b": null, "c": false })),
        ]);
        assert!(config.has("a").unwrap());
        assert!(!config.has("b").unwrap());
        assert!(config.has("c").unwrap());
        assert!(!config.has("d").unwrap());
        assert!(config.has("").unwrap());
    }

    #[test]
    fn keys_union_layers_and_hide_nulls() {
        let config = layered(&[
            ("low", json!({ "a": 1, "b": 2, "n": null })),
            ("mid", json!({ "c": 3, "a": null })),
            ("high", json!({ "d": 4, "b": null })),
        ]);
        assert_eq!(config.keys(), ["d", "c"]);
        let config = layered(&[("low", json!({ "a": null })), ("high", json!({ "a": 1 }))]);
        assert_eq!(config.keys(), ["a"]);
    }

    #[test]
    fn keys_list_array_indices_first_like_javascript() {
        let config = ConfigReader::from_value(json!({ "b": 1, "10": 1, "2": 1 }));
        assert_eq!(config.keys(), ["2", "10", "b"]);
    }

    // §4.4 getters

    #[test]
    fn empty_string_is_a_type_error_even_for_optional_string() {
        let config = ConfigReader::from_value(json!({ "s": "" }));
        assert_eq!(
            message(config.optional_string("s")),
            "Invalid type in config for key 's' in 'mock-config', got empty-string, wanted string"
        );
    }

    #[test]
    fn string_rejects_other_types_with_their_type_name() {
        let config =
            ConfigReader::from_value(json!({ "n": 1, "b": true, "o": {}, "a": [], "s": "x" }));
        for (key, got) in [
            ("n", "number"),
            ("b", "boolean"),
            ("o", "object"),
            ("a", "array"),
        ] {
            assert_eq!(
                message(config.string(key)),
                format!(
                    "Invalid type in config for key '{key}' in 'mock-config', got {got}, wanted string"
                )
            );
        }
        assert_eq!(config.string("s").unwrap(), "x");
    }

    #[test]
    fn numbers_convert_strings_like_javascript() {
        let config = ConfigReader::from_value(json!({
            "n": 1.5, "s": " 42 ", "e": "", "hex": "0x10", "exp": "1e3", "oct": "0o17",
            "bin": "0b11", "bad": "abc", "inf": "Infinity", "b": true
        }));
        assert_eq!(config.number("n").unwrap(), 1.5);
        assert_eq!(config.number("s").unwrap(), 42.0);
        assert_eq!(config.number("e").unwrap(), 0.0);
        assert_eq!(config.number("hex").unwrap(), 16.0);
        assert_eq!(config.number("exp").unwrap(), 1000.0);
        assert_eq!(config.number("oct").unwrap(), 15.0);
        assert_eq!(config.number("bin").unwrap(), 3.0);
        for key in ["bad", "inf"] {
            assert_eq!(
                message(config.number(key)),
                format!(
                    "Unable to convert config value for key '{key}' in 'mock-config' to a number"
                )
            );
        }
        assert_eq!(
            message(config.number("b")),
            "Invalid type in config for key 'b' in 'mock-config', got boolean, wanted number"
        );
    }

    #[test]
    fn conversion_errors_name_the_context_of_the_reader_called() {
        let config = layered(&[("low", json!({ "n": "abc" })), ("high", json!({ "x": 1 }))]);
        assert_eq!(
            message(config.number("n")),
            "Unable to convert config value for key 'n' in 'high' to a number"
        );
    }

    #[test]
    fn booleans_convert_words_and_numbers() {
        let config = ConfigReader::from_value(json!({}));
        let _ = config;
        for (value, expected) in [
            (json!("y"), true),
            (json!(" YES "), true),
            (json!("True"), true),
            (json!("1"), true),
            (json!("on"), true),
            (json!(1), true),
            (json!(1.0), true),
            (json!("n"), false),
            (json!("No"), false),
            (json!("FALSE"), false),
            (json!("0"), false),
            (json!("off"), false),
            (json!(0), false),
            (json!(-0.0), false),
            (json!(true), true),
            (json!(false), false),
        ] {
            let config = ConfigReader::from_value(json!({ "b": value.clone() }));
            assert_eq!(config.boolean("b").unwrap(), expected, "{value}");
        }
        for value in [
            json!("2"),
            json!("1.0"),
            json!("maybe"),
            json!(""),
            json!(2),
            json!(0.5),
        ] {
            let config = ConfigReader::from_value(json!({ "b": value.clone() }));
            assert_eq!(
                message(config.boolean("b")),
                "Unable to convert config value for key 'b' in 'mock-config' to a boolean",
                "{value}"
            );
        }
        let config = ConfigReader::from_value(json!({ "b": [] }));
        assert_eq!(
            message(config.boolean("b")),
            "Invalid type in config for key 'b' in 'mock-config', got array, wanted boolean"
        );
    }

    #[test]
    fn string_arrays_report_the_bad_element() {
        let config =
            ConfigReader::from_value(json!({ "a": ["x", ""], "b": ["x", 1], "e": [], "s": "x" }));
        assert_eq!(
            message(config.string_array("a")),
            "Invalid type in config for key 'a[1]' in 'mock-config', got empty-string, wanted string-array"
        );
        assert_eq!(
            message(config.string_array("b")),
            "Invalid type in config for key 'b[1]' in 'mock-config', got number, wanted string-array"
        );
        assert!(config.string_array("e").unwrap().is_empty());
        assert_eq!(
            message(config.string_array("s")),
            "Invalid type in config for key 's' in 'mock-config', got string, wanted string-array"
        );
    }

    #[test]
    fn config_arrays_have_indexed_prefixes_and_no_fallback() {
        let config = layered(&[
            ("low", json!({ "list": [{ "a": 1 }], "other": { "x": 1 } })),
            ("high", json!({ "list": [{ "b": 2 }, { "c": "" }] })),
        ]);
        let items = config.config_array("list").unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].keys(), ["b"]);
        assert!(!items[0].has("a").unwrap());
        assert_eq!(
            message(items[1].string("c")),
            "Invalid type in config for key 'list[1].c' in 'high', got empty-string, wanted string"
        );
        let bad = ConfigReader::from_value(json!({ "list": [{}, 1] }));
        assert_eq!(
            message(bad.config_array("list")),
            "Invalid type in config for key 'list[1]' in 'mock-config', got number, wanted object-array"
        );
    }

    #[test]
    fn config_array_elements_take_the_calling_readers_context() {
        let config = layered(&[
            ("low", json!({ "list": [{ "a": 1 }] })),
            ("high", json!({})),
        ]);
        let items = config.config_array("list").unwrap();
        assert_eq!(
            message(items[0].string("a")),
            "Invalid type in config for key 'list[0].a' in 'high', got number, wanted string"
        );
    }

    #[test]
    fn required_getters_report_missing_values_with_the_full_key() {
        let config = layered(&[("app-config.yaml", json!({ "a": { "b": {} } }))]);
        let sub = config.config("a").unwrap();
        let expected = "Missing required config value at 'a.x' in 'app-config.yaml'";
        assert_eq!(message(sub.get("x")), expected);
        assert_eq!(message(sub.string("x")), expected);
        assert_eq!(message(sub.number("x")), expected);
        assert_eq!(message(sub.boolean("x")), expected);
        assert_eq!(message(sub.string_array("x")), expected);
        assert_eq!(message(sub.config("x")), expected);
        assert_eq!(message(sub.config_array("x")), expected);
    }

    #[test]
    fn non_object_root_data_is_reported_at_the_empty_key() {
        let config = ConfigReader::from_value(json!("text"));
        assert_eq!(
            message(config.string("a")),
            "Invalid type in config for key '' in 'mock-config', got string, wanted object"
        );
        assert!(config.keys().is_empty());
    }

    #[test]
    fn debug_never_prints_values() {
        let config = layered(&[(
            "app-config.yaml",
            json!({ "backend": { "secret": "hunter2" } }),
        )]);
        let debug = format!("{:?}", config.config("backend").unwrap());
        assert!(
            debug.contains("secret") && debug.contains("app-config.yaml"),
            "{debug}"
        );
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn clones_share_data() {
        let config = ConfigReader::from_value(json!({ "a": 1 }));
        let clone = config.clone();
        assert!(Arc::ptr_eq(&config.node, &clone.node));
    }
}
