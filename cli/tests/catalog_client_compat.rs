//! Backstage's own npm client, `@backstage/catalog-client` 1.16.2, against `backstage serve`.
//!
//! Each test starts the real binary on a free loopback port with a config written into a
//! scratch directory (the demo catalog `examples/catalog/all.yaml` as a static `file`
//! location; every kind allowed; `url` and `file` locations registrable; the port of the
//! driver's fixture server allowed in `backend.reading.allow`), waits until the demo's ten
//! components are served, then runs `node cli/tests/compat/client.cjs`, which exercises every
//! client method and prints `ok - …` / `not ok - …` per check. The test passes when the
//! driver exits 0.
//!
//! Needs `node` and the npm dependencies of `cli/tests/compat` (`scripts/test` installs both;
//! by hand: `cd cli/tests/compat && npm ci`). The PostgreSQL run needs `POSTGRES_URL`
//! (`scripts/test` or `scripts/with-servers` provide it). Missing prerequisites fail the
//! test; nothing is skipped.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// How long the server may take to serve the demo catalog's ten components.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the Node driver may run.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(600);
/// Components in `examples/catalog/components.yaml`.
const DEMO_COMPONENTS: usize = 10;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compat_dir() -> PathBuf {
    manifest_dir().join("tests/compat")
}

/// The demo catalog's root file, as an absolute path without `..` (the server makes `file`
/// targets absolute; the driver derives the config Location entity's name from this path).
fn demo_location() -> PathBuf {
    manifest_dir()
        .join("../examples/catalog/all.yaml")
        .canonicalize()
        .expect("examples/catalog/all.yaml exists")
}

/// Fails (never skips) when Node.js or the client package is missing.
fn require_node() {
    let hint = "run the tests with scripts/test, which installs Node.js and runs `npm ci` in \
                cli/tests/compat (or install nodejs and npm, then `cd cli/tests/compat && npm ci`)";
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`node --version` failed ({}): {}; {hint}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run `node` ({e}): this test needs Node.js; {hint}"),
    }
    let package = compat_dir().join("node_modules/@backstage/catalog-client/package.json");
    assert!(
        package.is_file(),
        "{} is missing: the npm dependencies of cli/tests/compat are not installed; {hint}",
        package.display()
    );
}

/// Two distinct free loopback ports: the server's and the driver's fixture server's.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let b = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    (
        a.local_addr().expect("a bound address").port(),
        b.local_addr().expect("a bound address").port(),
    )
}

/// A name no other run uses (for the PostgreSQL database prefix).
fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}_{nanos}", std::process::id())
}

/// The app-config of one run (JSON is YAML).
fn app_config(port: u16, fixture_port: u16, database: Value) -> Value {
    json!({
        "backend": {
            "baseUrl": format!("http://127.0.0.1:{port}"),
            "listen": {"host": "127.0.0.1", "port": port},
            "database": database,
            "cache": {"store": "memory"},
            "auth": {"dangerouslyDisableDefaultAuthPolicy": true},
            "reading": {"allow": [{"host": format!("127.0.0.1:{fixture_port}")}]},
        },
        "catalog": {
            "rules": [{"allow": [
                "Component", "System", "API", "Resource", "Location", "Domain", "Group", "User",
                "Template",
            ]}],
            "allowedLocationTypes": ["url", "file"],
            "locations": [{"type": "file", "target": demo_location().to_string_lossy()}],
        },
    })
}

/// The last `lines` lines of a file, for failure messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("<cannot read: {e}>"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A running `backstage serve`; killed when dropped, also when the test panics.
struct Server {
    child: Child,
    port: u16,
    stderr: PathBuf,
    stdout: PathBuf,
}

impl Server {
    fn start(dir: &Path, config: &Value, port: u16) -> Server {
        let config_path = dir.join("app-config.yaml");
        let text = serde_json::to_string_pretty(config).expect("the config serializes");
        fs::write(&config_path, text).expect("the config file is written");
        let stdout = dir.join("server.stdout");
        let stderr = dir.join("server.stderr");
        let mut command = Command::new(env!("CARGO_BIN_EXE_backstage"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("a log file"))
            .stderr(File::create(&stderr).expect("a log file"));
        // Only the config file counts: no APP_CONFIG_* overrides from the caller's shell.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("APP_CONFIG_") {
                command.env_remove(key);
            }
        }
        let child = command.spawn().expect("the backstage binary starts");
        Server {
            child,
            port,
            stderr,
            stdout,
        }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn logs(&self) -> String {
        format!(
            "---- server stderr (last 60 lines) ----\n{}\n---- server stdout (last 20 lines) ----\n{}",
            tail(&self.stderr, 60),
            tail(&self.stdout, 20)
        )
    }

