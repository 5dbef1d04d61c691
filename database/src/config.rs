//! `backend.database`: reading and validating the block, and resolving what each plugin gets
//! (Backstage's per-connector config computations, spec §3–4).
//!
//! Resolution is pure: no I/O. [`BaseConfig::from_root`] reads the keys that apply to every
//! plugin (`prefix`, `schemaPrefix`, `pluginDivisionMode`) and validates them;
//! [`BaseConfig::resolve`] computes one plugin's engine, effective connection, database or
//! schema name and pool settings, so config mistakes surface when the plugin starts.
//!
//! Connections stay JSON objects until the engine's connector turns them into sqlx connect
//! options: that is how Backstage shallow-merges a plugin's `connection` over the base one.
//! Connection strings are parsed into the same object shape first (`pg-connection-string`
//! semantics for PostgreSQL, Backstage's own rules for MySQL).

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use backstage_backend_common::config::ConfigReader;
use serde_json::{Map, Value, json};

use crate::{Engine, Error};

/// Prefix of generated database names when `prefix` is unset (or empty).
pub(crate) const DEFAULT_PREFIX: &str = "backstage_plugin_";

/// PostgreSQL's identifier limit (`NAMEDATALEN - 1`), in bytes.
pub(crate) const PG_MAX_IDENTIFIER_BYTES: usize = 63;

/// How plugins are separated on PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DivisionMode {
    /// One database per plugin (every engine).
    Database,
    /// One schema per plugin inside a shared database (PostgreSQL only).
    Schema,
}

impl DivisionMode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DivisionMode::Database => "database",
            DivisionMode::Schema => "schema",
        }
    }
}

/// The validated base block (`backend.database`, or the in-memory SQLite default).
pub(crate) struct BaseConfig {
    reader: ConfigReader,
    /// `prefix`, defaulted.
    pub(crate) prefix: String,
    /// `schemaPrefix`, validated (may be empty).
    pub(crate) schema_prefix: String,
    /// `pluginDivisionMode`.
    pub(crate) division_mode: DivisionMode,
}

/// One plugin's resolved settings.
pub(crate) struct PluginConfig {
    pub(crate) plugin_id: String,
    pub(crate) engine: Engine,
    pub(crate) skip_migrations: bool,
    pub(crate) pool: PoolConfig,
    pub(crate) target: Target,
}

/// Where a plugin's data lives, per engine.
pub(crate) enum Target {
    Postgres(PgTarget),
    MySql(MySqlTarget),
    Sqlite(SqliteTarget),
}

/// A PostgreSQL plugin database (database mode) or schema (schema mode).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct PgTarget {
    /// The effective connection object (no `database` key: see `database`).
    pub(crate) connection: Map<String, Value>,
    /// The database: always set in database mode; in schema mode only when configured.
    pub(crate) database: Option<String>,
    /// The schema (schema mode).
    pub(crate) schema: Option<String>,
    pub(crate) ensure_exists: bool,
    pub(crate) ensure_schema_exists: bool,
    pub(crate) role: Option<String>,
}

/// A MySQL/MariaDB plugin database.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) struct MySqlTarget {
    /// The effective connection object (no `database` key).
    pub(crate) connection: Map<String, Value>,
    pub(crate) database: String,
    pub(crate) ensure_exists: bool,
}

/// A SQLite plugin database.
pub(crate) enum SqliteTarget {
    /// A private in-memory database.
    Memory,
    /// A file.
    File(PathBuf),
}

/// Pool settings from `knexConfig` (base deep-merged with the plugin's); `None` means the
/// engine default.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PoolConfig {
    pub(crate) min: Option<u32>,
    pub(crate) max: Option<u32>,
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) create_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
}

impl PluginConfig {
    /// The name used in messages: the database, `<database>.<schema>`-less schema name,
    /// the SQLite file or `:memory:`.
    pub(crate) fn database_label(&self) -> String {
        match &self.target {
            Target::Postgres(pg) => pg
                .database
                .clone()
                .or_else(|| pg.schema.clone())
                .unwrap_or_default(),
            Target::MySql(my) => my.database.clone(),
            Target::Sqlite(SqliteTarget::Memory) => ":memory:".to_owned(),
            Target::Sqlite(SqliteTarget::File(path)) => path.display().to_string(),
        }
    }
}

/// The engine a `client` string selects.
pub(crate) fn engine_for_client(client: &str) -> Option<Engine> {
    match client {
        "pg" => Some(Engine::Postgres),
        "better-sqlite3" | "sqlite3" => Some(Engine::Sqlite),
        "mysql" | "mysql2" => Some(Engine::MySql),
        _ => None,
    }
}

/// Whether this build has the engine's driver.
fn engine_enabled(engine: Engine) -> bool {
    match engine {
        Engine::Postgres => cfg!(feature = "postgres"),
        Engine::Sqlite => cfg!(feature = "sqlite"),
        Engine::MySql => cfg!(feature = "mysql"),
    }
}

