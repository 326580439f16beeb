//! Hints for Compose files written for `docker compose`, where an app reaches its database
//! by hostname in its `environment:` (`DB_HOST=db`, `DATABASE_URL=postgres://u:p@db:5432/x`)
//! rather than through `links:` or `depends_on:`. Such an app gets no link variables from
//! provision until it names the database in one of those.

use std::collections::HashSet;

use super::Link;
use crate::manifest::Service;
use crate::problem::{Problem, ProblemKind};

/// One warning per database the app's environment names without a link to it.
pub(super) fn unlinked_by_environment(
    service: &Service,
    resources: &HashSet<&str>,
    links: &[Link],
    problems: &mut Vec<Problem>,
) {
    let linked: HashSet<&str> = links.iter().map(|l| l.resource.as_str()).collect();
    let mut hinted: HashSet<&str> = HashSet::new();
    for var in &service.environment {
        let Some(value) = &var.value.value else {
            continue;
        };
        for host in hosts(value) {
            let Some(resource) = resources.get(host) else {
                continue;
            };
            if linked.contains(resource) || !hinted.insert(resource) {
                continue;
            }
            problems.push(Problem::warning(
                Some(var.at),
                var.path.clone(),
                ProblemKind::LinkByEnvironment {
                    service: service.name.clone(),
                    resource: (*resource).to_owned(),
                    variable: var.value.name.clone(),
                },
            ));
        }
    }
}

/// The host names a variable's value could mean: the whole value (`db`), `host:port`, or the
/// host of each URL in it (`postgres://user:pw@db:5432/app`, `redis://redis`, a list of
/// `host:port` separated by commas).
fn hosts(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for part in value.split([',', ' ', ';']) {
        let part = part.trim();
        let rest = match part.split_once("://") {
            Some((_, rest)) => rest,
            None => part,
        };
        // Up to the path, then after any `user:password@`, then before `:port`.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match host_port.rsplit_once(':') {
            Some((name, number)) if number.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host_port,
        };
        if !host.is_empty() {
            out.push(host);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::hosts;
    use crate::catalog::Catalog;
    use crate::manifest::from_bytes;
    use crate::problem::ProblemKind;

    #[test]
    fn an_app_naming_a_database_only_in_its_environment_gets_a_hint() {
        let catalog = Catalog::builtin().unwrap();
        let text = "services:\n  web:\n    build: .\n    environment:\n      DB_HOST: db\n      DATABASE_URL: postgres://shop:pw@db:5432/shop\n      REDIS_URL: redis://redis:6379/0\n      CACHE: memcached:11211\n  worker:\n    build: .\n    depends_on: [db]\n    environment: [DB_HOST=db]\n  db: {image: 'postgres:16'}\n  redis: {image: 'redis:7'}\n";
        let m = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let model = crate::model::resolve(&m, &catalog, None).unwrap();
        let hints: Vec<_> = model
            .problems
            .iter()
            .filter_map(|p| match &p.kind {
                ProblemKind::LinkByEnvironment {
                    service,
                    resource,
                    variable,
                } => Some((
                    service.as_str(),
                    resource.as_str(),
                    variable.as_str(),
                    p.location(&m.file),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            hints,
            [
                ("web", "db", "DB_HOST", "compose.yaml:5:7".to_owned()),
                ("web", "redis", "REDIS_URL", "compose.yaml:7:7".to_owned()),
            ]
        );
        let hint = model
            .problems
            .iter()
            .find(|p| matches!(p.kind, ProblemKind::LinkByEnvironment { .. }))
            .and_then(crate::problem::Problem::hint)
            .unwrap();
        assert_eq!(hint, "add `depends_on: [db]` (or `links: [db]`) to `web`");
    }

    #[test]
    fn hosts_in_values() {
        assert_eq!(hosts("db"), ["db"]);
        assert_eq!(hosts("db:5432"), ["db"]);
        assert_eq!(
            hosts("postgres://shop:s3@db:5432/shop?sslmode=disable"),
            ["db"]
        );
        assert_eq!(hosts("redis://redis"), ["redis"]);
        assert_eq!(hosts("redis://:pw@cache:6379/0"), ["cache"]);
        assert_eq!(hosts("mc1:11211,mc2:11211"), ["mc1", "mc2"]);
        assert_eq!(hosts("mysql2://root@mysql/app_development"), ["mysql"]);
        assert!(hosts("").is_empty());
    }
}
