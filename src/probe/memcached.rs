//! Memcached: the `version` command.

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::{ProbeError, read_line};
use crate::links::Endpoint;

pub(super) async fn probe(endpoint: &Endpoint) -> Result<(), ProbeError> {
    let mut stream = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
    stream.write_all(b"version\r\n").await?;
    let reply = read_line(&mut stream).await?;
    if reply.starts_with("VERSION ") {
        Ok(())
    } else {
        Err(ProbeError::new(format!("version: {reply}")))
    }
}
