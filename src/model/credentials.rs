//! A database service's own Compose settings, read as its image reads them: the user,
//! database and password an app configured for that file expects (`POSTGRES_USER`,
//! `MYSQL_PASSWORD_FILE`, `--requirepass` in `command:`, ...). Which names mean what is data:
//! each template's `compose_env`.

use std::collections::HashMap;

use crate::catalog::{ComposeEnv, Template};
use crate::manifest::{EnvVar, FileValue, Located, Service};
use crate::problem::{Problem, ProblemKind, Scope};
use crate::secret::Secret;

/// What the service's settings fix; `None` where they say nothing.
#[derive(Debug, Default)]
pub(super) struct Credentials {
    pub username: Option<Located<String>>,
    pub database: Option<Located<String>>,
    /// The variables they came from (none for an image default).
    pub username_from: Option<String>,
    pub database_from: Option<String>,
    pub password: Option<Secret>,
    /// Where the password came from (a variable name, or `command:`), never the value.
    pub password_from: Option<String>,
    /// `command:` without the password flag and its value (the backend passes the password
    /// its own way, never on a command line).
    pub command: Option<Vec<String>>,
}

pub(super) fn from_compose(
    service: &Service,
    template: &Template,
    repository: &str,
    well_known: &[&str],
    problems: &mut Vec<Problem>,
) -> Credentials {
    let mut out = Credentials {
        command: service.command.as_ref().map(|c| c.value.clone()),
        ..Credentials::default()
    };
    let Some(contract) = template.compose_env_for(repository) else {
        return out;
    };
    // After merging, each name appears once; the last one wins if not.
    let env: HashMap<&str, &Located<EnvVar>> = service
        .environment
        .iter()
        .map(|v| (v.value.name.as_str(), v))
        .collect();
    let find = |names: &[String]| {
        names.iter().find_map(|n| {
            env.get(n.as_str())
                .copied()
                .filter(|v| v.value.value.as_deref().is_some_and(|x| !x.is_empty()))
        })
    };
    let configured = configures_image(contract, &env);

    // A root-only file: no user of its own, but the superuser's settings.
    let superuser = root_only(contract, &find);
    if template.sql {
        sql_names(service, contract, configured, &find, &mut out, problems);
        if let Some((superuser, var)) = superuser {
            out.username = Some(Located {
                value: superuser.name.clone(),
                at: var.at,
                path: var.path.clone(),
            });
            out.username_from = Some(var.value.name.clone());
        }
    }
    let (password_names, password_file_names) = match superuser {
        Some((s, _)) => (&s.password, &s.password_file),
        None => (&contract.password, &contract.password_file),
    };

    // The password: a variable, a variable naming a file, or a server flag.
    let resource = service.name.clone();
    if let Some(var) = find(password_names) {
        let value = var.value.value.clone().unwrap_or_default();
        if !var.value.interpolated && !well_known.contains(&value.to_lowercase().as_str()) {
            problems.push(Problem::warning(
                Some(var.at),
                var.path.clone(),
                ProblemKind::FixedPassword {
                    resource: resource.clone(),
                    variable: var.value.name.clone(),
                },
            ));
        }
        out.password = Some(Secret::new(value));
        out.password_from = Some(var.value.name.clone());
        return out;
    }
    if let Some(var) = find(password_file_names) {
        password_from_file(service, var, &mut out, problems);
        return out;
    }
    // Server arguments in a variable (`REDIS_ARGS: --requirepass x`).
    if let Some(var) = find(&contract.args_env)
        && password_from_args(contract, var, &resource, well_known, &mut out, problems)
    {
        return out;
    }
    if let (Some(flag), Some(command)) = (&contract.password_flag, &service.command) {
        let (rest, password) = take_flag(&command.value, flag);
        if let Some(password) = password {
            if !service.command_substituted
                && !well_known.contains(&password.to_lowercase().as_str())
            {
                problems.push(Problem::warning(
                    Some(command.at),
                    command.path.clone(),
                    ProblemKind::FixedPassword {
                        resource: resource.clone(),
                        variable: format!("command: {flag}"),
                    },
                ));
            } else if well_known.contains(&password.to_lowercase().as_str()) {
                problems.push(Problem::warning(
                    Some(command.at),
                    command.path.clone(),
                    ProblemKind::DefaultPassword {
                        resource: resource.clone(),
                        variable: format!("command: {flag}"),
                    },
                ));
            }
            out.password = Some(Secret::new(password));
            out.password_from = Some(format!("command: {flag}"));
            out.command = Some(rest);
        }
    }
    out
}

