//! `hotrod-test-server`: runs the in-memory Hot Rod test server as a process, so other Hot Rod
//! clients (the `infinispan` npm client in `cache/tests/compat`) can be checked against it.
//!
//! ```text
//! cargo run -p backstage-cache --features infinispan-test-server --bin hotrod-test-server -- \
//!     [--port N] [--cache NAME]... [--user NAME:PASSWORD]... [--mechanisms PLAIN,SCRAM-SHA-256] \
//!     [--tls-cert CHAIN.pem --tls-key KEY.pem] [--topology-segments N] [--log-requests]
//! ```
//!
//! Prints `listening 127.0.0.1:PORT` on stdout once ready, then with `--log-requests` one JSON
//! object per received request. Exits when stdin is closed (so a test that spawned it cannot
//! leave it behind) or on Ctrl-C.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use backstage_cache::stores::infinispan::test_server::{
    RequestObserver, TestAuth, TestServer, TestTopology,
};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn usage() -> &'static str {
    "usage: hotrod-test-server [--port N] [--cache NAME]... [--user NAME:PASSWORD]... \
     [--mechanisms PLAIN,SCRAM-SHA-256] [--tls-cert CHAIN.pem --tls-key KEY.pem] \
     [--topology-segments N] [--log-requests]"
}

struct Args {
    port: u16,
    caches: Vec<String>,
    users: Vec<(String, String)>,
    mechanisms: Vec<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    topology_segments: Option<u32>,
    log_requests: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        caches: Vec::new(),
        users: Vec::new(),
        mechanisms: Vec::new(),
        tls_cert: None,
        tls_key: None,
        topology_segments: None,
        log_requests: false,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--cache" => args.caches.push(value()?),
            "--user" => {
                let pair = value()?;
                let (user, password) = pair
                    .split_once(':')
                    .ok_or_else(|| "--user takes NAME:PASSWORD".to_owned())?;
                args.users.push((user.to_owned(), password.to_owned()));
            }
            "--mechanisms" => {
                args.mechanisms = value()?.split(',').map(str::to_owned).collect();
            }
            "--tls-cert" => args.tls_cert = Some(value()?),
            "--tls-key" => args.tls_key = Some(value()?),
            "--topology-segments" => {
                args.topology_segments = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--topology-segments: {e}"))?,
                );
            }
            "--log-requests" => args.log_requests = true,
            "--help" | "-h" => return Err(usage().to_owned()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    Ok(args)
}

fn tls_config(cert: &str, key: &str) -> Result<Arc<ServerConfig>, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-cert {cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--tls-key {key}: {e}"))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    Ok(Arc::new(config))
}

async fn run(args: Args) -> Result<(), String> {
    let mut builder = TestServer::builder().bind(([127, 0, 0, 1], args.port).into());
    if !args.caches.is_empty() {
        builder = builder.caches(args.caches);
    }
    if !args.users.is_empty() || !args.mechanisms.is_empty() {
        let mechanisms = if args.mechanisms.is_empty() {
            vec!["PLAIN".to_owned(), "SCRAM-SHA-256".to_owned()]
        } else {
            args.mechanisms
        };
        builder = builder.auth(TestAuth {
            mechanisms,
            users: args.users,
        });
    }
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => builder = builder.tls(tls_config(cert, key)?),
        (None, None) => {}
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    }
    if args.log_requests {
        let observer: RequestObserver = Arc::new(|record| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", record.to_json());
            let _ = out.flush();
        });
        builder = builder.observer(observer);
    }
    let server = builder
        .start()
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    if let Some(segments) = args.topology_segments {
        server.set_topology(Some(TestTopology {
            id: 1,
            members: vec![("127.0.0.1".to_owned(), server.port())],
            num_segments: segments,
        }));
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening {}", server.addr());
        let _ = out.flush();
    }
    // A detached thread (not `spawn_blocking`, which would hold up runtime shutdown) watches
    // stdin and reports when it closes.
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = closed_tx.send(());
    });
    tokio::select! {
        _ = closed_rx => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(server);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hotrod-test-server: {message}");
            ExitCode::FAILURE
        }
    }
}
