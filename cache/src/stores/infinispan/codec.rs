//! The Hot Rod wire format: primitives, request encoding and response decoding for protocol
//! versions 2.2, 2.5, 2.9 and 3.0 (the operations a cache needs, plus SASL and topology).
//!
//! Everything here is synchronous and works on byte slices, so it can be tested byte for byte.
//! Decoding never trusts a length or a count from the wire: lengths are checked against
//! [`MAX_VALUE_LEN`]/[`MAX_STRING_LEN`] before anything is read, counts against
//! [`MAX_LIST_LEN`], and nothing is pre-allocated from a wire count (every element consumes at
//! least one input byte, so memory stays proportional to what actually arrived).

use std::fmt;

/// First byte of every request.
pub const REQUEST_MAGIC: u8 = 0xA0;
/// First byte of every response.
pub const RESPONSE_MAGIC: u8 = 0xA1;

/// Largest key or value accepted in either direction (64 MiB).
pub const MAX_VALUE_LEN: usize = 64 << 20;
/// Largest string accepted from the wire: error messages, mechanism and host names (1 MiB).
pub const MAX_STRING_LEN: usize = 1 << 20;
/// Largest count accepted from the wire: mechanisms, topology members, segments, operations.
pub const MAX_LIST_LEN: u32 = 1 << 16;

/// Operation codes (requests are odd, their responses the next even number).
pub mod opcode {
    /// PUT request.
    pub const PUT: u8 = 0x01;
    /// PUT response.
    pub const PUT_RESPONSE: u8 = 0x02;
    /// GET request.
    pub const GET: u8 = 0x03;
    /// GET response.
    pub const GET_RESPONSE: u8 = 0x04;
    /// REMOVE request.
    pub const REMOVE: u8 = 0x0B;
    /// REMOVE response.
    pub const REMOVE_RESPONSE: u8 = 0x0C;
    /// CLEAR request.
    pub const CLEAR: u8 = 0x13;
    /// CLEAR response.
    pub const CLEAR_RESPONSE: u8 = 0x14;
    /// PING request.
    pub const PING: u8 = 0x17;
    /// PING response.
    pub const PING_RESPONSE: u8 = 0x18;
    /// AUTH_MECH_LIST request.
    pub const AUTH_MECH_LIST: u8 = 0x21;
    /// AUTH_MECH_LIST response.
    pub const AUTH_MECH_LIST_RESPONSE: u8 = 0x22;
    /// AUTH request.
    pub const AUTH: u8 = 0x23;
    /// AUTH response.
    pub const AUTH_RESPONSE: u8 = 0x24;
    /// Error response (to any request).
    pub const ERROR: u8 = 0x50;
}

/// Response status codes.
pub mod status {
    /// Success.
    pub const SUCCESS: u8 = 0x00;
    /// Not executed (conditional operations).
    pub const NOT_EXECUTED: u8 = 0x01;
    /// The key does not exist.
    pub const KEY_DOES_NOT_EXIST: u8 = 0x02;
    /// Success, previous value attached.
    pub const SUCCESS_WITH_PREVIOUS: u8 = 0x03;
    /// Not executed, previous value attached.
    pub const NOT_EXECUTED_WITH_PREVIOUS: u8 = 0x04;
    /// Success, object storage (2.4–2.8 compatibility mode).
    pub const SUCCESS_OBJ_STORAGE: u8 = 0x06;
    /// Success with previous value, object storage (2.4–2.8 compatibility mode).
    pub const SUCCESS_WITH_PREVIOUS_OBJ_STORAGE: u8 = 0x07;
    /// Not executed with previous value, object storage (2.4–2.8 compatibility mode).
    pub const NOT_EXECUTED_WITH_PREVIOUS_OBJ_STORAGE: u8 = 0x08;
    /// Invalid magic byte or message id.
    pub const INVALID_MAGIC_OR_MESSAGE_ID: u8 = 0x81;
    /// Unknown operation.
    pub const UNKNOWN_COMMAND: u8 = 0x82;
    /// Unknown protocol version.
    pub const UNKNOWN_VERSION: u8 = 0x83;
    /// The request could not be parsed (also: unknown cache name).
    pub const PARSE_ERROR: u8 = 0x84;
    /// Server-side error (also: authentication failures, unauthorized operations).
    pub const SERVER_ERROR: u8 = 0x85;
    /// The operation timed out on the server.
    pub const TIMED_OUT: u8 = 0x86;
    /// A cluster node was suspected during the operation.
    pub const NODE_SUSPECTED: u8 = 0x87;
    /// The server is starting or stopping.
    pub const ILLEGAL_LIFECYCLE_STATE: u8 = 0x88;

