//! Service discovery: the base URLs of plugins, for backend-to-backend calls and for browsers
//! (Backstage's `HostDiscovery` from `@backstage/backend-defaults`).
//!
//! ```
//! use backstage_backend_common::config::ConfigReader;
//! use backstage_backend_common::discovery::HostDiscovery;
//! use serde_json::json;
//!
//! let config = ConfigReader::from_value(json!({
//!     "backend": { "baseUrl": "https://backstage.example.com/", "listen": { "port": 7007 } },
//!     "discovery": {
//!         "endpoints": [
//!             { "target": "http://search.internal/api/{{ pluginId }}", "plugins": ["search"] },
//!             { "target": { "internal": "http://catalog:8080/api/catalog" }, "plugins": ["catalog"] },
//!         ],
//!     },
//! }));
//! let discovery = HostDiscovery::from_config(&config)?;
//!
//! assert_eq!(discovery.base_url("scaffolder")?, "http://localhost:7007/api/scaffolder");
//! assert_eq!(
//!     discovery.external_base_url("scaffolder")?,
//!     "https://backstage.example.com/api/scaffolder"
//! );
//! assert_eq!(discovery.base_url("search")?, "http://search.internal/api/search");
//! assert_eq!(discovery.external_base_url("search")?, "http://search.internal/api/search");
//! assert_eq!(discovery.base_url("catalog")?, "http://catalog:8080/api/catalog");
//! assert_eq!(
//!     discovery.external_base_url("catalog")?,
//!     "https://backstage.example.com/api/catalog"
//! );
//! # Ok::<(), backstage_backend_common::Error>(())
//! ```
//!
//! ## Where the URLs come from
//!
//! * **External** (as browsers and webhooks reach the backend):
//!   `<backend.baseUrl without trailing slashes>/api/<pluginId>`.
//! * **Internal** (backend to backend): `<http|https>://<host>:<port>/api/<pluginId>` from
//!   `backend.listen`: `https` when `backend.https` is set; the listen host with `""` and `::`
//!   replaced by `localhost`, `0.0.0.0` by `127.0.0.1`, and IPv6 addresses in brackets
//!   (`http://[::1]:7007/api/catalog`).
//! * **`discovery.endpoints`** override either or both for some plugins:
//!   `{ target: <url> | { internal?: <url>, external?: <url> }, plugins: [<id> | "*"] }`.
//!   `{{pluginId}}` and `{{ pluginId }}` in a target are replaced by the plugin ID, encoded as
//!   JavaScript's `encodeURIComponent` does (`plugin/beta` → `plugin%2Fbeta`). A later entry
//!   overrides an earlier one for the same plugin; a plugin's own entry wins over `*`, which
//!   wins over the defaults. [`HostDiscoveryOptions::default_endpoints`] come before the
//!   configured ones (Backstage's `defaultEndpoints`).
//!
//! Plugin IDs are not validated, and the URLs are not checked beyond the warnings below; as in
//! Backstage, a target is used as written.
//!
//! Warnings are `tracing` events (target `backstage_backend_common::discovery`): a
//! `backend.baseUrl` that is not a valid URL, and, when the host says it runs in production
//! ([`HostDiscoveryOptions::production`], Backstage's `NODE_ENV=production`), one that points
//! at localhost.
//!
//! ## Differences from Backstage
//!
//! * **No SRV resolution.** Backstage resolves internal targets written as
//!   `http+srv://<record>/path` or `https+srv://<record>/path` through DNS SRV records. Here
//!   such an internal target is an error ([`Error::SrvUnsupported`]) when the discovery is
//!   created, so the misconfiguration shows at start-up. An SRV URL in a target that is used
//!   for external URLs is [`Error::SrvExternalTarget`], with Backstage's message. Any target
//!   whose scheme is `http+srv` or `https+srv` (in any case) counts as an SRV URL; Backstage
//!   only counts those it can parse as one.
//! * **No config subscription.** Backstage re-reads the endpoints when the configuration
//!   changes; [`ConfigReader`] does not change, so create a new `HostDiscovery` instead.
//! * **Synchronous.** Lookups are plain function calls; the `Result` leaves room for lookups
//!   that can fail (SRV), and no lookup fails today.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::config::{ConfigReader, ListenAddress};
use crate::{Error, Result};

