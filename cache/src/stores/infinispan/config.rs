//! [`InfinispanConfig`]: the `backend.cache.infinispan` block.
//!
//! Key names and defaults follow Backstage's config schema. Where Backstage's code reads a
//! different spelling than its schema documents (`ssl.sniHostname`, a top-level `clientAuth` or
//! `cryptoStore`), the schema spelling is used and the code's spelling is accepted with a
//! warning. Differences from Backstage, all deliberate:
//!
//! * `store: infinispan` without the block is valid and means `127.0.0.1:11222` (Backstage
//!   throws).
//! * In the single-object form of `servers`, `port` may be a number (Backstage insists on a
//!   string there).
//! * `version: '3.0'` is accepted (Backstage warns and uses 2.9).
//! * An invalid `dataFormat` type falls back to `text/plain` with a warning (Backstage leaves
//!   the field unset and the client then fails on every operation).
//! * `maxRetries` defaults to 3 (Backstage passes `undefined`).
//! * `ssl.cryptoStore` (PKCS#12) is not supported: a warning, and it is ignored (Backstage's
//!   code never passes its path to the client either). `ssl.clientAuth.passphrase` is not
//!   supported: keys must be unencrypted PEM.
//! * `authentication.saslMechanism: DIGEST-MD5` is a startup error (obsolete, not supported).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use backstage_backend_common::config::ConfigReader;
use serde_json::Value;

use super::codec::{MediaType, ProtocolVersion};
use super::error::HotRodError;
use super::sasl::{Credentials, SaslMechanism};

/// The Hot Rod default port.
pub const DEFAULT_PORT: u16 = 11222;
/// The host used when none is configured (the npm client's default).
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Backstage's default cache name.
pub const DEFAULT_CACHE_NAME: &str = "cache";
/// Default time budget of one operation (connecting and authenticating included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default number of additional servers an operation may try after the first fails.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

const BLOCK: &str = "backend.cache.infinispan";

/// A server address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddress {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl ServerAddress {
    /// `host:port`.
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A backup site for cross-site failover (`clusters[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Its name (for logs).
    pub name: Option<String>,
    /// Its servers.
    pub servers: Vec<ServerAddress>,
}

/// SASL settings (`authentication`, when `enabled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The mechanism (`saslMechanism`).
    pub mechanism: SaslMechanism,
    /// User name, password, token, authzid (`Debug` hides secrets).
    pub credentials: Credentials,
}

/// Which TLS versions to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsProtocol {
    /// TLS 1.2 and 1.3.
    #[default]
    Any,
    /// TLS 1.2 only (`TLSv1_2_method`).
    Tls12,
    /// TLS 1.3 only (`TLSv1_3_method`).
    Tls13,
}

/// TLS settings (`ssl`, when `enabled`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    /// PEM files of trusted CA certificates (`trustCerts`); empty means the Mozilla roots.
    pub trust_certs: Vec<PathBuf>,
    /// PEM file of the client certificate chain (`clientAuth.cert`).
    pub client_cert: Option<PathBuf>,
    /// PEM file of the client's unencrypted private key (`clientAuth.key`).
    pub client_key: Option<PathBuf>,
    /// Server name to send and verify (`sniHostName`); default: the server's host.
    pub sni_host_name: Option<String>,
    /// TLS versions (`secureProtocol`).
    pub protocol: TlsProtocol,
}

/// Everything the Infinispan store reads from `backend.cache.infinispan`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfinispanConfig {
    /// `servers`: tried in order until one answers.
    pub servers: Vec<ServerAddress>,
    /// `cacheName`: the (existing) cache on the server.
    pub cache_name: String,
    /// `version`: the Hot Rod protocol version.
    pub version: ProtocolVersion,
    /// `dataFormat.keyType`.
    pub key_media_type: MediaType,
    /// `dataFormat.valueType`.
    pub value_media_type: MediaType,
    /// `maxRetries`: how many more servers an operation may try after the first fails.
    pub max_retries: u32,
    /// `topologyUpdates`: receive the cluster view and route keys to their owners
    /// (client intelligence 3 instead of 1).
    pub topology_updates: bool,
    /// `authentication`, when enabled.
    pub authentication: Option<AuthConfig>,
    /// `ssl`, when enabled.
    pub ssl: Option<TlsOptions>,
    /// `clusters`: backup sites tried after every main server failed.
    pub clusters: Vec<ClusterConfig>,
    /// Time budget of one operation: `backend.cache.timeout` (an addition of ours; default
    /// 1 s) when the store is built from the root config, else set with the builder.
    pub timeout: Duration,
}

