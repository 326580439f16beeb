//! TLS for probes of servers that require it (`x-provision.local.tls`): the same
//! verification an app does, against the CA file its link names, with the host name (or
//! address) it connects to. A probe never skips verification: a server it cannot verify is
//! not ready for the app either.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::ProbeError;
use crate::links::Endpoint;

/// A client configuration trusting only the endpoint's CA file.
pub(super) fn config(endpoint: &Endpoint) -> Result<Arc<rustls::ClientConfig>, ProbeError> {
    let Some(ca) = &endpoint.ca_file else {
        return Err(ProbeError::new(
            "the link requires TLS but names no CA file",
        ));
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| ProbeError::new(format!("reading {}: {e}", ca.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| ProbeError::new(format!("reading {}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| ProbeError::new(format!("{}: {e}", ca.display())))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::new(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name the certificate must carry: the endpoint's host, as an address or a DNS name.
pub(super) fn server_name(endpoint: &Endpoint) -> Result<ServerName<'static>, ProbeError> {
    ServerName::try_from(endpoint.host.clone())
        .map_err(|e| ProbeError::new(format!("`{}` as a TLS server name: {e}", endpoint.host)))
}

/// TCP, then a verified TLS handshake (Redis, Memcached: TLS from the first byte).
pub(super) async fn connect(endpoint: &Endpoint) -> Result<TlsStream<TcpStream>, ProbeError> {
    let connector = tokio_rustls::TlsConnector::from(config(endpoint)?);
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
    connector
        .connect(server_name(endpoint)?, tcp)
        .await
        .map_err(|e| ProbeError::new(format!("TLS: {e}")))
}

/// mysql_async and tokio-postgres build their TLS from rustls' process-wide provider: this
/// process has two compiled in (the AWS SDK's and ring), so name the one to use, once.
pub(super) fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}
