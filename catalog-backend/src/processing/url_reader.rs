//! Reading URLs: the [`UrlReader`] trait and the default HTTP(S) reader, which only talks
//! to SCM integration hosts and hosts listed in `backend.reading.allow`.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use backstage_core_plugin_api::ConfigReader;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use url::Url;

use super::integrations::{ScmIntegrations, url_host};
use crate::error::{CatalogError, Result};

/// Why a URL could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlReadError {
    /// The content has not changed since the given ETag (`NotModifiedError`).
    NotModified,
    /// The target does not exist (`NotFoundError`).
    NotFound(String),
    /// The target may not be read (`NotAllowedError`), e.g. a host that is neither an
    /// integration nor in `backend.reading.allow`.
    NotAllowed(String),
    /// The reader does not support this kind of read (`NotImplementedError`), e.g. globs.
    Unsupported(String),
    /// Anything else (`Error`).
    Other(String),
}

impl UrlReadError {
    /// The JavaScript error name (`NotFoundError`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::NotModified => "NotModifiedError",
            Self::NotFound(_) => "NotFoundError",
            Self::NotAllowed(_) => "NotAllowedError",
            Self::Unsupported(_) => "NotImplementedError",
            Self::Other(_) => "Error",
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::NotModified => "",
            Self::NotFound(m) | Self::NotAllowed(m) | Self::Unsupported(m) | Self::Other(m) => m,
        }
    }
}

/// `<Name>: <message>`, like JavaScript's `String(error)`.
impl fmt::Display for UrlReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.message())
    }
}

impl std::error::Error for UrlReadError {}

/// Options of one read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadUrlOptions {
    /// The ETag of the previous read: an unchanged target answers
    /// [`UrlReadError::NotModified`].
    pub etag: Option<String>,
}

impl ReadUrlOptions {
    /// Options with an ETag.
    pub fn with_etag(etag: Option<String>) -> Self {
        Self { etag }
    }
}

/// A successful read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadUrlResponse {
    /// The content.
    pub body: Bytes,
    /// The ETag of the content, when the server gave one.
    pub etag: Option<String>,
}

/// One file found by [`UrlReader::search`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchFile {
    /// The file's URL.
    pub url: String,
    /// Its content.
    pub content: Bytes,
}

/// The files matching a glob URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResponse {
    /// The files.
    pub files: Vec<SearchFile>,
    /// An ETag for the whole result, when the reader has one.
    pub etag: Option<String>,
}

/// Reads the content behind URLs (Backstage's `UrlReaderService`): used by the URL reader
/// processor and the placeholder processor.
///
/// # Contract
///
/// Implementations decide which URLs they may read and answer
/// [`UrlReadError::NotAllowed`] for others; a missing target is
/// [`UrlReadError::NotFound`]; with an [`ReadUrlOptions::etag`] that still matches,
/// [`UrlReadError::NotModified`].
#[async_trait]
pub trait UrlReader: Send + Sync + fmt::Debug {
    /// Reads one URL.
    ///
    /// # Errors
    /// See the trait's contract.
    async fn read_url(
        &self,
        url: &str,
        options: ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReadError>;

    /// Reads every file matching a glob URL (`…/*.yaml`). The default answers
    /// [`UrlReadError::Unsupported`].
    ///
    /// # Errors
    /// See the trait's contract.
    async fn search(
        &self,
        url: &str,
        options: ReadUrlOptions,
    ) -> Result<SearchResponse, UrlReadError> {
        let _ = options;
        Err(UrlReadError::Unsupported(format!(
            "Reading glob patterns is not supported by this URL reader: {url}"
        )))
    }
}

/// One `backend.reading.allow` entry: `{host, paths?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingAllowRule {
    /// `name`, `name:port`, or `*.example.com` (any subdomain).
    pub host: String,
    /// Path prefixes the URL's path must start with; `None`: any path.
    pub paths: Option<Vec<String>>,
}

