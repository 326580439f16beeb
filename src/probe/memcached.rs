//! Memcached: the `version` command.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{ProbeError, read_line};
use crate::links::Endpoint;

pub(super) async fn probe(endpoint: &Endpoint) -> Result<(), ProbeError> {
    if endpoint.tls {
        talk(super::tls::connect(endpoint).await?).await
    } else {
        talk(TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?).await
    }
}

async fn talk<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> Result<(), ProbeError> {
    stream.write_all(b"version\r\n").await?;
    let reply = read_line(&mut stream).await?;
    if reply.starts_with("VERSION ") {
        Ok(())
    } else {
        Err(ProbeError::new(format!("version: {reply}")))
    }
}
