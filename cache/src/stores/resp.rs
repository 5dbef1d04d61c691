//! The RESP code redis and valkey share: connection settings, one shared pipelined connection
//! (a `ConnectionManager`, or a cluster connection), single-key commands only.

use std::sync::Mutex;
use std::time::Duration;

use backstage_backend_common::config::ConfigReader;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig, TlsMode};
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
use redis::{Client, Cmd, ConnectionAddr, ConnectionInfo, FromRedisValue, IntoConnectionInfo};
use serde_json::Value;

use crate::client::ceil_millis;
use crate::store::StoreError;
use crate::{Error, Result};

/// Default TCP keepalive idle time (node-redis' `socket.keepAlive` default).
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(5);

/// How a redis-protocol store connects and lays out its keys.
#[derive(Clone)]
pub(crate) struct Settings {
    /// `redis` or `valkey`.
    pub(crate) name: &'static str,
    /// Standalone server URL.
    pub(crate) url: String,
    /// Cluster seed nodes (URLs); cluster mode when not empty.
    pub(crate) cluster_nodes: Vec<String>,
    /// Written before the plugin id (`N<sep>` for redis, `keyPrefix` for valkey).
    pub(crate) prefix: String,
    /// Between the plugin id and the key.
    pub(crate) separator: String,
    /// `UNLINK` rather than `DEL`.
    pub(crate) use_unlink: bool,
    /// Connect and response timeout.
    pub(crate) timeout: Duration,
    /// TCP keepalive idle time; `None` turns keepalive off.
    pub(crate) keepalive: Option<Duration>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) database: Option<i64>,
    /// Force TLS even for a `redis://` URL.
    pub(crate) tls: bool,
    /// Skip certificate verification.
    pub(crate) insecure: bool,
    pub(crate) read_from_replicas: bool,
    pub(crate) max_redirections: Option<u32>,
}

impl Settings {
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            name,
            url: String::new(),
            cluster_nodes: Vec::new(),
            prefix: String::new(),
            separator: ":".to_owned(),
            use_unlink: true,
            timeout: crate::DEFAULT_TIMEOUT,
            keepalive: Some(DEFAULT_KEEPALIVE),
            username: None,
            password: None,
            database: None,
            tls: false,
            insecure: false,
            read_from_replicas: false,
            max_redirections: None,
        }
    }

    fn setup_error(&self, message: impl Into<String>) -> Error {
        Error::StoreSetup {
            store: self.name,
            message: message.into(),
        }
    }

    fn tcp_settings(&self) -> TcpSettings {
        let settings = TcpSettings::default().set_nodelay(true);
        match self.keepalive {
            Some(idle) => settings.set_keepalive(
                TcpKeepalive::new()
                    .with_time(idle)
                    .with_interval(idle.max(Duration::from_secs(1))),
            ),
            None => settings,
        }
    }

    fn connection_info(&self) -> Result<ConnectionInfo> {
        let url = if self.url.is_empty() {
            "redis://127.0.0.1:6379"
        } else {
            self.url.as_str()
        };
        let info = url
            .into_connection_info()
            .map_err(|e| self.setup_error(format!("invalid connection URL: {e}")))?;
        let mut redis = info.redis_settings().clone();
        if let Some(username) = &self.username {
            redis = redis.set_username(username);
        }
        if let Some(password) = &self.password {
            redis = redis.set_password(password);
        }
        if let Some(database) = self.database {
            redis = redis.set_db(database);
        }
        let mut addr = info.addr().clone();
        let secure = match &mut addr {
            ConnectionAddr::Tcp(host, port) if self.tls => {
                addr = ConnectionAddr::TcpTls {
                    host: host.clone(),
                    port: *port,
                    insecure: self.insecure,
                    tls_params: None,
                };
                true
            }
            ConnectionAddr::TcpTls { insecure, .. } => {
                *insecure |= self.insecure;
                true
            }
            _ => false,
        };
        if secure {
            ensure_crypto_provider();
        }
        Ok(info
            .set_addr(addr)
            .set_redis_settings(redis)
            .set_tcp_settings(self.tcp_settings()))
    }

    fn cluster_client(&self) -> Result<ClusterClient> {
        let mut nodes = Vec::with_capacity(self.cluster_nodes.len());
        let mut secure = self.tls;
        for node in &self.cluster_nodes {
            let info = node
                .as_str()
                .into_connection_info()
                .map_err(|e| self.setup_error(format!("invalid cluster node URL '{node}': {e}")))?;
            secure |= matches!(info.addr(), ConnectionAddr::TcpTls { .. });
            nodes.push(info.set_tcp_settings(self.tcp_settings()));
        }
        let mut builder = ClusterClient::builder(nodes)
            .connection_timeout(self.timeout)
            .response_timeout(self.timeout)
            .tcp_settings(self.tcp_settings());
        if let Some(username) = &self.username {
            builder = builder.username(username);
        }
        if let Some(password) = &self.password {
            builder = builder.password(password);
        }
        if secure {
            ensure_crypto_provider();
            builder = builder.tls(if self.insecure {
                TlsMode::Insecure
            } else {
                TlsMode::Secure
            });
        }
        if self.read_from_replicas {
            builder =
                builder.read_routing_strategy(redis::cluster_read_routing::RandomReplicaStrategy);
        }
        if let Some(redirections) = self.max_redirections {
            builder = builder.retries(redirections);
        }
        builder
            .build()
            .map_err(|e| self.setup_error(format!("invalid cluster settings: {e}")))
    }
}