/// The longest user or database name any RDS engine takes (MySQL's and MariaDB's `DBName`: 64;
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html). Each
/// engine's own limit is checked with the template (`max_username`, `max_database`).
pub use crate::manifest::MAX_SQL_NAME;

/// Whether the file sets any of the image's own credential variables (then the image's
/// defaults apply to the rest, as the image would apply them). `POSTGRES_HOST_AUTH_METHOD:
/// trust` alone configures the image too.
fn configures_image(contract: &ComposeEnv, env: &HashMap<&str, &Located<EnvVar>>) -> bool {
    let no_password = contract.no_password.as_ref().is_some_and(|n| {
        env.get(n.variable.as_str())
            .and_then(|v| v.value.value.as_deref())
            .is_some_and(|v| n.values.iter().any(|x| x == v))
    });
    no_password
        || [
            &contract.username,
            &contract.database,
            &contract.password,
            &contract.password_file,
        ]
        .iter()
        .any(|names| names.iter().any(|n| env.contains_key(n.as_str())))
}

/// The password from a `*_FILE` variable: the file its `secrets:` entry or bind mount gives,
/// or a warning saying why it cannot be read (the local password is then provision's own).
fn password_from_file(
    service: &Service,
    var: &Located<EnvVar>,
    out: &mut Credentials,
    problems: &mut Vec<Problem>,
) {
    let resource = service.name.clone();
    let name = &var.value.name;
    let detail = match service.files.get(name) {
        Some(FileValue::Read(secret)) => {
            out.password = Some(secret.clone());
            out.password_from = Some(name.clone());
            return;
        }
        Some(FileValue::Unreadable { path, reason }) => {
            format!("names `{}`, which cannot be read: {reason}", path.display())
        }
        Some(FileValue::Unmapped) | None => format!(
            "points at `{}` in the container, which no `secrets:` entry or bind mount of `{resource}` provides",
            var.value.value.as_deref().unwrap_or_default()
        ),
    };
    problems.push(
        Problem::warning(
            Some(var.at),
            var.path.clone(),
            ProblemKind::PasswordFile {
                resource,
                variable: name.clone(),
                detail,
            },
        )
        .scoped(Scope::Local),
    );
}

/// The password from server arguments in a variable (`REDIS_ARGS: --requirepass x`), when
/// the type takes one as a flag. Returns whether it found one.
fn password_from_args(
    contract: &ComposeEnv,
    var: &Located<EnvVar>,
    resource: &str,
    well_known: &[&str],
    out: &mut Credentials,
    problems: &mut Vec<Problem>,
) -> bool {
    let Some(flag) = &contract.password_flag else {
        return false;
    };
    let words =
        crate::manifest::mounts::split_words(var.value.value.as_deref().unwrap_or_default())
            .unwrap_or_default();
    if let (_, Some(password)) = take_flag(&words, flag) {
        if !var.value.interpolated && !well_known.contains(&password.to_lowercase().as_str()) {
            problems.push(Problem::warning(
                Some(var.at),
                var.path.clone(),
                ProblemKind::FixedPassword {
                    resource: resource.to_owned(),
                    variable: var.value.name.clone(),
                },
            ));
        }
        out.password = Some(Secret::new(password));
        out.password_from = Some(format!("{}: {flag}", var.value.name));
        return true;
    }
    false
}

/// The superuser a root-only file configures, with the variable that says so: no user of
/// the image's own (`MYSQL_USER`), but its root password, or a root without one
/// (<https://hub.docker.com/_/mysql>, "MYSQL_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD",
/// "MYSQL_RANDOM_ROOT_PASSWORD"). Its apps log in as root with that password; where the file
/// lets root in without one, or has the image pick it, provision gives root a password of
/// its own, which the links carry.
fn root_only<'c, 'e>(
    contract: &'c ComposeEnv,
    find: &dyn Fn(&[String]) -> Option<&'e Located<EnvVar>>,
) -> Option<(&'c crate::catalog::ComposeSuperuser, &'e Located<EnvVar>)> {
    let superuser = contract.superuser.as_ref()?;
    if find(&contract.username).is_some() {
        return None;
    }
    let var = find(&superuser.password)
        .or_else(|| find(&superuser.password_file))
        .or_else(|| find(&superuser.without_password))?;
    Some((superuser, var))
}