impl ReadingAllowRule {
    /// A rule for every path of a host.
    pub fn host(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            paths: None,
        }
    }

    fn matches(&self, url: &Url) -> bool {
        let host = url_host(url);
        let host_ok = match self.host.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') => host.ends_with(suffix),
            _ => host.eq_ignore_ascii_case(&self.host),
        };
        host_ok
            && self
                .paths
                .as_ref()
                .is_none_or(|paths| paths.iter().any(|p| url.path().starts_with(p.as_str())))
    }
}

/// Reads `backend.reading.allow`.
///
/// # Errors
/// [`CatalogError::Config`] naming the key.
pub fn reading_allow_from_config(config: &ConfigReader) -> Result<Vec<ReadingAllowRule>> {
    let key = "backend.reading.allow";
    let err = |e: backstage_backend_common::Error| CatalogError::Config(format!("{key}: {e}"));
    let mut out = Vec::new();
    for (i, entry) in config
        .optional_config_array(key)
        .map_err(err)?
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let key = format!("{key}[{i}]");
        let err = |e: backstage_backend_common::Error| CatalogError::Config(format!("{key}: {e}"));
        out.push(ReadingAllowRule {
            host: entry.string("host").map_err(err)?,
            paths: entry.optional_string_array("paths").map_err(err)?,
        });
    }
    Ok(out)
}

/// Limits of the [`HttpUrlReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpReaderLimits {
    /// Largest body read (default 10 MiB); larger ones fail.
    pub max_body_bytes: usize,
    /// Timeout of one read, redirects and body included (default 30 s).
    pub timeout: Duration,
    /// Most redirects followed (default 5).
    pub max_redirects: usize,
}

impl HttpReaderLimits {
    /// Sets the largest body read.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets the timeout of one read.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the most redirects followed.
    #[must_use]
    pub fn max_redirects(mut self, redirects: usize) -> Self {
        self.max_redirects = redirects;
        self
    }
}

impl Default for HttpReaderLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            max_redirects: 5,
        }
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The default [`UrlReader`]: HTTP/1.1 over rustls (ring, webpki roots).
///
/// Safety rules:
///
/// * only `http`/`https` URLs whose host is an SCM integration host (configured or one of
///   the defaults) or matches `backend.reading.allow` are fetched; anything else is
///   [`UrlReadError::NotAllowed`] (`Reading from '<url>' is not allowed. You may need to
///   configure an integration for the target host, or add it to the configured list of
///   allowed hosts at 'backend.reading.allow'`);
/// * redirects are followed only to hosts that pass the same check (and drop the
///   integration's credentials when the host changes);
/// * bodies are bounded ([`HttpReaderLimits`]), and so is the time of a read.
///
/// GitHub `…/blob/<ref>/<path>` URLs are fetched from the raw host (or the contents API
/// when a token is configured) and GitLab `…/-/blob/<ref>/<path>` URLs from the files API,
/// with the integration's `Authorization` header.
#[derive(Clone)]
pub struct HttpUrlReader {
    inner: Arc<HttpInner>,
}

struct HttpInner {
    integrations: ScmIntegrations,
    allow: Vec<ReadingAllowRule>,
    limits: HttpReaderLimits,
    client: OnceLock<std::result::Result<HttpsClient, String>>,
}

impl fmt::Debug for HttpUrlReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpUrlReader")
            .field("integrations", &self.inner.integrations)
            .field("allow", &self.inner.allow)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl Default for HttpUrlReader {
    /// Default integrations, nothing else allowed.
    fn default() -> Self {
        Self::new(ScmIntegrations::default(), Vec::new())
    }
}

impl HttpUrlReader {
    /// A reader for these integrations and allow rules. Cheap: the HTTP client is built on
    /// first use.
    pub fn new(integrations: ScmIntegrations, allow: Vec<ReadingAllowRule>) -> Self {
        Self::with_limits(integrations, allow, HttpReaderLimits::default())
    }

    /// Like [`HttpUrlReader::new`] with explicit limits.
    pub fn with_limits(
        integrations: ScmIntegrations,
        allow: Vec<ReadingAllowRule>,
        limits: HttpReaderLimits,
    ) -> Self {
        Self {
            inner: Arc::new(HttpInner {
                integrations,
                allow,
                limits,
                client: OnceLock::new(),
            }),
        }
    }