/// Installs rustls' ring provider as the process default when none is (TLS needs one).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another installer is fine: some provider is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// How the store reaches the server(s).
enum Target {
    Standalone(Client, ConnectionManagerConfig),
    Cluster(ClusterClient, ClusterConfig),
}

#[derive(Clone)]
enum Connection {
    /// Requests go through the batcher, which writes what is queued as one pipeline.
    Standalone(Batcher),
    Cluster(ClusterConnection),
}

fn timed_out() -> redis::RedisError {
    std::io::Error::from(std::io::ErrorKind::TimedOut).into()
}

/// Most commands written as one pipeline.
const MAX_BATCH: usize = 256;

type Reply = tokio::sync::oneshot::Sender<redis::RedisResult<redis::Value>>;

/// Automatic pipelining over the shared connection (as node-redis and ioredis do per event
/// loop tick): a task takes every request queued while the previous write was answered and
/// sends them as one pipeline, so concurrent callers share writes and round trips instead of
/// each paying a system call.
#[derive(Clone)]
struct Batcher {
    requests: tokio::sync::mpsc::UnboundedSender<(Cmd, Reply)>,
}

impl Batcher {
    /// `limit` bounds each write and its answer, so that a connection that stops answering
    /// never holds the queue up for longer.
    fn spawn(connection: ConnectionManager, limit: Duration) -> Self {
        let (requests, mut queue) = tokio::sync::mpsc::unbounded_channel::<(Cmd, Reply)>();
        tokio::spawn(async move {
            let mut batch: Vec<(Cmd, Reply)> = Vec::new();
            while let Some(first) = queue.recv().await {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                // Callers that gave up (timed out) are not sent.
                batch.retain(|(_, reply)| !reply.is_closed());
                let mut connection = connection.clone();
                match batch.len() {
                    0 => {}
                    1 => {
                        if let Some((cmd, reply)) = batch.pop() {
                            let result =
                                tokio::time::timeout(limit, connection.send_packed_command(&cmd))
                                    .await
                                    .unwrap_or_else(|_| Err(timed_out()))
                                    .and_then(redis::Value::extract_error);
                            let _ = reply.send(result);
                        }
                    }
                    n => {
                        let mut pipeline = redis::pipe();
                        let mut replies = Vec::with_capacity(n);
                        for (cmd, reply) in batch.drain(..) {
                            pipeline.add_command(cmd);
                            replies.push(reply);
                        }
                        let answer = tokio::time::timeout(
                            limit,
                            connection.send_packed_commands(&pipeline, 0, n),
                        )
                        .await
                        .unwrap_or_else(|_| Err(timed_out()));
                        match answer {
                            Ok(values) if values.len() == n => {
                                for (value, reply) in values.into_iter().zip(replies) {
                                    let _ = reply.send(value.extract_error());
                                }
                            }
                            Ok(_) => {
                                let error = redis::RedisError::from((
                                    redis::ErrorKind::Client,
                                    "pipeline answered with the wrong number of replies",
                                ));
                                for reply in replies {
                                    let _ = reply.send(Err(error.clone()));
                                }
                            }
                            Err(error) => {
                                for reply in replies {
                                    let _ = reply.send(Err(error.clone()));
                                }
                            }
                        }
                    }
                }
                batch.clear();
            }
        });
        Self { requests }
    }

