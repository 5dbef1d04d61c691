//! An in-memory Hot Rod server for tests, written from the protocol documentation (and checked
//! against the `infinispan` npm client in `tests/infinispan.rs`).
//!
//! It speaks protocol 2.0–3.0 for the operations a cache needs — PUT (with lifespan and
//! max-idle in every time unit), GET, REMOVE, CLEAR, PING, AUTH_MECH_LIST and AUTH (PLAIN and
//! SCRAM-SHA-1/256/384/512, answering the way Infinispan does: `complete = 1` only when there is
//! no final challenge) — with optional TLS and an optional advertised topology. Other opcodes get
//! an "unknown operation" error and the connection is closed, as are malformed requests.
//!
//! Test controls: [`TestServer::cut_connections`] drops every live connection,
//! [`TestServer::set_hang`] makes the server read requests without answering,
//! [`TestServer::stop`]/[`TestServer::restart`] close and reopen the listener on the same port,
//! and [`TestServer::requests`] returns what every request carried, for byte-level checks.
//!
//! Not for production: no eviction, no persistence, no clustering, no limits beyond the codec's.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use super::codec::{
    self, DecodeError, MediaType, Reader, TimeUnit, opcode, put_bytes, put_string, put_vint,
    put_vlong, status,
};
use super::hash;
use super::sasl::{SaslMechanism, ScramHash, constant_time_eq, scram_attributes};

/// SCRAM iteration count the server asks for.
const SCRAM_ITERATIONS: u32 = 4096;
/// The cache an empty cache name means.
pub const DEFAULT_CACHE: &str = "default";

/// Users and mechanisms of a server that requires authentication.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TestAuth {
    /// Mechanisms offered, in order (`PLAIN`, `SCRAM-SHA-256`, …).
    pub mechanisms: Vec<String>,
    /// (user name, password) pairs.
    pub users: Vec<(String, String)>,
}

impl fmt::Debug for TestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestAuth")
            .field("mechanisms", &self.mechanisms)
            .field(
                "users",
                &self
                    .users
                    .iter()
                    .map(|(u, _)| u.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A cluster view the server sends to topology-aware clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestTopology {
    /// Topology id (clients with a lower id get the update).
    pub id: u32,
    /// Members as (host, port).
    pub members: Vec<(String, u16)>,
    /// Number of segments; segment `s` is owned by member `s % members`, then the next one.
    pub num_segments: u32,
}

impl TestTopology {
    /// The member index owning `key` first.
    #[must_use]
    pub fn primary_owner(&self, key: &[u8]) -> Option<usize> {
        let segment = hash::segment_of(key, self.num_segments)?;
        (!self.members.is_empty()).then(|| segment as usize % self.members.len())
    }
}

/// What one request carried (for assertions and the `--log-requests` output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The whole request as received.
    pub raw: Vec<u8>,
    /// Message id.
    pub message_id: u64,
    /// Version byte.
    pub version: u8,
    /// Opcode.
    pub opcode: u8,
    /// Cache name.
    pub cache_name: String,
    /// Flags.
    pub flags: u32,
    /// Client intelligence.
    pub intelligence: u8,
    /// Client topology id.
    pub topology_id: u32,
    /// Key media type (2.8+).
    pub key_media_type: Option<String>,
    /// Value media type (2.8+).
    pub value_media_type: Option<String>,
    /// Key (GET, PUT, REMOVE).
    pub key: Option<Vec<u8>>,
    /// Value (PUT) or SASL response (AUTH).
    pub value: Option<Vec<u8>>,
    /// Expiration byte (PUT).
    pub expiration: Option<u8>,
    /// Lifespan value (PUT, when explicit).
    pub lifespan: Option<u64>,
    /// Max-idle value (PUT, when explicit).
    pub max_idle: Option<u64>,
    /// SASL mechanism (AUTH).
    pub mechanism: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl RequestRecord {
    /// The record as JSON; byte strings are lower-case hex, `rawWithoutIds` is the request with
    /// its message id and topology id zeroed (comparable across clients).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "raw": hex(&self.raw),
            "rawWithoutIds": hex(&self.raw_without_ids()),
            "messageId": self.message_id,
            "version": self.version,
            "opcode": self.opcode,
            "cacheName": self.cache_name,
            "flags": self.flags,
            "intelligence": self.intelligence,
            "topologyId": self.topology_id,
            "keyMediaType": self.key_media_type,
            "valueMediaType": self.value_media_type,
            "key": self.key.as_deref().map(hex),
            "value": self.value.as_deref().map(hex),
            "expiration": self.expiration,
            "lifespan": self.lifespan,
            "maxIdle": self.max_idle,
            "mechanism": self.mechanism,
        })
    }

    /// The request re-encoded with message id 0 and topology id 0.
    #[must_use]
    pub fn raw_without_ids(&self) -> Vec<u8> {
        let mut r = Reader::new(&self.raw);
        // magic, message id, version, opcode, cache name, flags, intelligence, topology id.
        let skip = (|| -> Result<usize, DecodeError> {
            r.u8()?;
            r.vlong()?;
            r.fixed(2)?;
            r.string()?;
            r.vint()?;
            r.u8()?;
            r.vint()?;
            Ok(r.position())
        })();
        let Ok(header_end) = skip else {
            return self.raw.clone();
        };
        let mut out = vec![codec::REQUEST_MAGIC];
        put_vlong(&mut out, 0);
        out.push(self.version);
        out.push(self.opcode);
        put_string(&mut out, &self.cache_name);
        put_vint(&mut out, self.flags);
        out.push(self.intelligence);
        put_vint(&mut out, 0);
        out.extend_from_slice(&self.raw[header_end..]);
        out
    }
}

