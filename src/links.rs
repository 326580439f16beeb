//! The link contract: the variables an app service gets for each database it links to.
//!
//! For prefix `P`: `P_URL`, `P_SCHEME`, `P_HOST`, `P_PORT`, `P_USERNAME`, `P_PASSWORD`,
//! `P_PATH`, the same names locally and in the cloud. Rendering is pure: it takes what the
//! plan says (type, database, user) and the endpoint a backend reports.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::catalog::{Credentials, Template};
use crate::secret::Secret;

/// Everything but RFC 3986's unreserved characters is encoded in user names and passwords, so
/// a generated password can never break a URL parser.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The variables every link gets, after `{PREFIX}_`, in contract order.
pub const SUFFIXES: [&str; 7] = [
    "URL", "SCHEME", "HOST", "PORT", "USERNAME", "PASSWORD", "PATH",
];

/// The name of one link variable: `DB` + `URL` -> `DB_URL`.
pub fn variable(prefix: &str, suffix: &str) -> String {
    format!("{prefix}_{suffix}")
}

/// Every variable name of a link under `prefix`, in contract order.
pub fn variables(prefix: &str) -> Vec<String> {
    SUFFIXES.iter().map(|s| variable(prefix, s)).collect()
}

/// Where a running database answers, as its backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// The server requires TLS (cloud endpoints): `rediss://`, `sslmode=require`.
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub database: Option<String>,
}

/// One variable's value; secret values print as `[redacted]` unless exposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Plain(String),
    Secret(Secret),
}

impl Value {
    pub fn expose(&self) -> &str {
        match self {
            Self::Plain(s) => s,
            Self::Secret(s) => s.expose(),
        }
    }

    /// For output that must never carry secrets (status, plan, logs).
    pub fn masked(&self) -> &str {
        match self {
            Self::Plain(s) => s,
            Self::Secret(_) => "[redacted]",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub name: String,
    pub value: Value,
}

/// The seven variables of a link to an app service that publishes `port` on this machine:
/// `P_URL=http://127.0.0.1:PORT`, no credentials, an empty path.
pub fn render_app(prefix: &str, port: u16) -> Vec<Var> {
    let plain = |suffix: &str, value: String| Var {
        name: variable(prefix, suffix),
        value: Value::Plain(value),
    };
    vec![
        plain("URL", format!("http://127.0.0.1:{port}")),
        plain("SCHEME", "http".to_owned()),
        plain("HOST", "127.0.0.1".to_owned()),
        plain("PORT", port.to_string()),
        plain("USERNAME", String::new()),
        plain("PASSWORD", String::new()),
        plain("PATH", String::new()),
    ]
}

/// The seven variables of one link, in contract order.
pub fn render(prefix: &str, template: &Template, endpoint: &Endpoint) -> Vec<Var> {
    let shape = &template.url;
    let scheme = if endpoint.tls {
        &shape.tls_scheme
    } else {
        &shape.scheme
    };
    let path = shape.path.replace(
        "{database}",
        endpoint.database.as_deref().unwrap_or_default(),
    );
    let host = if endpoint.host.contains(':') {
        format!("[{}]", endpoint.host)
    } else {
        endpoint.host.clone()
    };
    let username = endpoint.username.clone().unwrap_or_default();
    let password = endpoint
        .password
        .as_ref()
        .map(Secret::expose)
        .unwrap_or_default();
    let userinfo = match shape.credentials {
        Credentials::UserPassword => format!(
            "{}:{}@",
            utf8_percent_encode(&username, USERINFO),
            utf8_percent_encode(password, USERINFO)
        ),
        Credentials::Password if !password.is_empty() => {
            format!(":{}@", utf8_percent_encode(password, USERINFO))
        }
        Credentials::Password | Credentials::None => String::new(),
    };
    let query = if endpoint.tls && !shape.tls_query.is_empty() {
        format!("?{}", shape.tls_query)
    } else {
        String::new()
    };
    let url = format!("{scheme}://{userinfo}{host}:{}{path}{query}", endpoint.port);
    let has_secret = !password.is_empty();
    let url = if has_secret {
        Value::Secret(Secret::new(url))
    } else {
        Value::Plain(url)
    };
    // In the order of `SUFFIXES`.
    let values = [
        url,
        Value::Plain(scheme.clone()),
        Value::Plain(endpoint.host.clone()),
        Value::Plain(endpoint.port.to_string()),
        Value::Plain(username),
        Value::Secret(Secret::new(password)),
        Value::Plain(path),
    ];
    SUFFIXES
        .iter()
        .zip(values)
        .map(|(suffix, value)| Var {
            name: variable(prefix, suffix),
            value,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn endpoint(
        tls: bool,
        user: Option<&str>,
        password: Option<&str>,
        db: Option<&str>,
    ) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port: 5432,
            tls,
            username: user.map(Into::into),
            password: password.map(Secret::new),
            database: db.map(Into::into),
        }
    }

    fn vars(type_name: &str, prefix: &str, e: &Endpoint) -> Vec<(String, String)> {
        let catalog = Catalog::builtin().unwrap();
        render(prefix, catalog.get(type_name).unwrap(), e)
            .into_iter()
            .map(|v| (v.name, v.value.expose().to_owned()))
            .collect()
    }

    #[test]
    fn postgres_local_and_cloud() {
        let local = vars(
            "postgres",
            "DB",
            &endpoint(false, Some("app"), Some("p@ss/w:rd"), Some("app")),
        );
        assert_eq!(
            local[0],
            (
                "DB_URL".into(),
                "postgres://app:p%40ss%2Fw%3Ard@127.0.0.1:5432/app".into()
            )
        );
        let names: Vec<_> = local.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "DB_URL",
                "DB_SCHEME",
                "DB_HOST",
                "DB_PORT",
                "DB_USERNAME",
                "DB_PASSWORD",
                "DB_PATH"
            ]
        );
        assert_eq!(local[5].1, "p@ss/w:rd", "the raw password is not encoded");
        assert_eq!(local[6].1, "/app");
        let cloud = vars(
            "postgres",
            "DB",
            &endpoint(true, Some("app"), Some("x"), Some("app")),
        );
        assert_eq!(
            cloud[0].1,
            "postgres://app:x@127.0.0.1:5432/app?sslmode=require"
        );
    }

