//! TLS for Hot Rod connections: rustls with the ring provider.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::config::{TlsOptions, TlsProtocol};
use super::error::HotRodError;

fn invalid(key: &str, message: impl Into<String>) -> HotRodError {
    HotRodError::Config {
        key: format!("backend.cache.infinispan.ssl.{key}"),
        message: message.into(),
    }
}

fn certificates(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, HotRodError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            invalid(
                key,
                format!("cannot read PEM certificates from {}: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(invalid(
            key,
            format!("{} contains no PEM certificate", path.display()),
        ));
    }
    Ok(certs)
}

/// The rustls client configuration for `options` (reads the PEM files now, so a missing file
/// is a startup error).
///
/// # Errors
///
/// [`HotRodError::Config`] when a file cannot be read or parsed.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, HotRodError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match options.protocol {
        TlsProtocol::Any => rustls::ALL_VERSIONS,
        TlsProtocol::Tls12 => &[&rustls::version::TLS12],
        TlsProtocol::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| invalid("secureProtocol", e.to_string()))?;
    let mut roots = RootCertStore::empty();
    if options.trust_certs.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        for path in &options.trust_certs {
            for cert in certificates(path, "trustCerts")? {
                roots.add(cert).map_err(|e| {
                    invalid(
                        "trustCerts",
                        format!("bad CA certificate in {}: {e}", path.display()),
                    )
                })?;
            }
        }
    }
    let builder = builder.with_root_certificates(roots);
    let config = match (&options.client_cert, &options.client_key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "clientAuth.cert")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                invalid(
                    "clientAuth.key",
                    format!(
                        "cannot read an unencrypted PEM private key from {}: {e}",
                        key.display()
                    ),
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| invalid("clientAuth", e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(invalid(
                "clientAuth",
                "both `key` and `cert` are needed for a client certificate",
            ));
        }
    };
    Ok(Arc::new(config))
}