    /// A success status (with or without previous value, any storage hint).
    #[must_use]
    pub fn is_success(status: u8) -> bool {
        matches!(
            status,
            SUCCESS
                | SUCCESS_WITH_PREVIOUS
                | SUCCESS_OBJ_STORAGE
                | SUCCESS_WITH_PREVIOUS_OBJ_STORAGE
        )
    }

    /// A not-executed status.
    #[must_use]
    pub fn is_not_executed(status: u8) -> bool {
        matches!(
            status,
            NOT_EXECUTED | NOT_EXECUTED_WITH_PREVIOUS | NOT_EXECUTED_WITH_PREVIOUS_OBJ_STORAGE
        )
    }

    /// A status that is followed by the previous value.
    #[must_use]
    pub fn has_previous(status: u8) -> bool {
        matches!(
            status,
            SUCCESS_WITH_PREVIOUS
                | NOT_EXECUTED_WITH_PREVIOUS
                | SUCCESS_WITH_PREVIOUS_OBJ_STORAGE
                | NOT_EXECUTED_WITH_PREVIOUS_OBJ_STORAGE
        )
    }
}

/// Client intelligence levels (request header byte).
pub mod intelligence {
    /// No topology information.
    pub const BASIC: u8 = 1;
    /// Receives the list of cluster members.
    pub const TOPOLOGY_AWARE: u8 = 2;
    /// Receives members and segment owners, routes keys to their owner.
    pub const HASH_DISTRIBUTION_AWARE: u8 = 3;
}

/// A Hot Rod protocol version this crate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// 2.2 (Infinispan 8.0): time units in PUT.
    V22,
    /// 2.5 (Infinispan 8.2).
    V25,
    /// 2.9 (Infinispan 9.4): media types in the header. Backstage's default.
    V29,
    /// 3.0 (Infinispan 10+): PING also reports the server version and its operations.
    V30,
}

impl ProtocolVersion {
    /// The version byte sent in the header (`22`, `25`, `29`, `30`).
    #[must_use]
    pub fn byte(self) -> u8 {
        match self {
            ProtocolVersion::V22 => 22,
            ProtocolVersion::V25 => 25,
            ProtocolVersion::V29 => 29,
            ProtocolVersion::V30 => 30,
        }
    }

    /// The version for a header byte.
    #[must_use]
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            22 => Some(ProtocolVersion::V22),
            25 => Some(ProtocolVersion::V25),
            29 => Some(ProtocolVersion::V29),
            30 => Some(ProtocolVersion::V30),
            _ => None,
        }
    }

    /// Parses `2.9`, `2.5`, `2.2` or `3.0` (the config spelling).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "2.2" => Some(ProtocolVersion::V22),
            "2.5" => Some(ProtocolVersion::V25),
            "2.9" => Some(ProtocolVersion::V29),
            "3.0" | "3" => Some(ProtocolVersion::V30),
            _ => None,
        }
    }

    /// Whether request headers carry key and value media types (2.8 and later).
    #[must_use]
    pub fn has_header_media_types(self) -> bool {
        self.byte() >= 28
    }

    /// Whether a PING response carries the server's media types (2.9 and later).
    #[must_use]
    pub fn ping_has_media_types(self) -> bool {
        self.byte() >= 29
    }

    /// Whether a PING response carries the server version and operation list (3.0 and later).
    #[must_use]
    pub fn ping_has_operations(self) -> bool {
        self.byte() >= 30
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let byte = self.byte();
        write!(f, "{}.{}", byte / 10, byte % 10)
    }
}