    #[test]
    fn redis_memcached_and_mysql_shapes() {
        let redis = vars(
            "redis",
            "CACHE",
            &endpoint(false, None, Some("s3cret"), None),
        );
        assert_eq!(redis[0].1, "redis://:s3cret@127.0.0.1:5432/0");
        assert_eq!(redis[4].1, "");
        let tls = vars("valkey", "CACHE", &endpoint(true, None, Some("t"), None));
        assert_eq!(tls[0].1, "rediss://:t@127.0.0.1:5432/0");
        assert_eq!(tls[1].1, "rediss");
        let mc = vars("memcached", "MC", &endpoint(false, None, None, None));
        assert_eq!(mc[0].1, "memcached://127.0.0.1:5432");
        assert_eq!(mc[6].1, "");
        let my = vars(
            "mariadb",
            "SQL",
            &endpoint(true, Some("app"), Some("pw"), Some("shop")),
        );
        assert_eq!(
            my[0].1,
            "mysql://app:pw@127.0.0.1:5432/shop?ssl-mode=REQUIRED"
        );
    }

    #[test]
    fn secrets_are_masked_and_ipv6_is_bracketed() {
        let catalog = Catalog::builtin().unwrap();
        let mut e = endpoint(false, Some("app"), Some("pw"), Some("app"));
        e.host = "::1".into();
        let vars = render("DB", catalog.get("postgres").unwrap(), &e);
        assert_eq!(vars[0].value.masked(), "[redacted]");
        assert_eq!(vars[0].value.expose(), "postgres://app:pw@[::1]:5432/app");
        assert_eq!(vars[2].value.expose(), "::1");
        assert_eq!(format!("{:?}", vars[5].value), "Secret([redacted])");
    }
}