    async fn query(&self, cmd: Cmd) -> redis::RedisResult<redis::Value> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.requests.send((cmd, reply)).map_err(|_| {
            redis::RedisError::from((redis::ErrorKind::Client, "the connection task stopped"))
        })?;
        answer.await.map_err(|_| {
            redis::RedisError::from((redis::ErrorKind::Client, "the connection task stopped"))
        })?
    }
}

enum State {
    Idle,
    Ready(Connection),
    Closed,
}

/// One redis-protocol server (or cluster) shared by every plugin.
pub(crate) struct RespClient {
    settings: Settings,
    target: Target,
    state: Mutex<State>,
}

impl RespClient {
    /// Validates the settings; connects on first use.
    pub(crate) fn new(settings: Settings) -> Result<Self> {
        if settings.timeout.is_zero() {
            return Err(Error::invalid_config(
                "backend.cache.timeout",
                "must be longer than zero",
            ));
        }
        let target = if settings.cluster_nodes.is_empty() {
            let client = Client::open(settings.connection_info()?)
                .map_err(|e| settings.setup_error(e.to_string()))?;
            // No response timeout here: the client bounds every call itself, and a second
            // timer per request costs throughput.
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(settings.timeout))
                .set_response_timeout(None)
                // Room for every caller in flight, so that senders never wait on the channel.
                .set_pipeline_buffer_size(4096)
                .set_number_of_retries(4)
                .set_min_delay(Duration::from_millis(100))
                .set_max_delay(Duration::from_secs(2));
            Target::Standalone(client, config)
        } else {
            let client = settings.cluster_client()?;
            let config = ClusterConfig::new()
                .set_connection_timeout(settings.timeout)
                .set_response_timeout(settings.timeout);
            Target::Cluster(client, config)
        };
        Ok(Self {
            settings,
            target,
            state: Mutex::new(State::Idle),
        })
    }

    pub(crate) fn name(&self) -> &'static str {
        self.settings.name
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(..))
    }

    fn error(&self, message: impl Into<String>) -> StoreError {
        StoreError::new(self.settings.name, message)
    }

    /// The shared connection, created (lazily connecting) on first use.
    fn connection(&self) -> Result<Connection, StoreError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| self.error("connection state poisoned"))?;
        match &*state {
            State::Ready(connection) => return Ok(connection.clone()),
            State::Closed => return Err(self.error("the store is closed")),
            State::Idle => {}
        }
        let connection = match &self.target {
            Target::Standalone(client, config) => Connection::Standalone(Batcher::spawn(
                ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                    .map_err(|e| self.error(e.to_string()))?,
                self.settings.timeout,
            )),
            Target::Cluster(client, config) => {
                Connection::Cluster(client.get_pending_async_connection_with_config(config.clone()))
            }
        };
        *state = State::Ready(connection.clone());
        Ok(connection)
    }

    async fn query<T: FromRedisValue>(&self, cmd: Cmd) -> Result<T, StoreError> {
        let result = match self.connection()? {
            Connection::Standalone(batcher) => batcher
                .query(cmd)
                .await
                .and_then(|value| redis::from_redis_value(value).map_err(Into::into)),
            Connection::Cluster(mut connection) => cmd.query_async(&mut connection).await,
        };
        result.map_err(|e| self.error(e.to_string()))
    }

    pub(crate) fn physical_key(&self, plugin_id: &str, key: &str) -> String {
        let s = &self.settings;
        let mut physical =
            String::with_capacity(s.prefix.len() + plugin_id.len() + s.separator.len() + key.len());
        physical.push_str(&s.prefix);
        physical.push_str(plugin_id);
        physical.push_str(&s.separator);
        physical.push_str(key);
        physical
    }

    pub(crate) async fn get(
        &self,
        plugin_id: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.physical_key(plugin_id, key));
        self.query(cmd).await
    }

    pub(crate) async fn set(
        &self,
        plugin_id: &str,
        key: &str,
        envelope: String,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.physical_key(plugin_id, key)).arg(envelope);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ceil_millis(ttl).max(1));
        }
        self.query::<redis::Value>(cmd).await.map(|_| ())
    }

    pub(crate) async fn delete(&self, plugin_id: &str, key: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd(if self.settings.use_unlink {
            "UNLINK"
        } else {
            "DEL"
        });
        cmd.arg(self.physical_key(plugin_id, key));
        self.query::<redis::Value>(cmd).await.map(|_| ())
    }

    /// Drops the shared connection; later calls fail.
    pub(crate) fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = State::Closed;
        }
    }
}

