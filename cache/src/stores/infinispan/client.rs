//! [`HotRodClient`]: connections, authentication, failover and topology.
//!
//! * **Connections** are opened lazily, one request at a time each, and kept in a small idle
//!   pool per server (at most [`MAX_IDLE_PER_SERVER`]); at most [`MAX_IN_FLIGHT`] operations
//!   run at once. A new connection is authenticated (AUTH_MECH_LIST, then AUTH until done) or,
//!   without authentication, checked with a PING — as the npm client does.
//! * **Time**: every operation, connecting and authenticating included, runs within
//!   [`InfinispanConfig::timeout`]; when it runs out the operation fails with
//!   [`HotRodError::Timeout`] and the connection in use is dropped.
//! * **Failover**: an operation tries the key's owner (when the server sent segment owners),
//!   the other cluster members, the configured servers and the backup clusters, in that order,
//!   at most `maxRetries + 1` of them. A stale pooled connection is retried on a fresh one
//!   without counting as a failure.
//! * **Recovery**: a server that failed is skipped for a backoff that doubles from 100 ms to
//!   2 s per consecutive failure, then tried again. When every server is backing off an
//!   operation fails at once with [`HotRodError::Unavailable`]. One warning is logged when a
//!   server goes down and one info line when it is back.
//! * **Topology**: with `topologyUpdates` the client announces intelligence 3, keeps the last
//!   topology id and sends it, and routes keyed operations to the segment's primary owner using
//!   Infinispan's MurmurHash3.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use super::codec::{
    self, Expiry, MediaType, PingInfo, ProtocolVersion, Request, RequestHeader, ResponseBody,
    ResponseContext, Topology, intelligence,
};
use super::config::{AuthConfig, ClusterConfig, InfinispanConfig, ServerAddress, TlsOptions};
use super::connection::{Connection, TlsSetup};
use super::error::HotRodError;
use super::hash;
use super::sasl::{Credentials, SaslClient, SaslMechanism, SaslStep};
use super::tls;

/// Idle connections kept per server.
pub const MAX_IDLE_PER_SERVER: usize = 8;
/// Operations running at once per client (each holds at most one connection).
pub const MAX_IN_FLIGHT: usize = 64;
/// SASL round trips allowed before giving up.
const MAX_SASL_ROUNDS: usize = 8;
/// First backoff after a failure; doubles per consecutive failure.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Builds a [`HotRodClient`]. Start from [`HotRodClient::builder`]; settings left alone keep
/// the [`InfinispanConfig`] defaults.
#[must_use]
#[derive(Debug, Clone, Default)]
pub struct HotRodClientBuilder {
    config: InfinispanConfig,
    servers_replaced: bool,
    tls_config: Option<Arc<ClientConfig>>,
}

impl HotRodClientBuilder {
    /// Starts from a parsed config (replaces everything set so far).
    pub fn config(mut self, config: InfinispanConfig) -> Self {
        self.config = config;
        self.servers_replaced = true;
        self
    }

    /// Adds a server; the first call replaces the default `127.0.0.1:11222`.
    pub fn server(mut self, host: impl Into<String>, port: u16) -> Self {
        if !self.servers_replaced {
            self.config.servers.clear();
            self.servers_replaced = true;
        }
        self.config.servers.push(ServerAddress::new(host, port));
        self
    }

    /// The cache to use (default `cache`; empty means the server's default cache).
    pub fn cache_name(mut self, name: impl Into<String>) -> Self {
        self.config.cache_name = name.into();
        self
    }

    /// The protocol version (default 2.9).
    pub fn version(mut self, version: ProtocolVersion) -> Self {
        self.config.version = version;
        self
    }

    /// Key and value media types (default `text/plain`).
    pub fn media_types(mut self, key: MediaType, value: MediaType) -> Self {
        self.config.key_media_type = key;
        self.config.value_media_type = value;
        self
    }

