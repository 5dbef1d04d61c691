//! [`TokenAuthenticator`]: static external access tokens from `backend.auth.externalAccess`.

use std::fmt;

use serde_json::{Map, Value};

use super::{Credentials, Principal};
use crate::config::ConfigReader;
use crate::errors::ApiError;
use crate::http::util::is_non_space;
use crate::{Error, Result};

const EXTERNAL_ACCESS_KEY: &str = "backend.auth.externalAccess";
const LEGACY_KEYS_KEY: &str = "backend.auth.keys";
/// Backstage's `MIN_TOKEN_LENGTH` for static tokens.
const MIN_TOKEN_LENGTH: usize = 8;
/// The handler types Backstage knows.
const KNOWN_TYPES: &str = "'static', 'legacy', 'jwks'";

/// Validates bearer tokens: the static external access tokens of
/// `backend.auth.externalAccess` (entries with `type: static`).
///
/// Config is validated as Backstage's `ExternalAuthTokenHandler` and `StaticTokenHandler` do,
/// with their messages: `options.token` and `options.subject` are required strings, the token
/// has no white space (`Illegal token, must be a set of non-space characters`) and at least 8
/// characters (`Illegal token, must be at least 8 characters length`), the subject has no white
/// space (`Illegal subject, must be a set of non-space characters`); `accessRestrictions` are
/// checked as Backstage's `readAccessRestrictionsFromConfig`. Entries of the types `legacy` and
/// `jwks`, and the deprecated `backend.auth.keys`, are not supported: they are logged as a
/// warning and ignored, so their tokens are refused (401) while the config still loads; other
/// types are errors.
///
/// A token is compared with every configured token in constant time. `Debug` lists subjects,
/// never tokens.
///
/// ```
/// use backstage_backend_common::auth::{Principal, TokenAuthenticator};
/// use backstage_backend_common::config::ConfigReader;
///
/// let config = ConfigReader::from_value(serde_json::json!({ "backend": { "auth": {
///     "externalAccess": [{ "type": "static", "options": { "token": "s3cr3t-token", "subject": "ci" } }],
/// } } }));
/// let authenticator = TokenAuthenticator::from_config(&config)?;
/// let credentials = authenticator.authenticate("s3cr3t-token").unwrap();
/// assert!(matches!(credentials.principal, Principal::Service { ref subject, .. } if subject == "ci"));
/// assert_eq!(authenticator.authenticate("nope").unwrap_err().message(), "Illegal token");
/// assert!(!format!("{authenticator:?}").contains("s3cr3t"));
/// # Ok::<(), backstage_backend_common::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TokenAuthenticator {
    entries: Vec<StaticEntry>,
}

#[derive(Clone)]
struct StaticEntry {
    token: Vec<u8>,
    subject: String,
    /// Per plugin id, the `BackstagePrincipalAccessRestrictions` JSON; `None` when the entry
    /// has no `accessRestrictions`.
    restrictions: Option<Map<String, Value>>,
}

