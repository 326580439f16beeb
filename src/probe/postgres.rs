//! Postgres: connect with the app's credentials and `SELECT 1`.

use super::{ProbeError, Refusal};
use crate::links::Endpoint;

pub(super) async fn probe(endpoint: &Endpoint) -> Result<(), ProbeError> {
    let (client, driver) = connect(endpoint, "provision-readiness").await?;
    let result = client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| ProbeError::new(describe(&e)));
    drop(client);
    let _ = driver.await;
    result
}

/// Runs `statements` in one session, in order, each on its own (a `DO` block among them).
pub(super) async fn run_sql(endpoint: &Endpoint, statements: &[String]) -> Result<(), ProbeError> {
    let (client, driver) = connect(endpoint, "provision").await?;
    let mut result = Ok(());
    for statement in statements {
        if let Err(e) = client.batch_execute(statement).await {
            result = Err(ProbeError::new(describe(&e)));
            break;
        }
    }
    drop(client);
    let _ = driver.await;
    result
}

/// A session with the endpoint's credentials, TLS verified against its CA where it says.
async fn connect(
    endpoint: &Endpoint,
    application: &str,
) -> Result<
    (
        tokio_postgres::Client,
        tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
    ),
    ProbeError,
> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&endpoint.host)
        .port(endpoint.port)
        .user(endpoint.username.as_deref().unwrap_or("postgres"))
        .dbname(endpoint.database.as_deref().unwrap_or("postgres"))
        .application_name(application)
        .connect_timeout(std::time::Duration::from_secs(5));
    if let Some(password) = &endpoint.password {
        config.password(password.expose());
    }
    let connected = if endpoint.tls {
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(std::sync::Arc::unwrap_or_clone(
            super::tls::config(endpoint)?,
        ));
        config
            .connect(tls)
            .await
            .map(|(c, conn)| (c, tokio::spawn(conn)))
    } else {
        config
            .connect(tokio_postgres::NoTls)
            .await
            .map(|(c, conn)| (c, tokio::spawn(conn)))
    };
    connected.map_err(|e| {
        // 28P01 invalid_password, 28000 invalid_authorization_specification (no such
        // role, no pg_hba entry): a server that says so will not change its mind
        // (postgresql.org/docs/current/errcodes-appendix.html).
        let refused = e
            .code()
            .is_some_and(|c| c.code() == "28P01" || c.code() == "28000");
        if refused {
            ProbeError::refused(Refusal::Credentials, describe(&e))
        } else {
            ProbeError::new(describe(&e))
        }
    })
}

/// The server's message when there is one (`password authentication failed for user "app"`),
/// which is what a person needs; tokio-postgres' own text is often just "db error".
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// Creates `database` unless it exists; `admin` is connected to the `postgres` database.
pub(super) async fn create_database(
    admin: &crate::links::Endpoint,
    database: &str,
) -> Result<(), String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&admin.host)
        .port(admin.port)
        .user(admin.username.as_deref().unwrap_or("postgres"))
        .dbname("postgres");
    if let Some(p) = &admin.password {
        config.password(p.expose());
    }
    let connected = if admin.tls {
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(std::sync::Arc::unwrap_or_clone(
            super::tls::config(admin).map_err(|e| e.0)?,
        ));
        config
            .connect(tls)
            .await
            .map(|(c, conn)| (c, tokio::spawn(conn)))
    } else {
        config
            .connect(tokio_postgres::NoTls)
            .await
            .map(|(c, conn)| (c, tokio::spawn(conn)))
    };
    let (client, driver) = connected.map_err(|e| e.to_string())?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .map_err(|e| e.to_string())?;
    if exists.is_none() {
        // The name was validated as [A-Za-z][A-Za-z0-9_]*, so quoting it is enough.
        match client
            .batch_execute(&format!("CREATE DATABASE \"{database}\""))
            .await
        {
            Ok(()) => {}
            // Another `up` created it a moment ago (duplicate_database, or the catalog's
            // unique index when both raced past the check).
            Err(e)
                if e.code()
                    .is_some_and(|c| c.code() == "42P04" || c.code() == "23505") => {}
            Err(e) => {
                return Err(e
                    .as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned()));
            }
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
