//! Database images provision does not know: a vendor's build on an official image
//! (`supabase/postgres`, `eqalpha/keydb`, a company's own `acme/postgres-ci`). Such a service
//! is an app until the file says otherwise; `doctor` suggests `x-provision: {type: ...}`
//! when the image's name or the container port it publishes says which engine it is.

use crate::manifest::Service;
use crate::problem::{Problem, ProblemKind};

/// Words in an image's name, and the type each means, most specific first.
const NAME_WORDS: &[(&str, &str)] = &[
    ("postgis", "postgres"),
    ("pgvector", "postgres"),
    ("timescale", "postgres"),
    ("postgres", "postgres"),
    ("mariadb", "mariadb"),
    ("mysql", "mysql"),
    ("percona", "mysql"),
    ("valkey", "valkey"),
    ("keydb", "redis"),
    ("redis", "redis"),
    ("memcached", "memcached"),
];

/// Words that make an image a tool around a database rather than the database itself.
const TOOL_WORDS: &[&str] = &[
    "exporter",
    "commander",
    "insight",
    "admin",
    "backup",
    "operator",
    "proxy",
    "bouncer",
    "pgbouncer",
    "pool",
    "ui",
    "web",
    "client",
    "cli",
    "browser",
    "sentinel",
    "migrat",
    "dump",
    "sync",
    "monitor",
];

/// The engines' container ports.
const PORTS: &[(u16, &str)] = &[
    (5432, "postgres"),
    (3306, "mysql"),
    (6379, "redis"),
    (11211, "memcached"),
];

/// A warning for an app service whose image looks like a database.
pub(super) fn looks_like_database(service: &Service, problems: &mut Vec<Problem>) {
    let Some(image) = &service.image else {
        return;
    };
    // `registry:5000/team/postgres-custom:16` -> `postgres-custom`.
    let without_tag = image
        .value
        .rsplit_once('/')
        .map_or(image.value.as_str(), |(_, name)| name);
    let name = without_tag
        .split([':', '@'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let owner = image.value.to_ascii_lowercase();
    let by_name = NAME_WORDS
        .iter()
        .find(|(word, _)| name.contains(word))
        .map(|(_, t)| *t);
    let is_tool = TOOL_WORDS.iter().any(|w| {
        name.split(|c: char| !c.is_ascii_alphanumeric())
            // Short words as whole parts only (`ui`, not the `ui` in `build`).
            .any(|part| {
                let found = if w.len() <= 3 {
                    part == *w
                } else {
                    part.contains(w)
                };
                found && !NAME_WORDS.iter().any(|(n, _)| part == *n)
            })
    });
    let by_port = service
        .ports
        .iter()
        .find_map(|p| PORTS.iter().find(|(port, _)| *port == p.value.target))
        .map(|(_, t)| *t);
    let guess = match (by_name, by_port) {
        (Some(t), _) if !is_tool => Some(t),
        (None, Some(t)) if !is_tool && !owner.contains("exporter") => Some(t),
        _ => None,
    };
    if let Some(type_name) = guess {
        problems.push(Problem::warning(
            Some(image.at),
            image.path.clone(),
            ProblemKind::LooksLikeDatabase {
                service: service.name.clone(),
                image: image.value.clone(),
                type_name: type_name.to_owned(),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::from_bytes;
    use crate::problem::ProblemKind;

    fn guesses(text: &str) -> Vec<(String, String)> {
        let manifest = from_bytes(text.as_bytes(), "compose.yaml".into(), "x".into(), &|_| {
            None
        })
        .unwrap();
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let model = crate::model::resolve(&manifest, &catalog, None).unwrap();
        model
            .problems
            .iter()
            .filter_map(|p| match &p.kind {
                ProblemKind::LooksLikeDatabase {
                    service, type_name, ..
                } => Some((service.clone(), type_name.clone())),
                _ => None,
            })
            .collect()
    }

    /// Vendor builds on the official images are apps until the file says so; `doctor`
    /// suggests the type. Tools around a database (exporters, admin UIs) are not.
    #[test]
    fn vendor_database_images_get_a_type_suggestion() {
        let found = guesses(
            "services:\n  db: {image: 'postgres:16'}\n  supa: {image: 'supabase/postgres:15.8.1.060'}\n  keydb: {image: 'eqalpha/keydb:latest'}\n  own:\n    image: registry.example.com/team/db-image:3\n    ports: ['3306:3306']\n  exporter: {image: 'prometheuscommunity/postgres-exporter'}\n  insight: {image: 'redis/redisinsight:latest'}\n  admin: {image: 'phpmyadmin:5'}\n  ui: {image: 'acme/redis-ui:2'}\n  build: {image: 'acme/postgres-build:16'}\n  web: {image: 'node:22', ports: ['3000:3000']}\n",
        );
        assert_eq!(
            found,
            [
                ("supa".to_owned(), "postgres".to_owned()),
                ("keydb".to_owned(), "redis".to_owned()),
                ("own".to_owned(), "mysql".to_owned()),
                ("build".to_owned(), "postgres".to_owned()),
            ]
        );
    }
}