    /// How many more servers an operation may try after the first fails (default 3).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.config.max_retries = retries;
        self
    }

    /// Client intelligence 3 (true, the default) or 1.
    pub fn topology_updates(mut self, enabled: bool) -> Self {
        self.config.topology_updates = enabled;
        self
    }

    /// Time budget of one operation (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// SASL authentication.
    pub fn authentication(mut self, mechanism: SaslMechanism, credentials: Credentials) -> Self {
        self.config.authentication = Some(AuthConfig {
            mechanism,
            credentials,
        });
        self
    }

    /// TLS from files (CA certificates, client certificate, SNI name).
    pub fn tls(mut self, options: TlsOptions) -> Self {
        self.config.ssl = Some(options);
        self
    }

    /// TLS with a ready rustls configuration (overrides [`tls`](Self::tls) files; the SNI
    /// name still comes from [`TlsOptions::sni_host_name`] if set).
    pub fn tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls_config = Some(config);
        if self.config.ssl.is_none() {
            self.config.ssl = Some(TlsOptions::default());
        }
        self
    }

    /// Adds a backup cluster for cross-site failover.
    pub fn backup_cluster(mut self, name: impl Into<String>, servers: Vec<ServerAddress>) -> Self {
        self.config.clusters.push(ClusterConfig {
            name: Some(name.into()),
            servers,
        });
        self
    }

    /// Validates the settings and builds the client. Nothing connects yet: the first
    /// operation does.
    ///
    /// # Errors
    ///
    /// [`HotRodError::Config`] for an empty server list, a zero timeout, or TLS files that
    /// cannot be read.
    pub fn build(self) -> Result<HotRodClient, HotRodError> {
        let config = self.config;
        if config.servers.is_empty() {
            return Err(HotRodError::Config {
                key: "backend.cache.infinispan.servers".to_owned(),
                message: "at least one server is required".to_owned(),
            });
        }
        if config.timeout.is_zero() {
            return Err(HotRodError::Config {
                key: "timeout".to_owned(),
                message: "the operation timeout must be positive".to_owned(),
            });
        }
        let tls = match &config.ssl {
            None => None,
            Some(options) => {
                let client_config = match self.tls_config {
                    Some(c) => c,
                    None => tls::client_config(options)?,
                };
                let server_name = match &options.sni_host_name {
                    None => None,
                    Some(name) => Some(ServerName::try_from(name.clone()).map_err(|e| {
                        HotRodError::Config {
                            key: "backend.cache.infinispan.ssl.sniHostName".to_owned(),
                            message: format!("'{name}' is not a valid server name: {e}"),
                        }
                    })?),
                };
                Some(TlsSetup {
                    connector: TlsConnector::from(client_config),
                    server_name,
                })
            }
        };
        let intelligence = if config.topology_updates {
            intelligence::HASH_DISTRIBUTION_AWARE
        } else {
            intelligence::BASIC
        };
        Ok(HotRodClient {
            inner: Arc::new(Inner {
                config,
                tls,
                intelligence,
                message_ids: AtomicU64::new(1),
                closed: AtomicBool::new(false),
                in_flight: Semaphore::new(MAX_IN_FLIGHT),
                state: Mutex::new(State::default()),
            }),
        })
    }
}

/// A Hot Rod client for one cache. Cheap to clone (an [`Arc`] inside); all clones share the
/// connections.
#[derive(Clone)]
pub struct HotRodClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for HotRodClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotRodClient")
            .field("servers", &self.inner.config.servers)
            .field("cache_name", &self.inner.config.cache_name)
            .field("version", &self.inner.config.version)
            .field("tls", &self.inner.tls.is_some())
            .field(
                "authentication",
                &self
                    .inner
                    .config
                    .authentication
                    .as_ref()
                    .map(|a| a.mechanism),
            )
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: InfinispanConfig,
    tls: Option<TlsSetup>,
    intelligence: u8,
    message_ids: AtomicU64,
    closed: AtomicBool,
    in_flight: Semaphore,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    topology_id: u32,
    topology: Option<Topology>,
    servers: HashMap<ServerAddress, ServerState>,
}

#[derive(Default)]
struct ServerState {
    idle: Vec<Connection>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// What one request got back on a healthy connection.
enum Outcome {
    Body(ResponseBody),
    ServerError { status: u8, message: String },
}

impl HotRodClient {
    /// A builder with the defaults of [`InfinispanConfig`].
    pub fn builder() -> HotRodClientBuilder {
        HotRodClientBuilder::default()
    }

    /// The settings in use.
    #[must_use]
    pub fn config(&self) -> &InfinispanConfig {
        &self.inner.config
    }

    /// The last topology the servers sent, if any.
    #[must_use]
    pub fn topology(&self) -> Option<Topology> {
        self.inner.lock().topology.clone()
    }

    /// GET: the value of `key`, or `None`.
    ///
    /// # Errors
    ///
    /// Any [`HotRodError`]; see the module docs for failover and timeouts.
    pub async fn get(&self, key: &str) -> Result<Option<String>, HotRodError> {
        let key = self.inner.config.key_media_type.encode_str(key);
        match self.execute(Request::Get { key: &key }).await? {
            ResponseBody::Get(None) => Ok(None),
            ResponseBody::Get(Some(bytes)) => self
                .inner
                .config
                .value_media_type
                .decode_str(&bytes)
                .map(Some)
                .map_err(|message| HotRodError::InvalidValue { message }),
            other => Err(unexpected(&other)),
        }
    }

