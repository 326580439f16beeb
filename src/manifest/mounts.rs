//! A service's `volumes:` entries and `command:` words, read as Compose reads them, for the
//! backends to pass on to a database container.
//!
//! Short syntax `[SOURCE:]TARGET[:MODE]` and the long syntax's `type`, `source`, `target`,
//! `read_only`: <https://docs.docker.com/reference/compose-file/services/#volumes>.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named volume, or an anonymous one (no source).
    Volume,
    Tmpfs,
    /// `npipe`, `cluster`, `image`: nothing provision passes on.
    Other,
}

/// One `volumes:` entry of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: MountKind,
    /// The volume name, or the host path as written; none for an anonymous volume or tmpfs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For a bind mount, the host path made absolute against the directory relative paths
    /// of its file are relative to (and `~` expanded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<PathBuf>,
    /// The path inside the container.
    pub target: String,
    pub read_only: bool,
}

impl Mount {
    /// `./init:/docker-entrypoint-initdb.d:ro`, `pgdata:/var/lib/postgresql/data`, `/data`.
    pub fn short(text: &str, dir: &Path, home: Option<&str>) -> Option<Self> {
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [target] => (None, *target, ""),
            [source, target] if target.starts_with('/') => (Some(*source), *target, ""),
            // `/data:ro` is an anonymous volume with a mode.
            [target, mode] => (None, *target, *mode),
            [source, target, mode] => (Some(*source), *target, *mode),
            _ => return None,
        };
        if !target.starts_with('/') || source.is_some_and(str::is_empty) {
            return None;
        }
        let read_only = mode.split(',').any(|m| m == "ro");
        let kind = match source {
            Some(s) if is_host_path(s) => MountKind::Bind,
            _ => MountKind::Volume,
        };
        Some(Self::new(kind, source, target, read_only, dir, home))
    }

    /// The long syntax's fields (already substituted).
    pub fn long(fields: &BTreeMap<String, String>, dir: &Path, home: Option<&str>) -> Option<Self> {
        let target = fields.get("target")?;
        if !target.starts_with('/') {
            return None;
        }
        let source = fields.get("source").map(String::as_str);
        let kind = match fields.get("type").map(String::as_str) {
            Some("bind") => MountKind::Bind,
            Some("volume") => MountKind::Volume,
            Some("tmpfs") => MountKind::Tmpfs,
            Some(_) => MountKind::Other,
            None if source.is_some_and(is_host_path) => MountKind::Bind,
            None => MountKind::Volume,
        };
        let read_only = fields
            .get("read_only")
            .is_some_and(|r| matches!(r.as_str(), "true" | "True" | "TRUE"));
        Some(Self::new(kind, source, target, read_only, dir, home))
    }

    fn new(
        kind: MountKind,
        source: Option<&str>,
        target: &str,
        read_only: bool,
        dir: &Path,
        home: Option<&str>,
    ) -> Self {
        let host_path = match (kind, source) {
            (MountKind::Bind, Some(s)) => Some(host_path(s, dir, home)),
            _ => None,
        };
        Self {
            kind,
            source: source.filter(|s| !s.is_empty()).map(str::to_owned),
            host_path,
            target: match target.trim_end_matches('/') {
                "" => "/".to_owned(),
                t => t.to_owned(),
            },
            read_only,
        }
    }

    /// Whether this mount covers `path` inside the container (the path itself or below it).
    pub fn covers(&self, path: &str) -> bool {
        let target = self.target.trim_end_matches('/');
        path == target
            || path
                .strip_prefix(target)
                .is_some_and(|r| r.starts_with('/'))
    }
}

/// The volume or bind mount that holds `data_path` (the image's data directory), if the
/// service brings its own: then the data lives there instead of in provision's volume.
pub fn data_mount<'m>(mounts: &'m [Mount], data_path: &str) -> Option<&'m Mount> {
    mounts
        .iter()
        .filter(|m| {
            matches!(
                m.kind,
                MountKind::Volume | MountKind::Bind | MountKind::Tmpfs
            )
        })
        .filter(|m| m.covers(data_path))
        .max_by_key(|m| m.target.len())
}

/// Compose reads a source starting with `.`, `/` or `~` as a host path, anything else as a
/// volume name.
fn is_host_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
}