/// A callback for every decoded request.
pub type RequestObserver = Arc<dyn Fn(&RequestRecord) + Send + Sync>;

/// Configures a [`TestServer`].
#[must_use]
#[derive(Clone)]
pub struct TestServerBuilder {
    bind: SocketAddr,
    caches: Vec<String>,
    auth: Option<TestAuth>,
    tls: Option<Arc<ServerConfig>>,
    topology: Option<TestTopology>,
    observer: Option<RequestObserver>,
}

impl fmt::Debug for TestServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServerBuilder")
            .field("bind", &self.bind)
            .field("caches", &self.caches)
            .field("auth", &self.auth)
            .field("tls", &self.tls.is_some())
            .field("topology", &self.topology)
            .finish_non_exhaustive()
    }
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            caches: vec!["cache".to_owned()],
            auth: None,
            tls: None,
            topology: None,
            observer: None,
        }
    }
}

impl TestServerBuilder {
    /// Listen address (default `127.0.0.1:0`, an ephemeral port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Cache names that exist besides the default cache (default: `cache`). Others get a
    /// "cache not found" error, as on a real server.
    pub fn caches<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.caches = names.into_iter().map(Into::into).collect();
        self
    }

    /// Requires authentication.
    pub fn auth(mut self, auth: TestAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Serves TLS.
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Sends this topology to clients of intelligence 2 and 3.
    pub fn topology(mut self, topology: TestTopology) -> Self {
        self.topology = Some(topology);
        self
    }

    /// Calls `observer` for every request (besides recording it).
    pub fn observer(mut self, observer: RequestObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn start(self) -> io::Result<TestServer> {
        let listener = TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            settings: Mutex::new(self),
            data: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            hang: AtomicBool::new(false),
            cut,
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(TestServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }
}

struct Entry {
    value: Vec<u8>,
    expires_at: Option<Instant>,
}

struct Shared {
    settings: Mutex<TestServerBuilder>,
    /// cache name → key → entry.
    data: Mutex<HashMap<String, HashMap<Vec<u8>, Entry>>>,
    requests: Mutex<Vec<RequestRecord>>,
    hang: AtomicBool,
    cut: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running test server. Dropping it stops it.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("running", &self.accept.is_some())
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// A builder with the defaults (ephemeral port, cache `cache`, no auth, no TLS).
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// The listen address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listen port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Drops every live connection (the listener keeps accepting).
    pub fn cut_connections(&self) {
        self.shared.cut.send_modify(|generation| *generation += 1);
    }

    /// While true, requests are read but never answered.
    pub fn set_hang(&self, hang: bool) {
        self.shared.hang.store(hang, Ordering::SeqCst);
    }

    /// Replaces the advertised topology.
    pub fn set_topology(&self, topology: Option<TestTopology>) {
        lock(&self.shared.settings).topology = topology;
    }

    /// Stops listening and drops every connection; the data is kept for [`restart`](Self::restart).
    pub fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        self.cut_connections();
    }

    /// Listens again on the same address.
    ///
    /// # Errors
    ///
    /// When the port cannot be bound again.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                // The aborted accept task may still hold the socket for a moment.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempts < 50 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.accept = Some(tokio::spawn(accept_loop(
            listener,
            Arc::clone(&self.shared),
        )));
        Ok(())
    }

    /// Every request received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The raw stored value of `key` in `cache` (expired entries are absent).
    #[must_use]
    pub fn stored(&self, cache: &str, key: &[u8]) -> Option<Vec<u8>> {
        let data = lock(&self.shared.data);
        let entry = data.get(cache)?.get(key)?;
        if entry.expires_at.is_some_and(|at| at <= Instant::now()) {
            return None;
        }
        Some(entry.value.clone())
    }

    /// The number of live entries in `cache`.
    #[must_use]
    pub fn len(&self, cache: &str) -> usize {
        let now = Instant::now();
        lock(&self.shared.data).get(cache).map_or(0, |entries| {
            entries
                .values()
                .filter(|e| e.expires_at.is_none_or(|at| at > now))
                .count()
        })
    }

    /// Whether `cache` has no live entries.
    #[must_use]
    pub fn is_empty(&self, cache: &str) -> bool {
        self.len(cache) == 0
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of file descriptors and the like: back off briefly.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let tls = lock(&shared.settings).tls.clone();
            let mut cut = shared.cut.subscribe();
            cut.mark_unchanged();
            match tls {
                None => serve(tcp, &shared, cut).await,
                Some(config) => {
                    let handshake = TlsAcceptor::from(config).accept(tcp);
                    let stream = tokio::select! {
                        stream = handshake => stream,
                        _ = cut.changed() => return,
                    };
                    if let Ok(stream) = stream {
                        serve(stream, &shared, cut).await;
                    }
                }
            }
        });
    }
}