/// The data format of keys or values, sent in 2.8+ headers so the server can transcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `text/plain` (predefined id 13): strings as UTF-8. Backstage's default.
    TextPlain,
    /// `application/json` (predefined id 2): strings as JSON string literals.
    ApplicationJson,
}

impl MediaType {
    /// The predefined media type id.
    #[must_use]
    pub fn id(self) -> u32 {
        match self {
            MediaType::TextPlain => 13,
            MediaType::ApplicationJson => 2,
        }
    }

    /// The MIME name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::TextPlain => "text/plain",
            MediaType::ApplicationJson => "application/json",
        }
    }

    /// Parses `text/plain` or `application/json`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "text/plain" => Some(MediaType::TextPlain),
            "application/json" => Some(MediaType::ApplicationJson),
            _ => None,
        }
    }

    /// The MIME name of a predefined id (Infinispan's `MediaTypeIds`).
    #[must_use]
    pub fn name_of_id(id: u32) -> Option<&'static str> {
        Some(match id {
            1 => "application/x-java-object",
            2 => "application/json",
            3 => "application/octet-stream",
            4 => "application/pdf",
            5 => "application/rtf",
            6 => "application/zip",
            7 => "image/gif",
            8 => "image/jpeg",
            9 => "image/png",
            10 => "text/css",
            11 => "text/csv",
            12 => "application/x-protostream",
            13 => "text/plain",
            14 => "text/html",
            15 => "application/x-jboss-marshalling",
            16 => "application/x-infinispan-marshalling",
            17 => "application/unknown",
            _ => return None,
        })
    }

    /// Encodes a string as bytes in this format (UTF-8, or a JSON string literal exactly as
    /// JavaScript's `JSON.stringify` writes it).
    #[must_use]
    pub fn encode_str(self, text: &str) -> Vec<u8> {
        match self {
            MediaType::TextPlain => text.as_bytes().to_vec(),
            MediaType::ApplicationJson => {
                serde_json::to_string(text).map_or_else(|_| Vec::new(), String::into_bytes)
            }
        }
    }

    /// Decodes bytes in this format back to a string. For JSON, a string literal gives its
    /// contents and any other JSON document is returned as its text.
    ///
    /// # Errors
    ///
    /// When the bytes are not UTF-8 (or, for JSON, not JSON).
    pub fn decode_str(self, bytes: &[u8]) -> Result<String, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "value is not valid UTF-8".to_owned())?;
        match self {
            MediaType::TextPlain => Ok(text.to_owned()),
            MediaType::ApplicationJson => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::String(s)) => Ok(s),
                Ok(_) => Ok(text.to_owned()),
                Err(e) => Err(format!("value is not JSON: {e}")),
            },
        }
    }
}

/// Time units of the PUT expiration byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds (`0`).
    Seconds,
    /// Milliseconds (`1`).
    Milliseconds,
    /// Nanoseconds (`2`).
    Nanoseconds,
    /// Microseconds (`3`).
    Microseconds,
    /// Minutes (`4`).
    Minutes,
    /// Hours (`5`).
    Hours,
    /// Days (`6`).
    Days,
}

impl TimeUnit {
    fn nibble(self) -> u8 {
        match self {
            TimeUnit::Seconds => 0,
            TimeUnit::Milliseconds => 1,
            TimeUnit::Nanoseconds => 2,
            TimeUnit::Microseconds => 3,
            TimeUnit::Minutes => 4,
            TimeUnit::Hours => 5,
            TimeUnit::Days => 6,
        }
    }