impl Default for InfinispanConfig {
    fn default() -> Self {
        Self {
            servers: vec![ServerAddress::new(DEFAULT_HOST, DEFAULT_PORT)],
            cache_name: DEFAULT_CACHE_NAME.to_owned(),
            version: ProtocolVersion::V29,
            key_media_type: MediaType::TextPlain,
            value_media_type: MediaType::TextPlain,
            max_retries: DEFAULT_MAX_RETRIES,
            topology_updates: true,
            authentication: None,
            ssl: None,
            clusters: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

fn invalid(key: &str, message: impl Into<String>) -> HotRodError {
    HotRodError::Config {
        key: format!("{BLOCK}.{key}"),
        message: message.into(),
    }
}

/// The `backend.cache.infinispan` reader, whether given the root, `backend`, `backend.cache`
/// or the block itself.
fn locate(config: &ConfigReader) -> Result<Option<ConfigReader>, HotRodError> {
    Ok(match config.prefix() {
        BLOCK => Some(config.clone()),
        "backend.cache" => config.optional_config("infinispan")?,
        "backend" => config.optional_config("cache.infinispan")?,
        _ => config.optional_config(BLOCK)?,
    })
}

fn port_value(value: &Value, key: &str) -> Result<u16, HotRodError> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number {
        Some(n) if n.fract() == 0.0 && (1.0..=65535.0).contains(&n) => Ok(n as u16),
        _ => Err(invalid(key, format!("expected a port number, got {value}"))),
    }
}

fn server_from(value: &Value, key: &str, default_host: bool) -> Result<ServerAddress, HotRodError> {
    let Value::Object(map) = value else {
        return Err(invalid(
            key,
            "expected an object with `host` and optional `port`",
        ));
    };
    let host = match map.get("host") {
        Some(Value::String(host)) if !host.trim().is_empty() => host.trim().to_owned(),
        None | Some(Value::Null) if default_host => DEFAULT_HOST.to_owned(),
        None | Some(Value::Null) => {
            return Err(invalid(&format!("{key}.host"), "a host is required"));
        }
        Some(other) => {
            return Err(invalid(
                &format!("{key}.host"),
                format!("expected a host name, got {other}"),
            ));
        }
    };
    let port = match map.get("port") {
        None | Some(Value::Null) => DEFAULT_PORT,
        Some(value) => port_value(value, &format!("{key}.port"))?,
    };
    Ok(ServerAddress { host, port })
}

fn servers_from(value: &Value, key: &str) -> Result<Vec<ServerAddress>, HotRodError> {
    match value {
        Value::Array(items) => {
            let servers = items
                .iter()
                .enumerate()
                .map(|(i, item)| server_from(item, &format!("{key}[{i}]"), false))
                .collect::<Result<Vec<_>, _>>()?;
            if servers.is_empty() {
                return Err(invalid(key, "at least one server is required"));
            }
            Ok(servers)
        }
        Value::Object(_) => Ok(vec![server_from(value, key, true)?]),
        other => Err(invalid(
            key,
            format!("expected an array of {{host, port}} or one object, got {other}"),
        )),
    }
}

fn media_type(block: &ConfigReader, key: &str) -> Result<MediaType, HotRodError> {
    match block.optional(key)? {
        None => Ok(MediaType::TextPlain),
        Some(Value::String(s)) if MediaType::parse(&s).is_some() => {
            Ok(MediaType::parse(&s).unwrap_or(MediaType::TextPlain))
        }
        Some(other) => {
            tracing::warn!(
                "Invalid {BLOCK}.{key} {other}: expected 'text/plain' or 'application/json'; using \
                 'text/plain'"
            );
            Ok(MediaType::TextPlain)
        }
    }
}

fn authentication(block: &ConfigReader) -> Result<Option<AuthConfig>, HotRodError> {
    let Some(auth) = block.optional_config("authentication")? else {
        return Ok(None);
    };
    if !auth.optional_boolean("enabled")?.unwrap_or(false) {
        return Ok(None);
    }
    let name = auth.optional_string("saslMechanism")?.ok_or_else(|| {
        invalid(
            "authentication.saslMechanism",
            "required when authentication is enabled (PLAIN, SCRAM-SHA-1, SCRAM-SHA-256, \
             SCRAM-SHA-384, SCRAM-SHA-512, EXTERNAL or OAUTHBEARER)",
        )
    })?;
    let mechanism = SaslMechanism::parse(name.trim()).ok_or_else(|| {
        invalid(
            "authentication.saslMechanism",
            format!(
                "'{name}' is not supported; use PLAIN, SCRAM-SHA-1, SCRAM-SHA-256, \
                 SCRAM-SHA-384, SCRAM-SHA-512, EXTERNAL or OAUTHBEARER"
            ),
        )
    })?;
    let credentials = Credentials {
        user_name: auth.optional_string("userName")?.unwrap_or_default(),
        password: auth.optional_string("password")?.unwrap_or_default(),
        token: auth.optional_string("token")?.unwrap_or_default(),
        authzid: auth.optional_string("authzid")?,
    };
    match mechanism {
        SaslMechanism::External => {}
        SaslMechanism::OAuthBearer => {
            if credentials.token.is_empty() {
                return Err(invalid("authentication.token", "required by OAUTHBEARER"));
            }
        }
        _ => {
            if credentials.user_name.is_empty() {
                return Err(invalid(
                    "authentication.userName",
                    format!("required by {mechanism}"),
                ));
            }
            if credentials.password.is_empty() {
                return Err(invalid(
                    "authentication.password",
                    format!("required by {mechanism}"),
                ));
            }
        }
    }
    Ok(Some(AuthConfig {
        mechanism,
        credentials,
    }))
}

fn tls_protocol(name: &str) -> Result<TlsProtocol, HotRodError> {
    match name {
        "TLS_method" | "TLS_client_method" | "SSLv23_method" | "SSLv23_client_method" => {
            Ok(TlsProtocol::Any)
        }
        "TLSv1_2_method" | "TLSv1_2_client_method" => Ok(TlsProtocol::Tls12),
        "TLSv1_3_method" | "TLSv1_3_client_method" => Ok(TlsProtocol::Tls13),
        other => Err(invalid(
            "ssl.secureProtocol",
            format!(
                "'{other}' is not supported; use TLS_client_method (TLS 1.2 or 1.3), \
                 TLSv1_2_method or TLSv1_3_method"
            ),
        )),
    }
}

fn ssl(block: &ConfigReader) -> Result<Option<TlsOptions>, HotRodError> {
    let ssl = block.optional_config("ssl")?;
    let enabled = match &ssl {
        Some(ssl) => ssl.optional_boolean("enabled")?.unwrap_or(false),
        None => false,
    };
    let Some(ssl) = ssl.filter(|_| enabled) else {
        return Ok(None);
    };
    let mut options = TlsOptions {
        trust_certs: ssl
            .optional_string_array("trustCerts")?
            .unwrap_or_default()
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        ..TlsOptions::default()
    };
    if let Some(protocol) = ssl.optional_string("secureProtocol")? {
        options.protocol = tls_protocol(protocol.trim())?;
    }
    options.sni_host_name = match ssl.optional_string("sniHostName")? {
        Some(name) => Some(name),
        None => {
            let legacy = ssl.optional_string("sniHostname")?;
            if legacy.is_some() {
                tracing::warn!(
                    "{BLOCK}.ssl.sniHostname is deprecated: the documented key is \
                     {BLOCK}.ssl.sniHostName"
                );
            }
            legacy
        }
    };
    let client_auth = match ssl.optional_config("clientAuth")? {
        Some(c) => Some(c),
        None => {
            let legacy = block.optional_config("clientAuth")?;
            if legacy.is_some() {
                tracing::warn!(
                    "{BLOCK}.clientAuth is deprecated: the documented key is {BLOCK}.ssl.clientAuth"
                );
            }
            legacy
        }
    };
    if let Some(client_auth) = client_auth {
        options.client_key = client_auth.optional_string("key")?.map(PathBuf::from);
        options.client_cert = client_auth.optional_string("cert")?.map(PathBuf::from);
        if client_auth.optional_string("passphrase")?.is_some() {
            tracing::warn!(
                "{BLOCK}.ssl.clientAuth.passphrase is not supported and is ignored: the client \
                 key must be an unencrypted PEM file"
            );
        }
        if options.client_key.is_some() != options.client_cert.is_some() {
            return Err(invalid(
                "ssl.clientAuth",
                "both `key` and `cert` are needed for a client certificate",
            ));
        }
    }
    let crypto_store = ssl.has("cryptoStore")? || block.has("cryptoStore")?;
    if crypto_store {
        tracing::warn!(
            "{BLOCK}.ssl.cryptoStore (PKCS#12) is not supported and is ignored; use \
             {BLOCK}.ssl.clientAuth with PEM `key` and `cert` files"
        );
    }
    Ok(Some(options))
}

fn clusters(block: &ConfigReader) -> Result<Vec<ClusterConfig>, HotRodError> {
    let Some(value) = block.optional("clusters")? else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(invalid("clusters", "expected an array of {name, servers}"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let key = format!("clusters[{i}]");
            let name = match item.get("name") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(invalid(
                        &format!("{key}.name"),
                        format!("expected a string, got {other}"),
                    ));
                }
            };
            let servers = match item.get("servers") {
                Some(servers) => servers_from(servers, &format!("{key}.servers"))?,
                None => return Err(invalid(&format!("{key}.servers"), "required")),
            };
            Ok(ClusterConfig { name, servers })
        })
        .collect()
}