    /// Waits until `GET /api/catalog/entities?filter=kind=component` lists the demo's
    /// components.
    fn wait_for_demo_catalog(&mut self) {
        let path = "/api/catalog/entities?filter=kind=component";
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut last = String::from("no answer yet");
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .expect("the server process can be polled")
            {
                panic!(
                    "backstage serve exited during start-up ({status}); last answer to GET {path}: {last}\n{}",
                    self.logs()
                );
            }
            match http_get(self.port, path) {
                Ok((200, body)) => match serde_json::from_str::<Value>(&body) {
                    Ok(Value::Array(items)) if items.len() == DEMO_COMPONENTS => return,
                    Ok(Value::Array(items)) => {
                        last = format!("200 with {} components", items.len());
                    }
                    _ => last = format!("200 with a body that is not a JSON array: {body:.300}"),
                },
                Ok((status, body)) => last = format!("{status}: {body:.300}"),
                Err(e) => last = e,
            }
            assert!(
                Instant::now() < deadline,
                "backstage serve did not serve the demo catalog's {DEMO_COMPONENTS} components \
                 within {}s; last answer to GET {path}: {last}\n{}",
                STARTUP_TIMEOUT.as_secs(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.0 GET (the server closes the connection after the body).
fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {:?}", String::from_utf8_lossy(&raw)))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    if head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked")
    {
        body = dechunk(&body)?;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Decodes a chunked body (in case the server answers HTTP/1.0 with chunks anyway).
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("bad chunk size {size_text:?}: {e}"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Runs the Node driver against `server`; panics (with its output and the server's log)
/// unless it exits 0.
fn run_driver(server: &Server, fixture_port: u16, dir: &Path) {
    let out_path = dir.join("driver.out");
    let out = File::create(&out_path).expect("an output file");
    let err = out.try_clone().expect("a second handle to the output file");
    let mut child = Command::new("node")
        .arg(compat_dir().join("client.cjs"))
        .arg(server.base_url())
        .arg(fixture_port.to_string())
        .arg(demo_location())
        .current_dir(compat_dir())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("node starts");
    let deadline = Instant::now() + DRIVER_TIMEOUT;
    let status: Option<ExitStatus> = loop {
        if let Some(status) = child.try_wait().expect("the driver process can be polled") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = fs::read_to_string(&out_path).unwrap_or_default();
    println!("{output}");
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!(
            "the catalog-client driver failed ({status}); failing checks:\n{}\n{}",
            output
                .lines()
                .filter(|l| l.starts_with("not ok")
                    || l.starts_with("    ")
                    || l.contains("crashed"))
                .collect::<Vec<_>>()
                .join("\n"),
            server.logs()
        ),
        None => panic!(
            "the catalog-client driver did not finish within {}s; its output so far:\n{output}\n{}",
            DRIVER_TIMEOUT.as_secs(),
            server.logs()
        ),
    }
}

fn run_suite(database: impl FnOnce(&Path) -> Value) {
    require_node();
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let dir = scratch.path().canonicalize().expect("a canonical path");
    let (port, fixture_port) = free_ports();
    let config = app_config(port, fixture_port, database(&dir));
    let mut server = Server::start(&dir, &config, port);
    server.wait_for_demo_catalog();
    run_driver(&server, fixture_port, &dir);
}

#[test]
fn catalog_client_against_sqlite() {
    run_suite(|dir| {
        json!({
            "client": "better-sqlite3",
            "connection": {"directory": dir.to_string_lossy()},
        })
    });
}

/// Drops this run's PostgreSQL databases (best effort, with `psql` when it is installed).
struct DropDatabases {
    url: String,
    prefix: String,
}

impl Drop for DropDatabases {
    fn drop(&mut self) {
        let list = Command::new("psql")
            .arg(&self.url)
            .args([
                "-Atc",
                &format!(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, '{}')",
                    self.prefix
                ),
            ])
            .output();
        let Ok(list) = list else { return };
        for name in String::from_utf8_lossy(&list.stdout).lines() {
            let _ = Command::new("psql")
                .arg(&self.url)
                .args([
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                ])
                .output();
        }
    }
}

#[test]
fn catalog_client_against_postgres() {
    let url = match std::env::var("POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "POSTGRES_URL is not set: this test needs a real PostgreSQL server. Run the tests \
             with scripts/test (or scripts/with-servers cargo test ...), which starts it."
        ),
    };
    // Each plugin gets the database `<prefix><plugin id>`, created on first use
    // (ensureExists defaults to true): a fresh prefix gives this run fresh databases.
    let prefix = format!("compat_{}_", unique_suffix());
    let _cleanup = DropDatabases {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    run_suite(|_| {
        json!({
            "client": "pg",
            "connection": url,
            "prefix": prefix,
        })
    });
}