    /// The unit of an expiration nibble (`0`–`6`).
    #[must_use]
    pub fn from_nibble(nibble: u8) -> Option<Self> {
        match nibble {
            0 => Some(TimeUnit::Seconds),
            1 => Some(TimeUnit::Milliseconds),
            2 => Some(TimeUnit::Nanoseconds),
            3 => Some(TimeUnit::Microseconds),
            4 => Some(TimeUnit::Minutes),
            5 => Some(TimeUnit::Hours),
            6 => Some(TimeUnit::Days),
            _ => None,
        }
    }

    /// `value` of this unit in milliseconds (saturating; sub-millisecond units round up).
    #[must_use]
    pub fn to_millis(self, value: u64) -> u64 {
        match self {
            TimeUnit::Seconds => value.saturating_mul(1_000),
            TimeUnit::Milliseconds => value,
            TimeUnit::Nanoseconds => value.div_ceil(1_000_000),
            TimeUnit::Microseconds => value.div_ceil(1_000),
            TimeUnit::Minutes => value.saturating_mul(60_000),
            TimeUnit::Hours => value.saturating_mul(3_600_000),
            TimeUnit::Days => value.saturating_mul(86_400_000),
        }
    }
}

/// A lifespan or max-idle setting of a PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The cache's configured default (nibble `7`, no value follows).
    ServerDefault,
    /// Never expires (nibble `8`, no value follows).
    Infinite,
    /// An explicit duration.
    After {
        /// The amount.
        value: u64,
        /// Its unit.
        unit: TimeUnit,
    },
}

impl Expiry {
    /// An explicit duration in milliseconds (what Backstage sends for a TTL).
    #[must_use]
    pub fn millis(value: u64) -> Self {
        Expiry::After {
            value,
            unit: TimeUnit::Milliseconds,
        }
    }

    fn nibble(self) -> u8 {
        match self {
            Expiry::ServerDefault => 7,
            Expiry::Infinite => 8,
            Expiry::After { unit, .. } => unit.nibble(),
        }
    }

    fn value(self) -> Option<u64> {
        match self {
            Expiry::After { value, .. } => Some(value),
            Expiry::ServerDefault | Expiry::Infinite => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Primitives: writing
// ---------------------------------------------------------------------------------------------

/// Appends an unsigned variable-length int (7 bits per byte, least significant group first).
pub fn put_vint(out: &mut Vec<u8>, value: u32) {
    put_vlong(out, u64::from(value));
}

/// Appends an unsigned variable-length long.
pub fn put_vlong(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a byte array: vInt length, then the bytes. Callers keep `bytes` under
/// [`MAX_VALUE_LEN`], so the length always fits.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_vint(out, u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(bytes);
}

/// Appends a string: vInt byte length, then UTF-8.
pub fn put_string(out: &mut Vec<u8>, text: &str) {
    put_bytes(out, text.as_bytes());
}

/// Appends a media type as a predefined id without parameters (`01 <id> 00`).
pub fn put_media_type(out: &mut Vec<u8>, media_type: MediaType) {
    out.push(1);
    put_vint(out, media_type.id());
    put_vint(out, 0);
}

// ---------------------------------------------------------------------------------------------
// Primitives: reading
// ---------------------------------------------------------------------------------------------

/// Why a buffer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// More bytes are needed; read more and try again from the start.
    Incomplete,
    /// The bytes are not valid Hot Rod (or exceed a limit); the connection must be dropped.
    Malformed(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Incomplete => f.write_str("incomplete message"),
            DecodeError::Malformed(message) => f.write_str(message),
        }
    }
}

fn malformed<T>(message: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError::Malformed(message.into()))
}

