//! MySQL and MariaDB: one database per plugin, created with
//! ``CREATE DATABASE IF NOT EXISTS `name` `` from the plugin's effective connection without a
//! default database.

use serde_json::{Map, Value};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use super::{
    Connected, Context, SERVER_POOL, classify, create_timeout, pool_options, with_retries,
    with_timeout,
};
use crate::config::{MySqlTarget, PluginConfig};
use crate::{DatabaseClient, Engine, Error};

/// `` `name` `` with inner backticks doubled: a MySQL quoted identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `host:port`, or the socket path.
fn server_label(options: &MySqlConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// Connect options from a mysql2 style connection object (its `database` is not read).
pub(crate) fn connect_options(
    plugin_id: &str,
    connection: &Map<String, Value>,
) -> Result<MySqlConnectOptions, Error> {
    let invalid = |reason: String| Error::InvalidConnection {
        plugin_id: plugin_id.to_owned(),
        engine: Engine::MySql,
        reason,
    };
    let string = |key: &str, value: &Value| {
        text_of(value).ok_or_else(|| invalid(format!("connection.{key} must be a string")))
    };
    let mut options = MySqlConnectOptions::new();
    for (key, value) in connection {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "host" => options = options.host(&string(key, value)?),
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
            "socketPath" => options = options.socket(string(key, value)?),
            "charset" => options = options.charset(&string(key, value)?),
            "ssl" => match value {
                Value::Bool(false) => options = options.ssl_mode(MySqlSslMode::Disabled),
                Value::Bool(true) => options = options.ssl_mode(MySqlSslMode::VerifyIdentity),
                // mysql2 takes a string as a named profile (`Amazon RDS`): encrypt.
                Value::String(s) => {
                    options = options.ssl_mode(match s.as_str() {
                        "false" | "0" => MySqlSslMode::Disabled,
                        _ => MySqlSslMode::Required,
                    });
                }
                Value::Object(tls) => {
                    let verify = !matches!(tls.get("rejectUnauthorized"), Some(Value::Bool(false)));
                    options = options.ssl_mode(if verify {
                        MySqlSslMode::VerifyIdentity
                    } else {
                        MySqlSslMode::Required
                    });
                    if let Some(ca) = tls.get("ca").and_then(Value::as_str) {
                        options = options.ssl_ca_from_pem(ca.as_bytes().to_vec());
                    }
                    if let Some(cert) = tls.get("cert").and_then(Value::as_str) {
                        options = options.ssl_client_cert_from_pem(cert.as_bytes());
                    }
                    if let Some(key) = tls.get("key").and_then(Value::as_str) {
                        options = options.ssl_client_key_from_pem(key.as_bytes());
                    }
                }
                _ => {
                    return Err(invalid(
                        "connection.ssl must be a boolean, a string or an object".to_owned(),
                    ));
                }
            },
            _ => {}
        }
    }
    Ok(options)
}

/// ``CREATE DATABASE IF NOT EXISTS `name` `` on a connection without a default database.
async fn ensure_database(
    ctx: &Context<'_>,
    base: &MySqlConnectOptions,
    database: &str,
) -> Result<(), sqlx::Error> {
    with_retries(|| async {
        let _ddl = ctx.ddl.lock().await;
        let mut conn = with_timeout(super::ADMIN_TIMEOUT, base.connect()).await?;
        let result = sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            quote_ident(database)
        )))
        .execute(&mut conn)
        .await
        .map(drop);
        let _ = conn.close().await;
        result
    })
    .await
}

pub(super) async fn connect(
    ctx: &Context<'_>,
    config: &PluginConfig,
    target: &MySqlTarget,
) -> Result<Connected, Error> {
    let plugin_id = config.plugin_id.as_str();
    let base = connect_options(plugin_id, &target.connection)?;
    let server = server_label(&base);
    let database = target.database.as_str();

    if target.ensure_exists {
        let key = format!("mysql|{server}|{database}");
        ctx.ensured
            .ensure(key, || ensure_database(ctx, &base, database))
            .await
            .map_err(|source| Error::EnsureDatabase {
                plugin_id: plugin_id.to_owned(),
                engine: Engine::MySql,
                database: database.to_owned(),
                server: server.clone(),
                failure: classify(&source),
                source,
            })?;
    }

    let options = base.database(database);
    let probe = with_timeout(create_timeout(&config.pool), options.connect())
        .await
        .map_err(|source| Error::Connect {
            plugin_id: plugin_id.to_owned(),
            engine: Engine::MySql,
            database: database.to_owned(),
            server: server.clone(),
            failure: classify(&source),
            source,
        })?;
    let _ = probe.close().await;

    let pool: MySqlPoolOptions = pool_options(&config.pool, &SERVER_POOL);
    Ok(Connected {
        client: DatabaseClient::MySql(pool.connect_lazy_with(options)),
        keeper: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting() {
        assert_eq!(
            quote_ident("backstage_plugin_a-b"),
            "`backstage_plugin_a-b`"
        );
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
    }

    #[test]
    fn object_connections() {
        let Value::Object(map) = json!({
            "host": "maria", "port": 3307, "user": "bs", "password": "pw",
            "ssl": { "rejectUnauthorized": false }
        }) else {
            unreachable!()
        };
        let o = connect_options("p", &map).unwrap();
        assert_eq!(o.get_host(), "maria");
        assert_eq!(o.get_port(), 3307);
        assert_eq!(o.get_username(), "bs");
        assert!(matches!(o.get_ssl_mode(), MySqlSslMode::Required));
        assert_eq!(server_label(&o), "maria:3307");

        let Value::Object(map) = json!({ "port": "x" }) else {
            unreachable!()
        };
        assert!(connect_options("p", &map).is_err());
    }
}
