//! The `APP_CONFIG_*` environment layer (Backstage's `readEnvConfig`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{ConfigLayer, js};
use crate::{Error, Result};

/// Prefix of the variables that override config.
pub(crate) const ENV_PREFIX: &str = "APP_CONFIG_";

/// Builds the `env` layer from `APP_CONFIG_*` variables, or `None` when no such variable has a
/// non-empty value.
///
/// Variables are visited in the map's (sorted) order; Backstage visits them in process
/// environment order, which only matters for the conflict errors.
///
/// # Errors
///
/// [`Error::InvalidEnvKey`], [`Error::EnvOverride`], [`Error::EnvNest`], [`Error::EnvNull`].
pub(crate) fn read_env_config(env: &BTreeMap<String, String>) -> Result<Option<ConfigLayer>> {
    let mut data: Option<Map<String, Value>> = None;
    for (name, value) in env {
        if value.is_empty() {
            continue;
        }
        let Some(key) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let parts: Vec<&str> = key.split('_').collect();
        let last = parts.len().saturating_sub(1);
        let mut object = data.get_or_insert_with(Map::new);
        for (index, part) in parts.iter().enumerate() {
            if !js::is_valid_key_part(part) {
                return Err(Error::InvalidEnvKey {
                    key: key.to_owned(),
                });
            }
            if index < last {
                // `obj[part] ?? {}`: a JSON `null` set by an earlier variable is replaced too.
                let entry = object.entry((*part).to_owned()).or_insert(Value::Null);
                if entry.is_null() {
                    *entry = Value::Object(Map::new());
                }
                match entry {
                    Value::Object(inner) => object = inner,
                    _ => {
                        return Err(Error::EnvNest {
                            key: key.to_owned(),
                            existing: parts.get(..=index).unwrap_or_default().join("_"),
                        });
                    }
                }
            } else {
                if object.contains_key(*part) {
                    return Err(Error::EnvOverride {
                        key: key.to_owned(),
                    });
                }
                let parsed = parse_value(value);
                if parsed.is_null() && !is_overflowing_number(value) {
                    return Err(Error::EnvNull {
                        key: key.to_owned(),
                    });
                }
                object.insert((*part).to_owned(), parsed);
            }
        }
    }
    Ok(data.map(|data| ConfigLayer::new(Value::Object(data), "env")))
}

/// The value as JSON if it parses (`42`, `true`, `"quoted"`, `{"a":1}`), else the raw string.
/// A number too large for a double (`1e400`), which JavaScript parses to `Infinity`, becomes
/// `null`, as `JSON.stringify` prints it.
fn parse_value(raw: &str) -> Value {
    serde_json::from_str::<Value>(raw)
        .map(js::normalize_numbers)
        .unwrap_or_else(|_| {
            if is_overflowing_number(raw) {
                Value::Null
            } else {
                Value::String(raw.to_owned())
            }
        })
}