fn host_path(source: &str, dir: &Path, home: Option<&str>) -> PathBuf {
    if let Some(rest) = source.strip_prefix("~/")
        && let Some(home) = home
    {
        return Path::new(home).join(rest);
    }
    let joined = dir.join(source);
    // `./init` -> `{dir}/init`, without the `.` component.
    joined.components().collect()
}

/// Splits a `command:` string into words as a POSIX shell would (quotes and backslashes, no
/// expansion), which is how Compose turns the string form into a list. `None` when a quote
/// is left open.
pub fn split_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            '\n' => {}
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(text: &str) -> Option<Mount> {
        Mount::short(text, Path::new("/proj"), Some("/home/u"))
    }

    // https://docs.docker.com/reference/compose-file/services/#short-syntax-5: `VOLUME:CONTAINER_PATH:ACCESS_MODE`,
    // a host path starts with `.` or `/` (or `~`), `ro` makes it read-only.
    #[test]
    fn short_syntax() {
        let m = short("./init:/docker-entrypoint-initdb.d:ro").unwrap();
        assert_eq!(m.kind, MountKind::Bind);
        assert_eq!(m.host_path.as_deref(), Some(Path::new("/proj/init")));
        assert_eq!(m.target, "/docker-entrypoint-initdb.d");
        assert!(m.read_only);
        let m = short("pgdata:/var/lib/postgresql/data").unwrap();
        assert_eq!(
            (m.kind, m.source.as_deref(), m.host_path.clone()),
            (MountKind::Volume, Some("pgdata"), None)
        );
        assert!(!m.read_only);
        let m = short("/var/lib/mysql").unwrap();
        assert_eq!((m.kind, m.source), (MountKind::Volume, None));
        let m = short("~/conf/redis.conf:/usr/local/etc/redis/redis.conf:ro,z").unwrap();
        assert_eq!(
            m.host_path.as_deref(),
            Some(Path::new("/home/u/conf/redis.conf"))
        );
        assert!(m.read_only);
        assert_eq!(short("relative"), None);
        assert_eq!(short("a:b:c:d"), None);
    }

    #[test]
    fn long_syntax() {
        let fields: BTreeMap<String, String> = [
            ("type", "bind"),
            ("source", "../shared/my.cnf"),
            ("target", "/etc/mysql/conf.d/my.cnf"),
            ("read_only", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let m = Mount::long(&fields, Path::new("/proj/app"), None).unwrap();
        assert_eq!(
            m.host_path.as_deref(),
            Some(Path::new("/proj/app/../shared/my.cnf"))
        );
        assert!(m.read_only && m.kind == MountKind::Bind);
        let tmpfs: BTreeMap<String, String> = [("type", "tmpfs"), ("target", "/tmp")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            Mount::long(&tmpfs, Path::new("/"), None).unwrap().kind,
            MountKind::Tmpfs
        );
    }

    #[test]
    fn the_mount_holding_the_data_path() {
        let mounts = [
            short("./init:/docker-entrypoint-initdb.d").unwrap(),
            short("pg:/var/lib/postgresql").unwrap(),
            short("pgdata:/var/lib/postgresql/data").unwrap(),
        ];
        let m = data_mount(&mounts, "/var/lib/postgresql/data").unwrap();
        assert_eq!(m.source.as_deref(), Some("pgdata"));
        let m = data_mount(&mounts, "/var/lib/postgresql/18/docker").unwrap();
        assert_eq!(m.source.as_deref(), Some("pg"));
        assert_eq!(data_mount(&mounts, "/data"), None);
    }

    #[test]
    fn covers_paths_below_the_target() {
        let m = short("data:/var/lib/postgresql").unwrap();
        assert!(m.covers("/var/lib/postgresql"));
        assert!(m.covers("/var/lib/postgresql/18/docker"));
        assert!(!m.covers("/var/lib/postgresql-old"));
    }

    #[test]
    fn words_like_a_shell() {
        assert_eq!(
            split_words("redis-server --requirepass 's3 cret' --save \"\" x\\ y").unwrap(),
            [
                "redis-server",
                "--requirepass",
                "s3 cret",
                "--save",
                "",
                "x y"
            ]
        );
        assert_eq!(
            split_words("postgres -c 'max_connections=200'").unwrap(),
            ["postgres", "-c", "max_connections=200"]
        );
        assert_eq!(split_words("a 'open"), None);
    }
}