/// Whether `prefix` is a valid `schemaPrefix`: empty, or `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub(crate) fn is_valid_schema_prefix(prefix: &str) -> bool {
    let mut chars = prefix.chars();
    match chars.next() {
        None => true,
        Some(first) => {
            (first.is_ascii_alphabetic() || first == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
    }
}

impl BaseConfig {
    /// Reads `backend.database` from the root config. An absent block means
    /// `client: better-sqlite3`, `connection: ':memory:'`.
    pub(crate) fn from_root(root: &ConfigReader) -> Result<Self, Error> {
        let reader = match root.optional_config("backend.database")? {
            Some(reader) => reader,
            None => ConfigReader::from_value(json!({
                "client": "better-sqlite3",
                "connection": ":memory:",
            })),
        };
        Self::from_block(reader)
    }

    /// Validates the base block itself.
    pub(crate) fn from_block(reader: ConfigReader) -> Result<Self, Error> {
        let prefix = match reader.optional("prefix")? {
            Some(Value::String(s)) if s.is_empty() => {
                tracing::warn!(
                    "backend.database.prefix is an empty string; using the default prefix '{DEFAULT_PREFIX}' (as Backstage does). Remove the key, or set a non-empty prefix"
                );
                DEFAULT_PREFIX.to_owned()
            }
            Some(_) => reader.string("prefix")?,
            None => DEFAULT_PREFIX.to_owned(),
        };
        let schema_prefix = match reader.optional("schemaPrefix")? {
            Some(Value::String(s)) if s.is_empty() => String::new(),
            Some(_) => reader.string("schemaPrefix")?,
            None => String::new(),
        };
        if !is_valid_schema_prefix(&schema_prefix) {
            return Err(Error::InvalidSchemaPrefix { schema_prefix });
        }
        let division_mode = match reader.optional_string("pluginDivisionMode")?.as_deref() {
            None | Some("database") => DivisionMode::Database,
            Some("schema") => DivisionMode::Schema,
            Some(other) => {
                return Err(Error::InvalidDivisionMode {
                    mode: other.to_owned(),
                });
            }
        };
        // Type-check the base flags now, so a typo fails the backend start, not a plugin.
        reader.optional_boolean("ensureExists")?;
        reader.optional_boolean("ensureSchemaExists")?;
        reader.optional_boolean("skipMigrations")?;
        reader.optional_string("role")?;
        reader.optional_config("plugin")?;
        reader.optional_config("knexConfig")?;
        Ok(Self {
            reader,
            prefix,
            schema_prefix,
            division_mode,
        })
    }

    /// The plugin IDs that have a `plugin.<id>` block.
    pub(crate) fn configured_plugin_ids(&self) -> Vec<String> {
        match self.reader.optional_config("plugin") {
            Ok(Some(plugins)) => plugins.keys(),
            _ => Vec::new(),
        }
    }

    /// Resolves everything about `plugin_id`: client and engine, skip flag, effective
    /// connection, database/schema/file and pool. `skip_override` is the programmatic
    /// `migrations.skip` (first in Backstage's resolution order).
    pub(crate) fn resolve(
        &self,
        plugin_id: &str,
        skip_override: Option<bool>,
    ) -> Result<PluginConfig, Error> {
        let base = &self.reader;
        let plugin = match base.optional_config("plugin")? {
            Some(plugins) => plugins.optional_config(plugin_id)?,
            None => None,
        };
        let plugin = plugin.as_ref();

        // The base client is always read, even when the plugin overrides it.
        let base_client = base.string("client")?;
        let client = match plugin {
            Some(p) => p.optional_string("client")?,
            None => None,
        }
        .unwrap_or_else(|| base_client.clone());
        let overridden = client != base_client;

        let engine = engine_for_client(&client).ok_or_else(|| Error::UnsupportedClient {
            client: client.clone(),
            plugin_id: plugin_id.to_owned(),
        })?;
        if !engine_enabled(engine) {
            return Err(Error::EngineNotEnabled {
                client,
                plugin_id: plugin_id.to_owned(),
                feature: engine.as_str(),
            });
        }

        let skip_migrations = match skip_override {
            Some(skip) => skip,
            None => match plugin {
                Some(p) => p.optional_boolean("skipMigrations")?,
                None => None,
            }
            .or(base.optional_boolean("skipMigrations")?)
            .unwrap_or(false),
        };

        // `connection` is required on the base block, whichever engine the plugin uses.
        let base_connection = base.get("connection")?;
        let plugin_connection = match plugin {
            Some(p) => p.optional("connection")?,
            None => None,
        };

        let knex = deep_merge(
            base.optional("knexConfig")?,
            match plugin {
                Some(p) => p.optional("knexConfig")?,
                None => None,
            },
        );
        let pool = parse_pool(plugin_id, knex.as_ref())?;

        let flag = |key: &str, default: bool| -> Result<bool, Error> {
            let plugin_value = match plugin {
                Some(p) => p.optional_boolean(key)?,
                None => None,
            };
            Ok(plugin_value
                .or(base.optional_boolean(key)?)
                .unwrap_or(default))
        };

        let target = match engine {
            Engine::Postgres => {
                let mut base_conn = if overridden {
                    Map::new()
                } else {
                    normalize_pg(plugin_id, &base_connection)?
                };
                if self.division_mode != DivisionMode::Schema {
                    base_conn.remove("database");
                }
                if !overridden && !has_text(&base_conn, "application_name") {
                    base_conn.insert(
                        "application_name".to_owned(),
                        Value::String(format!("backstage_plugin_{plugin_id}")),
                    );
                }
                let plugin_conn = match &plugin_connection {
                    Some(value) => normalize_pg(plugin_id, value)?,
                    None => Map::new(),
                };
                let mut connection = shallow_merge(base_conn, plugin_conn, overridden);
                check_connection_type(plugin_id, &connection)?;
                let explicit_database = take_text(&mut connection, "database");
                let role = match plugin {
                    Some(p) => p.optional_string("role")?,
                    None => None,
                }
                .or(base.optional_string("role")?);
                let (database, schema) = match self.division_mode {
                    DivisionMode::Database => {
                        let database = match explicit_database {
                            Some(name) => {
                                check_pg_name(plugin_id, "database", &name, || {
                                    "Choose a shorter connection.database.".to_owned()
                                })?;
                                name
                            }
                            None => {
                                let name = format!("{}{plugin_id}", self.prefix);
                                check_pg_name(plugin_id, "database", &name, || {
                                    format!(
                                        "Consider using a shorter prefix (current: \"{}\") or plugin ID (current: \"{plugin_id}\").",
                                        self.prefix
                                    )
                                })?;
                                name
                            }
                        };
                        (Some(database), None)
                    }
                    DivisionMode::Schema => {
                        if let Some(name) = &explicit_database {
                            check_pg_name(plugin_id, "database", name, || {
                                "Choose a shorter connection.database.".to_owned()
                            })?;
                        }
                        let schema = format!("{}{plugin_id}", self.schema_prefix);
                        check_pg_name(plugin_id, "schema", &schema, || {
                            format!(
                                "Consider using a shorter schemaPrefix (current: \"{}\") or plugin ID (current: \"{plugin_id}\").",
                                self.schema_prefix
                            )
                        })?;
                        (explicit_database, Some(schema))
                    }
                };
                Target::Postgres(PgTarget {
                    connection,
                    database,
                    schema,
                    ensure_exists: flag("ensureExists", true)?,
                    ensure_schema_exists: flag("ensureSchemaExists", false)?,
                    role,
                })
            }
            Engine::MySql => {
                let mut base_conn = if overridden {
                    Map::new()
                } else {
                    normalize_mysql(plugin_id, &base_connection)?
                };
                base_conn.remove("database");
                let plugin_conn = match &plugin_connection {
                    Some(value) => normalize_mysql(plugin_id, value)?,
                    None => Map::new(),
                };
                let mut connection = shallow_merge(base_conn, plugin_conn, overridden);
                // After the connection is parsed, as in Backstage: a bad URL is reported first.
                if self.division_mode != DivisionMode::Database {
                    return Err(Error::DivisionModeUnsupported {
                        driver: "MySQL",
                        mode: self.division_mode.as_str().to_owned(),
                        plugin_id: plugin_id.to_owned(),
                    });
                }
                let database = take_text(&mut connection, "database")
                    .unwrap_or_else(|| format!("{}{plugin_id}", self.prefix));
                Target::MySql(MySqlTarget {
                    connection,
                    database,
                    ensure_exists: flag("ensureExists", true)?,
                })
            }
            Engine::Sqlite => {
                if self.division_mode != DivisionMode::Database {
                    return Err(Error::DivisionModeUnsupported {
                        driver: "SQLite",
                        mode: self.division_mode.as_str().to_owned(),
                        plugin_id: plugin_id.to_owned(),
                    });
                }
                let base_conn = if overridden {
                    Map::new()
                } else {
                    let conn = normalize_sqlite(plugin_id, &base_connection)?;
                    if let Some(filename) = conn.get("filename")
                        && filename.as_str() != Some(":memory:")
                    {
                        return Err(Error::SqliteBaseFilename {
                            plugin_id: plugin_id.to_owned(),
                        });
                    }
                    conn
                };
                let plugin_conn = match &plugin_connection {
                    Some(value) => normalize_sqlite(plugin_id, value)?,
                    None => Map::new(),
                };
                let connection = shallow_merge(base_conn, plugin_conn, overridden);
                let filename = text(&connection, "filename");
                Target::Sqlite(match filename.as_deref() {
                    Some(":memory:") => SqliteTarget::Memory,
                    _ => {
                        let directory =
                            text(&connection, "directory").unwrap_or_else(|| ".".to_owned());
                        let filename = filename.unwrap_or_else(|| format!("{plugin_id}.sqlite"));
                        SqliteTarget::File(join_like_node(&directory, &filename))
                    }
                })
            }
        };

        Ok(PluginConfig {
            plugin_id: plugin_id.to_owned(),
            engine,
            skip_migrations,
            pool,
            target,
        })
    }
}

/// `{...base, ...plugin}`, or just `plugin` when the plugin switched engines.
fn shallow_merge(
    base: Map<String, Value>,
    plugin: Map<String, Value>,
    overridden: bool,
) -> Map<String, Value> {
    let mut out = if overridden { Map::new() } else { base };
    for (key, value) in plugin {
        out.insert(key, value);
    }
    out
}

/// lodash `merge(base, plugin)` for `knexConfig`: objects merge key by key, the plugin wins
/// everything else.
fn deep_merge(base: Option<Value>, plugin: Option<Value>) -> Option<Value> {
    match (base, plugin) {
        (None, None) => None,
        (Some(b), None) => Some(b),
        (None, Some(p)) => Some(p),
        (Some(Value::Object(mut b)), Some(Value::Object(p))) => {
            for (key, value) in p {
                let merged = deep_merge(b.remove(&key), Some(value));
                if let Some(merged) = merged {
                    b.insert(key, merged);
                }
            }
            Some(Value::Object(b))
        }
        (Some(_), Some(p)) => Some(p),
    }
}

/// A string (or number) value, non-empty.
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn has_text(map: &Map<String, Value>, key: &str) -> bool {
    text(map, key).is_some()
}

/// Removes `key` and returns it when it is a non-empty string (or number).
fn take_text(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    let value = text(map, key);
    map.remove(key);
    value
}

fn check_pg_name(
    plugin_id: &str,
    kind: &'static str,
    name: &str,
    hint: impl FnOnce() -> String,
) -> Result<(), Error> {
    if name.len() > PG_MAX_IDENTIFIER_BYTES {
        return Err(Error::NameTooLong {
            plugin_id: plugin_id.to_owned(),
            kind,
            name: name.to_owned(),
            bytes: name.len(),
            hint: hint(),
        });
    }
    Ok(())
}

/// `connection.type`: absent or `default` is a plain connection; the cloud IAM types are
/// not implemented; anything else is unknown.
fn check_connection_type(plugin_id: &str, connection: &Map<String, Value>) -> Result<(), Error> {
    match connection.get("type") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(t)) if t == "default" => Ok(()),
        Some(Value::String(t)) => Err(Error::UnsupportedConnectionType {
            plugin_id: plugin_id.to_owned(),
            connection_type: t.clone(),
        }),
        Some(other) => Err(Error::InvalidConnection {
            plugin_id: plugin_id.to_owned(),
            engine: Engine::Postgres,
            reason: format!("connection.type must be a string, got {}", type_name(other)),
        }),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn not_string_or_object(plugin_id: &str, engine: Engine, value: &Value) -> Error {
    Error::InvalidConnection {
        plugin_id: plugin_id.to_owned(),
        engine,
        reason: format!(
            "connection must be a string or an object, got {}",
            type_name(value)
        ),
    }
}

/// A PostgreSQL connection value as an object: strings are parsed like `pg-connection-string`.
fn normalize_pg(plugin_id: &str, value: &Value) -> Result<Map<String, Value>, Error> {
    match value {
        Value::String(s) => {
            parse_pg_connection_string(s).map_err(|reason| Error::InvalidConnection {
                plugin_id: plugin_id.to_owned(),
                engine: Engine::Postgres,
                reason,
            })
        }
        Value::Object(map) => {
            let mut map = map.clone();
            // node-postgres reads `connectionString` and lets its values win.
            if let Some(Value::String(s)) = map.remove("connectionString") {
                let parsed =
                    parse_pg_connection_string(&s).map_err(|reason| Error::InvalidConnection {
                        plugin_id: plugin_id.to_owned(),
                        engine: Engine::Postgres,
                        reason,
                    })?;
                map.extend(parsed);
            }
            Ok(map)
        }
        other => Err(not_string_or_object(plugin_id, Engine::Postgres, other)),
    }
}

/// A MySQL connection value as an object: strings follow Backstage's URL rules.
fn normalize_mysql(plugin_id: &str, value: &Value) -> Result<Map<String, Value>, Error> {
    match value {
        Value::String(s) => {
            parse_mysql_connection_string(s).map_err(|reason| Error::MySqlConnectionString {
                plugin_id: plugin_id.to_owned(),
                reason,
            })
        }
        Value::Object(map) => Ok(map.clone()),
        other => Err(not_string_or_object(plugin_id, Engine::MySql, other)),
    }
}

/// A SQLite connection value as an object: a string is the filename.
fn normalize_sqlite(plugin_id: &str, value: &Value) -> Result<Map<String, Value>, Error> {
    match value {
        Value::String(s) => {
            let mut map = Map::new();
            map.insert("filename".to_owned(), Value::String(s.clone()));
            Ok(map)
        }
        Value::Object(map) => Ok(map.clone()),
        other => Err(not_string_or_object(plugin_id, Engine::Sqlite, other)),
    }
}

/// Node's `path.join(directory, filename)`: the filename is always taken relative to the
/// directory, even when absolute (Backstage re-roots `/data/x.sqlite` to `./data/x.sqlite`).
fn join_like_node(directory: &str, filename: &str) -> PathBuf {
    let mut path = PathBuf::from(directory);
    for component in Path::new(filename).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::ParentDir => path.push(".."),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    path
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
fn percent_decode(input: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a PostgreSQL connection string the way `pg-connection-string` does, into
/// node-postgres option keys: `host`, `port`, `user`, `password`, `database`, plus every
/// query parameter as given (`sslmode`, `application_name`, `options`, `sslrootcert`, …);
/// `ssl=true|1|0` becomes a boolean. Also accepts `socket:/dir?db=name` and `/dir name`.
///
/// The error never repeats the string (it may hold a password).
pub(crate) fn parse_pg_connection_string(input: &str) -> Result<Map<String, Value>, String> {
    let mut config = Map::new();
    let input = input.trim();
    if input.starts_with('/') {
        let mut parts = input.split(' ');
        if let Some(host) = parts.next() {
            config.insert("host".to_owned(), Value::String(host.to_owned()));
        }
        if let Some(database) = parts.next().filter(|d| !d.is_empty()) {
            config.insert("database".to_owned(), Value::String(database.to_owned()));
        }
        return Ok(config);
    }
    let (url, dummy_host) = match url::Url::parse(input) {
        Ok(url) => (url, false),
        Err(_) => match url::Url::parse(&input.replacen("@/", "@___DUMMY___/", 1)) {
            Ok(url) => (url, true),
            Err(e) => return Err(format!("invalid PostgreSQL connection string ({e})")),
        },
    };
    for (key, value) in url.query_pairs() {
        config.insert(key.into_owned(), Value::String(value.into_owned()));
    }
    if !has_text(&config, "user") && !url.username().is_empty() {
        config.insert(
            "user".to_owned(),
            Value::String(percent_decode(url.username())),
        );
    }
    if !has_text(&config, "password")
        && let Some(password) = url.password().filter(|p| !p.is_empty())
    {
        config.insert(
            "password".to_owned(),
            Value::String(percent_decode(password)),
        );
    }
    if url.scheme() == "socket" {
        config.insert("host".to_owned(), Value::String(percent_decode(url.path())));
        let database = config.remove("db");
        match database {
            Some(Value::String(db)) if !db.is_empty() => {
                config.insert("database".to_owned(), Value::String(db));
            }
            _ => {}
        }
        return Ok(config);
    }
    if !has_text(&config, "host") {
        let hostname = if dummy_host {
            String::new()
        } else {
            url.host_str().unwrap_or_default().to_owned()
        };
        let hostname = percent_decode(&hostname);
        let hostname = hostname
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map(str::to_owned)
            .unwrap_or(hostname);
        if !hostname.is_empty() {
            config.insert("host".to_owned(), Value::String(hostname));
        }
    }
    if !has_text(&config, "port")
        && let Some(port) = url.port()
    {
        config.insert("port".to_owned(), Value::String(port.to_string()));
    }
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() {
        config.insert("database".to_owned(), Value::String(percent_decode(path)));
    }
    match config.get("ssl").and_then(Value::as_str) {
        Some("true" | "1") => {
            config.insert("ssl".to_owned(), Value::Bool(true));
        }
        Some("0" | "false") => {
            config.insert("ssl".to_owned(), Value::Bool(false));
        }
        _ => {}
    }
    Ok(config)
}

/// Parses `mysql://user:password@host[:port]/database[?ssl=…&debug=…]` with Backstage's
/// rules: protocol `mysql:`, user and password both required, exactly one path segment,
/// port 3306 by default. The error reads like Backstage's (`Error: Missing
/// username/password`) and never repeats the string.
pub(crate) fn parse_mysql_connection_string(input: &str) -> Result<Map<String, Value>, String> {
    let url = url::Url::parse(input).map_err(|_| "TypeError: Invalid URL".to_owned())?;
    if url.scheme() != "mysql" {
        return Err(format!("Error: Unknown protocol {}:", url.scheme()));
    }
    let password = url.password().unwrap_or_default();
    if url.username().is_empty() || password.is_empty() {
        return Err("Error: Missing username/password".to_owned());
    }
    let path = url.path();
    let segment = path.strip_prefix('/').unwrap_or_default();
    if segment.is_empty() || segment.contains('/') {
        return Err("Error: Expected single path segment".to_owned());
    }
    let mut config = Map::new();
    config.insert(
        "user".to_owned(),
        Value::String(percent_decode(url.username())),
    );
    config.insert(
        "password".to_owned(),
        Value::String(percent_decode(password)),
    );
    config.insert(
        "host".to_owned(),
        Value::String(url.host_str().unwrap_or_default().to_owned()),
    );
    config.insert("port".to_owned(), json!(url.port().unwrap_or(3306)));
    config.insert(
        "database".to_owned(),
        Value::String(percent_decode(segment)),
    );
    for (key, value) in url.query_pairs() {
        match &*key {
            "ssl" if !value.is_empty() => {
                config.insert("ssl".to_owned(), Value::String(value.into_owned()));
            }
            "debug" if !value.is_empty() => {
                let debug = matches!(
                    value.trim().to_ascii_lowercase().as_str(),
                    "y" | "yes" | "true" | "1" | "on"
                );
                config.insert("debug".to_owned(), Value::Bool(debug));
            }
            _ => {}
        }
    }
    Ok(config)
}

/// Reads `knexConfig.pool.*` and `knexConfig.acquireConnectionTimeout`.
fn parse_pool(plugin_id: &str, knex: Option<&Value>) -> Result<PoolConfig, Error> {
    let mut pool = PoolConfig::default();
    let Some(knex) = knex else {
        return Ok(pool);
    };
    let invalid = |key: &str, reason: String| Error::InvalidConfig {
        plugin_id: plugin_id.to_owned(),
        key: format!("knexConfig.{key}"),
        reason,
    };
    let number = |value: Option<&Value>, key: &str| -> Result<Option<f64>, Error> {
        let n = match value {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match n {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
            _ => Err(invalid(key, "expected a non-negative number".to_owned())),
        }
    };
    let count = |value: Option<&Value>, key: &str| -> Result<Option<u32>, Error> {
        match number(value, key)? {
            None => Ok(None),
            Some(n) if n.fract() == 0.0 && n <= f64::from(u32::MAX) => Ok(Some(n as u32)),
            Some(_) => Err(invalid(key, "expected a whole number".to_owned())),
        }
    };
    let millis = |value: Option<&Value>, key: &str| -> Result<Option<Duration>, Error> {
        Ok(number(value, key)?.map(|ms| Duration::from_secs_f64(ms / 1000.0)))
    };
    let knex_pool = knex.get("pool");
    let field = |key: &str| knex_pool.and_then(|p| p.get(key));
    pool.min = count(field("min"), "pool.min")?;
    pool.max = count(field("max"), "pool.max")?;
    if pool.max == Some(0) {
        return Err(invalid("pool.max", "must be at least 1".to_owned()));
    }
    if let (Some(min), Some(max)) = (pool.min, pool.max)
        && min > max
    {
        return Err(invalid(
            "pool.min",
            format!("{min} is greater than knexConfig.pool.max ({max})"),
        ));
    }
    let acquire = millis(field("acquireTimeoutMillis"), "pool.acquireTimeoutMillis")?;
    let connection_timeout = millis(
        knex.get("acquireConnectionTimeout"),
        "acquireConnectionTimeout",
    )?;
    pool.acquire_timeout = match (acquire, connection_timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    pool.idle_timeout = millis(field("idleTimeoutMillis"), "pool.idleTimeoutMillis")?;
    pool.create_timeout = millis(field("createTimeoutMillis"), "pool.createTimeoutMillis")?;
    pool.max_lifetime = millis(field("maxLifetimeMillis"), "pool.maxLifetimeMillis")?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(value: Value) -> BaseConfig {
        BaseConfig::from_root(&ConfigReader::from_value(json!({
            "backend": { "database": value }
        })))
        .unwrap()
    }

    fn base_err(value: Value) -> Error {
        match BaseConfig::from_root(&ConfigReader::from_value(json!({
            "backend": { "database": value }
        }))) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    fn resolve_err(base: &BaseConfig, plugin: &str) -> Error {
        match base.resolve(plugin, None) {
            Ok(_) => panic!("expected an error for {plugin}"),
            Err(e) => e,
        }
    }

    #[cfg(feature = "postgres")]
    fn pg(config: &PluginConfig) -> &PgTarget {
        match &config.target {
            Target::Postgres(pg) => pg,
            _ => panic!("not postgres"),
        }
    }

    #[cfg(feature = "mysql")]
    fn my(config: &PluginConfig) -> &MySqlTarget {
        match &config.target {
            Target::MySql(my) => my,
            _ => panic!("not mysql"),
        }
    }

    #[test]
    fn absent_block_is_sqlite_in_memory() {
        let base = BaseConfig::from_root(&ConfigReader::from_value(json!({}))).unwrap();
        assert_eq!(base.prefix, DEFAULT_PREFIX);
        assert_eq!(base.division_mode, DivisionMode::Database);
        #[cfg(feature = "sqlite")]
        {
            let plugin = base.resolve("catalog", None).unwrap();
            assert_eq!(plugin.engine, Engine::Sqlite);
            assert!(matches!(
                plugin.target,
                Target::Sqlite(SqliteTarget::Memory)
            ));
            assert!(!plugin.skip_migrations);
            assert_eq!(plugin.database_label(), ":memory:");
        }
    }

    #[test]
    fn client_is_required_and_checked() {
        let base = base(json!({ "connection": ":memory:" }));
        let err = resolve_err(&base, "catalog");
        assert!(
            err.to_string()
                .contains("Missing required config value at 'backend.database.client'"),
            "{err}"
        );

        let base = self::base(json!({ "client": "oracle", "connection": "x" }));
        assert_eq!(
            resolve_err(&base, "catalog").to_string(),
            "Unsupported database client type 'oracle' specified for plugin 'catalog'"
        );
        let base = self::base(json!({
            "client": "better-sqlite3",
            "connection": ":memory:",
            "plugin": { "auth": { "client": "embedded-postgres" } }
        }));
        assert_eq!(
            resolve_err(&base, "auth").to_string(),
            "Unsupported database client type 'embedded-postgres' specified for plugin 'auth'"
        );
    }

    #[test]
    fn connection_is_required() {
        let base = base(json!({ "client": "better-sqlite3" }));
        let err = resolve_err(&base, "catalog");
        assert!(
            err.to_string().contains("backend.database.connection"),
            "{err}"
        );
    }

    #[test]
    fn client_spellings() {
        assert_eq!(engine_for_client("pg"), Some(Engine::Postgres));
        assert_eq!(engine_for_client("better-sqlite3"), Some(Engine::Sqlite));
        assert_eq!(engine_for_client("sqlite3"), Some(Engine::Sqlite));
        assert_eq!(engine_for_client("mysql"), Some(Engine::MySql));
        assert_eq!(engine_for_client("mysql2"), Some(Engine::MySql));
        assert_eq!(engine_for_client("postgres"), None);
        assert_eq!(engine_for_client("embedded-postgres"), None);
    }

    #[test]
    fn prefix_defaults_and_empty_string() {
        assert_eq!(
            base(json!({ "client": "pg", "connection": "" })).prefix,
            DEFAULT_PREFIX
        );
        assert_eq!(
            base(json!({ "client": "pg", "connection": "", "prefix": "" })).prefix,
            DEFAULT_PREFIX
        );
        assert_eq!(
            base(json!({ "client": "pg", "connection": "", "prefix": "my_" })).prefix,
            "my_"
        );
    }

    #[test]
    fn schema_prefix_validation() {
        for ok in ["", "bs_", "_x", "A1_b"] {
            assert!(is_valid_schema_prefix(ok), "{ok}");
        }
        for bad in ["1x", "bs-", "a b", "ü", "x;drop"] {
            assert!(!is_valid_schema_prefix(bad), "{bad}");
        }
        let err = base_err(json!({ "client": "pg", "connection": "", "schemaPrefix": "bs-" }));
        assert!(
            err.to_string().starts_with("Invalid schemaPrefix \"bs-\"."),
            "{err}"
        );
        assert_eq!(
            base(json!({ "client": "pg", "connection": "", "schemaPrefix": "" })).schema_prefix,
            ""
        );
    }

    #[test]
    fn division_mode_validation() {
        let err = base_err(json!({
            "client": "pg", "connection": "", "pluginDivisionMode": "table"
        }));
        assert!(matches!(err, Error::InvalidDivisionMode { .. }), "{err}");
        assert_eq!(
            base(json!({ "client": "pg", "connection": "", "pluginDivisionMode": "schema" }))
                .division_mode,
            DivisionMode::Schema
        );
    }

    #[test]
    fn base_flags_are_type_checked_up_front() {
        let err = base_err(json!({
            "client": "pg", "connection": "", "ensureExists": "maybe"
        }));
        assert!(err.to_string().contains("ensureExists"), "{err}");
    }

    #[test]
    fn skip_migrations_resolution_order() {
        let base = base(json!({
            "client": "better-sqlite3",
            "connection": ":memory:",
            "skipMigrations": true,
            "plugin": { "a": { "skipMigrations": false } }
        }));
        if cfg!(feature = "sqlite") {
            assert!(!base.resolve("a", None).unwrap().skip_migrations);
            assert!(base.resolve("b", None).unwrap().skip_migrations);
            assert!(base.resolve("a", Some(true)).unwrap().skip_migrations);
            assert!(!base.resolve("b", Some(false)).unwrap().skip_migrations);
        }
    }

    #[test]
    fn pg_connection_strings() {
        let c = parse_pg_connection_string(
            "postgres://us%40er:p%40ss@db.example.com:6543/my%20db?sslmode=require&application_name=x&options=-c%20statement_timeout%3D5s",
        )
        .unwrap();
        assert_eq!(c["user"], "us@er");
        assert_eq!(c["password"], "p@ss");
        assert_eq!(c["host"], "db.example.com");
        assert_eq!(c["port"], "6543");
        assert_eq!(c["database"], "my db");
        assert_eq!(c["sslmode"], "require");
        assert_eq!(c["application_name"], "x");
        assert_eq!(c["options"], "-c statement_timeout=5s");

        let c = parse_pg_connection_string("postgresql://localhost").unwrap();
        assert_eq!(c["host"], "localhost");
        assert!(!c.contains_key("database"));
        assert!(!c.contains_key("port"));

        let c = parse_pg_connection_string("postgres://u:p@h/db?ssl=true").unwrap();
        assert_eq!(c["ssl"], true);
        let c = parse_pg_connection_string("postgres://u:p@h/db?ssl=0").unwrap();
        assert_eq!(c["ssl"], false);

        let c = parse_pg_connection_string("socket:/var/run/pg?db=mydb").unwrap();
        assert_eq!(c["host"], "/var/run/pg");
        assert_eq!(c["database"], "mydb");

        let c = parse_pg_connection_string("/var/run/pg mydb").unwrap();
        assert_eq!(c["host"], "/var/run/pg");
        assert_eq!(c["database"], "mydb");

        let c = parse_pg_connection_string("postgres://%2Fvar%2Frun%2Fpg/mydb").unwrap();
        assert_eq!(c["host"], "/var/run/pg");
        assert_eq!(c["database"], "mydb");

        let c = parse_pg_connection_string("postgres://u:p@[::1]:5432/db").unwrap();
        assert_eq!(c["host"], "::1");

        let c = parse_pg_connection_string("postgres://u@/db?host=/tmp").unwrap();
        assert_eq!(c["host"], "/tmp");
        assert_eq!(c["user"], "u");
        assert_eq!(c["database"], "db");

        let err = parse_pg_connection_string("not a url with secret").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn mysql_connection_strings() {
        let c = parse_mysql_connection_string(
            "mysql://u:p%40ss@host/db%20x?ssl=Amazon%20RDS&debug=yes",
        )
        .unwrap();
        assert_eq!(c["user"], "u");
        assert_eq!(c["password"], "p@ss");
        assert_eq!(c["host"], "host");
        assert_eq!(c["port"], 3306);
        assert_eq!(c["database"], "db x");
        assert_eq!(c["ssl"], "Amazon RDS");
        assert_eq!(c["debug"], true);

        let c = parse_mysql_connection_string("mysql://u:p@host:3307/db").unwrap();
        assert_eq!(c["port"], 3307);

        assert_eq!(
            parse_mysql_connection_string("mysql://host/db").unwrap_err(),
            "Error: Missing username/password"
        );
        assert_eq!(
            parse_mysql_connection_string("mysql://u@host/db").unwrap_err(),
            "Error: Missing username/password"
        );
        assert_eq!(
            parse_mysql_connection_string("postgres://u:p@host/db").unwrap_err(),
            "Error: Unknown protocol postgres:"
        );
        assert_eq!(
            parse_mysql_connection_string("mysql://u:p@host/a/b").unwrap_err(),
            "Error: Expected single path segment"
        );
        assert_eq!(
            parse_mysql_connection_string("mysql://u:p@host/").unwrap_err(),
            "Error: Expected single path segment"
        );
        assert_eq!(
            parse_mysql_connection_string("nonsense").unwrap_err(),
            "TypeError: Invalid URL"
        );
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn bad_mysql_url_message() {
        let base = base(json!({ "client": "mysql", "connection": "mysql://root@localhost/db" }));
        assert_eq!(
            resolve_err(&base, "catalog").to_string(),
            "Error while parsing MySQL connection string, Error: Missing username/password (plugin 'catalog')"
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn pg_database_mode() {
        let base = base(json!({
            "client": "pg",
            "connection": "postgres://u:p@h:5432/base_db",
            "prefix": "ex_",
            "plugin": {
                "mcp-actions": { "connection": { "password": "other" } },
                "named": { "connection": { "database": "explicit" } },
            }
        }));
        let plugin = base.resolve("entityFeedback", None).unwrap();
        let target = pg(&plugin);
        assert_eq!(target.database.as_deref(), Some("ex_entityFeedback"));
        assert_eq!(target.schema, None);
        assert!(target.ensure_exists);
        assert!(!target.ensure_schema_exists);
        assert_eq!(target.connection["host"], "h");
        assert_eq!(
            target.connection["application_name"],
            "backstage_plugin_entityFeedback"
        );
        assert!(!target.connection.contains_key("database"));

        let plugin = base.resolve("mcp-actions", None).unwrap();
        let target = pg(&plugin);
        assert_eq!(target.database.as_deref(), Some("ex_mcp-actions"));
        assert_eq!(target.connection["password"], "other");
        assert_eq!(target.connection["user"], "u");

        let plugin = base.resolve("named", None).unwrap();
        assert_eq!(pg(&plugin).database.as_deref(), Some("explicit"));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn pg_schema_mode() {
        let base = base(json!({
            "client": "pg",
            "connection": { "host": "h", "database": "shared" },
            "pluginDivisionMode": "schema",
            "schemaPrefix": "bs_",
            "ensureExists": false,
            "role": "grp",
            "plugin": { "auth": { "ensureSchemaExists": true, "role": "grp2" } }
        }));
        let plugin = base.resolve("catalog", None).unwrap();
        let target = pg(&plugin);
        assert_eq!(target.database.as_deref(), Some("shared"));
        assert_eq!(target.schema.as_deref(), Some("bs_catalog"));
        assert!(!target.ensure_exists);
        assert!(!target.ensure_schema_exists);
        assert_eq!(target.role.as_deref(), Some("grp"));

        let plugin = base.resolve("auth", None).unwrap();
        let target = pg(&plugin);
        assert!(target.ensure_schema_exists);
        assert_eq!(target.role.as_deref(), Some("grp2"));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn pg_names_over_63_bytes_are_rejected() {
        let long_prefix = "p".repeat(60);
        let base = base(json!({ "client": "pg", "connection": {}, "prefix": long_prefix }));
        let err = resolve_err(&base, "catalog");
        assert!(
            matches!(
                err,
                Error::NameTooLong {
                    kind: "database",
                    ..
                }
            ),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("over the 63-byte limit"), "{message}");
        assert!(message.contains("shorter prefix"), "{message}");
        assert!(
            message.contains("plugin ID (current: \"catalog\")"),
            "{message}"
        );
        // 63 bytes exactly is fine.
        let base =
            self::base(json!({ "client": "pg", "connection": {}, "prefix": "p".repeat(56) }));
        assert!(base.resolve("catalog", None).is_ok());

        let base = self::base(json!({
            "client": "pg", "connection": {}, "pluginDivisionMode": "schema",
            "schemaPrefix": "s".repeat(60)
        }));
        let err = resolve_err(&base, "catalog");
        assert!(err.to_string().contains("shorter schemaPrefix"), "{err}");
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn cloud_connection_types_are_reported() {
        let base = base(json!({
            "client": "pg",
            "connection": { "type": "azure", "host": "h" },
        }));
        let err = resolve_err(&base, "catalog");
        assert!(
            matches!(err, Error::UnsupportedConnectionType { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("'azure'"), "{err}");
        let base = self::base(json!({
            "client": "pg",
            "connection": { "type": "default", "host": "h" },
        }));
        assert!(base.resolve("catalog", None).is_ok());
    }

    #[cfg(all(feature = "postgres", feature = "sqlite"))]
    #[test]
    fn plugin_switching_engine_ignores_base_connection() {
        let base = base(json!({
            "client": "pg",
            "connection": "postgres://u:p@h/db",
            "plugin": {
                "local": { "client": "better-sqlite3", "connection": ":memory:" },
                "files": { "client": "sqlite3", "connection": { "directory": "/data" } },
            }
        }));
        let local = base.resolve("local", None).unwrap();
        assert_eq!(local.engine, Engine::Sqlite);
        assert!(matches!(local.target, Target::Sqlite(SqliteTarget::Memory)));
        let files = base.resolve("files", None).unwrap();
        match files.target {
            Target::Sqlite(SqliteTarget::File(path)) => {
                assert_eq!(path, PathBuf::from("/data/files.sqlite"));
            }
            _ => panic!("expected a file"),
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_files() {
        let base = base(json!({
            "client": "better-sqlite3",
            "connection": { "directory": "/data" },
            "plugin": {
                "a": { "connection": { "filename": "custom.db" } },
                "b": { "connection": ":memory:" },
                "c": { "connection": { "filename": "/abs/x.sqlite" } },
            }
        }));
        let path = |id: &str| match base.resolve(id, None).unwrap().target {
            Target::Sqlite(SqliteTarget::File(path)) => path,
            _ => PathBuf::from(":memory:"),
        };
        assert_eq!(path("catalog"), PathBuf::from("/data/catalog.sqlite"));
        assert_eq!(path("a"), PathBuf::from("/data/custom.db"));
        assert_eq!(path("b"), PathBuf::from(":memory:"));
        assert_eq!(path("c"), PathBuf::from("/data/abs/x.sqlite"));

        let base = self::base(json!({ "client": "sqlite3", "connection": {} }));
        match base.resolve("x", None).unwrap().target {
            Target::Sqlite(SqliteTarget::File(path)) => {
                assert_eq!(path, PathBuf::from("./x.sqlite"))
            }
            _ => panic!("expected a file"),
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_base_filename_is_rejected() {
        for connection in [json!("/tmp/x.sqlite"), json!({ "filename": "x.sqlite" })] {
            let base = base(json!({ "client": "better-sqlite3", "connection": connection }));
            let err = resolve_err(&base, "catalog");
            assert!(
                err.to_string().starts_with(
                    "`connection.filename` is not supported for the base sqlite connection."
                ),
                "{err}"
            );
        }
        let base =
            base(json!({ "client": "better-sqlite3", "connection": { "filename": ":memory:" } }));
        assert!(base.resolve("catalog", None).is_ok());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn schema_mode_is_rejected_on_sqlite() {
        let base = base(json!({
            "client": "better-sqlite3", "connection": ":memory:", "pluginDivisionMode": "schema"
        }));
        assert_eq!(
            resolve_err(&base, "catalog").to_string(),
            "The SQLite driver does not support plugin division mode 'schema' (plugin 'catalog')"
        );
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_database_mode() {
        let base = base(json!({
            "client": "mysql2",
            "connection": { "host": "h", "user": "root", "database": "ignored" },
            "plugin": { "auth": { "connection": "mysql://u:p@other:3307/authdb" } }
        }));
        let plugin = base.resolve("catalog", None).unwrap();
        let target = my(&plugin);
        assert_eq!(target.database, "backstage_plugin_catalog");
        assert_eq!(target.connection["user"], "root");
        assert!(!target.connection.contains_key("database"));

        let plugin = base.resolve("auth", None).unwrap();
        let target = my(&plugin);
        assert_eq!(target.database, "authdb");
        assert_eq!(target.connection["host"], "other");
        assert_eq!(target.connection["port"], 3307);

        let base = self::base(json!({
            "client": "mysql", "connection": {}, "pluginDivisionMode": "schema"
        }));
        assert!(matches!(
            resolve_err(&base, "catalog"),
            Error::DivisionModeUnsupported {
                driver: "MySQL",
                ..
            }
        ));
    }

    #[test]
    fn knex_pool_settings() {
        let knex = deep_merge(
            Some(
                json!({ "acquireConnectionTimeout": 20000, "pool": { "min": 1, "max": 4, "idleTimeoutMillis": 1000 } }),
            ),
            Some(json!({ "pool": { "max": "8", "acquireTimeoutMillis": 5000 } })),
        );
        let pool = parse_pool("p", knex.as_ref()).unwrap();
        assert_eq!(
            pool,
            PoolConfig {
                min: Some(1),
                max: Some(8),
                acquire_timeout: Some(Duration::from_secs(5)),
                idle_timeout: Some(Duration::from_secs(1)),
                create_timeout: None,
                max_lifetime: None,
            }
        );
        assert_eq!(parse_pool("p", None).unwrap(), PoolConfig::default());

        let err = parse_pool("p", Some(&json!({ "pool": { "max": -1 } }))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid database config for plugin 'p' at 'knexConfig.pool.max': expected a non-negative number"
        );
        let err = parse_pool("p", Some(&json!({ "pool": { "min": 5, "max": 2 } }))).unwrap_err();
        assert!(err.to_string().contains("greater than"), "{err}");
        let err = parse_pool("p", Some(&json!({ "pool": { "max": 0 } }))).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        let err = parse_pool("p", Some(&json!({ "pool": { "min": 1.5 } }))).unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
    }

    #[test]
    fn configured_plugin_ids() {
        let base = base(json!({
            "client": "pg", "connection": "",
            "plugin": { "catalog": {}, "mcp-actions": { "client": "pg" } }
        }));
        assert_eq!(base.configured_plugin_ids(), ["catalog", "mcp-actions"]);
    }

    #[test]
    fn node_path_join() {
        assert_eq!(join_like_node(".", "a.sqlite"), PathBuf::from("./a.sqlite"));
        assert_eq!(join_like_node("/d", "/x/y.db"), PathBuf::from("/d/x/y.db"));
        assert_eq!(join_like_node("/d", "../y.db"), PathBuf::from("/d/../y.db"));
    }
}
