//! SQLite: a private in-memory database per plugin, or one file per plugin.
//!
//! In memory, each plugin gets a uniquely named shared-cache database
//! (`file:backstage-<pluginId>-<pid>-<n>`, `mode=memory`) plus one connection the manager
//! keeps open until it closes, so the data survives the pool dropping idle connections and
//! every pooled connection sees the same database. Files are opened in WAL mode with
//! foreign keys on and a busy timeout; missing parent directories are created.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use super::{
    Connected, Keeper, PoolDefaults, classify, create_timeout, pool_options, with_timeout,
};
use crate::config::{PluginConfig, SqliteTarget};
use crate::{DatabaseClient, Engine, Error};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Knex's SQLite pool: one connection, kept.
const SQLITE_POOL: PoolDefaults = PoolDefaults {
    min: 1,
    max: 1,
    idle_timeout: None,
};

/// A process-unique name for a plugin's in-memory database.
fn memory_name(plugin_id: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let clean: String = plugin_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "file:backstage-{clean}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// SQLITE_BUSY (5) or one of its extended codes (`database is locked`).
fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 5),
        _ => false,
    }
}

fn file_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
}

pub(super) async fn connect(
    config: &PluginConfig,
    target: &SqliteTarget,
) -> Result<Connected, Error> {
    let plugin_id = config.plugin_id.as_str();
    let connect_error = |database: &str, source: sqlx::Error| Error::Connect {
        plugin_id: plugin_id.to_owned(),
        engine: Engine::Sqlite,
        database: database.to_owned(),
        server: "local SQLite".to_owned(),
        failure: classify(&source),
        source,
    };
    let timeout = create_timeout(&config.pool);
    match target {
        SqliteTarget::Memory => {
            let options = SqliteConnectOptions::new()
                .filename(memory_name(plugin_id))
                .in_memory(true)
                .shared_cache(true)
                .foreign_keys(true)
                .busy_timeout(BUSY_TIMEOUT);
            let keeper = with_timeout(timeout, options.connect())
                .await
                .map_err(|e| connect_error(":memory:", e))?;
            let pool: SqlitePoolOptions = pool_options(&config.pool, &SQLITE_POOL);
            Ok(Connected {
                client: DatabaseClient::Sqlite(pool.connect_lazy_with(options)),
                keeper: Some(Keeper::Sqlite(keeper)),
            })
        }
        SqliteTarget::File(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| Error::SqliteDirectory {
                    plugin_id: plugin_id.to_owned(),
                    path: path.clone(),
                    source,
                })?;
            }
            let label = path.display().to_string();
            let options = file_options(path);
            // The probe also switches a new file to WAL, which needs the write lock once. Two
            // processes doing that at the same moment can get SQLITE_BUSY at once (SQLite
            // refuses to wait where waiting could deadlock), so a busy probe is retried.
            let probe = with_timeout(timeout, async {
                let mut backoff = Duration::from_millis(10);
                loop {
                    match options.connect().await {
                        Err(e) if is_busy(&e) => {
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_millis(200));
                        }
                        other => return other,
                    }
                }
            })
            .await
            .map_err(|e| connect_error(&label, e))?;
            let _ = probe.close().await;
            let pool: SqlitePoolOptions = pool_options(&config.pool, &SQLITE_POOL);
            Ok(Connected {
                client: DatabaseClient::Sqlite(pool.connect_lazy_with(options)),
                keeper: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_names_are_unique_and_clean() {
        let a = memory_name("mcp-actions");
        let b = memory_name("mcp-actions");
        assert_ne!(a, b);
        assert!(a.starts_with("file:backstage-mcp-actions-"), "{a}");
        assert!(memory_name("a/b?c").starts_with("file:backstage-a_b_c-"));
    }
}