/// The placeholder name in endpoint targets: `{{pluginId}}` or `{{ pluginId }}`.
const PLACEHOLDER: &str = "pluginId";

/// Where a [`DiscoveryEndpoint`] points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryTarget {
    /// One URL for both internal and external lookups (a string `target`).
    Both(String),
    /// Separate URLs; a missing one leaves that kind of lookup to lower-priority entries and
    /// the defaults.
    Split {
        /// The URL for [`HostDiscovery::base_url`].
        internal: Option<String>,
        /// The URL for [`HostDiscovery::external_base_url`].
        external: Option<String>,
    },
}

/// One entry of `discovery.endpoints` (Backstage's `HostDiscoveryEndpoint`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryEndpoint {
    /// The base URL of the plugins' APIs, with optional `{{pluginId}}` placeholders.
    pub target: DiscoveryTarget,
    /// The plugin IDs this entry applies to; `*` matches every plugin.
    pub plugins: Vec<String>,
}

/// Options for [`HostDiscovery::from_config_with_options`] (Backstage's
/// `HostDiscoveryOptions`).
///
/// ```
/// use backstage_backend_common::config::ConfigReader;
/// use backstage_backend_common::discovery::{
///     DiscoveryEndpoint, DiscoveryTarget, HostDiscovery, HostDiscoveryOptions,
/// };
/// use serde_json::json;
///
/// let options = HostDiscoveryOptions::default()
///     .production(true)
///     .default_endpoints(vec![DiscoveryEndpoint {
///         target: DiscoveryTarget::Both("https://core.example.com/api/{{pluginId}}".into()),
///         plugins: vec!["auth".into()],
///     }]);
/// let config = ConfigReader::from_value(json!({
///     "backend": { "baseUrl": "https://backstage.example.com" },
/// }));
/// let discovery = HostDiscovery::from_config_with_options(&config, &options)?;
/// assert_eq!(discovery.base_url("auth")?, "https://core.example.com/api/auth");
/// # Ok::<(), backstage_backend_common::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct HostDiscoveryOptions {
    /// Endpoints with lower priority than `discovery.endpoints` but higher than the defaults.
    pub default_endpoints: Vec<DiscoveryEndpoint>,
    /// Whether the backend runs in production (Backstage checks `NODE_ENV=production`); only
    /// enables the warning about a localhost `backend.baseUrl`.
    pub production: bool,
}

impl HostDiscoveryOptions {
    /// Sets [`default_endpoints`](Self::default_endpoints).
    pub fn default_endpoints(mut self, endpoints: Vec<DiscoveryEndpoint>) -> Self {
        self.default_endpoints = endpoints;
        self
    }

    /// Sets [`production`](Self::production).
    pub fn production(mut self, production: bool) -> Self {
        self.production = production;
        self
    }
}

/// Backstage's `HostDiscovery` (see the [module docs](self)): plugin base URLs from
/// `backend.baseUrl`, `backend.listen`, `backend.https` and `discovery.endpoints`.
///
/// Cheap to clone. Ask before every request rather than caching the URL, as Backstage
/// recommends, so a future implementation can balance or move plugins.
#[derive(Clone, Debug)]
pub struct HostDiscovery {
    inner: Arc<Resolvers>,
}

/// URL patterns (with placeholders) by plugin ID, and the fallbacks.
#[derive(Debug)]
struct Resolvers {
    internal: HashMap<String, String>,
    external: HashMap<String, String>,
    internal_fallback: String,
    external_fallback: String,
}

