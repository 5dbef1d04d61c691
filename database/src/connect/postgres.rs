//! PostgreSQL: one database per plugin (`<prefix><pluginId>`), or one schema per plugin with
//! `search_path` pinned on every connection.
//!
//! Databases are created from the plugin's *effective* connection (host, port, user,
//! password, TLS) with the database swapped for the maintenance database (`postgres` by
//! default); schemas inside the plugin's own database. With a `role`, every connection —
//! admin ones included — runs `SET ROLE` first, so created schemas and tables belong to it.

use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgSslMode};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use super::{
    Connected, Context, SERVER_POOL, classify, create_timeout, is_already_exists, pool_options,
    with_retries, with_timeout,
};
use crate::config::{PgTarget, PluginConfig};
use crate::{DatabaseClient, Engine, Error};

/// `"name"` with inner quotes doubled: a PostgreSQL quoted identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `SET ROLE` and `SET search_path` for a new connection, if any is needed.
fn session_sql(role: Option<&str>, schema: Option<&str>) -> Option<String> {
    let mut statements = Vec::new();
    if let Some(role) = role {
        statements.push(format!("SET ROLE {}", quote_ident(role)));
    }
    if let Some(schema) = schema {
        statements.push(format!("SET search_path TO {}", quote_ident(schema)));
    }
    (!statements.is_empty()).then(|| statements.join("; "))
}

async fn run_sql(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map(drop)
}

/// `host:port`, or the socket directory.
fn server_label(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Splits a libpq `options` string (`-c key=value -c other=value`, `--key=value`) into
/// server parameters.
fn parse_server_options(options: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut tokens = options.split_whitespace();
    while let Some(token) = tokens.next() {
        let setting = if token == "-c" {
            tokens
                .next()
                .ok_or_else(|| "connection options: '-c' without a setting".to_owned())?
        } else if let Some(rest) = token.strip_prefix("-c") {
            rest
        } else if let Some(rest) = token.strip_prefix("--") {
            rest
        } else {
            return Err(format!(
                "connection options: expected '-c name=value', got '{token}'"
            ));
        };
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("connection options: expected name=value, got '{setting}'"))?;
        out.push((key.replace('-', "_"), value.to_owned()));
    }
    Ok(out)
}

fn ssl_mode(mode: &str) -> Result<PgSslMode, String> {
    Ok(match mode {
        "disable" => PgSslMode::Disable,
        "allow" => PgSslMode::Allow,
        "prefer" => PgSslMode::Prefer,
        "require" | "no-verify" => PgSslMode::Require,
        "verify-ca" => PgSslMode::VerifyCa,
        "verify-full" => PgSslMode::VerifyFull,
        other => return Err(format!("unknown sslmode '{other}'")),
    })
}

/// Connect options from a node-postgres style connection object (its `database` is not
/// read: the caller sets it). Starts from libpq's environment defaults (`PGHOST`, `PGUSER`,
/// …) as node-postgres does.
pub(crate) fn connect_options(
    plugin_id: &str,
    connection: &Map<String, Value>,
) -> Result<PgConnectOptions, Error> {
    let invalid = |reason: String| Error::InvalidConnection {
        plugin_id: plugin_id.to_owned(),
        engine: Engine::Postgres,
        reason,
    };
    let string = |key: &str, value: &Value| {
        text_of(value).ok_or_else(|| invalid(format!("connection.{key} must be a string")))
    };
    let mut options = PgConnectOptions::new_without_pgpass();
    let mut server_options = Vec::new();
    for (key, value) in connection {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "host" => {
                let host = string(key, value)?;
                options = if host.starts_with('/') {
                    options.socket(host)
                } else {
                    options.host(&host)
                };
            }
            "port" => {
                let port = string(key, value)?;
                let port = port.trim().parse::<u16>().map_err(|_| {
                    invalid(format!(
                        "connection.port must be a port number, got '{port}'"
                    ))
                })?;
                options = options.port(port);
            }
            "user" => options = options.username(&string(key, value)?),
            "password" => options = options.password(&string(key, value)?),
            "application_name" => options = options.application_name(&string(key, value)?),
            "options" => {
                server_options.extend(parse_server_options(&string(key, value)?).map_err(invalid)?)
            }
            "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => {
                server_options.push((key.clone(), string(key, value)?));
            }
            "sslrootcert" => options = options.ssl_root_cert(string(key, value)?),
            "sslcert" => options = options.ssl_client_cert(string(key, value)?),
            "sslkey" => options = options.ssl_client_key(string(key, value)?),
            _ => {}
        }
    }
    if !server_options.is_empty() {
        options = options.options(server_options);
    }
    match connection.get("sslmode").filter(|v| !v.is_null()) {
        Some(mode) => {
            let mode = string("sslmode", mode)?;
            options = options.ssl_mode(ssl_mode(&mode).map_err(invalid)?);
        }
        None => match connection.get("ssl") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(false)) => options = options.ssl_mode(PgSslMode::Disable),
            Some(Value::Bool(true)) => options = options.ssl_mode(PgSslMode::VerifyFull),
            Some(Value::String(s)) => {
                let mode = match s.as_str() {
                    "false" | "0" => PgSslMode::Disable,
                    "true" | "1" => PgSslMode::VerifyFull,
                    other => ssl_mode(other).map_err(invalid)?,
                };
                options = options.ssl_mode(mode);
            }
            Some(Value::Object(tls)) => {
                let verify = !matches!(tls.get("rejectUnauthorized"), Some(Value::Bool(false)));
                options = options.ssl_mode(if verify {
                    PgSslMode::VerifyFull
                } else {
                    PgSslMode::Require
                });
                if let Some(ca) = tls.get("ca").and_then(Value::as_str) {
                    options = options.ssl_root_cert_from_pem(ca.as_bytes().to_vec());
                }
                if let Some(cert) = tls.get("cert").and_then(Value::as_str) {
                    options = options.ssl_client_cert_from_pem(cert.as_bytes());
                }
                if let Some(key) = tls.get("key").and_then(Value::as_str) {
                    options = options.ssl_client_key_from_pem(key.as_bytes());
                }
            }
            Some(_) => {
                return Err(invalid(
                    "connection.ssl must be a boolean or an object".to_owned(),
                ));
            }
        },
    }
    Ok(options)
}