impl InfinispanConfig {
    /// Reads `backend.cache.infinispan`. `config` may be the root config or the reader of
    /// `backend`, `backend.cache` or the block itself. A missing block gives the defaults.
    ///
    /// # Errors
    ///
    /// [`HotRodError::Config`]/[`HotRodError::ConfigRead`] for values that cannot work (see
    /// the module docs); questionable values only log warnings.
    pub fn from_config(config: &ConfigReader) -> Result<Self, HotRodError> {
        let mut out = InfinispanConfig::default();
        let Some(block) = locate(config)? else {
            return Ok(out);
        };
        match block.optional("servers")? {
            Some(value) => out.servers = servers_from(&value, "servers")?,
            None => tracing::warn!(
                "No servers configured at {BLOCK}.servers; using {DEFAULT_HOST}:{DEFAULT_PORT}"
            ),
        }
        if let Some(name) = block.optional_string("cacheName")? {
            out.cache_name = name;
        }
        if let Some(version) = block.optional("version")? {
            let text = match &version {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            match text.as_deref().and_then(ProtocolVersion::parse) {
                Some(v) => out.version = v,
                None => tracing::warn!(
                    "Invalid {BLOCK}.version {version}: expected '2.9', '2.5', '2.2' or '3.0'; \
                     using 2.9"
                ),
            }
        }
        if let Some(media) = block.optional("mediaType")? {
            let valid = media.as_str().and_then(MediaType::parse).is_some();
            if !valid {
                tracing::warn!(
                    "Invalid {BLOCK}.mediaType {media}: expected 'text/plain' or \
                     'application/json' (the value is not used)"
                );
            }
        }
        out.key_media_type = media_type(&block, "dataFormat.keyType")?;
        out.value_media_type = media_type(&block, "dataFormat.valueType")?;
        if let Some(retries) = block.optional_number("maxRetries")? {
            if retries < 0.0 || retries.fract() != 0.0 {
                return Err(invalid(
                    "maxRetries",
                    format!("expected a whole number >= 0, got {retries}"),
                ));
            }
            out.max_retries = retries.min(f64::from(u32::MAX)) as u32;
        }
        if let Some(updates) = block.optional_boolean("topologyUpdates")? {
            out.topology_updates = updates;
        }
        out.authentication = authentication(&block)?;
        out.ssl = ssl(&block)?;
        out.clusters = clusters(&block)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<InfinispanConfig, HotRodError> {
        InfinispanConfig::from_config(&ConfigReader::from_value(value))
    }

    #[test]
    fn missing_block_gives_defaults() {
        let config = parse(json!({ "backend": { "cache": { "store": "infinispan" } } })).unwrap();
        assert_eq!(config, InfinispanConfig::default());
        assert_eq!(config.servers, vec![ServerAddress::new("127.0.0.1", 11222)]);
        assert_eq!(config.cache_name, "cache");
    }

    #[test]
    fn reads_every_key() {
        let config = parse(json!({ "backend": { "cache": { "infinispan": {
            "servers": [{ "host": "a" }, { "host": "b", "port": 11333 }, { "host": "c", "port": "11444" }],
            "cacheName": "bs",
            "version": "2.5",
            "dataFormat": { "keyType": "application/json", "valueType": "text/plain" },
            "maxRetries": 1,
            "topologyUpdates": false,
            "authentication": { "enabled": true, "saslMechanism": "SCRAM-SHA-256",
                                "userName": "u", "password": "p", "authzid": "z" },
            "ssl": { "enabled": true, "trustCerts": ["/ca.pem"], "sniHostName": "sni",
                     "secureProtocol": "TLSv1_3_method",
                     "clientAuth": { "key": "/k.pem", "cert": "/c.pem" } },
            "clusters": [{ "name": "b", "servers": [{ "host": "d" }] }]
        } } } }))
        .unwrap();
        assert_eq!(
            config.servers,
            vec![
                ServerAddress::new("a", 11222),
                ServerAddress::new("b", 11333),
                ServerAddress::new("c", 11444)
            ]
        );
        assert_eq!(config.cache_name, "bs");
        assert_eq!(config.version, ProtocolVersion::V25);
        assert_eq!(config.key_media_type, MediaType::ApplicationJson);
        assert_eq!(config.max_retries, 1);
        assert!(!config.topology_updates);
        let auth = config.authentication.unwrap();
        assert_eq!(auth.mechanism, SaslMechanism::ScramSha256);
        assert_eq!(auth.credentials.authzid.as_deref(), Some("z"));
        let ssl = config.ssl.unwrap();
        assert_eq!(ssl.trust_certs, vec![PathBuf::from("/ca.pem")]);
        assert_eq!(ssl.sni_host_name.as_deref(), Some("sni"));
        assert_eq!(ssl.protocol, TlsProtocol::Tls13);
        assert_eq!(ssl.client_key, Some(PathBuf::from("/k.pem")));
        assert_eq!(
            config.clusters[0].servers,
            vec![ServerAddress::new("d", 11222)]
        );
    }

    #[test]
    fn single_object_servers_accept_numeric_and_string_ports() {
        for port in [json!(12000), json!("12000")] {
            let config =
                parse(json!({ "backend": { "cache": { "infinispan": { "servers": { "port": port } } } } }))
                    .unwrap();
            assert_eq!(config.servers, vec![ServerAddress::new("127.0.0.1", 12000)]);
        }
    }

    #[test]
    fn code_spellings_are_accepted() {
        let config = parse(json!({ "backend": { "cache": { "infinispan": {
            "ssl": { "enabled": true, "sniHostname": "legacy" },
            "clientAuth": { "key": "/k.pem", "cert": "/c.pem" },
            "cryptoStore": { "path": "/x.p12", "passphrase": "x" }
        } } } }))
        .unwrap();
        let ssl = config.ssl.unwrap();
        assert_eq!(ssl.sni_host_name.as_deref(), Some("legacy"));
        assert_eq!(ssl.client_cert, Some(PathBuf::from("/c.pem")));
    }

    #[test]
    fn questionable_values_fall_back_and_bad_ones_fail() {
        let config = parse(json!({ "backend": { "cache": { "infinispan": {
            "version": "1.0", "dataFormat": { "keyType": "application/xml" }, "mediaType": "x"
        } } } }))
        .unwrap();
        assert_eq!(config.version, ProtocolVersion::V29);
        assert_eq!(config.key_media_type, MediaType::TextPlain);
        let config =
            parse(json!({ "backend": { "cache": { "infinispan": { "version": 3.0 } } } })).unwrap();
        assert_eq!(config.version, ProtocolVersion::V30);

        for bad in [
            json!({ "servers": [{ "port": 1 }] }),
            json!({ "servers": [{ "host": "a", "port": 70000 }] }),
            json!({ "servers": "a:1" }),
            json!({ "authentication": { "enabled": true, "saslMechanism": "DIGEST-MD5",
                                        "userName": "u", "password": "p" } }),
            json!({ "authentication": { "enabled": true, "saslMechanism": "PLAIN" } }),
            json!({ "ssl": { "enabled": true, "secureProtocol": "TLSv1_method" } }),
            json!({ "ssl": { "enabled": true, "clientAuth": { "key": "/k.pem" } } }),
            json!({ "maxRetries": -1 }),
        ] {
            let result = parse(json!({ "backend": { "cache": { "infinispan": bad.clone() } } }));
            assert!(result.is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn sub_readers_are_accepted() {
        let root = ConfigReader::from_value(json!({ "backend": { "cache": { "infinispan": {
            "cacheName": "x" } } } }));
        for reader in [
            root.clone(),
            root.config("backend").unwrap(),
            root.config("backend.cache").unwrap(),
            root.config("backend.cache.infinispan").unwrap(),
        ] {
            assert_eq!(
                InfinispanConfig::from_config(&reader).unwrap().cache_name,
                "x"
            );
        }
    }
}
