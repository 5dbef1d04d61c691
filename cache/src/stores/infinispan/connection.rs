//! One Hot Rod connection: a TCP (or TLS) stream that carries one request at a time.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use super::codec::{self, DecodeError, Response, ResponseContext};
use super::config::ServerAddress;
use super::error::HotRodError;

/// Bytes we buffer at most while waiting for one response (largest value plus headroom).
const MAX_BUFFERED: usize = codec::MAX_VALUE_LEN + 64 * 1024;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// TLS settings ready to use.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    pub(crate) connector: TlsConnector,
    /// `ssl.sniHostName`, if configured; otherwise the server's host is used.
    pub(crate) server_name: Option<ServerName<'static>>,
}

/// An open connection.
pub(crate) struct Connection {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    server: Arc<str>,
}

impl Connection {
    /// Connects (and completes the TLS handshake).
    pub(crate) async fn open(
        address: &ServerAddress,
        tls: Option<&TlsSetup>,
    ) -> Result<Self, HotRodError> {
        let server: Arc<str> = address.to_string().into();
        let connect_error = |source: io::Error| HotRodError::Connect {
            server: server.to_string(),
            source,
        };
        let tcp = TcpStream::connect((address.host.as_str(), address.port))
            .await
            .map_err(connect_error)?;
        // Requests are small and latency matters more than packet count.
        tcp.set_nodelay(true).map_err(connect_error)?;
        let stream: Box<dyn Stream> = match tls {
            None => Box::new(tcp),
            Some(tls) => {
                let name = match &tls.server_name {
                    Some(name) => name.clone(),
                    None => ServerName::try_from(address.host.clone()).map_err(|e| {
                        connect_error(io::Error::new(io::ErrorKind::InvalidInput, e))
                    })?,
                };
                Box::new(
                    tls.connector
                        .connect(name, tcp)
                        .await
                        .map_err(connect_error)?,
                )
            }
        };
        Ok(Self {
            stream,
            buf: Vec::new(),
            server,
        })
    }

    /// `host:port`.
    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    fn io_error(&self, source: io::Error) -> HotRodError {
        HotRodError::Io {
            server: self.server.to_string(),
            source,
        }
    }

    /// Sends one encoded request and reads its response. Any error leaves the connection in
    /// an unknown state: drop it.
    pub(crate) async fn call(
        &mut self,
        request: &[u8],
        message_id: u64,
        context: &ResponseContext,
    ) -> Result<Response, HotRodError> {
        if !self.buf.is_empty() {
            return Err(HotRodError::Protocol {
                server: self.server.to_string(),
                message: format!("{} unexpected bytes before the response", self.buf.len()),
            });
        }
        self.stream
            .write_all(request)
            .await
            .map_err(|e| self.io_error(e))?;
        self.stream.flush().await.map_err(|e| self.io_error(e))?;
        loop {
            if !self.buf.is_empty() {
                match codec::decode_response(&self.buf, context) {
                    Ok((response, used)) => {
                        self.buf.drain(..used);
                        if response.header.message_id != message_id {
                            return Err(HotRodError::Protocol {
                                server: self.server.to_string(),
                                message: format!(
                                    "response to message {} received while waiting for {}{}",
                                    response.header.message_id,
                                    message_id,
                                    match &response.body {
                                        codec::ResponseBody::Error { message } => {
                                            format!(" (error: {message})")
                                        }
                                        _ => String::new(),
                                    }
                                ),
                            });
                        }
                        return Ok(response);
                    }
                    Err(DecodeError::Incomplete) => {}
                    Err(DecodeError::Malformed(message)) => {
                        return Err(HotRodError::Protocol {
                            server: self.server.to_string(),
                            message,
                        });
                    }
                }
            }
            if self.buf.len() > MAX_BUFFERED {
                return Err(HotRodError::Protocol {
                    server: self.server.to_string(),
                    message: format!("response exceeds {MAX_BUFFERED} bytes"),
                });
            }
            self.buf.reserve(16 * 1024);
            let read = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| self.io_error(e))?;
            if read == 0 {
                return Err(self.io_error(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                )));
            }
        }
    }
}