impl HostDiscovery {
    /// Reads the discovery configuration with default [`HostDiscoveryOptions`].
    ///
    /// # Errors
    ///
    /// [`Error::Missing`] without `backend.baseUrl` (Backstage's message), the errors of
    /// [`ListenAddress::from_backend_config`] for a bad `backend.listen`, reader errors
    /// ([`Error::InvalidType`], [`Error::Missing`]) for malformed `discovery.endpoints`
    /// (each needs `target` and `plugins`), [`Error::SrvUnsupported`] and
    /// [`Error::SrvExternalTarget`] for SRV targets.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        Self::from_config_with_options(config, &HostDiscoveryOptions::default())
    }

    /// Reads the discovery configuration, adding `options.default_endpoints` below the
    /// configured endpoints.
    ///
    /// # Errors
    ///
    /// As [`from_config`](Self::from_config); SRV targets in the default endpoints are errors
    /// too (keyed `defaultEndpoints[<i>].target…`).
    pub fn from_config_with_options(
        config: &ConfigReader,
        options: &HostDiscoveryOptions,
    ) -> Result<Self> {
        let base_url = config.string("backend.baseUrl")?;
        warn_about_base_url(&base_url, options.production);
        let external_base = base_url.trim_end_matches('/');

        let listen = ListenAddress::from_backend_config(&config.config("backend")?)?;
        let protocol = if config.has("backend.https")? {
            "https"
        } else {
            "http"
        };
        let host = internal_host(&listen.host);

        let mut endpoints: Vec<(String, DiscoveryEndpoint)> = options
            .default_endpoints
            .iter()
            .enumerate()
            .map(|(i, endpoint)| (format!("defaultEndpoints[{i}]"), endpoint.clone()))
            .collect();
        endpoints.extend(read_endpoints(config)?);

        let mut internal = HashMap::new();
        let mut external = HashMap::new();
        for (key, DiscoveryEndpoint { target, plugins }) in endpoints {
            let (internal_target, external_target) = match target {
                DiscoveryTarget::Both(url) => {
                    check_not_srv(&url, &format!("{key}.target"), true)?;
                    (Some(url.clone()), Some(url))
                }
                DiscoveryTarget::Split {
                    internal: internal_url,
                    external: external_url,
                } => {
                    if let Some(url) = &internal_url {
                        check_not_srv(url, &format!("{key}.target.internal"), false)?;
                    }
                    if let Some(url) = &external_url {
                        check_not_srv(url, &format!("{key}.target.external"), true)?;
                    }
                    (internal_url, external_url)
                }
            };
            // An empty string is falsy in Backstage: that side is not overridden.
            if let Some(url) = internal_target.filter(|u| !u.is_empty()) {
                for plugin in &plugins {
                    internal.insert(plugin.clone(), url.clone());
                }
            }
            if let Some(url) = external_target.filter(|u| !u.is_empty()) {
                for plugin in &plugins {
                    external.insert(plugin.clone(), url.clone());
                }
            }
        }

        Ok(Self {
            inner: Arc::new(Resolvers {
                internal,
                external,
                internal_fallback: format!(
                    "{protocol}://{host}:{}/api/{{{{{PLACEHOLDER}}}}}",
                    listen.port
                ),
                external_fallback: format!("{external_base}/api/{{{{{PLACEHOLDER}}}}}"),
            }),
        })
    }

    /// The base URL of `plugin_id`'s API for calls from other backends (Backstage's
    /// `getBaseUrl`), without a trailing slash unless the configured target has one.
    ///
    /// # Errors
    ///
    /// None today: every target is resolved without I/O (SRV targets are rejected when the
    /// discovery is created).
    pub fn base_url(&self, plugin_id: &str) -> Result<String> {
        let inner = &self.inner;
        Ok(resolve(
            &inner.internal,
            &inner.internal_fallback,
            plugin_id,
        ))
    }

    /// The base URL of `plugin_id`'s API as reachable from browsers and webhooks (Backstage's
    /// `getExternalBaseUrl`).
    ///
    /// # Errors
    ///
    /// None today, as [`base_url`](Self::base_url).
    pub fn external_base_url(&self, plugin_id: &str) -> Result<String> {
        let inner = &self.inner;
        Ok(resolve(
            &inner.external,
            &inner.external_fallback,
            plugin_id,
        ))
    }
}

