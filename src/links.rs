//! The link contract: the variables an app service gets for each database it links to.
//!
//! For prefix `P`: `P_URL`, `P_SCHEME`, `P_HOST`, `P_PORT`, `P_USERNAME`, `P_PASSWORD`,
//! `P_PATH`, the same names locally and in the cloud, and `P_CA_FILE` when the server's
//! certificate chains to a CA of its own (RDS, local TLS). A TLS URL always asks the client
//! to verify the server, in the words that client reads; a client that reads other words
//! gets its own spelling of `P_URL` (a flavour, `x-provision.url`). Rendering is pure: it
//! takes what the plan says (type, database, user) and the endpoint a backend reports.

use std::path::PathBuf;

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

/// A file path as a query value: its slashes stay readable.
const QUERY_PATH: &AsciiSet = &USERINFO.remove(b'/');

/// The variable naming the CA file of a link whose server has its own CA.
pub const CA_FILE: &str = "CA_FILE";

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
    /// The server requires TLS (cloud endpoints, local TLS): `rediss://`, `sslmode=verify-full`.
    pub tls: bool,
    /// The CA its certificate chains to, when not a public root.
    pub ca_file: Option<PathBuf>,
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

/// The variables of one link, in contract order, with `P_URL` in `flavour`'s spelling when
/// the type has one by that name.
pub fn render(
    prefix: &str,
    template: &Template,
    endpoint: &Endpoint,
    flavour: Option<&str>,
) -> Vec<Var> {
    let shape = &template.url;
    let flavour = flavour.and_then(|f| shape.flavours.get(f));
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
    let (user_enc, pass_enc) = (
        utf8_percent_encode(&username, USERINFO).to_string(),
        utf8_percent_encode(password, USERINFO).to_string(),
    );
    let userinfo = match shape.credentials {
        Credentials::UserPassword => format!("{user_enc}:{pass_enc}@"),
        // With a user name (ElastiCache Serverless' RBAC user): `user:password@`; without
        // one, AUTH with the password alone (`:password@`).
        Credentials::Password if !password.is_empty() => format!("{user_enc}:{pass_enc}@"),
        Credentials::Password | Credentials::None => String::new(),
    };
    let format = flavour
        .and_then(|f| f.format.as_deref())
        .unwrap_or("{scheme}://{userinfo}{host}:{port}{path}");
    let raw = flavour.is_some_and(|f| f.raw_credentials);
    let format = if raw {
        without_unsafe_credentials(format, &username, password)
    } else {
        format.to_owned()
    };
    let (user_in, pass_in) = if raw {
        (username.as_str(), password)
    } else {
        (user_enc.as_str(), pass_enc.as_str())
    };
    let base = format
        .replace(
            "{scheme}",
            flavour.and_then(|f| f.scheme.as_deref()).unwrap_or(scheme),
        )
        .replace("{userinfo}", &userinfo)
        .replace("{host}", &host)
        .replace("{port}", &endpoint.port.to_string())
        .replace("{path}", &path)
        .replace("{username}", user_in)
        .replace("{password}", pass_in);
    let query = if endpoint.tls {
        tls_query(
            flavour
                .and_then(|f| f.tls_query.as_deref())
                .unwrap_or(&shape.tls_query),
            endpoint.ca_file.as_ref(),
        )
    } else {
        String::new()
    };
    let url = match (query.is_empty(), base.contains('?')) {
        (true, _) => base,
        (false, true) => format!("{base}&{query}"),
        (false, false) => format!("{base}?{query}"),
    };
    let url = if password.is_empty() {
        Value::Plain(url)
    } else {
        Value::Secret(Secret::new(url))
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
    let mut vars: Vec<Var> = SUFFIXES
        .iter()
        .zip(values)
        .map(|(suffix, value)| Var {
            name: variable(prefix, suffix),
            value,
        })
        .collect();
    if let (true, Some(ca)) = (endpoint.tls, &endpoint.ca_file) {
        vars.push(Var {
            name: variable(prefix, CA_FILE),
            value: Value::Plain(ca.display().to_string()),
        });
    }
    vars
}

/// `format` without the query parameters holding a raw credential that would end the
/// parameter early (a client that decodes no escapes cannot be given it in the URL).
fn without_unsafe_credentials(format: &str, username: &str, password: &str) -> String {
    let unsafe_value = |v: &str| v.contains(['&', '#', '?', ' ', '\t', '\n']);
    let Some((base, query)) = format.split_once('?') else {
        return format.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|part| {
            !(part.contains("{username}") && unsafe_value(username)
                || part.contains("{password}") && unsafe_value(password))
        })
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// A set of links rendered for one process: their variables, and the CA files their servers'
/// certificates chain to (for the client variables, [`crate::tls::Store::with_client_vars`]).
#[derive(Debug, Default)]
pub struct Rendered {
    pub vars: Vec<Var>,
    pub ca_files: Vec<PathBuf>,
}

/// Renders each of `wanted` (database, prefix, flavour) with the template and endpoint
/// `lookup` gives for its database; a database it does not know is left out.
pub fn render_links<'w, 't>(
    wanted: impl IntoIterator<Item = (&'w str, &'w str, Option<&'w str>)>,
    mut lookup: impl FnMut(&str) -> Option<(&'t Template, Endpoint)>,
) -> Rendered {
    let mut out = Rendered::default();
    for (resource, prefix, flavour) in wanted {
        let Some((template, endpoint)) = lookup(resource) else {
            continue;
        };
        out.vars
            .extend(render(prefix, template, &endpoint, flavour));
        if let (true, Some(ca)) = (endpoint.tls, endpoint.ca_file) {
            out.ca_files.push(ca);
        }
    }
    out
}

/// A TLS query with `{ca_file}` filled in, or without the parameters that name it when the
/// server's certificate chains to public roots.
fn tls_query(query: &str, ca_file: Option<&PathBuf>) -> String {
    let ca = ca_file.map(|p| utf8_percent_encode(&p.display().to_string(), QUERY_PATH).to_string());
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .filter_map(|part| match &ca {
            Some(ca) => Some(part.replace("{ca_file}", ca)),
            None if part.contains("{ca_file}") => None,
            None => Some(part.to_owned()),
        })
        .collect::<Vec<_>>()
        .join("&")
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
            ca_file: tls.then(|| PathBuf::from("/p/tls/ca.pem")),
            username: user.map(Into::into),
            password: password.map(Secret::new),
            database: db.map(Into::into),
        }
    }

    fn flavoured(
        type_name: &str,
        prefix: &str,
        e: &Endpoint,
        flavour: Option<&str>,
    ) -> Vec<(String, String)> {
        let catalog = Catalog::builtin().unwrap();
        render(prefix, catalog.get(type_name).unwrap(), e, flavour)
            .into_iter()
            .map(|v| (v.name, v.value.expose().to_owned()))
            .collect()
    }

    fn vars(type_name: &str, prefix: &str, e: &Endpoint) -> Vec<(String, String)> {
        flavoured(type_name, prefix, e, None)
    }

    #[test]
    fn postgres_local_and_tls() {
        let local = vars(
            "postgres",
            "DB",
            &endpoint(false, Some("app"), Some("p@ss/w:rd"), Some("app")),
        );
        // `postgresql://`: SQLAlchemy refuses `postgres://` (1.4 and later).
        assert_eq!(
            local[0],
            (
                "DB_URL".into(),
                "postgresql://app:p%40ss%2Fw%3Ard@127.0.0.1:5432/app".into()
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
            ],
            "no CA file without TLS"
        );
        assert_eq!(local[5].1, "p@ss/w:rd", "the raw password is not encoded");
        assert_eq!(local[6].1, "/app");
        let tls = vars(
            "postgres",
            "DB",
            &endpoint(true, Some("app"), Some("x"), Some("app")),
        );
        // Verification, not just encryption: libpq's `require` trusts any certificate.
        assert_eq!(
            tls[0].1,
            "postgresql://app:x@127.0.0.1:5432/app?sslmode=verify-full&sslrootcert=/p/tls/ca.pem"
        );
        assert_eq!(tls[7], ("DB_CA_FILE".into(), "/p/tls/ca.pem".into()));
    }

    #[test]
    fn flavours_respell_the_url_only() {
        let e = endpoint(true, Some("app"), Some("p&w"), Some("shop"));
        let jdbc = flavoured("postgres", "DB", &e, Some("jdbc"));
        assert_eq!(
            jdbc[0].1,
            "jdbc:postgresql://127.0.0.1:5432/shop?user=app&password=p%26w&sslmode=verify-full&sslrootcert=/p/tls/ca.pem"
        );
        assert_eq!(jdbc[1].1, "postgresql", "P_SCHEME is the contract's");
        let maria = flavoured("mariadb", "SQL", &e, Some("jdbc"));
        // Connector/J decodes no escapes: raw credentials, or none when one would break.
        let plain = endpoint(true, Some("app"), Some("p+w"), Some("shop"));
        assert!(
            flavoured("mariadb", "SQL", &plain, Some("jdbc"))[0]
                .1
                .starts_with("jdbc:mariadb://127.0.0.1:5432/shop?user=app&password=p+w&sslMode=verify-full&useSsl=true&serverSslCert=")
        );
        assert_eq!(
            maria[0].1,
            "jdbc:mariadb://127.0.0.1:5432/shop?user=app&sslMode=verify-full&useSsl=true&serverSslCert=/p/tls/ca.pem"
        );
        let mysql2 = flavoured("mysql", "SQL", &plain, Some("mysql2"));
        assert_eq!(
            mysql2[0].1,
            "mysql://app:p%2Bw@127.0.0.1:5432/shop?ssl=%7B%22verifyIdentity%22%3Atrue%7D"
        );
        let alchemy = flavoured("postgres", "DB", &e, Some("sqlalchemy"));
        assert!(alchemy[0].1.starts_with("postgresql+psycopg://app:p%26w@"));
        // A flavour the type does not have leaves the default.
        assert_eq!(
            flavoured("redis", "KV", &e, Some("jdbc"))[0],
            vars("redis", "KV", &e)[0]
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
        // An ElastiCache Serverless endpoint names its RBAC user: `user:password@`.
        let rbac = vars(
            "valkey",
            "CACHE",
            &endpoint(true, Some("app"), Some("t"), None),
        );
        assert_eq!(rbac[0].1, "rediss://app:t@127.0.0.1:5432/0");
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
            "mysql://app:pw@127.0.0.1:5432/shop?ssl-mode=VERIFY_IDENTITY&ssl-ca=/p/tls/ca.pem"
        );
    }

    #[test]
    fn public_roots_drop_the_ca_parameters() {
        // ElastiCache: TLS to public roots, so no CA file and nothing naming one.
        let mut e = endpoint(true, None, None, None);
        e.ca_file = None;
        let mc = vars("memcached", "MC", &e);
        assert_eq!(mc[0].1, "memcached://127.0.0.1:5432?tls=true");
        assert_eq!(mc.len(), 7, "no CA file variable");
        assert_eq!(tls_query("a=1&b={ca_file}&c=2", None), "a=1&c=2");
        assert_eq!(
            tls_query("b={ca_file}", Some(&PathBuf::from("/a b/ca.pem"))),
            "b=/a%20b/ca.pem"
        );
    }

    #[test]
    fn secrets_are_masked_and_ipv6_is_bracketed() {
        let catalog = Catalog::builtin().unwrap();
        let mut e = endpoint(false, Some("app"), Some("pw"), Some("app"));
        e.host = "::1".into();
        let vars = render("DB", catalog.get("postgres").unwrap(), &e, None);
        assert_eq!(vars[0].value.masked(), "[redacted]");
        assert_eq!(vars[0].value.expose(), "postgresql://app:pw@[::1]:5432/app");
        assert_eq!(vars[2].value.expose(), "::1");
        assert_eq!(format!("{:?}", vars[5].value), "Secret([redacted])");
    }
}