    /// A reader configured from the root config (`integrations`, `backend.reading.allow`).
    ///
    /// # Errors
    /// [`CatalogError::Config`] naming the key that is wrong.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        Ok(Self::new(
            ScmIntegrations::from_config(config)?,
            reading_allow_from_config(config)?,
        ))
    }

    /// Whether the reader may fetch this URL at all.
    pub fn is_allowed(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let host = url_host(url);
        if self.inner.integrations.by_host(&host).is_some() {
            return true;
        }
        self.inner.allow.iter().any(|rule| rule.matches(url))
    }

    /// Hosts reached through an integration's API or raw base URL are allowed as redirect
    /// and fetch targets too.
    fn is_allowed_target(&self, url: &Url) -> bool {
        if self.is_allowed(url) {
            return true;
        }
        let host = url_host(url);
        matches!(url.scheme(), "http" | "https")
            && self.inner.integrations.list().iter().any(|i| {
                i.extra_hosts()
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(&host))
            })
    }

    fn client(&self) -> std::result::Result<&HttpsClient, UrlReadError> {
        self.inner
            .client
            .get_or_init(build_client)
            .as_ref()
            .map_err(|e| UrlReadError::Other(e.clone()))
    }

    async fn fetch(
        &self,
        original: &str,
        options: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReadError> {
        let not_allowed = || {
            UrlReadError::NotAllowed(format!(
                "Reading from '{original}' is not allowed. You may need to configure an integration for the target host, or add it to the configured list of allowed hosts at 'backend.reading.allow'"
            ))
        };
        let parsed = Url::parse(original).map_err(|_| not_allowed())?;
        if !self.is_allowed(&parsed) {
            return Err(not_allowed());
        }
        let integration = self.inner.integrations.by_url(&parsed);
        let (mut target, api) = match integration {
            Some(i) => i.fetch_url(&parsed),
            None => (parsed.clone(), false),
        };
        let mut auth = integration
            .and_then(|i| i.authorization())
            .map(str::to_owned);
        let auth_host = url_host(&target);
        let client = self.client()?;
        for _ in 0..=self.inner.limits.max_redirects {
            if !self.is_allowed_target(&target) {
                return Err(not_allowed());
            }
            if url_host(&target) != auth_host {
                auth = None;
            }
            let mut request =
                Request::get(target.as_str()).header(header::USER_AGENT, "backstage-rs-catalog");
            if api {
                request = request.header(header::ACCEPT, "application/vnd.github.v3.raw");
            }
            if let Some(auth) = &auth {
                request = request.header(header::AUTHORIZATION, auth.as_str());
            }
            if let Some(etag) = options.etag.as_deref()
                && let Ok(value) = HeaderValue::from_str(etag)
            {
                request = request.header(header::IF_NONE_MATCH, value);
            }
            let request = request
                .body(Empty::<Bytes>::new())
                .map_err(|e| UrlReadError::Other(format!("could not read {original}, {e}")))?;
            let response = client
                .request(request)
                .await
                .map_err(|e| UrlReadError::Other(format!("could not read {original}, {e}")))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| target.join(l).ok());
                match location {
                    Some(next) => {
                        target = next;
                        continue;
                    }
                    None => {
                        return Err(UrlReadError::Other(format!(
                            "could not read {original}, {} {}",
                            status.as_u16(),
                            status.canonical_reason().unwrap_or("")
                        )));
                    }
                }
            }
            if status == StatusCode::NOT_MODIFIED {
                return Err(UrlReadError::NotModified);
            }
            if !status.is_success() {
                let message = format!(
                    "could not read {original}, {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                );
                return Err(if status == StatusCode::NOT_FOUND {
                    UrlReadError::NotFound(message)
                } else {
                    UrlReadError::Other(message)
                });
            }
            let etag = response
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let limit = self.inner.limits.max_body_bytes;
            let body = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        UrlReadError::Other(format!(
                            "could not read {original}, the response is larger than {limit} bytes"
                        ))
                    } else {
                        UrlReadError::Other(format!("could not read {original}, {e}"))
                    }
                })?
                .to_bytes();
            return Ok(ReadUrlResponse { body, etag });
        }
        Err(UrlReadError::Other(format!(
            "could not read {original}, too many redirects"
        )))
    }
}