/// Per-connection SASL state.
enum SaslState {
    None,
    Scram {
        hash: ScramHash,
        gs2_header: String,
        client_first_bare: String,
        server_first: String,
        nonce: String,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
    },
}

struct Connection<'a> {
    shared: &'a Shared,
    authenticated: bool,
    sasl: SaslState,
}

/// A decoded request.
struct Incoming {
    record: RequestRecord,
    lifespan_ms: Option<Option<u64>>,
}

enum Parsed {
    Request(Box<Incoming>, usize),
    /// Answer with this error and close the connection.
    Fatal(Vec<u8>),
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    shared: &Shared,
    mut cut: watch::Receiver<u64>,
) {
    let mut connection = Connection {
        shared,
        authenticated: lock(&shared.settings).auth.is_none(),
        sasl: SaslState::None,
    };
    let mut buf: Vec<u8> = Vec::new();
    loop {
        while !buf.is_empty() {
            match parse_request(&buf) {
                Err(()) => break, // incomplete
                Ok(Parsed::Fatal(response)) => {
                    let _ = stream.write_all(&response).await;
                    let _ = stream.flush().await;
                    return;
                }
                Ok(Parsed::Request(incoming, used)) => {
                    buf.drain(..used);
                    let observer = lock(&shared.settings).observer.clone();
                    if let Some(observer) = observer {
                        observer(&incoming.record);
                    }
                    lock(&shared.requests).push(incoming.record.clone());
                    if shared.hang.load(Ordering::SeqCst) {
                        continue;
                    }
                    let (response, close) = connection.handle(&incoming);
                    if stream.write_all(&response).await.is_err() || stream.flush().await.is_err() {
                        return;
                    }
                    if close {
                        return;
                    }
                }
            }
        }
        if buf.len() > codec::MAX_VALUE_LEN * 2 {
            return;
        }
        buf.reserve(16 * 1024);
        tokio::select! {
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = cut.changed() => return,
        }
    }
}