    /// PUT with a lifespan (milliseconds, rounded up), or the cache's default expiration when
    /// `lifespan` is `None` or zero (Backstage sends expiration byte `0x77` then; with a TTL,
    /// `0x17` and the milliseconds). Max-idle is always the server default.
    ///
    /// # Errors
    ///
    /// Any [`HotRodError`].
    pub async fn put(
        &self,
        key: &str,
        value: &str,
        lifespan: Option<Duration>,
    ) -> Result<(), HotRodError> {
        let key = self.inner.config.key_media_type.encode_str(key);
        let value = self.inner.config.value_media_type.encode_str(value);
        let lifespan = match lifespan {
            Some(d) if !d.is_zero() => {
                let millis = d.as_nanos().div_ceil(1_000_000);
                Expiry::millis(u64::try_from(millis).unwrap_or(u64::MAX))
            }
            _ => Expiry::ServerDefault,
        };
        let request = Request::Put {
            key: &key,
            value: &value,
            lifespan,
            max_idle: Expiry::ServerDefault,
        };
        match self.execute(request).await? {
            ResponseBody::Put { .. } => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// REMOVE: whether the key existed.
    ///
    /// # Errors
    ///
    /// Any [`HotRodError`].
    pub async fn remove(&self, key: &str) -> Result<bool, HotRodError> {
        let key = self.inner.config.key_media_type.encode_str(key);
        match self.execute(Request::Remove { key: &key }).await? {
            ResponseBody::Remove { removed } => Ok(removed),
            other => Err(unexpected(&other)),
        }
    }

    /// CLEAR: empties the whole cache (every plugin's entries).
    ///
    /// # Errors
    ///
    /// Any [`HotRodError`].
    pub async fn clear(&self) -> Result<(), HotRodError> {
        match self.execute(Request::Clear).await? {
            ResponseBody::Clear => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// PING: the cache's media types (2.9+) and the server version and operations (3.0).
    ///
    /// # Errors
    ///
    /// Any [`HotRodError`].
    pub async fn ping(&self) -> Result<PingInfo, HotRodError> {
        match self.execute(Request::Ping).await? {
            ResponseBody::Ping(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Closes idle connections and fails every later operation with [`HotRodError::Closed`].
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.in_flight.close();
        let mut state = self.inner.lock();
        for server in state.servers.values_mut() {
            server.idle.clear();
        }
    }

    async fn execute(&self, request: Request<'_>) -> Result<ResponseBody, HotRodError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(HotRodError::Closed);
        }
        let timeout = self.inner.config.timeout;
        match tokio::time::timeout(timeout, self.inner.execute(&request)).await {
            Ok(result) => result,
            Err(_) => Err(HotRodError::Timeout { timeout }),
        }
    }
}

fn unexpected(body: &ResponseBody) -> HotRodError {
    HotRodError::Protocol {
        server: String::new(),
        message: format!("unexpected response {body:?}"),
    }
}

/// Marks the server failed unless the attempt finished: an operation cancelled by its timeout
/// (or by the caller dropping it) counts against the server it was talking to.
struct Attempt<'a> {
    inner: &'a Inner,
    address: &'a ServerAddress,
    started: Instant,
    finished: bool,
}

impl Attempt<'_> {
    fn succeeded(mut self) {
        self.finished = true;
        self.inner.record_success(self.address);
    }

    fn failed(mut self, error: &HotRodError) {
        self.finished = true;
        self.inner.record_failure(self.address, &error.to_string());
    }

    fn abandoned(mut self) {
        self.finished = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        // A caller that gives up early (a `select!` elsewhere) says nothing about the server;
        // one that waited most of the timeout does.
        if !self.finished && self.started.elapsed() >= self.inner.config.timeout / 2 {
            self.inner
                .record_failure(self.address, "no answer within the operation timeout");
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters (worst case: a stale backoff), so recover from poisoning.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn execute(&self, request: &Request<'_>) -> Result<ResponseBody, HotRodError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| HotRodError::Closed)?;
        let candidates = self.candidates(request.key())?;
        let mut last: Option<HotRodError> = None;
        let mut tried = Vec::new();
        for address in &candidates {
            tried.push(address.to_string());
            let attempt = Attempt {
                inner: self,
                address,
                started: Instant::now(),
                finished: false,
            };
            match self.try_server(address, request).await {
                Ok(Outcome::Body(body)) => {
                    attempt.succeeded();
                    return Ok(body);
                }
                Ok(Outcome::ServerError { status, message }) => {
                    // The connection is fine; the server refused the operation.
                    attempt.succeeded();
                    let error = HotRodError::Server {
                        server: address.to_string(),
                        status,
                        message,
                    };
                    if error.is_transient() {
                        last = Some(error);
                        continue;
                    }
                    return Err(error);
                }
                // Our own fault: no other server will like it better.
                Err(error @ HotRodError::InvalidRequest { .. }) => {
                    attempt.abandoned();
                    return Err(error);
                }
                Err(error) => {
                    attempt.failed(&error);
                    last = Some(error);
                }
            }
        }
        Err(HotRodError::Unavailable {
            detail: format!("tried {}", tried.join(", ")),
            last: last.map(Box::new),
        })
    }

    /// Servers to try for one operation, best first, without those backing off.
    fn candidates(&self, key: Option<&[u8]>) -> Result<Vec<ServerAddress>, HotRodError> {
        let state = self.lock();
        let mut all: Vec<ServerAddress> = Vec::new();
        let mut push = |address: ServerAddress| {
            if !all.contains(&address) {
                all.push(address);
            }
        };
        if let Some(topology) = &state.topology {
            if let (Some(key), Some(hash)) = (key, &topology.hash)
                && hash.function != 0
                && let Some(segment) = hash::segment_of(key, hash.num_segments)
                && let Some(&owner) = hash
                    .owners
                    .get(segment as usize)
                    .and_then(|owners| owners.first())
                && let Some((host, port)) = topology.servers.get(owner as usize)
            {
                push(ServerAddress::new(host.clone(), *port));
            }
            for (host, port) in &topology.servers {
                push(ServerAddress::new(host.clone(), *port));
            }
        }
        for address in &self.config.servers {
            push(address.clone());
        }
        for cluster in &self.config.clusters {
            for address in &cluster.servers {
                push(address.clone());
            }
        }
        let now = Instant::now();
        let mut next_retry: Option<Instant> = None;
        let mut available = Vec::new();
        for address in all {
            match state.servers.get(&address).and_then(|s| s.retry_at) {
                Some(at) if at > now => {
                    next_retry = Some(next_retry.map_or(at, |n| n.min(at)));
                }
                _ => available.push(address),
            }
        }
        if available.is_empty() {
            let wait = next_retry.map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
            return Err(HotRodError::Unavailable {
                detail: format!(
                    "every server failed recently; next attempt in {} ms",
                    wait.as_millis()
                ),
                last: None,
            });
        }
        available.truncate(self.config.max_retries.saturating_add(1) as usize);
        Ok(available)
    }

    fn take_idle(&self, address: &ServerAddress) -> Option<Connection> {
        self.lock()
            .servers
            .get_mut(address)
            .and_then(|server| server.idle.pop())
    }

    fn put_idle(&self, address: &ServerAddress, connection: Connection) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let mut state = self.lock();
        let server = state.servers.entry(address.clone()).or_default();
        if server.idle.len() < MAX_IDLE_PER_SERVER {
            server.idle.push(connection);
        }
    }

    fn record_success(&self, address: &ServerAddress) {
        let mut state = self.lock();
        let server = state.servers.entry(address.clone()).or_default();
        if server.failures > 0 {
            tracing::info!(server = %address, "Infinispan server is reachable again");
        }
        server.failures = 0;
        server.retry_at = None;
    }

    fn record_failure(&self, address: &ServerAddress, error: &str) {
        let mut state = self.lock();
        let server = state.servers.entry(address.clone()).or_default();
        server.idle.clear();
        server.failures = server.failures.saturating_add(1);
        let exponent = server.failures.saturating_sub(1).min(16);
        let backoff = BACKOFF_START
            .saturating_mul(1u32 << exponent)
            .min(BACKOFF_MAX);
        server.retry_at = Some(Instant::now() + backoff);
        if server.failures == 1 {
            tracing::warn!(
                server = %address,
                error,
                "Infinispan server failed; skipping it for a while and retrying with backoff"
            );
        }
    }

    fn apply_topology(&self, topology: Topology) {
        let mut state = self.lock();
        if state.topology.is_none() || state.topology_id != topology.id {
            tracing::debug!(
                id = topology.id,
                members = topology.servers.len(),
                "new Infinispan topology"
            );
            state.topology_id = topology.id;
            state.topology = Some(topology);
        }
    }

    async fn try_server(
        &self,
        address: &ServerAddress,
        request: &Request<'_>,
    ) -> Result<Outcome, HotRodError> {
        while let Some(mut connection) = self.take_idle(address) {
            match self.call(&mut connection, request).await {
                Ok(outcome) => {
                    self.put_idle(address, connection);
                    return Ok(outcome);
                }
                // A pooled connection the server closed meanwhile: try another one.
                Err(HotRodError::Io { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let mut connection = Connection::open(address, self.tls.as_ref()).await?;
        self.bootstrap(&mut connection).await?;
        let outcome = self.call(&mut connection, request).await?;
        self.put_idle(address, connection);
        Ok(outcome)
    }

    async fn call(
        &self,
        connection: &mut Connection,
        request: &Request<'_>,
    ) -> Result<Outcome, HotRodError> {
        let message_id = self.message_ids.fetch_add(1, Ordering::Relaxed);
        let topology_id = self.lock().topology_id;
        let header = RequestHeader {
            version: self.config.version,
            message_id,
            cache_name: &self.config.cache_name,
            flags: 0,
            intelligence: self.intelligence,
            topology_id,
            key_media_type: self.config.key_media_type,
            value_media_type: self.config.value_media_type,
        };
        let bytes = codec::encode_request(&header, request)
            .map_err(|message| HotRodError::InvalidRequest { message })?;
        let context = ResponseContext {
            version: self.config.version,
            intelligence: self.intelligence,
            request_opcode: request.opcode(),
        };
        let response = connection.call(&bytes, message_id, &context).await?;
        if let Some(topology) = response.header.topology {
            self.apply_topology(topology);
        }
        Ok(match response.body {
            ResponseBody::Error { message } => Outcome::ServerError {
                status: response.header.status,
                message,
            },
            body => Outcome::Body(body),
        })
    }

    /// Makes a fresh connection usable: SASL when configured, else a PING.
    async fn bootstrap(&self, connection: &mut Connection) -> Result<(), HotRodError> {
        let server = connection.server().to_owned();
        let auth_error = |message: String| HotRodError::Auth {
            server: server.clone(),
            message,
        };
        let Some(auth) = &self.config.authentication else {
            return match self.call(connection, &Request::Ping).await? {
                Outcome::Body(_) => Ok(()),
                Outcome::ServerError { status, message } => Err(HotRodError::Server {
                    server,
                    status,
                    message,
                }),
            };
        };
        let mechanisms = match self.call(connection, &Request::AuthMechList).await? {
            Outcome::Body(ResponseBody::AuthMechList(list)) => list,
            Outcome::Body(other) => return Err(unexpected(&other)),
            Outcome::ServerError { message, .. } => return Err(auth_error(message)),
        };
        let name = auth.mechanism.name();
        if !mechanisms.iter().any(|m| m == name) {
            return Err(auth_error(format!(
                "the selected mechanism {name} is not among the server's mechanisms [{}]",
                mechanisms.join(", ")
            )));
        }
        let nonce = SaslClient::random_nonce().map_err(&auth_error)?;
        let mut sasl = SaslClient::new(auth.mechanism, auth.credentials.clone(), nonce);
        let mut response = sasl.initial_response();
        for _ in 0..MAX_SASL_ROUNDS {
            let request = Request::Auth {
                mechanism: name,
                response: &response,
            };
            let (complete, challenge) = match self.call(connection, &request).await? {
                Outcome::Body(ResponseBody::Auth {
                    complete,
                    challenge,
                }) => (complete, challenge),
                Outcome::Body(other) => return Err(unexpected(&other)),
                Outcome::ServerError { message, .. } => return Err(auth_error(message)),
            };
            if complete && challenge.is_empty() {
                return sasl.check_complete().map_err(auth_error);
            }
            // SCRAM's key derivation is deliberately slow: keep it off the async workers.
            let (returned, step) = tokio::task::spawn_blocking(move || {
                let step = sasl.step(&challenge);
                (sasl, step)
            })
            .await
            .map_err(|e| auth_error(format!("SASL step failed: {e}")))?;
            sasl = returned;
            match step.map_err(&auth_error)? {
                SaslStep::Done => return Ok(()),
                SaslStep::Respond(_) if complete => {
                    return sasl.check_complete().map_err(auth_error);
                }
                SaslStep::Respond(next) => response = next,
            }
        }
        Err(auth_error(format!(
            "no result after {MAX_SASL_ROUNDS} SASL rounds"
        )))
    }
}
