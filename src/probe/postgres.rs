//! Postgres: connect with the app's credentials and `SELECT 1`.

use super::ProbeError;
use crate::links::Endpoint;

pub(super) async fn probe(endpoint: &Endpoint) -> Result<(), ProbeError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&endpoint.host)
        .port(endpoint.port)
        .user(endpoint.username.as_deref().unwrap_or("postgres"))
        .dbname(endpoint.database.as_deref().unwrap_or("postgres"))
        .application_name("provision-readiness")
        .connect_timeout(std::time::Duration::from_secs(5));
    if let Some(password) = &endpoint.password {
        config.password(password.expose());
    }
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| ProbeError(describe(&e)))?;
    let driver = tokio::spawn(connection);
    let result = client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| ProbeError(describe(&e)));
    drop(client);
    let _ = driver.await;
    result
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
