//! `backend.listen`: where the HTTP server listens.

use serde_json::Value;

use super::{ConfigReader, js};
use crate::{Error, Result};

/// Backstage's default port.
pub const DEFAULT_PORT: u16 = 7007;

/// The address the backend's HTTP server listens on, read from `backend.listen` as Backstage's
/// `readHttpServerOptions` does.
///
/// `backend.listen` is either a string, `"<port>"` or `"<host>:<port>"` (the port read like
/// JavaScript's `parseInt`, so `"80abc"` is 80), or an object `{ host?, port? }` where `port`
/// may be a numeric string. The default is port 7007 on all interfaces (host `""`).
///
/// ```
/// use backstage_backend_common::config::{ConfigReader, ListenAddress};
/// use serde_json::json;
///
/// let config = ConfigReader::from_value(json!({ "backend": { "listen": "127.0.0.1:8080" } }));
/// let listen = ListenAddress::from_config(&config)?;
/// assert_eq!((listen.host.as_str(), listen.port), ("127.0.0.1", 8080));
///
/// let config = ConfigReader::from_value(json!({ "backend": { "listen": { "port": "9000" } } }));
/// assert_eq!(ListenAddress::from_config(&config)?, ListenAddress { host: String::new(), port: 9000 });
/// # Ok::<(), backstage_backend_common::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenAddress {
    /// The host or IP address; empty means all interfaces.
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl Default for ListenAddress {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: DEFAULT_PORT,
        }
    }
}

impl ListenAddress {
    /// Reads `backend.listen` from the root config; the default when `backend` is absent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidListenAddress`] for a string that is not `<port>` or `<host>:<port>`
    /// (so `::1:8080` fails, as in Backstage), [`Error::InvalidType`] for other shapes (a bare
    /// number for `listen`, a non-string host), [`Error::Conversion`] for a non-numeric port,
    /// [`Error::InvalidListenPort`] for a port outside 0–65535 or not an integer (Backstage
    /// only fails when the server cannot listen).
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        match config.optional_config("backend")? {
            Some(backend) => Self::from_backend_config(&backend),
            None => Ok(Self::default()),
        }
    }

    /// Reads `listen` from the `backend` config block (what Backstage's
    /// `readHttpServerOptions` receives).
    ///
    /// # Errors
    ///
    /// As [`from_config`](Self::from_config).
    pub fn from_backend_config(backend: &ConfigReader) -> Result<Self> {
        let listen_key = || join_key(backend.prefix(), "listen");
        if let Some(Value::String(listen)) = backend.optional("listen")? {
            let parts: Vec<&str> = listen.split(':').collect();
            let port = parts.last().and_then(|last| js::parse_int(last));
            let host = match (port, parts.as_slice()) {
                (Some(_), [_]) => Some(""),
                (Some(_), [host, _]) => Some(*host),
                _ => None,
            };
            return match (host, port) {
                (Some(host), Some(port)) => Ok(Self {
                    host: host.to_owned(),
                    port: to_port(port, listen_key())?,
                }),
                _ => Err(Error::InvalidListenAddress { value: listen }),
            };
        }
        let host = match backend.optional("listen.host")? {
            None => String::new(),
            Some(Value::String(host)) => host,
            Some(_) => {
                // Backstage asks `getOptionalString`, which reports the type error.
                backend.optional_string("listen.host")?;
                return Err(Error::InvalidType {
                    key: join_key(backend.prefix(), "listen.host"),
                    context: backend.context().to_owned(),
                    actual: "object",
                    expected: "string",
                });
            }
        };
        let port = match backend.optional_number("listen.port")? {
            Some(port) => to_port(port, join_key(backend.prefix(), "listen.port"))?,
            None => DEFAULT_PORT,
        };
        Ok(Self { host, port })
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn to_port(port: f64, key: String) -> Result<u16> {
    if port.fract() == 0.0 && (0.0..=65535.0).contains(&port) {
        // In range and integral, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(port as u16)
    } else {
        Err(Error::InvalidListenPort { key, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigLayer;
    use serde_json::json;

    fn listen(value: Value) -> Result<ListenAddress> {
        ListenAddress::from_config(&ConfigReader::from_value(
            json!({ "backend": { "listen": value } }),
        ))
    }

    fn addr(host: &str, port: u16) -> ListenAddress {
        ListenAddress {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn defaults_to_all_interfaces_on_7007() {
        assert_eq!(
            ListenAddress::from_config(&ConfigReader::from_value(json!({}))).unwrap(),
            addr("", 7007)
        );
        assert_eq!(listen(json!({})).unwrap(), addr("", 7007));
        assert_eq!(listen(Value::Null).unwrap(), addr("", 7007));
    }

    #[test]
    fn string_forms() {
        assert_eq!(listen(json!("8080")).unwrap(), addr("", 8080));
        assert_eq!(
            listen(json!("0.0.0.0:8080")).unwrap(),
            addr("0.0.0.0", 8080)
        );
        assert_eq!(listen(json!(":8080")).unwrap(), addr("", 8080));
        assert_eq!(
            listen(json!("localhost:80abc")).unwrap(),
            addr("localhost", 80)
        );
    }

    #[test]
    fn bad_strings_are_rejected() {
        for bad in ["::1:8080", "", "host:", "host:port", "a:b:1", "abc"] {
            assert_eq!(
                listen(json!(bad)).unwrap_err().to_string(),
                format!("Unable to parse listen address {bad}, expected <port> or <host>:<port>"),
                "{bad}"
            );
        }
    }

    #[test]
    fn object_forms() {
        assert_eq!(
            listen(json!({ "host": "127.0.0.1", "port": 9000 })).unwrap(),
            addr("127.0.0.1", 9000)
        );
        assert_eq!(listen(json!({ "port": " 9000 " })).unwrap(), addr("", 9000));
        assert_eq!(listen(json!({ "host": "" })).unwrap(), addr("", 7007));
        assert_eq!(
            listen(json!({ "host": 5 })).unwrap_err().to_string(),
            "Invalid type in config for key 'backend.listen.host' in 'mock-config', got number, wanted string"
        );
        assert_eq!(
            listen(json!({ "port": "abc" })).unwrap_err().to_string(),
            "Unable to convert config value for key 'backend.listen.port' in 'mock-config' to a number"
        );
    }

    #[test]
    fn a_bare_number_is_a_type_error() {
        assert_eq!(
            listen(json!(8080)).unwrap_err().to_string(),
            "Invalid type in config for key 'backend.listen' in 'mock-config', got number, wanted object"
        );
    }

    #[test]
    fn ports_must_fit_in_16_bits() {
        assert!(matches!(
            listen(json!("70000")),
            Err(Error::InvalidListenPort { .. })
        ));
        assert!(matches!(
            listen(json!("-1")),
            Err(Error::InvalidListenPort { .. })
        ));
        assert!(matches!(
            listen(json!({ "port": 1.5 })),
            Err(Error::InvalidListenPort { .. })
        ));
    }

    #[test]
    fn layers_merge_the_object_form() {
        let config = ConfigReader::from_layers(vec![
            ConfigLayer::new(json!({ "backend": { "listen": { "port": 1234 } } }), "low"),
            ConfigLayer::new(json!({ "backend": { "listen": { "host": "h" } } }), "high"),
        ]);
        assert_eq!(
            ListenAddress::from_config(&config).unwrap(),
            addr("h", 1234)
        );
    }
}
