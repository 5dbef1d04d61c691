//! Binding the listen address and running the HTTP/1.1 server with graceful shutdown.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Error;
use crate::config::ListenAddress;

/// Binds the listen address (spec §4.12): host `""` means all interfaces (IPv6 and IPv4 where
/// the system allows a dual-stack socket, else IPv4 only). Logs `Listening on <host>:<port>`
/// (with the configured host and the bound port) at `info` with `service: rootHttpRouter`.
///
/// # Errors
///
/// [`Error::Bind`], naming the address, when the address cannot be bound (in use, not
/// available, permission denied, unresolvable host).
pub async fn bind(listen: &ListenAddress) -> Result<TcpListener, Error> {
    let port = listen.port;
    let result = if listen.host.is_empty() {
        let any_v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
        match TcpListener::bind(any_v6).await {
            Ok(listener) => Ok(listener),
            // No IPv6 on this host: all IPv4 interfaces.
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::AddrNotAvailable | io::ErrorKind::Unsupported
                ) || err.raw_os_error() == Some(97) =>
            {
                TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
                    .await
                    .map_err(|source| bind_error(listen, source))
            }
            Err(source) => Err(bind_error(listen, source)),
        }
    } else {
        TcpListener::bind((listen.host.as_str(), port))
            .await
            .map_err(|source| bind_error(listen, source))
    };
    let listener = result?;
    let bound = listener.local_addr().map_or(port, |addr| addr.port());
    tracing::info!(
        service = "rootHttpRouter",
        "Listening on {}:{}",
        listen.host,
        bound
    );
    Ok(listener)
}

fn bind_error(listen: &ListenAddress, source: io::Error) -> Error {
    Error::Bind {
        address: format!("{}:{}", listen.host, listen.port),
        source,
    }
}

/// A running server, from [`spawn_server`].
///
/// Dropping the handle also shuts the server down gracefully, without waiting for it.
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address the server listens on (with the actual port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Graceful shutdown: stops accepting connections, closes idle keep-alive connections,
    /// lets in-flight requests finish and returns when every connection is closed. Wrap it in
    /// [`tokio::time::timeout`] to bound the wait.
    ///
    /// # Errors
    ///
    /// [`Error::Server`] if the server failed or its task panicked.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(Error::Server {
                message: err.to_string(),
            }),
            Err(err) => Err(Error::Server {
                message: format!("the server task failed: {err}"),
            }),
        }
    }
}

/// Serves `router` (usually [`RootRouter::router`](super::RootRouter::router)) on `listener`
/// with HTTP/1.1 on a new Tokio task.
///
/// ```
/// use axum::{Router, routing::get};
/// use backstage_backend_common::config::ListenAddress;
/// use backstage_backend_common::http::{bind, spawn_server};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let listener = bind(&ListenAddress { host: "127.0.0.1".into(), port: 0 }).await?;
/// let server = spawn_server(listener, Router::new().route("/", get(|| async { "hi" })))?;
/// assert_ne!(server.local_addr().port(), 0);
/// server.shutdown().await?;
/// # Ok::<(), backstage_backend_common::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Server`] when called outside a Tokio runtime or when the listener has no local
/// address.
pub fn spawn_server(listener: TcpListener, router: Router) -> Result<ServerHandle, Error> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::Server {
        message: "spawn_server must be called from within a Tokio runtime".to_owned(),
    })?;
    let local_addr = listener.local_addr().map_err(|err| Error::Server {
        message: format!("the listener has no local address: {err}"),
    })?;
    let (shutdown, signal) = oneshot::channel::<()>();
    let task = runtime.spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                // A dropped handle also shuts down.
                let _ = signal.await;
            })
            .await
    });
    Ok(ServerHandle {
        local_addr,
        shutdown: Some(shutdown),
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bind_failure_names_the_address() {
        let first = bind(&ListenAddress {
            host: "127.0.0.1".into(),
            port: 0,
        })
        .await
        .expect("bind");
        let port = first.local_addr().expect("addr").port();
        let err = bind(&ListenAddress {
            host: "127.0.0.1".into(),
            port,
        })
        .await
        .expect_err("in use");
        assert!(
            err.to_string()
                .starts_with(&format!("Failed to listen on 127.0.0.1:{port}, ")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn empty_host_listens_on_all_interfaces() {
        let listener = bind(&ListenAddress {
            host: String::new(),
            port: 0,
        })
        .await
        .expect("bind");
        assert!(listener.local_addr().expect("addr").ip().is_unspecified());
    }

    #[tokio::test]
    async fn serves_and_shuts_down() {
        let listener = bind(&ListenAddress {
            host: "127.0.0.1".into(),
            port: 0,
        })
        .await
        .expect("bind");
        let router = Router::new().route("/", axum::routing::get(|| async { "hi" }));
        let server = spawn_server(listener, router).expect("spawn");
        let mut stream = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("hi"), "{response}");
        server.shutdown().await.expect("shutdown");
    }

    #[test]
    fn spawn_outside_a_runtime_is_an_error() {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener).expect("listener")
        };
        let err = spawn_server(listener, Router::new()).expect_err("no runtime");
        assert_eq!(
            err.to_string(),
            "HTTP server error: spawn_server must be called from within a Tokio runtime"
        );
    }
}