/// A cursor over received bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// How many bytes have been consumed.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// One byte.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Incomplete`] at the end of the buffer.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let byte = *self.buf.get(self.pos).ok_or(DecodeError::Incomplete)?;
        self.pos += 1;
        Ok(byte)
    }

    /// A big-endian unsigned short.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Incomplete`] when fewer than two bytes are left.
    pub fn u16_be(&mut self) -> Result<u16, DecodeError> {
        let bytes = self.fixed(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// A big-endian long.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Incomplete`] when fewer than eight bytes are left.
    pub fn u64_be(&mut self) -> Result<u64, DecodeError> {
        let bytes = self.fixed(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_be_bytes(array))
    }

    /// `len` raw bytes.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Incomplete`] when fewer than `len` bytes are left.
    pub fn fixed(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < len {
            return Err(DecodeError::Incomplete);
        }
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// An unsigned vInt (at most 5 bytes, at most `u32::MAX`).
    ///
    /// # Errors
    ///
    /// Incomplete, or malformed when too long or too large.
    pub fn vint(&mut self) -> Result<u32, DecodeError> {
        let value = self.varint(5)?;
        u32::try_from(value).or_else(|_| malformed("vInt does not fit in 32 bits"))
    }

    /// An unsigned vLong (at most 10 bytes, at most `u64::MAX`).
    ///
    /// # Errors
    ///
    /// Incomplete, or malformed when too long or too large.
    pub fn vlong(&mut self) -> Result<u64, DecodeError> {
        self.varint(10)
    }

    fn varint(&mut self, max_bytes: u32) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let byte = self.u8()?;
            let group = u64::from(byte & 0x7F);
            let shift = 7 * i;
            if shift == 63 && group > 1 {
                return malformed("variable-length number overflows 64 bits");
            }
            value |= group << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        malformed(format!(
            "variable-length number longer than {max_bytes} bytes"
        ))
    }

    /// A vInt count, checked against [`MAX_LIST_LEN`].
    ///
    /// # Errors
    ///
    /// Incomplete, or malformed when over the limit.
    pub fn count(&mut self, what: &str) -> Result<u32, DecodeError> {
        let count = self.vint()?;
        if count > MAX_LIST_LEN {
            return malformed(format!("{what} count {count} exceeds {MAX_LIST_LEN}"));
        }
        Ok(count)
    }

    /// A byte array (vInt length + bytes) of at most `max` bytes.
    ///
    /// # Errors
    ///
    /// Incomplete, or malformed when the announced length exceeds `max`.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.vint()? as usize;
        if len > max {
            return malformed(format!(
                "byte array of {len} bytes exceeds the {max}-byte limit"
            ));
        }
        self.fixed(len)
    }

    /// A string (vInt length + UTF-8, invalid sequences replaced) of at most
    /// [`MAX_STRING_LEN`] bytes.
    ///
    /// # Errors
    ///
    /// Incomplete, or malformed when too long.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let bytes = self.bytes(MAX_STRING_LEN)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    /// A media type as written by servers and 2.8+ clients: kind byte (`0` none, `1`
    /// predefined id, `2` custom name) then, unless none, a parameter count and key/value
    /// string pairs. Returns the MIME name (`#<id>` for unknown ids) or `None`.
    ///
    /// # Errors
    ///
    /// Incomplete, or malformed on an unknown kind.
    pub fn media_type(&mut self) -> Result<Option<String>, DecodeError> {
        let name = match self.u8()? {
            0 => return Ok(None),
            1 => {
                let id = self.vint()?;
                MediaType::name_of_id(id).map_or_else(|| format!("#{id}"), str::to_owned)
            }
            2 => self.string()?,
            kind => return malformed(format!("unknown media type kind {kind}")),
        };
        let params = self.count("media type parameter")?;
        let mut name = name;
        for _ in 0..params {
            let key = self.string()?;
            let value = self.string()?;
            name.push_str(&format!("; {key}={value}"));
        }
        Ok(Some(name))
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// The request header fields that are the same for every operation of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader<'a> {
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Echoed in the response.
    pub message_id: u64,
    /// Cache name; empty means the server's default cache.
    pub cache_name: &'a str,
    /// Flags (`0x01` return previous value, `0x02` default lifespan, …); we send 0.
    pub flags: u32,
    /// [`intelligence`] level.
    pub intelligence: u8,
    /// The last topology id seen (0 initially).
    pub topology_id: u32,
    /// Key media type (sent from 2.8 on).
    pub key_media_type: MediaType,
    /// Value media type (sent from 2.8 on).
    pub value_media_type: MediaType,
}

/// One request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// GET `key`.
    Get {
        /// The key in the key media type.
        key: &'a [u8],
    },
    /// PUT `key` = `value`.
    Put {
        /// The key in the key media type.
        key: &'a [u8],
        /// The value in the value media type.
        value: &'a [u8],
        /// Lifespan.
        lifespan: Expiry,
        /// Max idle time.
        max_idle: Expiry,
    },
    /// REMOVE `key`.
    Remove {
        /// The key in the key media type.
        key: &'a [u8],
    },
    /// CLEAR the whole cache.
    Clear,
    /// PING.
    Ping,
    /// List the SASL mechanisms the server offers.
    AuthMechList,
    /// One SASL step.
    Auth {
        /// Mechanism name (`PLAIN`, `SCRAM-SHA-256`, …).
        mechanism: &'a str,
        /// The client's SASL response.
        response: &'a [u8],
    },
}