/// A response header (no topology) followed by `body`.
fn response(
    message_id: u64,
    opcode: u8,
    status: u8,
    topology: Option<&[u8]>,
    body: &[u8],
) -> Vec<u8> {
    let mut out = vec![codec::RESPONSE_MAGIC];
    put_vlong(&mut out, message_id);
    out.push(opcode);
    out.push(status);
    match topology {
        None => out.push(0),
        Some(block) => {
            out.push(1);
            out.extend_from_slice(block);
        }
    }
    out.extend_from_slice(body);
    out
}

fn error_response(message_id: u64, status: u8, message: &str) -> Vec<u8> {
    let mut body = Vec::new();
    put_string(&mut body, message);
    response(message_id, opcode::ERROR, status, None, &body)
}

/// Parses one request. `Err(())` means incomplete.
fn parse_request(buf: &[u8]) -> Result<Parsed, ()> {
    let mut r = Reader::new(buf);
    let fatal = |message_id: u64, status: u8, message: &str| {
        Ok(Parsed::Fatal(error_response(message_id, status, message)))
    };
    macro_rules! read {
        ($e:expr, $id:expr) => {
            match $e {
                Ok(v) => v,
                Err(DecodeError::Incomplete) => return Err(()),
                Err(DecodeError::Malformed(m)) => {
                    return fatal(
                        $id,
                        status::PARSE_ERROR,
                        &format!("RequestParsingException: {m}"),
                    );
                }
            }
        };
    }
    let magic = read!(r.u8(), 0);
    if magic != codec::REQUEST_MAGIC {
        return fatal(
            0,
            status::INVALID_MAGIC_OR_MESSAGE_ID,
            &format!("InvalidMagicIdException: Error reading magic byte or message id: {magic}"),
        );
    }
    let message_id = read!(r.vlong(), 0);
    let version = read!(r.u8(), message_id);
    if !(20..=31).contains(&version) {
        return fatal(
            message_id,
            status::UNKNOWN_VERSION,
            &format!("UnknownVersionException: Unknown version:{version}"),
        );
    }
    let op = read!(r.u8(), message_id);
    let cache_name = read!(r.string(), message_id);
    let flags = read!(r.vint(), message_id);
    let intelligence = read!(r.u8(), message_id);
    let topology_id = read!(r.vint(), message_id);
    let (key_media_type, value_media_type) = if version >= 28 {
        (
            read!(r.media_type(), message_id),
            read!(r.media_type(), message_id),
        )
    } else {
        (None, None)
    };
    let mut record = RequestRecord {
        raw: Vec::new(),
        message_id,
        version,
        opcode: op,
        cache_name,
        flags,
        intelligence,
        topology_id,
        key_media_type,
        value_media_type,
        key: None,
        value: None,
        expiration: None,
        lifespan: None,
        max_idle: None,
        mechanism: None,
    };
    let mut lifespan_ms = None;
    match op {
        opcode::GET | opcode::REMOVE => {
            record.key = Some(read!(r.bytes(codec::MAX_VALUE_LEN), message_id).to_vec());
        }
        opcode::PUT => {
            record.key = Some(read!(r.bytes(codec::MAX_VALUE_LEN), message_id).to_vec());
            let expiration = read!(r.u8(), message_id);
            record.expiration = Some(expiration);
            let (lifespan_unit, idle_unit) = (expiration >> 4, expiration & 0x0F);
            for (unit, slot) in [(lifespan_unit, 0), (idle_unit, 1)] {
                if unit == 7 || unit == 8 {
                    continue;
                }
                let Some(time_unit) = TimeUnit::from_nibble(unit) else {
                    return fatal(
                        message_id,
                        status::PARSE_ERROR,
                        &format!("RequestParsingException: unknown time unit {unit}"),
                    );
                };
                let value = read!(r.vlong(), message_id);
                if slot == 0 {
                    record.lifespan = Some(value);
                    // 0 means the cache default, as in Hot Rod 1.x.
                    lifespan_ms = Some((value > 0).then(|| time_unit.to_millis(value)));
                } else {
                    record.max_idle = Some(value);
                }
            }
            if lifespan_unit == 7 || lifespan_unit == 8 {
                lifespan_ms = Some(None);
            }
            record.value = Some(read!(r.bytes(codec::MAX_VALUE_LEN), message_id).to_vec());
        }
        opcode::AUTH => {
            record.mechanism = Some(read!(r.string(), message_id));
            record.value = Some(read!(r.bytes(codec::MAX_STRING_LEN), message_id).to_vec());
        }
        opcode::CLEAR | opcode::PING | opcode::AUTH_MECH_LIST => {}
        other => {
            return fatal(
                message_id,
                status::UNKNOWN_COMMAND,
                &format!("HotRodUnknownOperationException: Unknown operation: {other:#04x}"),
            );
        }
    }
    let used = r.position();
    record.raw = buf[..used].to_vec();
    Ok(Parsed::Request(
        Box::new(Incoming {
            record,
            lifespan_ms,
        }),
        used,
    ))
}