/// Whether `raw` is a JSON number literal (with JSON whitespace around it) too large for a
/// double.
fn is_overflowing_number(raw: &str) -> bool {
    let text = raw.trim_matches([' ', '\t', '\n', '\r']);
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |from: usize| {
        bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    let int = digits(i);
    if int == 0 || (int > 1 && bytes.get(i) == Some(&b'0')) {
        return false;
    }
    i += int;
    if bytes.get(i) == Some(&b'.') {
        let frac = digits(i + 1);
        if frac == 0 {
            return false;
        }
        i += 1 + frac;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == bytes.len() && js::string_to_number(text).is_infinite()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn data(vars: &[(&str, &str)]) -> Option<Value> {
        read_env_config(&env(vars)).unwrap().map(|layer| {
            assert_eq!(layer.context, "env");
            layer.data
        })
    }

    fn message(vars: &[(&str, &str)]) -> String {
        read_env_config(&env(vars)).unwrap_err().to_string()
    }

    #[test]
    fn no_app_config_variables_means_no_layer() {
        assert_eq!(data(&[("PATH", "/bin"), ("APP_CONFIG_a", "")]), None);
        assert_eq!(data(&[("app_config_a", "1")]), None);
    }

    #[test]
    fn names_split_on_underscores_and_keep_case() {
        assert_eq!(
            data(&[
                ("APP_CONFIG_app_baseUrl", "http://x"),
                ("APP_CONFIG_my-key", "v")
            ]),
            Some(json!({ "app": { "baseUrl": "http://x" }, "my-key": "v" }))
        );
        assert_eq!(
            data(&[("APP_CONFIG_a:b", "v")]),
            Some(json!({ "a:b": "v" }))
        );
    }

    #[test]
    fn values_parse_as_json_or_stay_strings() {
        assert_eq!(
            data(&[
                ("APP_CONFIG_n", "42"),
                ("APP_CONFIG_t", "true"),
                ("APP_CONFIG_q", "\"false\""),
                ("APP_CONFIG_z", "007"),
                ("APP_CONFIG_w", " 42 "),
                ("APP_CONFIG_h", "hello"),
                ("APP_CONFIG_b", "{bad"),
                ("APP_CONFIG_o", "{\"a\":[1,2.0]}"),
            ]),
            Some(json!({
                "b": "{bad", "h": "hello", "n": 42, "o": { "a": [1, 2] }, "q": "false",
                "t": true, "w": 42, "z": "007"
            }))
        );
    }

    #[test]
    fn invalid_names_are_rejected() {
        for (name, key) in [
            ("APP_CONFIG_x__y", "x__y"),
            ("APP_CONFIG_x_0", "x_0"),
            ("APP_CONFIG_", ""),
            ("APP_CONFIG_a.b", "a.b"),
        ] {
            assert_eq!(
                message(&[(name, "1")]),
                format!("Invalid env config key '{key}'")
            );
        }
    }

    #[test]
    fn numbers_beyond_double_range_become_null() {
        assert_eq!(
            data(&[("APP_CONFIG_n", "1e400"), ("APP_CONFIG_m", "-1e999 ")]),
            Some(json!({ "m": null, "n": null }))
        );
        assert_eq!(
            data(&[("APP_CONFIG_s", "01e400")]),
            Some(json!({ "s": "01e400" }))
        );
    }

    #[test]
    fn json_null_is_rejected() {
        assert_eq!(
            message(&[("APP_CONFIG_a", "null")]),
            "Failed to parse JSON-serialized config value for key 'a', Error: value may not be null"
        );
    }

    #[test]
    fn conflicts_depend_on_variable_order() {
        // Sorted order: `x` comes before `x_y`.
        assert_eq!(
            message(&[("APP_CONFIG_x", "1"), ("APP_CONFIG_x_y", "2")]),
            "Could not nest config for key 'x_y' under existing value 'x'"
        );
        assert_eq!(
            data(&[("APP_CONFIG_x", "{\"z\":2}"), ("APP_CONFIG_x_y", "1")]),
            Some(json!({ "x": { "z": 2, "y": 1 } }))
        );
        let err = read_env_config(&env(&[("APP_CONFIG_x_y", "1"), ("APP_CONFIG_x_y_z", "2")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not nest config for key 'x_y_z' under existing value 'x_y'"
        );
    }

    #[test]
    fn a_deeper_variable_nests_under_a_json_null() {
        assert_eq!(
            data(&[("APP_CONFIG_x", "{\"y\":null}"), ("APP_CONFIG_x_y_z", "1")]),
            Some(json!({ "x": { "y": { "z": 1 } } }))
        );
        assert_eq!(
            message(&[("APP_CONFIG_x", "{\"y\":null}"), ("APP_CONFIG_x_y", "1")]),
            "Refusing to override existing config at key 'x_y'"
        );
    }

    #[test]
    fn a_deeper_variable_cannot_override_a_key_of_a_json_object() {
        assert_eq!(
            message(&[("APP_CONFIG_a", "{\"b\":1}"), ("APP_CONFIG_a_b", "2")]),
            "Refusing to override existing config at key 'a_b'"
        );
        assert_eq!(
            message(&[("APP_CONFIG_a", "[1]"), ("APP_CONFIG_a_b", "2")]),
            "Could not nest config for key 'a_b' under existing value 'a'"
        );
    }
}
