//! Readiness: a database is ready when a real client has authenticated and run a query
//! through the address the app will use. Each probe is one attempt; [`wait_ready`] repeats it
//! within a deadline, with a short backoff, never a fixed sleep.

mod memcached;
mod mysql;
mod postgres;
mod redis;
mod tls;

use std::future::Future;
use std::time::{Duration, Instant};

use crate::catalog::Probe;
use crate::links::Endpoint;

/// Why one attempt failed: kept to explain a timeout. The second field says whether the
/// server answered with a refusal that no amount of waiting changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError(pub String, pub Option<Refusal>);

/// A definite "no" from a server that is up: [`wait_ready`] reports it at once instead of
/// retrying until the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server rejected the user name or password (MySQL error 1045).
    Credentials,
    /// The server asks for an authentication method the probe cannot perform.
    AuthMethod,
}

impl ProbeError {
    /// A failure that may pass (not listening yet, starting up, a dropped connection).
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into(), None)
    }

    pub fn refused(refusal: Refusal, message: impl Into<String>) -> Self {
        Self(message.into(), Some(refusal))
    }
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for ProbeError {
    fn from(e: std::io::Error) -> Self {
        Self::new(e.to_string())
    }
}

/// One attempt: connect, authenticate, query, within `timeout`.
pub async fn probe(kind: Probe, endpoint: &Endpoint, timeout: Duration) -> Result<(), ProbeError> {
    let attempt = async {
        match kind {
            Probe::Postgres => postgres::probe(endpoint).await,
            Probe::Mysql => mysql::probe(endpoint).await,
            Probe::Redis => redis::probe(endpoint).await,
            Probe::Memcached => memcached::probe(endpoint).await,
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::new(format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// Creates the app's database through `admin` (connected to the server's bootstrap
/// database), for servers that do not create it themselves. Tolerates a concurrent creation.
pub async fn create_database(kind: Probe, admin: &Endpoint, database: &str) -> Result<(), String> {
    match kind {
        Probe::Postgres => postgres::create_database(admin, database).await,
        // The others create theirs at start (an init file) or have none.
        Probe::Mysql | Probe::Redis | Probe::Memcached => Ok(()),
    }
}

/// Runs `statements` in one session as `admin`, over verified TLS where the endpoint says, in
/// `timeout`: the SQL `up --cloud` runs as the master user (IAM database users). Redis and
/// Memcached have none.
pub async fn run_sql(
    kind: Probe,
    admin: &Endpoint,
    statements: &[String],
    timeout: Duration,
) -> Result<(), ProbeError> {
    let attempt = async {
        match kind {
            Probe::Postgres => postgres::run_sql(admin, statements).await,
            Probe::Mysql => mysql::run_sql(admin, statements).await,
            Probe::Redis | Probe::Memcached => Ok(()),
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(ProbeError::new(format!(
                "no answer within {} s",
                timeout.as_secs()
            )))
        })
}

/// How a wait ended, when it did not end ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// The deadline passed; the last attempt's error says why.
    Timeout { last: Option<ProbeError> },
    /// The server is gone (the container exited, the process died): waiting longer is useless.
    Died(String),
    /// The server is up and refused the probe for good (wrong credentials, an unsupported
    /// authentication method): waiting longer is useless too.
    Refused(Refusal, String),
}

/// Probes until ready, the deadline, or `alive` reporting the server gone.
pub async fn wait_ready<F, Fut>(
    kind: Probe,
    endpoint: &Endpoint,
    deadline: Instant,
    mut alive: F,
) -> Result<Duration, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let mut backoff = Duration::from_millis(25);
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(WaitError::Timeout { last });
        }
        match probe(kind, endpoint, left.min(Duration::from_secs(5))).await {
            Ok(()) => return Ok(started.elapsed()),
            Err(ProbeError(message, Some(refusal))) => {
                return Err(WaitError::Refused(refusal, message));
            }
            Err(e) => last = Some(e),
        }
        alive().await.map_err(WaitError::Died)?;
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(backoff.min(left)).await;
        backoff = (backoff * 2).min(Duration::from_millis(250));
    }
}

/// Reads until `\r\n`, bounded, for the line protocols.
async fn read_line<R: tokio::io::AsyncRead + Unpin>(reader: &mut R) -> Result<String, ProbeError> {
    use tokio::io::AsyncReadExt as _;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if line.len() > 4096 {
            return Err(ProbeError::new("reply line too long"));
        }
        if reader.read(&mut byte).await? == 0 {
            return Err(ProbeError::new("connection closed by the server"));
        }
        line.push(byte[0]);
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}