/// Checks `pg_database` on the maintenance database and creates the database when missing.
async fn ensure_database(
    ctx: &Context<'_>,
    base: &PgConnectOptions,
    role: Option<&str>,
    database: &str,
) -> Result<(), sqlx::Error> {
    with_retries(|| async {
        let _ddl = ctx.ddl.lock().await;
        let admin = base.clone().database(ctx.maintenance_database);
        let mut conn = with_timeout(super::ADMIN_TIMEOUT, admin.connect()).await?;
        let result = async {
            if let Some(sql) = session_sql(role, None) {
                run_sql(&mut conn, &sql).await?;
            }
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(database)
                    .fetch_one(&mut conn)
                    .await?;
            if !exists {
                match run_sql(
                    &mut conn,
                    &format!("CREATE DATABASE {}", quote_ident(database)),
                )
                .await
                {
                    Ok(()) => tracing::info!(database, "created PostgreSQL database"),
                    Err(error) if is_already_exists(&error) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        }
        .await;
        let _ = conn.close().await;
        result
    })
    .await
}

/// `CREATE SCHEMA IF NOT EXISTS` in the plugin's database (as the role, owned by it).
async fn ensure_schema(
    ctx: &Context<'_>,
    options: &PgConnectOptions,
    role: Option<&str>,
    schema: &str,
) -> Result<(), sqlx::Error> {
    let _ddl = ctx.ddl.lock().await;
    let mut conn = with_timeout(super::ADMIN_TIMEOUT, options.connect()).await?;
    let result = async {
        if let Some(sql) = session_sql(role, None) {
            run_sql(&mut conn, &sql).await?;
        }
        let sql = match role {
            Some(role) => format!(
                "CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}",
                quote_ident(schema),
                quote_ident(role)
            ),
            None => format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema)),
        };
        match run_sql(&mut conn, &sql).await {
            Ok(()) => Ok(()),
            Err(error) if is_already_exists(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }
    .await;
    let _ = conn.close().await;
    result
}

pub(super) async fn connect(
    ctx: &Context<'_>,
    config: &PluginConfig,
    target: &PgTarget,
) -> Result<Connected, Error> {
    let plugin_id = config.plugin_id.as_str();
    let base = connect_options(plugin_id, &target.connection)?;
    let server = server_label(&base);
    let options = match &target.database {
        Some(database) => base.clone().database(database),
        None => base.clone(),
    };
    // Without a configured database the server uses the user name.
    let database = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_owned();
    let role = target.role.as_deref();

    if let Some(name) = &target.database
        && target.ensure_exists
    {
        let key = format!("postgres|{server}|{name}");
        ctx.ensured
            .ensure(key, || ensure_database(ctx, &base, role, name))
            .await
            .map_err(|source| Error::EnsureDatabase {
                plugin_id: plugin_id.to_owned(),
                engine: Engine::Postgres,
                database: name.clone(),
                server: server.clone(),
                failure: classify(&source),
                source,
            })?;
    }

    let create_schema = target.ensure_schema_exists || target.ensure_exists;
    if let Some(schema) = &target.schema
        && create_schema
    {
        let key = format!("postgres|{server}|{database}|schema|{schema}");
        ctx.ensured
            .ensure(key, || ensure_schema(ctx, &options, role, schema))
            .await
            .map_err(|source| Error::EnsureSchema {
                plugin_id: plugin_id.to_owned(),
                schema: schema.clone(),
                database: database.clone(),
                server: server.clone(),
                failure: classify(&source),
                source: Box::new(source),
            })?;
    }

    let session = session_sql(role, target.schema.as_deref());
    let connect_error = |source: sqlx::Error| Error::Connect {
        plugin_id: plugin_id.to_owned(),
        engine: Engine::Postgres,
        database: database.clone(),
        server: server.clone(),
        failure: classify(&source),
        source,
    };
    // The probe: the real cause of a failure, at once.
    let mut probe = with_timeout(create_timeout(&config.pool), options.connect())
        .await
        .map_err(connect_error)?;
    let checked = async {
        if let Some(sql) = &session {
            run_sql(&mut probe, sql).await?;
        }
        match &target.schema {
            Some(schema) if !create_schema => {
                sqlx::query_scalar::<_, bool>(
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                )
                .bind(schema)
                .fetch_one(&mut probe)
                .await
            }
            _ => Ok(true),
        }
    }
    .await;
    let _ = probe.close().await;
    if !checked.map_err(connect_error)? {
        return Err(Error::MissingSchema {
            plugin_id: plugin_id.to_owned(),
            schema: target.schema.clone().unwrap_or_default(),
            database,
        });
    }

    let mut pool: PgPoolOptions = pool_options(&config.pool, &SERVER_POOL);
    if let Some(sql) = session {
        let sql: Arc<str> = sql.into();
        pool = pool.after_connect(move |conn, _meta| {
            let sql = sql.clone();
            Box::pin(async move {
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(conn)
                    .await
                    .map(drop)
            })
        });
    }
    Ok(Connected {
        client: DatabaseClient::Postgres(pool.connect_lazy_with(options)),
        keeper: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(value: Value) -> Result<PgConnectOptions, Error> {
        match value {
            Value::Object(map) => connect_options("p", &map),
            _ => panic!("object expected"),
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(
            quote_ident("backstage_plugin_mcp-actions"),
            "\"backstage_plugin_mcp-actions\""
        );
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            session_sql(Some("grp"), Some("bs_Catalog")).as_deref(),
            Some("SET ROLE \"grp\"; SET search_path TO \"bs_Catalog\"")
        );
        assert_eq!(session_sql(None, None), None);
    }

    #[test]
    fn server_options() {
        assert_eq!(
            parse_server_options("-c statement_timeout=5s -cwork_mem=4MB --lock-timeout=1s")
                .unwrap(),
            [
                ("statement_timeout".to_owned(), "5s".to_owned()),
                ("work_mem".to_owned(), "4MB".to_owned()),
                ("lock_timeout".to_owned(), "1s".to_owned()),
            ]
        );
        assert!(parse_server_options("statement_timeout=5s").is_err());
        assert!(parse_server_options("-c").is_err());
    }

    #[test]
    fn object_connections() {
        let o = options(json!({
            "host": "db.internal", "port": "6543", "user": "bs", "password": "pw",
            "application_name": "app", "sslmode": "verify-ca"
        }))
        .unwrap();
        assert_eq!(o.get_host(), "db.internal");
        assert_eq!(o.get_port(), 6543);
        assert_eq!(o.get_username(), "bs");
        assert_eq!(o.get_application_name(), Some("app"));
        assert!(matches!(o.get_ssl_mode(), PgSslMode::VerifyCa));

        let o = options(json!({ "host": "/var/run/postgresql", "port": 5433 })).unwrap();
        assert_eq!(
            o.get_socket().map(|p| p.display().to_string()).as_deref(),
            Some("/var/run/postgresql")
        );
        assert_eq!(server_label(&o), "/var/run/postgresql");

        let o = options(json!({ "ssl": false })).unwrap();
        assert!(matches!(o.get_ssl_mode(), PgSslMode::Disable));
        let o = options(json!({ "ssl": true })).unwrap();
        assert!(matches!(o.get_ssl_mode(), PgSslMode::VerifyFull));
        let o = options(json!({ "ssl": { "rejectUnauthorized": false } })).unwrap();
        assert!(matches!(o.get_ssl_mode(), PgSslMode::Require));
        let o = options(json!({ "options": "-c statement_timeout=5000" })).unwrap();
        assert_eq!(o.get_options(), Some("-c statement_timeout=5000"));

        let err = options(json!({ "port": "abc" })).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid postgres connection config for plugin 'p': connection.port must be a port number, got 'abc'"
        );
        assert!(options(json!({ "sslmode": "sometimes" })).is_err());
        assert!(options(json!({ "ssl": 5 })).is_err());
    }
}