fn build_client() -> std::result::Result<HttpsClient, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

#[async_trait]
impl UrlReader for HttpUrlReader {
    async fn read_url(
        &self,
        url: &str,
        options: ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReadError> {
        match tokio::time::timeout(self.inner.limits.timeout, self.fetch(url, &options)).await {
            Ok(result) => result,
            Err(_) => Err(UrlReadError::Other(format!(
                "could not read {url}, timed out after {} ms",
                self.inner.limits.timeout.as_millis()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn allow_rules_match_hosts_ports_wildcards_and_paths() {
        let reader = HttpUrlReader::new(
            ScmIntegrations::new(vec![]),
            vec![
                ReadingAllowRule::host("example.com"),
                ReadingAllowRule::host("*.example.org"),
                ReadingAllowRule::host("127.0.0.1:8080"),
                ReadingAllowRule {
                    host: "docs.example.net".into(),
                    paths: Some(vec!["/public/".into()]),
                },
            ],
        );
        assert!(reader.is_allowed(&url("https://example.com/a")));
        assert!(!reader.is_allowed(&url("https://example.com:8443/a")));
        assert!(!reader.is_allowed(&url("https://sub.example.com/a")));
        assert!(reader.is_allowed(&url("https://a.b.example.org/a")));
        assert!(!reader.is_allowed(&url("https://example.org/a")));
        assert!(reader.is_allowed(&url("http://127.0.0.1:8080/x")));
        assert!(!reader.is_allowed(&url("http://127.0.0.1/x")));
        assert!(reader.is_allowed(&url("https://docs.example.net/public/x.yaml")));
        assert!(!reader.is_allowed(&url("https://docs.example.net/public/../secret")));
        assert!(!reader.is_allowed(&url("https://docs.example.net/private/x")));
        assert!(!reader.is_allowed(&url("file:///etc/passwd")));
    }

    #[test]
    fn integrations_are_allowed_and_config_is_read() {
        let config = ConfigReader::from_value(json!({
            "backend": {"reading": {"allow": [{"host": "a.test", "paths": ["/x"]}]}},
            "integrations": {"github": [{"host": "ghe.test", "token": "t"}]},
        }));
        let reader = HttpUrlReader::from_config(&config).unwrap();
        assert!(reader.is_allowed(&url("https://ghe.test/o/r")));
        assert!(reader.is_allowed(&url("https://github.com/o/r")));
        assert!(reader.is_allowed(&url("https://a.test/x/y")));
        assert!(!reader.is_allowed(&url("https://raw.githubusercontent.com/o/r")));
        assert!(reader.is_allowed_target(&url("https://raw.githubusercontent.com/o/r")));
        assert!(!format!("{reader:?}").contains("token t"));
        let e = reading_allow_from_config(&ConfigReader::from_value(
            json!({"backend": {"reading": {"allow": [{"paths": ["/"]}]}}}),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("backend.reading.allow[0]"), "{e}");
    }

    #[tokio::test]
    async fn disallowed_hosts_are_refused_without_a_request() {
        let reader = HttpUrlReader::default();
        let e = reader
            .read_url("http://10.1.2.3/secret", ReadUrlOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            e,
            UrlReadError::NotAllowed("Reading from 'http://10.1.2.3/secret' is not allowed. You may need to configure an integration for the target host, or add it to the configured list of allowed hosts at 'backend.reading.allow'".into())
        );
        assert_eq!(e.name(), "NotAllowedError");
        let e = reader
            .search(
                "https://github.com/o/r/blob/main/*.yaml",
                ReadUrlOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.name(), "NotImplementedError");
    }
}