impl Request<'_> {
    /// The request opcode.
    #[must_use]
    pub fn opcode(&self) -> u8 {
        match self {
            Request::Get { .. } => opcode::GET,
            Request::Put { .. } => opcode::PUT,
            Request::Remove { .. } => opcode::REMOVE,
            Request::Clear => opcode::CLEAR,
            Request::Ping => opcode::PING,
            Request::AuthMechList => opcode::AUTH_MECH_LIST,
            Request::Auth { .. } => opcode::AUTH,
        }
    }

    /// The key, for operations that have one (routing).
    #[must_use]
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            Request::Get { key } | Request::Put { key, .. } | Request::Remove { key } => Some(key),
            _ => None,
        }
    }
}

/// Encodes a request header followed by the body of `request`.
///
/// # Errors
///
/// When a key or value exceeds [`MAX_VALUE_LEN`].
pub fn encode_request(
    header: &RequestHeader<'_>,
    request: &Request<'_>,
) -> Result<Vec<u8>, String> {
    let (key_len, value_len) = match request {
        Request::Get { key } | Request::Remove { key } => (key.len(), 0),
        Request::Put { key, value, .. } => (key.len(), value.len()),
        Request::Auth { response, .. } => (0, response.len()),
        _ => (0, 0),
    };
    if key_len > MAX_VALUE_LEN {
        return Err(format!(
            "key of {key_len} bytes exceeds the {MAX_VALUE_LEN}-byte limit"
        ));
    }
    if value_len > MAX_VALUE_LEN {
        return Err(format!(
            "value of {value_len} bytes exceeds the {MAX_VALUE_LEN}-byte limit"
        ));
    }
    let mut out = Vec::with_capacity(32 + header.cache_name.len() + key_len + value_len);
    out.push(REQUEST_MAGIC);
    put_vlong(&mut out, header.message_id);
    out.push(header.version.byte());
    out.push(request.opcode());
    put_string(&mut out, header.cache_name);
    put_vint(&mut out, header.flags);
    out.push(header.intelligence);
    put_vint(&mut out, header.topology_id);
    if header.version.has_header_media_types() {
        put_media_type(&mut out, header.key_media_type);
        put_media_type(&mut out, header.value_media_type);
    }
    match request {
        Request::Get { key } | Request::Remove { key } => put_bytes(&mut out, key),
        Request::Put {
            key,
            value,
            lifespan,
            max_idle,
        } => {
            put_bytes(&mut out, key);
            out.push(lifespan.nibble() << 4 | max_idle.nibble());
            if let Some(value) = lifespan.value() {
                put_vlong(&mut out, value);
            }
            if let Some(value) = max_idle.value() {
                put_vlong(&mut out, value);
            }
            put_bytes(&mut out, value);
        }
        Request::Clear | Request::Ping | Request::AuthMechList => {}
        Request::Auth {
            mechanism,
            response,
        } => {
            put_string(&mut out, mechanism);
            put_bytes(&mut out, response);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A cluster view sent by the server to topology-aware clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The topology id to send in later requests.
    pub id: u32,
    /// Members as (host, port).
    pub servers: Vec<(String, u16)>,
    /// Segment ownership (hash-distribution-aware clients only).
    pub hash: Option<HashTopology>,
}

/// Segment ownership of a distributed cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashTopology {
    /// Hash function version (`3` = MurmurHash3; `0` = no hashing, e.g. invalidation caches).
    pub function: u8,
    /// Number of segments.
    pub num_segments: u32,
    /// For each segment, indexes into [`Topology::servers`], primary owner first (empty when
    /// `function` is 0).
    pub owners: Vec<Vec<u32>>,
}

/// The fixed part of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// The message id of the request this answers.
    pub message_id: u64,
    /// Response opcode (request opcode + 1, or [`opcode::ERROR`]).
    pub opcode: u8,
    /// [`status`] byte.
    pub status: u8,
    /// A new topology, when the marker byte was 1.
    pub topology: Option<Topology>,
}