impl fmt::Debug for TokenAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuthenticator")
            .field(
                "static_subjects",
                &self
                    .entries
                    .iter()
                    .map(|e| e.subject.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl TokenAuthenticator {
    /// An authenticator that knows no token: every token is rejected.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads `backend.auth.externalAccess`.
    ///
    /// # Errors
    ///
    /// Reader errors naming the key ([`Error::Missing`], [`Error::InvalidType`]) and
    /// [`Error::ExternalAccessConfig`] with Backstage's messages for invalid entries and
    /// unknown types.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        let mut entries = Vec::new();
        for entry in config
            .optional_config_array(EXTERNAL_ACCESS_KEY)?
            .unwrap_or_default()
        {
            let kind = entry.string("type")?;
            match kind.as_str() {
                "static" => entries.push(read_static(&entry)?),
                // Fail closed: such tokens are not accepted (401), but a Backstage config that
                // lists them still starts.
                "legacy" | "jwks" => tracing::warn!(
                    "{}.type: external access of type '{kind}' is not supported by this backend and is ignored; only 'static' tokens are accepted",
                    entry.prefix()
                ),
                _ => {
                    return Err(Error::ExternalAccessConfig {
                        key: format!("{}.type", entry.prefix()),
                        message: format!(
                            "Unknown type '{kind}' in {EXTERNAL_ACCESS_KEY}, expected one of {KNOWN_TYPES}"
                        ),
                    });
                }
            }
        }
        if config
            .optional_config_array(LEGACY_KEYS_KEY)?
            .is_some_and(|keys| !keys.is_empty())
        {
            tracing::warn!(
                "{LEGACY_KEYS_KEY}: legacy backend keys are not supported by this backend and are ignored; tokens signed with them are refused"
            );
        }
        Ok(Self { entries })
    }

    /// The number of configured static tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The credentials of `token`, for any plugin: a token with access restrictions is refused
    /// (use [`authenticate_for_plugin`](Self::authenticate_for_plugin)).
    ///
    /// # Errors
    ///
    /// As [`authenticate_for_plugin`](Self::authenticate_for_plugin).
    pub fn authenticate(&self, token: &str) -> Result<Credentials, ApiError> {
        self.authenticate_for_plugin(token, None)
    }

    /// The credentials of `token` when calling `plugin_id`: service credentials with the
    /// entry's subject and its access restrictions for that plugin.
    ///
    /// # Errors
    ///
    /// `401 AuthenticationError` `Illegal token` for an unknown token (Backstage's answer when
    /// no token handler accepts it, which includes Backstage user and plugin tokens: this
    /// crate does not verify those); `403 NotAllowedError`
    /// `This token's access is restricted to plugin(s) '<a>', '<b>'` for a restricted token
    /// used on another plugin (or with no plugin).
    pub fn authenticate_for_plugin(
        &self,
        token: &str,
        plugin_id: Option<&str>,
    ) -> Result<Credentials, ApiError> {
        TokenValidator::authenticate_for_plugin(self, token, plugin_id)
    }
}

/// Turns a bearer token into credentials, for the [`AuthBarrier`](super::AuthBarrier).
/// [`TokenAuthenticator`] implements it; a backend adapts its auth service to it, so a
/// replaced auth service also guards the plugin routes.
pub trait TokenValidator: Send + Sync {
    /// The credentials of `token` when calling `plugin_id`.
    ///
    /// # Errors
    ///
    /// `401 AuthenticationError` for a token that is not accepted, `403 NotAllowedError` for
    /// one that is not allowed for this plugin.
    fn authenticate_for_plugin(
        &self,
        token: &str,
        plugin_id: Option<&str>,
    ) -> Result<Credentials, ApiError>;
}

impl TokenValidator for TokenAuthenticator {
    fn authenticate_for_plugin(
        &self,
        token: &str,
        plugin_id: Option<&str>,
    ) -> Result<Credentials, ApiError> {
        // Compare with every entry so that the time taken does not depend on which one matches.
        let mut found: Option<&StaticEntry> = None;
        for entry in &self.entries {
            if constant_time_eq(&entry.token, token.as_bytes()) && found.is_none() {
                found = Some(entry);
            }
        }
        let Some(entry) = found else {
            return Err(ApiError::authentication("Illegal token"));
        };
        let access_restrictions = match &entry.restrictions {
            None => None,
            Some(all) => match plugin_id.and_then(|id| all.get(id)) {
                Some(restrictions) => Some(restrictions.clone()),
                None => {
                    let valid = all
                        .keys()
                        .map(|k| format!("'{k}'"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(ApiError::not_allowed(format!(
                        "This token's access is restricted to plugin(s) {valid}"
                    )));
                }
            },
        };
        Ok(Credentials {
            principal: Principal::Service {
                subject: entry.subject.clone(),
                access_restrictions,
            },
        })
    }
}

/// Compares two byte strings without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

fn config_error(config: &ConfigReader, key: &str, message: String) -> Error {
    let prefix = config.prefix();
    Error::ExternalAccessConfig {
        key: if prefix.is_empty() {
            key.to_owned()
        } else if key.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{key}")
        },
        message,
    }
}

/// Backstage's `staticTokenHandler.initialize` plus the entry's access restrictions.
fn read_static(entry: &ConfigReader) -> Result<StaticEntry> {
    let options = entry.config("options")?;
    let token = options.string("token")?;
    let subject = options.string("subject")?;
    if !is_non_space(&token) {
        return Err(config_error(
            &options,
            "token",
            "Illegal token, must be a set of non-space characters".to_owned(),
        ));
    }
    if token.encode_utf16().count() < MIN_TOKEN_LENGTH {
        return Err(config_error(
            &options,
            "token",
            format!("Illegal token, must be at least {MIN_TOKEN_LENGTH} characters length"),
        ));
    }
    if !is_non_space(&subject) {
        return Err(config_error(
            &options,
            "subject",
            "Illegal subject, must be a set of non-space characters".to_owned(),
        ));
    }
    Ok(StaticEntry {
        token: token.into_bytes(),
        subject,
        restrictions: read_access_restrictions(entry)?,
    })
}

/// Backstage's `readAccessRestrictionsFromConfig`.
fn read_access_restrictions(entry: &ConfigReader) -> Result<Option<Map<String, Value>>> {
    const VALID_KEYS: [&str; 3] = ["plugin", "permission", "permissionAttribute"];
    let mut result = Map::new();
    for config in entry
        .optional_config_array("accessRestrictions")?
        .unwrap_or_default()
    {
        for key in config.keys() {
            if !VALID_KEYS.contains(&key.as_str()) {
                return Err(config_error(
                    &config,
                    "",
                    format!(
                        "Invalid key '{key}' in 'accessRestrictions' config, expected one of 'plugin', 'permission', 'permissionAttribute'"
                    ),
                ));
            }
        }
        let plugin_id = config.string("plugin")?;
        let permission_names = read_string_or_string_array(&config, "permission", &[])?;
        let permission_attributes = read_permission_attributes(&config)?;
        if result.contains_key(&plugin_id) {
            return Err(config_error(
                &config,
                "plugin",
                format!(
                    "Attempted to declare 'accessRestrictions' twice for plugin '{plugin_id}', which is not permitted"
                ),
            ));
        }
        let mut restrictions = Map::new();
        if let Some(names) = permission_names {
            restrictions.insert("permissionNames".to_owned(), Value::from(names));
        }
        if let Some(attributes) = permission_attributes {
            restrictions.insert("permissionAttributes".to_owned(), Value::Object(attributes));
        }
        result.insert(plugin_id, Value::Object(restrictions));
    }
    Ok((!result.is_empty()).then_some(result))
}

fn read_permission_attributes(config: &ConfigReader) -> Result<Option<Map<String, Value>>> {
    let Some(attributes) = config.optional_config("permissionAttribute")? else {
        return Ok(None);
    };
    for key in attributes.keys() {
        if key != "action" {
            return Err(config_error(
                &attributes,
                "",
                format!("Invalid key '{key}' in 'permissionAttribute' config, expected 'action'"),
            ));
        }
    }
    let mut result = Map::new();
    if let Some(actions) = read_string_or_string_array(
        &attributes,
        "action",
        &["create", "read", "update", "delete"],
    )? {
        result.insert("action".to_owned(), Value::from(actions));
    }
    Ok((!result.is_empty()).then_some(result))
}

/// Backstage's `readStringOrStringArrayFromConfig`: a string or a list of strings, each split
/// on spaces and commas, de-duplicated; `None` when absent or empty.
fn read_string_or_string_array(
    config: &ConfigReader,
    key: &str,
    valid: &[&str],
) -> Result<Option<Vec<String>>> {
    if !config.has(key)? {
        return Ok(None);
    }
    let raw = match config.get(key)? {
        Value::Array(_) => config.string_array(key)?,
        _ => vec![config.string(key)?],
    };
    let mut values: Vec<String> = Vec::new();
    for value in raw
        .iter()
        .flat_map(|v| v.split([' ', ',']))
        .filter(|v| !v.is_empty())
    {
        if !values.iter().any(|v| v == value) {
            values.push(value.to_owned());
        }
    }
    if values.is_empty() {
        return Ok(None);
    }
    if !valid.is_empty() {
        for value in &values {
            if !valid.contains(&value.as_str()) {
                let list = valid
                    .iter()
                    .map(|v| format!("'{v}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(config_error(
                    config,
                    key,
                    format!(
                        "Invalid value '{value}' at '{key}' in 'permissionAttributes' config, valid values are {list}"
                    ),
                ));
            }
        }
    }
    Ok(Some(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from(external_access: Value) -> Result<TokenAuthenticator> {
        TokenAuthenticator::from_config(&ConfigReader::from_value(json!({
            "backend": { "auth": { "externalAccess": external_access } }
        })))
    }

    fn err(options: Value) -> String {
        from(json!([{ "type": "static", "options": options }]))
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn static_token_config_is_validated_like_backstage() {
        assert_eq!(
            err(json!({ "subject": "ok" })),
            "Missing required config value at 'backend.auth.externalAccess[0].options.token' in 'mock-config'"
        );
        assert_eq!(
            err(json!({ "token": "", "subject": "ok" })),
            "Invalid type in config for key 'backend.auth.externalAccess[0].options.token' in 'mock-config', got empty-string, wanted string"
        );
        assert_eq!(
            err(json!({ "token": "has spaces", "subject": "ok" })),
            "Illegal token, must be a set of non-space characters"
        );
        assert_eq!(
            err(json!({ "token": "hasnewlinebutislongenough\n", "subject": "ok" })),
            "Illegal token, must be a set of non-space characters"
        );
        assert_eq!(
            err(json!({ "token": "short", "subject": "ok" })),
            "Illegal token, must be at least 8 characters length"
        );
        assert_eq!(
            err(json!({ "token": 3, "subject": "ok" })),
            "Invalid type in config for key 'backend.auth.externalAccess[0].options.token' in 'mock-config', got number, wanted string"
        );
        assert_eq!(
            err(json!({ "token": "validtoken" })),
            "Missing required config value at 'backend.auth.externalAccess[0].options.subject' in 'mock-config'"
        );
        assert_eq!(
            err(json!({ "token": "validtoken", "subject": "" })),
            "Invalid type in config for key 'backend.auth.externalAccess[0].options.subject' in 'mock-config', got empty-string, wanted string"
        );
        assert_eq!(
            err(json!({ "token": "validtoken", "subject": "has spaces" })),
            "Illegal subject, must be a set of non-space characters"
        );
        assert_eq!(
            err(json!({ "token": "validtoken", "subject": "hasnewline\n" })),
            "Illegal subject, must be a set of non-space characters"
        );
        let error =
            from(json!([{ "type": "static", "options": { "token": "short", "subject": "ok" } }]))
                .expect_err("invalid");
        assert!(matches!(
            error,
            Error::ExternalAccessConfig { ref key, .. } if key == "backend.auth.externalAccess[0].options.token"
        ));
    }

    #[test]
    fn other_types_are_unsupported_or_unknown() {
        let ignored = from(json!([
            { "type": "jwks", "options": { "url": "https://x" } },
            { "type": "legacy", "options": { "secret": "abcdefghijk", "subject": "s" } },
            { "type": "static", "options": { "token": "abcabcabc", "subject": "one" } },
        ]))
        .expect("unsupported types are ignored");
        assert_eq!(ignored.len(), 1);
        assert!(ignored.authenticate("abcdefghijk").is_err());
        assert_eq!(
            from(json!([{ "type": "magic" }]))
                .expect_err("unknown")
                .to_string(),
            "Unknown type 'magic' in backend.auth.externalAccess, expected one of 'static', 'legacy', 'jwks'"
        );
        let legacy = TokenAuthenticator::from_config(&ConfigReader::from_value(json!({
            "backend": { "auth": { "keys": [{ "secret": "abc" }] } }
        })))
        .expect("legacy keys are ignored");
        assert!(legacy.is_empty());
        assert!(legacy.authenticate("abc").is_err());
    }

    #[test]
    fn tokens_authenticate_in_config_order() {
        let auth = from(json!([
            { "type": "static", "options": { "token": "abcabcabc", "subject": "one" } },
            { "type": "static", "options": { "token": "defdefdef", "subject": "two" } },
        ]))
        .expect("valid");
        assert_eq!(auth.len(), 2);
        assert_eq!(
            auth.authenticate("abcabcabc").expect("known"),
            Credentials::service("one")
        );
        assert_eq!(
            auth.authenticate("defdefdef").expect("known"),
            Credentials::service("two")
        );
        let error = auth.authenticate("ghighighi").expect_err("unknown");
        assert_eq!(error.status(), 401);
        assert_eq!(error.to_string(), "AuthenticationError: Illegal token");
        assert!(auth.authenticate("abcabcab").is_err());
        assert!(auth.authenticate("abcabcabcd").is_err());
        assert!(
            TokenAuthenticator::empty()
                .authenticate("abcabcabc")
                .is_err()
        );
    }

    #[test]
    fn debug_never_prints_tokens() {
        let auth = from(json!([
            { "type": "static", "options": { "token": "very-secret-token", "subject": "ci" } },
        ]))
        .expect("valid");
        let debug = format!("{auth:?}");
        assert!(!debug.contains("very-secret-token"), "{debug}");
        assert!(debug.contains("ci"), "{debug}");
        let credentials = auth.authenticate("very-secret-token").expect("known");
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("very-secret-token"), "{debug}");
    }

    #[test]
    fn access_restrictions() {
        let auth = from(json!([{
            "type": "static",
            "options": { "token": "restricted-token", "subject": "ci" },
            "accessRestrictions": [
                { "plugin": "catalog", "permission": "catalog.entity.read, catalog.entity.create" },
                { "plugin": "scaffolder", "permissionAttribute": { "action": ["read", "create"] } },
            ],
        }]))
        .expect("valid");
        let credentials = auth
            .authenticate_for_plugin("restricted-token", Some("catalog"))
            .expect("allowed");
        assert_eq!(
            credentials.principal,
            Principal::Service {
                subject: "ci".into(),
                access_restrictions: Some(json!({
                    "permissionNames": ["catalog.entity.read", "catalog.entity.create"]
                })),
            }
        );
        let credentials = auth
            .authenticate_for_plugin("restricted-token", Some("scaffolder"))
            .expect("allowed");
        assert!(matches!(
            credentials.principal,
            Principal::Service { access_restrictions: Some(ref r), .. }
                if *r == json!({ "permissionAttributes": { "action": ["read", "create"] } })
        ));
        let error = auth
            .authenticate_for_plugin("restricted-token", Some("todo"))
            .expect_err("restricted");
        assert_eq!(error.status(), 403);
        assert_eq!(
            error.message(),
            "This token's access is restricted to plugin(s) 'catalog', 'scaffolder'"
        );
        assert!(auth.authenticate("restricted-token").is_err());
    }

    #[test]
    fn access_restriction_config_errors() {
        let err = |restrictions: Value| {
            from(json!([{
                "type": "static",
                "options": { "token": "restricted-token", "subject": "ci" },
                "accessRestrictions": restrictions,
            }]))
            .expect_err("invalid")
            .to_string()
        };
        assert_eq!(
            err(json!([{ "plugin": "a", "bad": 1 }])),
            "Invalid key 'bad' in 'accessRestrictions' config, expected one of 'plugin', 'permission', 'permissionAttribute'"
        );
        assert_eq!(
            err(json!([{ "plugin": "a" }, { "plugin": "a" }])),
            "Attempted to declare 'accessRestrictions' twice for plugin 'a', which is not permitted"
        );
        assert_eq!(
            err(json!([{ "plugin": "a", "permissionAttribute": { "kind": "x" } }])),
            "Invalid key 'kind' in 'permissionAttribute' config, expected 'action'"
        );
        assert_eq!(
            err(json!([{ "plugin": "a", "permissionAttribute": { "action": "read,destroy" } }])),
            "Invalid value 'destroy' at 'action' in 'permissionAttributes' config, valid values are 'create', 'read', 'update', 'delete'"
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