fn topology_block(topology: &TestTopology, intelligence: u8) -> Vec<u8> {
    let mut out = Vec::new();
    put_vint(&mut out, topology.id);
    put_vint(&mut out, u32::try_from(topology.members.len()).unwrap_or(0));
    for (host, port) in &topology.members {
        put_string(&mut out, host);
        out.extend_from_slice(&port.to_be_bytes());
    }
    if intelligence >= codec::intelligence::HASH_DISTRIBUTION_AWARE {
        out.push(3); // MurmurHash3
        put_vint(&mut out, topology.num_segments);
        let members = topology.members.len();
        for segment in 0..topology.num_segments as usize {
            let owners = members.min(2);
            out.push(u8::try_from(owners).unwrap_or(0));
            for i in 0..owners {
                put_vint(
                    &mut out,
                    u32::try_from((segment + i) % members).unwrap_or(0),
                );
            }
        }
    }
    out
}

fn random_base64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    if getrandom::fill(&mut bytes).is_err() {
        // Tests only: a fixed value is still a valid (if predictable) nonce.
        bytes.fill(7);
    }
    BASE64.encode(bytes)
}

impl Connection<'_> {
    /// The response, and whether to close the connection afterwards.
    fn handle(&mut self, incoming: &Incoming) -> (Vec<u8>, bool) {
        let request = &incoming.record;
        let id = request.message_id;
        let settings = lock(&self.shared.settings).clone();
        let cache = if request.cache_name.is_empty() {
            DEFAULT_CACHE.to_owned()
        } else {
            request.cache_name.clone()
        };
        let topology = settings.topology.as_ref().and_then(|t| {
            (request.intelligence >= codec::intelligence::TOPOLOGY_AWARE
                && request.topology_id < t.id)
                .then(|| topology_block(t, request.intelligence))
        });
        let topology = topology.as_deref();
        let ok =
            |op: u8, body: &[u8]| (response(id, op + 1, status::SUCCESS, topology, body), false);

        match request.opcode {
            opcode::PING => {
                let mut body = Vec::new();
                if request.version >= 29 {
                    for _ in 0..2 {
                        codec::put_media_type(&mut body, MediaType::TextPlain);
                    }
                }
                if request.version >= 30 {
                    body.push(30);
                    let ops: [u16; 7] = [0x01, 0x03, 0x0B, 0x13, 0x17, 0x21, 0x23];
                    put_vint(&mut body, ops.len() as u32);
                    for op in ops {
                        body.extend_from_slice(&op.to_be_bytes());
                    }
                }
                return ok(opcode::PING, &body);
            }
            opcode::AUTH_MECH_LIST => {
                let mechanisms = settings.auth.map(|a| a.mechanisms).unwrap_or_default();
                let mut body = Vec::new();
                put_vint(&mut body, mechanisms.len() as u32);
                for m in &mechanisms {
                    put_string(&mut body, m);
                }
                return ok(opcode::AUTH_MECH_LIST, &body);
            }
            opcode::AUTH => {
                let Some(auth) = settings.auth else {
                    return (
                        error_response(
                            id,
                            status::SERVER_ERROR,
                            "java.lang.UnsupportedOperationException: ISPN006006: Invalid operation",
                        ),
                        false,
                    );
                };
                return match self.auth(&auth, request) {
                    Ok(None) => {
                        let mut body = vec![1];
                        put_vint(&mut body, 0);
                        ok(opcode::AUTH, &body)
                    }
                    Ok(Some(challenge)) => {
                        let mut body = vec![0];
                        put_bytes(&mut body, &challenge);
                        ok(opcode::AUTH, &body)
                    }
                    Err(message) => {
                        self.sasl = SaslState::None;
                        (error_response(id, status::SERVER_ERROR, &message), false)
                    }
                };
            }
            _ => {}
        }

        if !self.authenticated {
            return (
                error_response(
                    id,
                    status::SERVER_ERROR,
                    &format!(
                        "java.lang.SecurityException: ISPN006017: Operation '{}' requires \
                         authentication",
                        op_name(request.opcode)
                    ),
                ),
                false,
            );
        }
        if cache != DEFAULT_CACHE && !settings.caches.contains(&cache) {
            return (
                error_response(
                    id,
                    status::PARSE_ERROR,
                    &format!(
                        "org.infinispan.server.hotrod.CacheNotFoundException: Cache with name \
                         '{cache}' not found amongst the configured caches"
                    ),
                ),
                false,
            );
        }
        let now = Instant::now();
        let mut data = lock(&self.shared.data);
        let entries = data.entry(cache).or_default();
        let key = request.key.clone().unwrap_or_default();
        if let Some(entry) = entries.get(&key)
            && entry.expires_at.is_some_and(|at| at <= now)
        {
            entries.remove(&key);
        }
        match request.opcode {
            opcode::GET => match entries.get(&key) {
                Some(entry) => {
                    let mut body = Vec::new();
                    put_bytes(&mut body, &entry.value);
                    ok(opcode::GET, &body)
                }
                None => (
                    response(
                        id,
                        opcode::GET_RESPONSE,
                        status::KEY_DOES_NOT_EXIST,
                        topology,
                        &[],
                    ),
                    false,
                ),
            },
            opcode::PUT => {
                let lifespan = incoming.lifespan_ms.flatten().map(Duration::from_millis);
                entries.insert(
                    key,
                    Entry {
                        value: request.value.clone().unwrap_or_default(),
                        expires_at: lifespan.map(|d| now + d),
                    },
                );
                ok(opcode::PUT, &[])
            }
            opcode::REMOVE => {
                let status = if entries.remove(&key).is_some() {
                    status::SUCCESS
                } else {
                    status::KEY_DOES_NOT_EXIST
                };
                (
                    response(id, opcode::REMOVE_RESPONSE, status, topology, &[]),
                    false,
                )
            }
            opcode::CLEAR => {
                entries.clear();
                ok(opcode::CLEAR, &[])
            }
            other => (
                error_response(
                    id,
                    status::UNKNOWN_COMMAND,
                    &format!("Unknown operation {other:#04x}"),
                ),
                true,
            ),
        }
    }

    /// One AUTH step: `Ok(None)` = complete without challenge, `Ok(Some)` = challenge (also
    /// the SCRAM server-final message, sent with `complete = 0` as Infinispan does).
    fn auth(
        &mut self,
        auth: &TestAuth,
        request: &RequestRecord,
    ) -> Result<Option<Vec<u8>>, String> {
        let failed =
            || "javax.security.sasl.SaslException: ELY05051: Authentication failed".to_owned();
        let name = request.mechanism.clone().unwrap_or_default();
        if !auth.mechanisms.contains(&name) {
            return Err(format!(
                "java.lang.SecurityException: ISPN006012: Unsupported mechanism '{name}'"
            ));
        }
        let mechanism = SaslMechanism::parse(&name)
            .ok_or_else(|| format!("mechanism '{name}' is not implemented by the test server"))?;
        let response = request.value.clone().unwrap_or_default();
        let password_of = |user: &str| {
            auth.users
                .iter()
                .find(|(u, _)| u == user)
                .map(|(_, p)| p.clone())
        };
        if mechanism == SaslMechanism::Plain {
            let parts: Vec<&[u8]> = response.split(|b| *b == 0).collect();
            let [_authzid, user, password] = parts.as_slice() else {
                return Err(failed());
            };
            let user = String::from_utf8_lossy(user);
            match password_of(&user) {
                Some(expected) if constant_time_eq(expected.as_bytes(), password) => {
                    self.authenticated = true;
                    self.sasl = SaslState::None;
                    Ok(None)
                }
                _ => Err(failed()),
            }
        } else if let Some(hash) = mechanism.scram_hash() {
            let text = String::from_utf8(response).map_err(|_| failed())?;
            match std::mem::replace(&mut self.sasl, SaslState::None) {
                SaslState::None => {
                    // client-first: gs2 header (no channel binding) + bare message.
                    let (gs2_header, bare) =
                        match text.strip_prefix("n,").or_else(|| text.strip_prefix("y,")) {
                            Some(rest) => {
                                let comma = rest.find(',').ok_or_else(failed)?;
                                (
                                    text[..2 + comma + 1].to_owned(),
                                    rest[comma + 1..].to_owned(),
                                )
                            }
                            None => return Err(failed()),
                        };
                    let attributes = scram_attributes(&bare);
                    let find = |k: char| attributes.iter().find(|(a, _)| *a == k).map(|(_, v)| *v);
                    let user = find('n')
                        .ok_or_else(failed)?
                        .replace("=2C", ",")
                        .replace("=3D", "=");
                    let client_nonce = find('r').ok_or_else(failed)?;
                    let password = password_of(&user).ok_or_else(failed)?;
                    let salt = random_base64(16);
                    let salt_bytes = BASE64.decode(&salt).map_err(|_| failed())?;
                    let salted =
                        hash.salted_password(password.as_bytes(), &salt_bytes, SCRAM_ITERATIONS);
                    let (client_key, server_key) = hash.keys(&salted);
                    let nonce = format!("{client_nonce}{}", random_base64(18));
                    let server_first = format!("r={nonce},s={salt},i={SCRAM_ITERATIONS}");
                    self.sasl = SaslState::Scram {
                        hash,
                        gs2_header,
                        client_first_bare: bare,
                        server_first: server_first.clone(),
                        nonce,
                        stored_key: hash.digest(&client_key),
                        server_key,
                    };
                    Ok(Some(server_first.into_bytes()))
                }
                SaslState::Scram {
                    hash,
                    gs2_header,
                    client_first_bare,
                    server_first,
                    nonce,
                    stored_key,
                    server_key,
                } => {
                    let attributes = scram_attributes(&text);
                    let find = |k: char| attributes.iter().find(|(a, _)| *a == k).map(|(_, v)| *v);
                    if find('c') != Some(BASE64.encode(&gs2_header).as_str())
                        || find('r') != Some(nonce.as_str())
                    {
                        return Err(failed());
                    }
                    let proof = BASE64
                        .decode(find('p').ok_or_else(failed)?)
                        .map_err(|_| failed())?;
                    let without_proof =
                        text.rfind(",p=").map(|at| &text[..at]).ok_or_else(failed)?;
                    let auth_message =
                        format!("{client_first_bare},{server_first},{without_proof}");
                    let client_signature = hash.hmac(&stored_key, auth_message.as_bytes());
                    if proof.len() != client_signature.len() {
                        return Err(failed());
                    }
                    let client_key: Vec<u8> = proof
                        .iter()
                        .zip(&client_signature)
                        .map(|(a, b)| a ^ b)
                        .collect();
                    if !constant_time_eq(&hash.digest(&client_key), &stored_key) {
                        return Err(failed());
                    }
                    self.authenticated = true;
                    let signature = hash.hmac(&server_key, auth_message.as_bytes());
                    Ok(Some(format!("v={}", BASE64.encode(signature)).into_bytes()))
                }
            }
        } else {
            Err(format!(
                "mechanism '{name}' is not implemented by the test server"
            ))
        }
    }
}

fn op_name(op: u8) -> &'static str {
    match op {
        opcode::GET => "GET",
        opcode::PUT => "PUT",
        opcode::REMOVE => "REMOVE",
        opcode::CLEAR => "CLEAR",
        _ => "UNKNOWN",
    }
}

/// Accepts a TCP connection that never answers (for timeout tests): returns the address of a
/// listener whose connections are accepted and then ignored until the returned task is aborted.
///
/// # Errors
///
/// When binding fails.
pub async fn black_hole() -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    Ok((addr, task))
}