/// The server's answer to a PING.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PingInfo {
    /// Key media type of the cache (2.9+).
    pub key_media_type: Option<String>,
    /// Value media type of the cache (2.9+).
    pub value_media_type: Option<String>,
    /// The server's highest protocol version byte (3.0+).
    pub server_version: Option<u8>,
    /// Operations the server supports (3.0+).
    pub operations: Vec<u16>,
}

/// A decoded response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// An error response (opcode `0x50`): the status says which kind.
    Error {
        /// The server's message.
        message: String,
    },
    /// GET: the value, or `None` for a missing key.
    Get(Option<Vec<u8>>),
    /// PUT done (the previous value only if the server attached one).
    Put {
        /// The previous value, if attached.
        previous: Option<Vec<u8>>,
    },
    /// REMOVE: whether the key existed.
    Remove {
        /// True when something was removed.
        removed: bool,
    },
    /// CLEAR done.
    Clear,
    /// PING answer.
    Ping(PingInfo),
    /// SASL mechanisms offered.
    AuthMechList(Vec<String>),
    /// One SASL step answered.
    Auth {
        /// True when the server needs nothing more.
        complete: bool,
        /// The server's challenge (may be empty).
        challenge: Vec<u8>,
    },
}

/// A full response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Header fields.
    pub header: ResponseHeader,
    /// Body.
    pub body: ResponseBody,
}

/// What the decoder needs to know about the request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseContext {
    /// The version the request was sent with.
    pub version: ProtocolVersion,
    /// The intelligence the request was sent with (decides the topology block's shape).
    pub intelligence: u8,
    /// The request opcode.
    pub request_opcode: u8,
}

