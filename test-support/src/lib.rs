//! Dev-only helpers shared by the workspace's test suites.
//!
//! Tests that need a real server (PostgreSQL, MariaDB, Redis, Valkey,
//! memcached) read its URL from an environment variable with [`server_url`]
//! or [`Server::url`]. `scripts/test` and `scripts/with-servers` start (or
//! reuse) every server and export those variables; see `docs/testing.md`.
//! A test whose server is missing panics with a message saying how to run
//! it: tests fail, they never skip.
//!
//! [`unique_name`] gives names that do not collide between tests running in
//! parallel, for per-test databases, tables and keys.
//!
//! ```
//! use backstage_test_support::unique_name;
//!
//! let a = unique_name("catalog_test");
//! let b = unique_name("catalog_test");
//! assert_ne!(a, b);
//! assert!(a.starts_with("catalog_test_"));
//! assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
//! ```

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A kind of server the test suites talk to, with the environment variable
/// that holds its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Server {
    /// PostgreSQL: `POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
    Postgres,
    /// MariaDB (MySQL protocol): `MYSQL_URL`, e.g. `mysql://root@127.0.0.1:3306/mysql`.
    MySql,
    /// Redis: `REDIS_URL`, e.g. `redis://127.0.0.1:6379`.
    Redis,
    /// Valkey (a real `valkey-server`, not Redis): `VALKEY_URL`, e.g. `valkey://127.0.0.1:56479`.
    Valkey,
    /// One memcached server: `MEMCACHED_URL`, e.g. `memcache://127.0.0.1:51211`.
    Memcached,
    /// Two or more memcached servers, comma-separated: `MEMCACHED_URLS`.
    MemcachedCluster,
}

impl Server {
    /// Every server kind, in the order `scripts/with-servers` provisions them.
    pub const ALL: [Server; 6] = [
        Server::Postgres,
        Server::MySql,
        Server::Redis,
        Server::Valkey,
        Server::Memcached,
        Server::MemcachedCluster,
    ];

    /// The environment variable that holds this server's URL.
    pub fn env_var(self) -> &'static str {
        match self {
            Server::Postgres => "POSTGRES_URL",
            Server::MySql => "MYSQL_URL",
            Server::Redis => "REDIS_URL",
            Server::Valkey => "VALKEY_URL",
            Server::Memcached => "MEMCACHED_URL",
            Server::MemcachedCluster => "MEMCACHED_URLS",
        }
    }

    /// What the variable must point at, for error messages.
    pub fn description(self) -> &'static str {
        match self {
            Server::Postgres => "a real PostgreSQL server",
            Server::MySql => "a real MariaDB (MySQL) server",
            Server::Redis => "a real Redis server",
            Server::Valkey => "a real Valkey server",
            Server::Memcached => "a real memcached server",
            Server::MemcachedCluster => "two real memcached servers (comma-separated URLs)",
        }
    }

    /// The server kind whose URL lives in `var`, if `var` is one of ours.
    pub fn from_env_var(var: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|s| s.env_var() == var)
    }

    /// This server's URL, read from [`Server::env_var`].
    ///
    /// # Panics
    ///
    /// When the variable is unset or empty, with a message saying how to run
    /// the tests with their servers.
    pub fn url(self) -> String {
        server_url(self.env_var())
    }

    /// This server's URLs: the variable's value split on commas, blanks
    /// dropped. Meant for [`Server::MemcachedCluster`].
    ///
    /// # Panics
    ///
    /// Like [`Server::url`], and when the value holds no URL at all.
    pub fn urls(self) -> Vec<String> {
        let var = self.env_var();
        let urls: Vec<String> = server_url(var)
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect();
        if urls.is_empty() {
            missing(var);
        }
        urls
    }
}

/// The URL in the environment variable `var` (e.g. `"POSTGRES_URL"`).
///
/// # Panics
///
/// When `var` is unset or empty: a test that needs a server fails, it never
/// skips. The message names the server and says to run the tests through
/// `scripts/test` or `scripts/with-servers`.
pub fn server_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => missing(var),
    }
}

fn missing(var: &str) -> ! {
    let what = Server::from_env_var(var).map_or("a real server", Server::description);
    panic!(
        "{var} is not set: this test needs {what}. Run the tests with scripts/test \
         (or scripts/with-servers cargo test ...), which starts every server the tests need."
    )
}

/// Longest prefix kept by [`unique_name`], so that names stay within
/// PostgreSQL's 63-byte and MariaDB's 64-byte identifier limits.
pub const MAX_PREFIX_LEN: usize = 32;

/// A name unique to this process and call, for per-test databases, tables
/// and keys: `{prefix}_{pid}_{counter}_{random}`.
///
/// The prefix is lower-cased, every character outside `[a-z0-9_]` becomes
/// `_`, it is cut to [`MAX_PREFIX_LEN`] characters, and an empty prefix
/// becomes `t`. The result holds only `[a-z0-9_]` and stays under 63 bytes
/// (PostgreSQL's identifier limit), so it is a valid unquoted SQL identifier
/// when the prefix starts with a letter.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut clean: String = prefix
        .chars()
        .take(MAX_PREFIX_LEN)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        clean.push('t');
    }
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // RandomState is seeded from the OS once per thread, then varied.
    let random = RandomState::new().hash_one((nanos, count));
    format!(
        "{clean}_{}_{count}_{}",
        std::process::id(),
        base36(random % 36u64.pow(6))
    )
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        // `n % 36` is always a valid index into DIGITS.
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    out.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_clean() {
        let a = unique_name("My-Test.Name");
        let b = unique_name("My-Test.Name");
        assert_ne!(a, b);
        assert!(a.starts_with("my_test_name_"), "{a}");
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
            "{a}"
        );
    }

    #[test]
    fn long_and_empty_prefixes() {
        let long = unique_name(&"x".repeat(200));
        assert!(long.len() <= 63, "{long} is {} bytes", long.len());
        assert!(unique_name("").starts_with("t_"));
    }

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    #[test]
    fn server_env_vars_round_trip() {
        for s in Server::ALL {
            assert_eq!(Server::from_env_var(s.env_var()), Some(s));
        }
        assert_eq!(Server::from_env_var("NOPE_URL"), None);
    }

    #[test]
    #[should_panic(expected = "BACKSTAGE_TEST_SUPPORT_UNSET_URL is not set")]
    fn missing_variable_panics() {
        server_url("BACKSTAGE_TEST_SUPPORT_UNSET_URL");
    }
}
