//! Redis and Valkey: `AUTH` (when there is a password), then `PING`, in RESP.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{ProbeError, Refusal, read_line};
use crate::links::Endpoint;

fn command(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub(super) async fn probe(endpoint: &Endpoint) -> Result<(), ProbeError> {
    if endpoint.tls {
        talk(super::tls::connect(endpoint).await?, endpoint).await
    } else {
        talk(
            TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?,
            endpoint,
        )
        .await
    }
}

async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    endpoint: &Endpoint,
) -> Result<(), ProbeError> {
    if let Some(password) = &endpoint.password {
        stream
            .write_all(&command(&["AUTH", password.expose()]))
            .await?;
        let reply = read_line(&mut stream).await?;
        if reply != "+OK" {
            // The server's words (`-WRONGPASS ...`) never contain the password. A server
            // that answers a wrong password, or has none set, will not change its mind by
            // waiting (redis.io/docs/latest/commands/auth); `-LOADING` and the like will.
            let message = format!("AUTH: {reply}");
            let refused = reply.starts_with("-WRONGPASS")
                || reply.starts_with("-ERR invalid password")
                || reply.starts_with("-ERR invalid username-password pair")
                || reply.starts_with("-ERR AUTH <password> called without any password");
            return Err(if refused {
                ProbeError::refused(Refusal::Credentials, message)
            } else {
                ProbeError::new(message)
            });
        }
    }
    stream.write_all(&command(&["PING"])).await?;
    match read_line(&mut stream).await?.as_str() {
        "+PONG" => Ok(()),
        other => Err(ProbeError::new(format!("PING: {other}"))),
    }
}