fn sql_names<'e>(
    service: &Service,
    contract: &ComposeEnv,
    configured: bool,
    find: &dyn Fn(&[String]) -> Option<&'e Located<EnvVar>>,
    out: &mut Credentials,
    problems: &mut Vec<Problem>,
) {
    let located = |var: &Located<EnvVar>| Located {
        value: var.value.value.clone().unwrap_or_default(),
        at: var.at,
        path: var.path.clone(),
    };
    // Where the file configures the image but leaves a name out, the image's default is
    // what an app written against the file uses.
    let at_service = |value: String| Located {
        value,
        at: service.at,
        path: format!("services.{}", service.name),
    };
    out.username_from = find(&contract.username).map(|v| v.value.name.clone());
    out.database_from = find(&contract.database).map(|v| v.value.name.clone());
    out.username = find(&contract.username).map(located).or_else(|| {
        configured
            .then(|| contract.default_username.clone())
            .flatten()
            .map(at_service)
    });
    out.database = find(&contract.database).map(located).or_else(|| {
        let default = contract.default_database.as_ref().filter(|_| configured)?;
        let user = out
            .username
            .as_ref()
            .map(|u| u.value.as_str())
            .unwrap_or_default();
        Some(at_service(default.replace("{username}", user)))
    });
    for name in [&out.username, &out.database].into_iter().flatten() {
        // Locally the image takes any name; RDS takes letters, digits and `_` from a letter.
        let ok = name.value.len() <= MAX_SQL_NAME
            && name.value.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            problems.push(
                Problem::error(
                    Some(name.at),
                    name.path.clone(),
                    ProblemKind::InvalidValue {
                        value: name.value.clone(),
                        expected: format!("a name for RDS: a letter followed by letters, digits or `_`, at most {MAX_SQL_NAME} characters"),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
}

/// `--requirepass X` or `--requirepass=X` out of a command: the rest and the value.
fn take_flag(words: &[String], flag: &str) -> (Vec<String>, Option<String>) {
    let mut rest = Vec::with_capacity(words.len());
    let mut value = None;
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        if word == flag {
            value = iter.next().cloned();
        } else if let Some(v) = word.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
            value = Some(v.to_owned());
        } else {
            rest.push(word.clone());
        }
    }
    (rest, value)
}

#[cfg(test)]
mod tests {
    use super::take_flag;

    #[test]
    fn the_password_flag_leaves_the_command() {
        let words: Vec<String> = ["redis-server", "--appendonly", "yes", "--requirepass", "s3"]
            .map(String::from)
            .to_vec();
        let (rest, pw) = take_flag(&words, "--requirepass");
        assert_eq!(rest, ["redis-server", "--appendonly", "yes"]);
        assert_eq!(pw.as_deref(), Some("s3"));
        let words: Vec<String> = ["redis-server", "--requirepass=x y"]
            .map(String::from)
            .to_vec();
        assert_eq!(take_flag(&words, "--requirepass").1.as_deref(), Some("x y"));
    }
}

#[cfg(test)]
mod model_tests {
    use std::path::PathBuf;

    use crate::catalog::Catalog;
    use crate::manifest::{MountKind, from_bytes};
    use crate::model::{Model, resolve};
    use crate::plan::{Target, plan};
    use crate::problem::ProblemKind;

    fn catalog() -> &'static Catalog {
        Box::leak(Box::new(Catalog::builtin().unwrap()))
    }

    fn model_of(text: &str) -> Model<'static> {
        let manifest = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|name| (name == "REDIS_PASSWORD").then(|| "from-env".to_owned()),
        )
        .unwrap();
        resolve(&manifest, catalog(), None).unwrap()
    }

    fn creds(m: &Model<'_>, name: &str) -> (Option<String>, Option<String>, Option<String>) {
        let r = m.resources.iter().find(|r| r.name == name).unwrap();
        (
            r.username.clone(),
            r.database.clone(),
            r.local_password.as_ref().map(|p| p.expose().to_owned()),
        )
    }

    fn kinds<'m>(m: &'m Model<'_>) -> Vec<&'m ProblemKind> {
        m.problems.iter().map(|p| &p.kind).collect()
    }

    fn some(a: &str, b: &str, c: &str) -> (Option<String>, Option<String>, Option<String>) {
        (Some(a.into()), Some(b.into()), Some(c.into()))
    }

    // https://hub.docker.com/_/postgres: POSTGRES_USER (default `postgres`), POSTGRES_DB
    // (default: the user's name), POSTGRES_PASSWORD.
    #[test]
    fn postgres_environment_sets_user_database_and_local_password() {
        let m = model_of(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_USER=shop\n      - POSTGRES_DB=orders\n      - POSTGRES_PASSWORD=Kx9-long-and-odd\n  only_pw:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: Kx9-long-and-odd}\n  user_only:\n    image: postgres:16\n    environment: {POSTGRES_USER: shop, POSTGRES_PASSWORD: '${REDIS_PASSWORD}'}\n  plain: {image: 'postgres:16'}\n",
        );
        assert_eq!(creds(&m, "db"), some("shop", "orders", "Kx9-long-and-odd"));
        assert_eq!(
            creds(&m, "only_pw"),
            some("postgres", "postgres", "Kx9-long-and-odd")
        );
        assert_eq!(creds(&m, "user_only"), some("shop", "shop", "from-env"));
        assert_eq!(
            creds(&m, "plain"),
            (Some("app".into()), Some("app".into()), None)
        );
        // A literal password is fixed in the file: one warning each; `${VAR}` is not.
        let fixed: Vec<_> = m
            .problems
            .iter()
            .filter(|p| matches!(p.kind, ProblemKind::FixedPassword { .. }))
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(
            fixed,
            [
                "services.db.environment[2]",
                "services.only_pw.environment.POSTGRES_PASSWORD"
            ]
        );
    }

    // https://mariadb.com/kb/en/mariadb-docker-environment-variables/: MARIADB_* win over the
    // MYSQL_* names the image also accepts.
    #[test]
    fn mariadb_and_mysql_names() {
        let m = model_of(
            "services:\n  maria:\n    image: mariadb:11.4\n    environment: {MYSQL_USER: old, MARIADB_USER: new, MYSQL_DATABASE: wp, MYSQL_PASSWORD: '${REDIS_PASSWORD}'}\n  my:\n    image: mysql:8.4\n    environment: {MYSQL_ROOT_PASSWORD: '${REDIS_PASSWORD}', MYSQL_DATABASE: shop}\n",
        );
        assert_eq!(creds(&m, "maria"), some("new", "wp", "from-env"));
        // Without MYSQL_USER the file's apps log in as root, with root's password
        // (model/compose_rules_tests.rs, issue 19).
        assert_eq!(creds(&m, "my"), some("root", "shop", "from-env"));
    }

    // https://github.com/bitnami/containers/tree/main/bitnami/postgresql and .../redis:
    // POSTGRESQL_USERNAME/POSTGRESQL_DATABASE (both default `postgres`), REDIS_PASSWORD.
    #[test]
    fn bitnami_names() {
        let m = model_of(
            "services:\n  pg:\n    image: bitnami/postgresql:16\n    x-provision: {type: postgres}\n    environment: [POSTGRESQL_USERNAME=shop, 'POSTGRESQL_PASSWORD=${REDIS_PASSWORD}']\n  kv:\n    image: bitnami/redis:7.2\n    environment: {REDIS_PASSWORD: '${REDIS_PASSWORD}'}\n",
        );
        assert_eq!(creds(&m, "pg"), some("shop", "postgres", "from-env"));
        assert_eq!(creds(&m, "kv"), (None, None, Some("from-env".into())));
    }

    // https://hub.docker.com/_/redis: the password is a server flag; provision takes it out
    // of the command (the backend passes it without a command line).
    #[test]
    fn redis_requirepass_in_command() {
        let m = model_of(
            "services:\n  a:\n    image: redis:7\n    command: redis-server --appendonly yes --requirepass ${REDIS_PASSWORD}\n  b:\n    image: redis:7\n    command: [redis-server, --requirepass, Zq8-not-default]\n",
        );
        let a = m.resources.iter().find(|r| r.name == "a").unwrap();
        assert_eq!(
            a.command.as_deref().unwrap(),
            ["redis-server", "--appendonly", "yes"]
        );
        assert_eq!(a.local_password.as_ref().unwrap().expose(), "from-env");
        assert_eq!(creds(&m, "b").2.as_deref(), Some("Zq8-not-default"));
        assert!(
            matches!(kinds(&m).as_slice(), [ProblemKind::FixedPassword { resource, .. }] if resource == "b"),
            "{:?}",
            kinds(&m)
        );
    }

    // https://hub.docker.com/r/redis/redis-stack: the password as `--requirepass` in REDIS_ARGS.
    #[test]
    fn redis_stack_args_variable() {
        let m = model_of(
            "services:\n  kv:\n    image: redis/redis-stack-server:7.2.0-v10\n    x-provision: {type: redis}\n    environment: {REDIS_ARGS: '--requirepass ${REDIS_PASSWORD} --maxmemory 64mb'}\n",
        );
        let kv = &m.resources[0];
        assert_eq!(kv.local_password.as_ref().unwrap().expose(), "from-env");
        assert_eq!(
            kv.password_from.as_deref(),
            Some("REDIS_ARGS: --requirepass")
        );
    }

    #[test]
    fn extension_wins_with_a_warning_and_default_passwords_warn_once() {
        let m = model_of(
            "services:\n  db:\n    image: postgres:16\n    environment: {POSTGRES_USER: shop, POSTGRES_PASSWORD: postgres}\n    x-provision: {username: other}\n",
        );
        assert_eq!(creds(&m, "db"), some("other", "shop", "postgres"));
        let k = kinds(&m);
        assert!(
            matches!(k[0], ProblemKind::CredentialConflict { variable, .. } if variable == "POSTGRES_USER"),
            "{k:?}"
        );
        assert!(matches!(k[1], ProblemKind::DefaultPassword { .. }), "{k:?}");
        assert_eq!(k.len(), 2, "{k:?}");
    }

    #[test]
    fn names_rds_refuses_are_cloud_errors_only() {
        let m = model_of(
            "services:\n  db:\n    image: postgres:16\n    environment: {POSTGRES_USER: my-user, POSTGRES_PASSWORD: '${REDIS_PASSWORD}'}\n",
        );
        assert_eq!(m.resources.len(), 1);
        assert!(
            m.problems
                .iter()
                .all(|p| p.scope == crate::problem::Scope::Cloud)
        );
    }

    // https://docs.docker.com/reference/compose-file/services/: none of these keys may make a
    // valid file fail; `command:` and `volumes:` reach the plan.
    #[test]
    fn compose_keys_on_a_database_never_fail_and_reach_the_plan() {
        let text = "services:\n  db:\n    image: postgres:16\n    command: postgres -c 'max_connections=200' -c shared_buffers=256MB\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n      - ./init:/docker-entrypoint-initdb.d:ro\n      - type: bind\n        source: ./postgresql.conf\n        target: /etc/postgresql/postgresql.conf\n        read_only: true\n    healthcheck:\n      test: [CMD-SHELL, pg_isready -U postgres]\n      interval: 5s\n    networks: [backend]\n    restart: unless-stopped\n    expose: ['5432']\n    profiles: [dev]\n    deploy: {resources: {limits: {memory: 512M}}}\n    labels: {team: data}\n    logging: {driver: json-file}\n  web: {build: ., depends_on: {db: {condition: service_healthy}}}\nvolumes: {pgdata: {}}\nnetworks: {backend: {}}\n";
        let manifest = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let p = plan(&manifest, catalog(), Target::Local, None).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let local = p.resource("db").unwrap().local.as_ref().unwrap();
        assert_eq!(
            local.command.as_deref().unwrap(),
            [
                "postgres",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=256MB"
            ]
        );
        let mounts: Vec<_> = local
            .mounts
            .iter()
            .map(|m| (m.kind, m.source.as_deref(), m.target.as_str(), m.read_only))
            .collect();
        assert_eq!(
            mounts,
            [
                (
                    MountKind::Volume,
                    Some("pgdata"),
                    "/var/lib/postgresql/data",
                    false
                ),
                (
                    MountKind::Bind,
                    Some("./init"),
                    "/docker-entrypoint-initdb.d",
                    true
                ),
                (
                    MountKind::Bind,
                    Some("./postgresql.conf"),
                    "/etc/postgresql/postgresql.conf",
                    true
                ),
            ]
        );
        assert_eq!(local.password, None);
        // The password never reaches the plan's JSON; where it came from does.
        let m = from_bytes(
            b"services:\n  db: {image: 'postgres:16', environment: {POSTGRES_PASSWORD: Kx9-long-and-odd}}\n",
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let p = plan(&m, catalog(), Target::Local, None).unwrap();
        let local = p.resource("db").unwrap().local.as_ref().unwrap();
        assert_eq!(
            local.password.as_ref().unwrap().expose(),
            "Kx9-long-and-odd"
        );
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("Kx9"), "{json}");
        assert!(
            json.contains("\"password_from\":\"POSTGRES_PASSWORD\""),
            "{json}"
        );
        // The cloud plan carries no local password: AWS gets a generated one.
        let p = plan(&m, catalog(), Target::Cloud, None).unwrap();
        assert!(p.resource("db").unwrap().local.is_none());
    }
}