impl std::fmt::Debug for RespClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No URL: it may hold a password.
        f.debug_struct("RespClient")
            .field("store", &self.settings.name)
            .field("cluster", &self.is_cluster())
            .field("prefix", &self.settings.prefix)
            .field("separator", &self.settings.separator)
            .field("timeout", &self.settings.timeout)
            .finish_non_exhaustive()
    }
}

/// Applies node-redis / ioredis style client options (`username`, `password`, `database`/`db`,
/// `socket.tls`/`tls`, `socket.keepAlive`, `socket.connectTimeout`,
/// `socket.rejectUnauthorized`) from a config object at `path`.
pub(crate) fn apply_client_options(
    settings: &mut Settings,
    options: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<()> {
    let invalid = |key: &str, expected: &str| {
        Error::invalid_config(format!("{path}.{key}"), format!("must be {expected}"))
    };
    for (key, value) in options {
        match (key.as_str(), value) {
            ("url", _) => {}
            ("username", Value::String(s)) => settings.username = Some(s.clone()),
            ("password", Value::String(s)) => settings.password = Some(s.clone()),
            ("database" | "db", Value::Number(n)) => {
                settings.database = Some(n.as_i64().ok_or_else(|| invalid(key, "an integer"))?);
            }
            // ioredis: `tls: {}` turns TLS on.
            ("tls", Value::Object(_) | Value::Bool(true)) => settings.tls = true,
            ("tls", Value::Bool(false) | Value::Null) => {}
            ("socket", Value::Object(socket)) => {
                for (key, value) in socket {
                    match (key.as_str(), value) {
                        ("tls", Value::Bool(tls)) => settings.tls = *tls,
                        ("rejectUnauthorized", Value::Bool(verify)) => settings.insecure = !verify,
                        ("keepAlive", Value::Bool(false)) => settings.keepalive = None,
                        ("keepAlive", Value::Bool(true)) => {
                            settings.keepalive = Some(DEFAULT_KEEPALIVE);
                        }
                        ("keepAlive", Value::Number(n)) => {
                            let ms = n.as_u64().ok_or_else(|| {
                                invalid("socket.keepAlive", "a number of milliseconds or false")
                            })?;
                            settings.keepalive =
                                (ms > 0).then(|| Duration::from_millis(ms.max(1000)));
                        }
                        ("connectTimeout", Value::Number(n)) => {
                            let ms = n.as_u64().filter(|ms| *ms > 0).ok_or_else(|| {
                                invalid(
                                    "socket.connectTimeout",
                                    "a positive number of milliseconds",
                                )
                            })?;
                            settings.timeout = Duration::from_millis(ms);
                        }
                        (other, _) => tracing::debug!(
                            target: "backstage_cache",
                            "ignoring unsupported cache client option '{path}.socket.{other}'"
                        ),
                    }
                }
            }
            ("username" | "password", _) => return Err(invalid(key, "a string")),
            (other, _) => tracing::debug!(
                target: "backstage_cache",
                "ignoring unsupported cache client option '{path}.{other}'"
            ),
        }
    }
    Ok(())
}

/// Reads `cluster` of a redis/valkey block: `rootNodes` (`[{ url }]`, `[{ host, port }]` or
/// strings), `defaults` (client options for every node), `useReplicas`,
/// `maxCommandRedirections`. Returns `false` (after a warning) when there is no `rootNodes`.
pub(crate) fn read_cluster(
    settings: &mut Settings,
    block: &ConfigReader,
    path: &str,
) -> Result<bool> {
    let Some(cluster) = block.optional_config("cluster")? else {
        return Ok(false);
    };
    let Some(Value::Array(nodes)) = cluster.optional("rootNodes")? else {
        if cluster.has("rootNodes")? {
            return Err(Error::invalid_config(
                format!("{path}.cluster.rootNodes"),
                "must be an array of nodes",
            ));
        }
        let store = if settings.name == "redis" {
            "Redis"
        } else {
            "Valkey"
        };
        tracing::warn!(
            target: "backstage_cache",
            "{store} cluster config has no 'rootNodes' key, defaulting to non-clustered mode"
        );
        return Ok(false);
    };
    let mut urls = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let url = match node {
            Value::String(url) => url.clone(),
            Value::Object(node) => match (node.get("url"), node.get("host")) {
                (Some(Value::String(url)), _) => url.clone(),
                (None, Some(Value::String(host))) => {
                    let port = match node.get("port") {
                        None => 6379,
                        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
                        Some(Value::String(s)) => s.parse().unwrap_or(0),
                        Some(_) => 0,
                    };
                    if port == 0 || port > u64::from(u16::MAX) {
                        return Err(Error::invalid_config(
                            format!("{path}.cluster.rootNodes[{i}].port"),
                            "must be a port number",
                        ));
                    }
                    format!("redis://{host}:{port}")
                }
                _ => {
                    return Err(Error::invalid_config(
                        format!("{path}.cluster.rootNodes[{i}]"),
                        "must have a 'url' or a 'host'",
                    ));
                }
            },
            _ => {
                return Err(Error::invalid_config(
                    format!("{path}.cluster.rootNodes[{i}]"),
                    "must be a URL string or an object",
                ));
            }
        };
        urls.push(url);
    }
    if urls.is_empty() {
        return Err(Error::invalid_config(
            format!("{path}.cluster.rootNodes"),
            "must list at least one node",
        ));
    }
    settings.cluster_nodes = urls;
    if let Some(Value::Object(defaults)) = cluster.optional("defaults")? {
        apply_client_options(settings, &defaults, &format!("{path}.cluster.defaults"))?;
    }
    if let Some(replicas) = cluster.optional_boolean("useReplicas")? {
        settings.read_from_replicas = replicas;
    }
    if let Some(max) = cluster.optional_number("maxCommandRedirections")? {
        if max < 0.0 || max.fract() != 0.0 || max > f64::from(u32::MAX) {
            return Err(Error::invalid_config(
                format!("{path}.cluster.maxCommandRedirections"),
                "must be a whole number",
            ));
        }
        // Range checked above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let max = max as u32;
        settings.max_redirections = Some(max);
    }
    Ok(true)
}

/// The common part of both stores' `from_config`: the timeout and the connection URL; the
/// object form's client options are returned to be applied after the cluster defaults (they
/// win over them, as in Backstage).
pub(crate) fn base_settings(
    name: &'static str,
    config: &ConfigReader,
) -> Result<(Settings, Option<serde_json::Map<String, Value>>)> {
    let mut settings = Settings::new(name);
    settings.timeout = crate::config::operation_timeout(config)?;
    match crate::config::connection(config, name)? {
        crate::config::Connection::Url(url) => {
            settings.url = url;
            Ok((settings, None))
        }
        crate::config::Connection::Object { url, options } => {
            settings.url = url;
            Ok((settings, Some(options)))
        }
    }
}