/// The pattern for `plugin_id` (exact, then `*`, then the fallback) with its placeholders
/// replaced.
fn resolve(patterns: &HashMap<String, String>, fallback: &str, plugin_id: &str) -> String {
    let pattern = patterns
        .get(plugin_id)
        .or_else(|| patterns.get("*"))
        .map_or(fallback, String::as_str);
    replace_placeholders(pattern, &encode_uri_component(plugin_id))
}

/// Backstage's `getEndpoints`: `discovery.endpoints`, keyed by their config path.
fn read_endpoints(config: &ConfigReader) -> Result<Vec<(String, DiscoveryEndpoint)>> {
    let Some(entries) = config.optional_config_array("discovery.endpoints")? else {
        return Ok(Vec::new());
    };
    let mut endpoints = Vec::with_capacity(entries.len());
    for entry in entries {
        let target = match entry.get("target")? {
            Value::String(_) => DiscoveryTarget::Both(entry.string("target")?),
            _ => DiscoveryTarget::Split {
                internal: entry.optional_string("target.internal")?,
                external: entry.optional_string("target.external")?,
            },
        };
        let plugins = entry.string_array("plugins")?;
        endpoints.push((
            entry.prefix().to_owned(),
            DiscoveryEndpoint { target, plugins },
        ));
    }
    Ok(endpoints)
}

