//! MySQL and MariaDB: log in and run `SELECT 1` with `mysql_async`, a maintained client that
//! is tested against MySQL 8 and MariaDB.
//!
//! Why a full client rather than a hand-written handshake: MySQL 8.0/8.4 default to
//! `caching_sha2_password`, and the official image's entrypoint restarts `mysqld` after
//! creating the user, so the server's authentication cache is empty and the first TCP login
//! needs *full* authentication: over plain TCP the client asks for the server's RSA public key
//! and sends the password XOR-ed with the scramble, RSA-OAEP encrypted
//! (<https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html>).
//! `mysql_async` does that exchange (and MariaDB's `client_ed25519` and `parsec` with the
//! features enabled in Cargo.toml); `tests/integration/mysql8/` checks it against a
//! server that demands full authentication.

use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, DriverError, OptsBuilder};

use super::{ProbeError, Refusal};
use crate::links::Endpoint;

/// ER_ACCESS_DENIED_ERROR and ER_ACCESS_DENIED_NO_PASSWORD_ERROR
/// (<https://dev.mysql.com/doc/mysql-errors/8.4/en/server-error-reference.html>; MariaDB uses
/// the same codes).
const ACCESS_DENIED: [u16; 2] = [1045, 1698];

pub(super) async fn probe(endpoint: &Endpoint) -> Result<(), ProbeError> {
    match attempt(endpoint).await {
        // A refusal of the credentials is confirmed by a second login before it is reported:
        // mysql_common strips a trailing NUL from an AuthSwitchRequest's data, which is right
        // for the 20-byte scrambles (sent with a NUL) but cuts the last byte of MariaDB's
        // 32-byte random `ed25519` nonce one time in 256, and the signature is then refused.
        // A fresh connection gets a fresh nonce; a wrong password is refused twice, at once.
        Err(ProbeError(_, Some(Refusal::Credentials))) => attempt(endpoint).await,
        other => other,
    }
}

/// How the probe (and `run_sql`) connect: through the address the app uses, TLS verified
/// against the link's CA where the server requires it.
fn opts(endpoint: &Endpoint) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(endpoint.host.clone())
        .tcp_port(endpoint.port)
        .user(Some(endpoint.username.as_deref().unwrap_or("root")))
        .pass(endpoint.password.as_ref().map(|p| p.expose().to_owned()))
        .db_name(endpoint.database.clone())
        // Through the address the app uses: never switch to the server's Unix socket.
        .prefer_socket(false)
        // Given here, these are not read from the server with an extra query: the probe's
        // one query stays `SELECT 1`.
        .max_allowed_packet(Some(4 * 1024 * 1024))
        .wait_timeout(Some(60))
        .stmt_cache_size(0)
        // A server that requires TLS is verified against the link's CA, host name included.
        .ssl_opts(endpoint.tls.then(|| {
            super::tls::install_provider();
            mysql_async::SslOpts::default()
                .with_root_certs(endpoint.ca_file.iter().map(|p| p.clone().into()).collect())
        }))
}

async fn attempt(endpoint: &Endpoint) -> Result<(), ProbeError> {
    let opts = opts(endpoint);
    // mysql_common panics on some malformed server replies (a public key that is not PEM,
    // for one). A panic in its own task is an error value here, not a crashed `up`.
    let task = tokio::spawn(async move {
        let mut conn = Conn::new(opts).await?;
        let one: Option<i64> = conn.query_first("SELECT 1").await?;
        conn.disconnect().await?;
        Ok::<_, mysql_async::Error>(one)
    });
    // The caller's timeout drops this future: take the task down with it.
    let guard = AbortOnDrop(task.abort_handle());
    let result = task.await;
    drop(guard);
    match result {
        Ok(Ok(Some(1))) => Ok(()),
        Ok(Ok(other)) => Err(ProbeError::new(format!(
            "`SELECT 1` returned {other:?} instead of 1"
        ))),
        Ok(Err(e)) => Err(classify(&e)),
        Err(e) if e.is_panic() => Err(ProbeError::new(
            "the MySQL client could not read the server's reply (a malformed packet)",
        )),
        Err(e) => Err(ProbeError::new(e.to_string())),
    }
}

/// Runs `statements` in one session, in order (the caller's timeout bounds it).
pub(super) async fn run_sql(endpoint: &Endpoint, statements: &[String]) -> Result<(), ProbeError> {
    let opts = opts(endpoint);
    let statements = statements.to_vec();
    let task = tokio::spawn(async move {
        let mut conn = Conn::new(opts).await?;
        for statement in &statements {
            conn.query_drop(statement).await?;
        }
        conn.disconnect().await?;
        Ok::<_, mysql_async::Error>(())
    });
    let guard = AbortOnDrop(task.abort_handle());
    let result = task.await;
    drop(guard);
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(classify(&e)),
        Err(e) if e.is_panic() => Err(ProbeError::new(
            "the MySQL client could not read the server's reply (a malformed packet)",
        )),
        Err(e) => Err(ProbeError::new(e.to_string())),
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A refusal that waiting cannot change is marked so, for [`super::wait_ready`] to report at
/// once; everything else (refused connection, server still starting, a dropped connection)
/// may pass.
fn classify(error: &mysql_async::Error) -> ProbeError {
    match error {
        mysql_async::Error::Server(e) if ACCESS_DENIED.contains(&e.code) => ProbeError::refused(
            Refusal::Credentials,
            format!("error {} ({}): {}", e.code, e.state, e.message),
        ),
        mysql_async::Error::Server(e) => {
            ProbeError::new(format!("error {} ({}): {}", e.code, e.state, e.message))
        }
        mysql_async::Error::Driver(DriverError::UnknownAuthPlugin { name }) => ProbeError::refused(
            Refusal::AuthMethod,
            format!(
                "the server asks for authentication plugin `{name}`, which the probe does not support"
            ),
        ),
        mysql_async::Error::Driver(DriverError::CleartextPluginDisabled) => ProbeError::refused(
            Refusal::AuthMethod,
            "the server asks for authentication plugin `mysql_clear_password`, which would send the password unencrypted",
        ),
        mysql_async::Error::Driver(DriverError::MysqlOldPasswordDisabled) => ProbeError::refused(
            Refusal::AuthMethod,
            "the server asks for authentication plugin `mysql_old_password` (pre-4.1 hashes), which is insecure and unsupported",
        ),
        other => ProbeError::new(other.to_string()),
    }
}
