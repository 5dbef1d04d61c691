//! Which config values are secrets, for masking (`backstage config print`) and for log
//! redaction ([`crate::logging`]).
//!
//! Backstage knows its secrets from config schemas: values declared with
//! `@visibility secret`. We do not read config schemas yet (spec §4.10), so secrets are
//! recognised **by key name**: a value is secret when the last segment of its key, ignoring
//! case, `-` and `_`, is or ends with `password`, `secret`, `token`, `privatekey`, `apikey` or
//! `credentials` (`clientSecret`, `private_key`, `GITHUB_TOKEN`, `api-key`, …), and every value
//! inside `backend.auth.keys[]` is secret. Everything below a secret key is secret too. This is
//! a guess: a secret under an unusual key name is not recognised.

use serde_json::Value;

use super::ConfigReader;

/// The text [`mask_secrets`] puts in place of a secret value.
pub const SECRET_MASK: &str = "<secret>";

const SECRET_SUFFIXES: [&str; 6] = [
    "password",
    "secret",
    "token",
    "privatekey",
    "apikey",
    "credentials",
];

/// Whether a key's last segment names a secret.
///
/// Backstage knows its secrets from config schemas (values declared `@visibility secret`).
/// We do not read config schemas yet (spec §4.10), so secrets are recognised **by key name**:
/// a value is secret when the last segment of its key, ignoring case, `-` and `_`, is or ends
/// with `password`, `secret`, `token`, `privatekey`, `apikey` or `credentials`
/// (`clientSecret`, `private_key`, `GITHUB_TOKEN`, `api-key`, …). [`mask_secrets`] and
/// [`secret_values`] also treat every value inside `backend.auth.keys[]` as secret, and
/// everything below a secret key. This is a guess: a secret under an unusual key name is not
/// recognised.
///
/// ```
/// use backstage_backend_common::config::is_secret_key;
///
/// assert!(is_secret_key("clientSecret"));
/// assert!(is_secret_key("GITHUB_TOKEN"));
/// assert!(!is_secret_key("tokenUrl"));
/// ```
#[must_use]
pub fn is_secret_key(key: &str) -> bool {
    let name: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

/// Replaces every secret value (by key name, see [`is_secret_key`]) in a whole config document
/// (as from [`ConfigReader::value`]) with [`SECRET_MASK`]; `null`s stay `null`. This is what
/// `backstage config print` shows.
///
/// ```
/// use backstage_backend_common::config::{SECRET_MASK, mask_secrets};
/// use serde_json::json;
///
/// let mut value = json!({ "github": { "token": "ghp_x", "host": "github.com" } });
/// mask_secrets(&mut value);
/// assert_eq!(value, json!({ "github": { "token": SECRET_MASK, "host": "github.com" } }));
/// ```
pub fn mask_secrets(value: &mut Value) {
    mask_at(value, &mut Vec::new());
}

/// The secret strings of a config (by key name, see [`is_secret_key`]), in document order,
/// without duplicates: what a host redacts from its logs.
///
/// ```
/// use backstage_backend_common::config::{ConfigReader, secret_values};
/// use serde_json::json;
///
/// let config = ConfigReader::from_value(json!({
///     "backend": { "auth": { "keys": [{ "secret": "k1" }] } },
///     "db": { "password": "pw", "user": "me" },
/// }));
/// assert_eq!(secret_values(&config), ["k1", "pw"]);
/// ```
#[must_use]
pub fn secret_values(config: &ConfigReader) -> Vec<String> {
    let mut value = config.value();
    let mut found = Vec::new();
    collect_at(&mut value, &mut Vec::new(), &mut found);
    found
}

fn is_auth_keys(path: &[String]) -> bool {
    path.len() == 3 && path == ["backend", "auth", "keys"]
}

fn mask_at(value: &mut Value, path: &mut Vec<String>) {
    visit(value, path, &mut |secret| {
        *secret = Value::String(SECRET_MASK.to_owned());
    });
}

fn collect_at(value: &mut Value, path: &mut Vec<String>, found: &mut Vec<String>) {
    visit(value, path, &mut |secret| collect_strings(secret, found));
}

fn collect_strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) if !found.contains(s) => found.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, found)),
        _ => {}
    }
}

/// Calls `on_secret` for every non-null secret value, outermost only.
fn visit(value: &mut Value, path: &mut Vec<String>, on_secret: &mut dyn FnMut(&mut Value)) {
    let in_auth_keys = is_auth_keys(path);
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if child.is_null() {
                    continue;
                }
                if is_secret_key(key) || in_auth_keys {
                    on_secret(child);
                    continue;
                }
                path.push(key.clone());
                visit(child, path, on_secret);
                path.pop();
            }
        }
        Value::Array(items) => {
            for item in items {
                if in_auth_keys && !item.is_object() && !item.is_null() {
                    on_secret(item);
                } else {
                    visit(item, path, on_secret);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_are_recognised() {
        for key in [
            "password",
            "dbPassword",
            "secret",
            "clientSecret",
            "client_secret",
            "token",
            "GITHUB_TOKEN",
            "privateKey",
            "private_key",
            "apiKey",
            "api-key",
            "credentials",
            "googleCredentials",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["key", "sortKey", "tokenUrl", "secretName", "user", "keys"] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    fn sample() -> Value {
        json!({
            "backend": {
                "database": { "connection": { "password": "pw", "user": "u" } },
                "auth": { "keys": [{ "secret": "s1", "other": "x" }, "raw"] },
                "token": null,
            },
            "integrations": { "github": [{ "host": "github.com", "token": "t" }] },
            "credentials": { "nested": "c", "again": "pw" },
        })
    }

    #[test]
    fn secrets_are_masked_everywhere() {
        let mut value = sample();
        mask_secrets(&mut value);
        assert_eq!(
            value,
            json!({
                "backend": {
                    "database": { "connection": { "password": SECRET_MASK, "user": "u" } },
                    "auth": { "keys": [{ "secret": SECRET_MASK, "other": SECRET_MASK }, SECRET_MASK] },
                    "token": null,
                },
                "integrations": { "github": [{ "host": "github.com", "token": SECRET_MASK }] },
                "credentials": SECRET_MASK,
            })
        );
    }

    #[test]
    fn secret_values_are_the_masked_strings_without_duplicates() {
        let config = ConfigReader::from_value(sample());
        assert_eq!(secret_values(&config), ["pw", "s1", "x", "raw", "t", "c"]);
    }
}