/// The host part of the internal default URL for a listen host.
fn internal_host(listen_host: &str) -> String {
    // `localhost` rather than `::1`: IPv6 systems resolve it to IPv6, others still work.
    let host = match listen_host {
        "" | "::" => "localhost",
        "0.0.0.0" => "127.0.0.1",
        other => other,
    };
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Rejects SRV targets: always for external use, and (unlike Backstage) for internal use.
fn check_not_srv(target: &str, key: &str, external: bool) -> Result<()> {
    let scheme = target.split_once("://").map(|(scheme, _)| scheme);
    let is_srv = scheme
        .is_some_and(|s| s.eq_ignore_ascii_case("http+srv") || s.eq_ignore_ascii_case("https+srv"));
    if !is_srv {
        return Ok(());
    }
    let (key, target) = (key.to_owned(), target.to_owned());
    Err(if external {
        Error::SrvExternalTarget { key, target }
    } else {
        Error::SrvUnsupported { key, target }
    })
}

/// Warns about a `backend.baseUrl` that is not a URL, or that points at localhost in
/// production.
fn warn_about_base_url(base_url: &str, production: bool) {
    match url::Url::parse(base_url) {
        Err(err) => {
            tracing::warn!(
                base_url,
                "backend.baseUrl '{base_url}' is not a valid URL ({err}); external plugin URLs are built from it"
            );
        }
        Ok(url) if production && is_loopback(&url) => {
            tracing::warn!(
                base_url,
                "backend.baseUrl is set to a localhost URL ('{base_url}') in production; \
                 other hosts and browsers will not be able to reach the external plugin URLs"
            );
        }
        Ok(_) => {}
    }
}

/// Whether the URL's host is `localhost` (or a subdomain of it) or a loopback address.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            domain == "localhost" || domain.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Replaces every `{{\s*pluginId\s*}}` (JavaScript `\s`) in `pattern` with `value`.
fn replace_placeholders(pattern: &str, value: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + value.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("{{") {
        let (before, from_braces) = rest.split_at(start);
        out.push_str(before);
        let inner = from_braces[2..].trim_start_matches(is_js_whitespace);
        let matched = inner
            .strip_prefix(PLACEHOLDER)
            .map(|after| after.trim_start_matches(is_js_whitespace))
            .and_then(|after| after.strip_prefix("}}"));
        match matched {
            Some(after) => {
                out.push_str(value);
                rest = after;
            }
            None => {
                // Not a placeholder: keep one `{` and look again from the next character, so
                // `{{{pluginId}}` still matches at its second brace as in JavaScript.
                out.push('{');
                rest = &from_braces[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// JavaScript's `\s` (WhiteSpace and LineTerminator).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// JavaScript's `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is
/// percent-encoded as UTF-8.
fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
    out
}

/// Upper-case hexadecimal digits, as `encodeURIComponent` writes them.
const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn discovery(config: Value) -> HostDiscovery {
        HostDiscovery::from_config(&ConfigReader::from_value(config)).unwrap()
    }

    fn with_backend(extra: Value) -> HostDiscovery {
        let mut backend = json!({ "baseUrl": "http://localhost:40" });
        if let (Some(backend), Value::Object(extra)) = (backend.as_object_mut(), extra) {
            backend.extend(extra);
        }
        discovery(json!({ "backend": backend }))
    }

    #[test]
    fn defaults_come_from_base_url_and_listen() {
        let d = discovery(json!({
            "backend": { "baseUrl": "http://localhost:40", "listen": { "port": 80, "host": "localhost" } }
        }));
        assert_eq!(
            d.base_url("catalog").unwrap(),
            "http://localhost:80/api/catalog"
        );
        assert_eq!(
            d.external_base_url("catalog").unwrap(),
            "http://localhost:40/api/catalog"
        );
    }

    #[test]
    fn trailing_slashes_of_base_url_are_stripped() {
        let d = discovery(json!({
            "backend": { "baseUrl": "http://localhost:40//", "listen": { "port": 80, "host": "localhost" } }
        }));
        assert_eq!(
            d.external_base_url("catalog").unwrap(),
            "http://localhost:40/api/catalog"
        );
    }

    #[test]
    fn internal_default_follows_the_listen_host() {
        let cases = [
            (json!({ "listen": ":80" }), "http://localhost:80"),
            (
                json!({ "listen": ":40", "https": true }),
                "https://localhost:40",
            ),
            (json!({ "listen": "127.0.0.1:80" }), "http://127.0.0.1:80"),
            (
                json!({ "listen": "127.0.0.1:80", "https": true }),
                "https://127.0.0.1:80",
            ),
            (json!({ "listen": "0.0.0.0:40" }), "http://127.0.0.1:40"),
            (json!({ "listen": { "port": 80 } }), "http://localhost:80"),
            (
                json!({ "listen": { "port": 8000 } }),
                "http://localhost:8000",
            ),
            (
                json!({ "listen": { "port": 80, "host": "0.0.0.0" } }),
                "http://127.0.0.1:80",
            ),
            (
                json!({ "listen": { "port": 80, "host": "::" } }),
                "http://localhost:80",
            ),
            (
                json!({ "listen": { "port": 80, "host": "" } }),
                "http://localhost:80",
            ),
            (
                json!({ "listen": { "port": 80, "host": "::1" } }),
                "http://[::1]:80",
            ),
            (
                json!({ "listen": { "port": 90, "host": "::2" }, "https": true }),
                "https://[::2]:90",
            ),
            (json!({}), "http://localhost:7007"),
            (
                json!({ "https": { "certificate": { "cert": "c", "key": "k" } } }),
                "https://localhost:7007",
            ),
        ];
        for (backend, expected) in cases {
            let d = with_backend(backend.clone());
            assert_eq!(
                d.base_url("catalog").unwrap(),
                format!("{expected}/api/catalog"),
                "{backend}"
            );
        }
    }

    #[test]
    fn base_url_is_required_with_backstages_message() {
        let err = HostDiscovery::from_config(&ConfigReader::from_value(json!({
            "backend": { "listen": 7007 }
        })))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Missing required config value at 'backend.baseUrl' in 'mock-config'"
        );
        let err = HostDiscovery::from_config(&ConfigReader::from_value(json!({}))).unwrap_err();
        assert!(matches!(err, Error::Missing { .. }), "{err}");
    }

    #[test]
    fn bad_listen_addresses_are_errors() {
        let err = HostDiscovery::from_config(&ConfigReader::from_value(json!({
            "backend": { "baseUrl": "http://x", "listen": "::1:8080" }
        })))
        .unwrap_err();
        assert!(matches!(err, Error::InvalidListenAddress { .. }), "{err}");
    }

    #[test]
    fn string_targets_apply_to_both_lookups() {
        let d = discovery(json!({
            "backend": { "baseUrl": "http://localhost:40", "listen": { "port": 80 } },
            "discovery": { "endpoints": [
                { "target": "http://catalog-backend:8080/api/catalog", "plugins": ["catalog"] }
            ] }
        }));
        assert_eq!(
            d.base_url("catalog").unwrap(),
            "http://catalog-backend:8080/api/catalog"
        );
        assert_eq!(
            d.external_base_url("catalog").unwrap(),
            "http://catalog-backend:8080/api/catalog"
        );
        assert_eq!(
            d.base_url("scaffolder").unwrap(),
            "http://localhost:80/api/scaffolder"
        );
        assert_eq!(
            d.external_base_url("scaffolder").unwrap(),
            "http://localhost:40/api/scaffolder"
        );
    }

    #[test]
    fn split_targets_override_one_side_each() {
        let d = discovery(json!({
            "backend": { "baseUrl": "http://localhost:40", "listen": { "port": 80 } },
            "discovery": { "endpoints": [
                { "target": { "internal": "http://catalog-backend:8080/api/catalog" }, "plugins": ["catalog"] },
                { "target": { "external": "http://frontend/api/scaffolder" }, "plugins": ["scaffolder"] },
                {
                    "target": {
                        "internal": "http://search-internal/api/search",
                        "external": "http://search-external/api/search"
                    },
                    "plugins": ["search"]
                }
            ] }
        }));
        assert_eq!(
            d.base_url("catalog").unwrap(),
            "http://catalog-backend:8080/api/catalog"
        );
        assert_eq!(
            d.external_base_url("catalog").unwrap(),
            "http://localhost:40/api/catalog"
        );
        assert_eq!(
            d.base_url("scaffolder").unwrap(),
            "http://localhost:80/api/scaffolder"
        );
        assert_eq!(
            d.external_base_url("scaffolder").unwrap(),
            "http://frontend/api/scaffolder"
        );
        assert_eq!(
            d.base_url("search").unwrap(),
            "http://search-internal/api/search"
        );
        assert_eq!(
            d.external_base_url("search").unwrap(),
            "http://search-external/api/search"
        );
    }

    #[test]
    fn placeholders_are_replaced_with_the_encoded_plugin_id() {
        let d = discovery(json!({
            "backend": { "baseUrl": "http://localhost:40", "listen": { "port": 80 } },
            "discovery": { "endpoints": [
                { "target": "http://common:8080/api/{{pluginId}}", "plugins": ["catalog", "docs", "plugin/beta"] },
                {
                    "target": {
                        "internal": "http://scaffolder-internal:8080/api/{{ pluginId }}",
                        "external": "http://scaffolder-external/{{pluginId}}/x/{{  pluginId\t}}"
                    },
                    "plugins": ["scaffolder"]
                }
            ] }
        }));
        assert_eq!(d.base_url("docs").unwrap(), "http://common:8080/api/docs");
        assert_eq!(
            d.external_base_url("catalog").unwrap(),
            "http://common:8080/api/catalog"
        );
        assert_eq!(
            d.base_url("plugin/beta").unwrap(),
            "http://common:8080/api/plugin%2Fbeta"
        );
        assert_eq!(
            d.base_url("plugin/alpha").unwrap(),
            "http://localhost:80/api/plugin%2Falpha"
        );
        assert_eq!(
            d.external_base_url("plugin/alpha").unwrap(),
            "http://localhost:40/api/plugin%2Falpha"
        );
        assert_eq!(
            d.base_url("scaffolder").unwrap(),
            "http://scaffolder-internal:8080/api/scaffolder"
        );
        assert_eq!(
            d.external_base_url("scaffolder").unwrap(),
            "http://scaffolder-external/scaffolder/x/scaffolder"
        );
    }

    #[test]
    fn wildcard_and_later_entries_take_precedence_as_in_backstage() {
        let d = discovery(json!({
            "backend": { "baseUrl": "http://localhost:40", "listen": { "port": 80 } },
            "discovery": { "endpoints": [
                { "target": "http://first/{{pluginId}}", "plugins": ["catalog", "todo"] },
                { "target": { "internal": "http://all-internal/{{pluginId}}" }, "plugins": ["*"] },
                { "target": "http://second/{{pluginId}}", "plugins": ["catalog"] }
            ] }
        }));
        // A later entry for the same plugin wins.
        assert_eq!(d.base_url("catalog").unwrap(), "http://second/catalog");
        assert_eq!(
            d.external_base_url("catalog").unwrap(),
            "http://second/catalog"
        );
        // The plugin's own entry wins over `*`, whatever the order.
        assert_eq!(d.base_url("todo").unwrap(), "http://first/todo");
        // `*` wins over the defaults, only on the side it sets.
        assert_eq!(d.base_url("search").unwrap(), "http://all-internal/search");
        assert_eq!(
            d.external_base_url("search").unwrap(),
            "http://localhost:40/api/search"
        );
    }

    #[test]
    fn default_endpoints_rank_below_configured_ones() {
        let config = ConfigReader::from_value(json!({
            "backend": { "baseUrl": "http://localhost:40" },
            "discovery": { "endpoints": [
                { "target": "http://configured/{{pluginId}}", "plugins": ["catalog"] }
            ] }
        }));
        let options = HostDiscoveryOptions::default().default_endpoints(vec![DiscoveryEndpoint {
            target: DiscoveryTarget::Both("http://default/{{pluginId}}".into()),
            plugins: vec!["catalog".into(), "auth".into()],
        }]);
        let d = HostDiscovery::from_config_with_options(&config, &options).unwrap();
        assert_eq!(d.base_url("catalog").unwrap(), "http://configured/catalog");
        assert_eq!(d.base_url("auth").unwrap(), "http://default/auth");
    }

    #[test]
    fn srv_targets_are_rejected() {
        let read = |target: Value| {
            HostDiscovery::from_config(&ConfigReader::from_value(json!({
                "backend": { "baseUrl": "http://localhost:40" },
                "discovery": { "endpoints": [
                    { "target": "http://ok/{{pluginId}}", "plugins": ["ok"] },
                    { "target": target, "plugins": ["catalog"] }
                ] }
            })))
        };
        let err =
            read(json!({ "internal": "http+srv://backstage-{{pluginId}}.svc/api/{{pluginId}}" }))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SRV resolver URLs are not supported, got \
             'http+srv://backstage-{{pluginId}}.svc/api/{{pluginId}}' at \
             'discovery.endpoints[1].target.internal'; use an http:// or https:// URL"
        );
        assert_eq!(err.key(), Some("discovery.endpoints[1].target.internal"));

        let err = read(json!("HTTPS+SRV://catalog.svc/api/catalog")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SRV resolver URLs cannot be used in the target for external endpoints"
        );
        assert_eq!(err.key(), Some("discovery.endpoints[1].target"));

        let err = read(json!({ "external": "https+srv://catalog.svc/api" })).unwrap_err();
        assert!(matches!(err, Error::SrvExternalTarget { .. }), "{err}");

        assert!(read(json!("http://srv.example.com/api")).is_ok());
    }

    #[test]
    fn malformed_endpoints_are_reader_errors() {
        let read = |endpoints: Value| {
            HostDiscovery::from_config(&ConfigReader::from_value(json!({
                "backend": { "baseUrl": "http://localhost:40" },
                "discovery": { "endpoints": endpoints }
            })))
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            read(json!([{ "plugins": ["a"] }])),
            "Missing required config value at 'discovery.endpoints[0].target' in 'mock-config'"
        );
        assert_eq!(
            read(json!([{ "target": "http://x" }])),
            "Missing required config value at 'discovery.endpoints[0].plugins' in 'mock-config'"
        );
        assert_eq!(
            read(json!({ "target": "http://x" })),
            "Invalid type in config for key 'discovery.endpoints' in 'mock-config', got object, \
             wanted object-array"
        );
    }

    #[test]
    fn empty_split_targets_do_not_override() {
        let d = discovery(json!({
            "backend": { "baseUrl": "http://localhost:40" },
            "discovery": { "endpoints": [
                { "target": {}, "plugins": ["catalog"] }
            ] }
        }));
        assert_eq!(
            d.base_url("catalog").unwrap(),
            "http://localhost:7007/api/catalog"
        );
    }

    #[test]
    fn placeholder_matching_follows_the_javascript_pattern() {
        assert_eq!(replace_placeholders("a{{pluginId}}b", "x"), "axb");
        assert_eq!(replace_placeholders("{{{pluginId}}}", "x"), "{x}");
        assert_eq!(
            replace_placeholders("{{ pluginid }}", "x"),
            "{{ pluginid }}"
        );
        assert_eq!(replace_placeholders("{{pluginId}", "x"), "{{pluginId}");
        assert_eq!(replace_placeholders("{{\u{a0}pluginId\n}}", "x"), "x");
        assert_eq!(
            replace_placeholders("{{\u{85}pluginId}}", "x"),
            "{{\u{85}pluginId}}"
        );
        assert_eq!(replace_placeholders("{{", "x"), "{{");
    }

    #[test]
    fn plugin_ids_are_encoded_like_encode_uri_component() {
        assert_eq!(
            encode_uri_component("a-b_c.d!e~f*g'h(i)j"),
            "a-b_c.d!e~f*g'h(i)j"
        );
        assert_eq!(encode_uri_component("a b/c?d&é"), "a%20b%2Fc%3Fd%26%C3%A9");
        assert_eq!(encode_uri_component("$"), "%24");
    }

    /// Collects `<LEVEL> <message>` of every event.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Message(String);
            impl tracing::field::Visit for Message {
                fn record_debug(
                    &mut self,
                    field: &tracing::field::Field,
                    value: &dyn std::fmt::Debug,
                ) {
                    if field.name() == "message" {
                        self.0 = format!("{value:?}");
                    }
                }
            }
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {}", event.metadata().level(), message.0));
        }
    }

    fn warnings_for(base_url: &str, production: bool) -> Vec<String> {
        use tracing_subscriber::layer::SubscriberExt;
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(captured.clone());
        let config = ConfigReader::from_value(json!({ "backend": { "baseUrl": base_url } }));
        let options = HostDiscoveryOptions::default().production(production);
        tracing::subscriber::with_default(subscriber, || {
            HostDiscovery::from_config_with_options(&config, &options).unwrap();
        });
        captured.0.lock().unwrap().clone()
    }

    #[test]
    fn questionable_base_urls_are_warned_about() {
        assert_eq!(
            warnings_for("backstage.example.com", false),
            [
                "WARN backend.baseUrl 'backstage.example.com' is not a valid URL (relative URL \
              without a base); external plugin URLs are built from it"
            ]
        );
        assert_eq!(
            warnings_for("http://localhost:7007", true),
            [
                "WARN backend.baseUrl is set to a localhost URL ('http://localhost:7007') in \
              production; other hosts and browsers will not be able to reach the external plugin \
              URLs"
            ]
        );
        assert!(warnings_for("http://localhost:7007", false).is_empty());
        assert!(warnings_for("https://backstage.example.com", true).is_empty());
    }

    #[test]
    fn loopback_detection() {
        let loopback = |s: &str| is_loopback(&url::Url::parse(s).unwrap());
        assert!(loopback("http://localhost:7007"));
        assert!(loopback("http://LOCALHOST."));
        assert!(loopback("http://app.localhost"));
        assert!(loopback("http://127.0.0.2"));
        assert!(loopback("http://[::1]:80"));
        assert!(!loopback("https://backstage.example.com"));
        assert!(!loopback("http://10.0.0.1"));
    }
}