/// Decodes one response from the start of `buf`; returns it and the number of bytes used.
///
/// # Errors
///
/// [`DecodeError::Incomplete`] when `buf` holds only part of a response,
/// [`DecodeError::Malformed`] when it is not a valid answer to the request.
pub fn decode_response(
    buf: &[u8],
    context: &ResponseContext,
) -> Result<(Response, usize), DecodeError> {
    let mut r = Reader::new(buf);
    let magic = r.u8()?;
    if magic != RESPONSE_MAGIC {
        return malformed(format!("bad response magic {magic:#04x}"));
    }
    let message_id = r.vlong()?;
    let opcode = r.u8()?;
    let status = r.u8()?;
    let topology = match r.u8()? {
        0 => None,
        1 => Some(decode_topology(&mut r, context.intelligence)?),
        marker => return malformed(format!("bad topology-change marker {marker}")),
    };
    let header = ResponseHeader {
        message_id,
        opcode,
        status,
        topology,
    };
    if opcode == opcode::ERROR {
        let message = r.string()?;
        return Ok((
            Response {
                header,
                body: ResponseBody::Error { message },
            },
            r.position(),
        ));
    }
    let expected = context.request_opcode.wrapping_add(1);
    if opcode != expected {
        return malformed(format!(
            "response opcode {opcode:#04x} does not answer request opcode {:#04x}",
            context.request_opcode
        ));
    }
    let ok = status::is_success(status);
    let body = match context.request_opcode {
        opcode::GET => match status {
            status::KEY_DOES_NOT_EXIST => ResponseBody::Get(None),
            s if status::is_success(s) => ResponseBody::Get(Some(r.bytes(MAX_VALUE_LEN)?.to_vec())),
            s => return malformed(format!("unexpected GET status {s:#04x}")),
        },
        opcode::PUT => {
            if !ok && !status::is_not_executed(status) {
                return malformed(format!("unexpected PUT status {status:#04x}"));
            }
            let previous = if status::has_previous(status) {
                Some(r.bytes(MAX_VALUE_LEN)?.to_vec())
            } else {
                None
            };
            ResponseBody::Put { previous }
        }
        opcode::REMOVE => {
            let removed = match status {
                status::KEY_DOES_NOT_EXIST => false,
                s if status::is_success(s) => true,
                s if status::is_not_executed(s) => false,
                s => return malformed(format!("unexpected REMOVE status {s:#04x}")),
            };
            if status::has_previous(status) {
                r.bytes(MAX_VALUE_LEN)?;
            }
            ResponseBody::Remove { removed }
        }
        opcode::CLEAR => {
            if !ok {
                return malformed(format!("unexpected CLEAR status {status:#04x}"));
            }
            ResponseBody::Clear
        }
        opcode::PING => {
            if !ok {
                return malformed(format!("unexpected PING status {status:#04x}"));
            }
            let mut info = PingInfo::default();
            if context.version.ping_has_media_types() {
                info.key_media_type = r.media_type()?;
                info.value_media_type = r.media_type()?;
            }
            if context.version.ping_has_operations() {
                info.server_version = Some(r.u8()?);
                let count = r.count("operation")?;
                for _ in 0..count {
                    info.operations.push(r.u16_be()?);
                }
            }
            ResponseBody::Ping(info)
        }
        opcode::AUTH_MECH_LIST => {
            let count = r.count("mechanism")?;
            let mut mechanisms = Vec::new();
            for _ in 0..count {
                mechanisms.push(r.string()?);
            }
            ResponseBody::AuthMechList(mechanisms)
        }
        opcode::AUTH => {
            let complete = match r.u8()? {
                0 => false,
                1 => true,
                other => return malformed(format!("bad AUTH completion flag {other}")),
            };
            let challenge = r.bytes(MAX_STRING_LEN)?.to_vec();
            ResponseBody::Auth {
                complete,
                challenge,
            }
        }
        other => return malformed(format!("cannot decode responses to opcode {other:#04x}")),
    };
    Ok((Response { header, body }, r.position()))
}

fn decode_topology(r: &mut Reader<'_>, intelligence: u8) -> Result<Topology, DecodeError> {
    if intelligence < self::intelligence::TOPOLOGY_AWARE {
        return malformed("topology update sent to a basic client");
    }
    let id = r.vint()?;
    let count = r.count("topology member")?;
    let mut servers = Vec::new();
    for _ in 0..count {
        let host = r.string()?;
        let port = r.u16_be()?;
        servers.push((host, port));
    }
    let hash = if intelligence >= self::intelligence::HASH_DISTRIBUTION_AWARE {
        let function = r.u8()?;
        let num_segments = r.count("segment")?;
        let mut owners = Vec::new();
        if function != 0 {
            for segment in 0..num_segments {
                let owner_count = r.u8()?;
                let mut segment_owners = Vec::new();
                for _ in 0..owner_count {
                    let index = r.vint()?;
                    if index as usize >= servers.len() {
                        return malformed(format!(
                            "segment {segment} owner index {index} is not one of {} members",
                            servers.len()
                        ));
                    }
                    segment_owners.push(index);
                }
                owners.push(segment_owners);
            }
        }
        Some(HashTopology {
            function,
            num_segments,
            owners,
        })
    } else {
        None
    };
    Ok(Topology { id, servers, hash })
}

#[cfg(test)]
mod tests;
