//! A YAML document as a tree whose every node knows where it was written.
//!
//! The manifest is a Compose file: most of it is ignored, and what is read has a shape that
//! Compose allows several ways (lists or maps, strings or numbers). Deserialising into typed
//! structs would either reject valid Compose files or lose locations, so the document is read
//! into this small tree first and the manifest module walks it, naming `file:line:col` and
//! the key path in every error.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

pub use crate::problem::Pos;

/// The position saphyr reports, as our `Pos`.
fn pos_of(location: serde_saphyr::Location) -> Pos {
    Pos {
        line: u32::try_from(location.line()).unwrap_or(u32::MAX),
        col: u32::try_from(location.column()).unwrap_or(u32::MAX),
        file: 0,
    }
}

/// One YAML node with the position of its first character.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub at: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; merge keys are already expanded by the parser.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What a Compose author would call this node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a map",
        }
    }

    /// The text of a scalar as YAML wrote it (numbers and booleans included), for keys and
    /// for Compose fields that accept `5432` as well as `"5432"`.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(x) => Some(x.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under a string key of a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| matches!(&k.kind, Kind::Str(s) if s == key))
            .map(|(_, v)| v)
    }
}

impl Node {
    /// Marks this node and everything under it as written in file `file`.
    pub fn set_file(&mut self, file: u16) {
        self.at.file = file;
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.set_file(file)),
            Kind::Map(entries) => {
                for (k, v) in entries {
                    k.set_file(file);
                    v.set_file(file);
                }
            }
            _ => {}
        }
    }

    /// A string node at `at`.
    pub fn str(text: impl Into<String>, at: Pos) -> Self {
        Self {
            kind: Kind::Str(text.into()),
            at,
        }
    }
}

/// How deep the manifest may nest.
pub const MAX_DEPTH: usize = 32;

/// How many YAML events aliases may replay in all: what every alias expands to, summed. A
/// large Compose file with a shared block merged into each of 100 services replays a few
/// thousand; an alias bomb (each level of anchors aliasing the one before ten times) needs
/// billions.
pub const MAX_REPLAYED_EVENTS: usize = 1_000_000;

/// A YAML syntax error, with the parser's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub at: Option<Pos>,
}

/// Parses one YAML document. Duplicate keys are errors (YAML forbids them, and Compose files
/// with one silently lose a service); merge keys and anchors are expanded.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    // The defaults suit hand-written configs; a generated manifest of thousands of services
    // needs more nodes. Compose files nest about 6 levels; 32 keeps a debug build's 2 MiB
    // test-thread stack safe (each level costs tens of KiB there).
    //
    // Anchors and aliases: Compose sets no limit on how many aliases a file has, and real
    // files merge one shared block into every service (`<<: *defaults`, ~140 aliases to ~10
    // anchors in one public file), which the parser's alias-to-anchor ratio heuristic
    // refuses. Alias bombs are bounded instead by what they expand to: the events replayed
    // from aliases ([`MAX_REPLAYED_EVENTS`]) and how deeply aliases nest.
    let budget = serde_saphyr::budget! {
        max_events: 50_000_000,
        max_nodes: 20_000_000,
        max_total_scalar_bytes: 256 * 1024 * 1024,
        max_depth: MAX_DEPTH,
        enforce_alias_anchor_ratio: false,
        max_recorded_anchor_events: MAX_REPLAYED_EVENTS,
    };
    let alias_limits = serde_saphyr::alias_limits! {
        max_total_replayed_events: MAX_REPLAYED_EVENTS,
        max_replay_stack_depth: MAX_DEPTH,
    };
    let options = serde_saphyr::options! {
        budget: budget,
        alias_limits: alias_limits,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Option<Spanned<Kind>>>(text, options) {
        Ok(Some(root)) => Ok(Node {
            kind: root.value,
            at: pos_of(root.referenced),
        }),
        // An empty document: the caller decides whether that is acceptable.
        Ok(None) => Ok(Node {
            kind: Kind::Null,
            at: Pos::at(1, 1),
        }),
        Err(error) => Err(syntax_error(&error)),
    }
}

fn syntax_error(error: &serde_saphyr::Error) -> SyntaxError {
    let at = error.location().filter(|l| l.line() > 0).map(pos_of);
    let mut message = error.without_snippet().to_string();
    if message.contains("budget breached: Depth") || message.contains("recursion limit exceeded") {
        message = format!("nested more than {MAX_DEPTH} levels deep");
    } else if is_alias_bomb(&message) {
        message = format!(
            "anchors and aliases expand to more than {MAX_REPLAYED_EVENTS} YAML nodes (an alias bomb?); write the repeated blocks out, or nest fewer aliases"
        );
    }
    // The parser appends its own "at line X column Y"; we print positions as file:line:col.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    SyntaxError {
        message: message.trim().trim_end_matches('.').to_owned(),
        at,
    }
}

/// The parser's errors for aliases that expand too far.
fn is_alias_bomb(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("recordedanchor")
        || (message.contains("alias")
            && (message.contains("limit") || message.contains("exceeded")))
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

fn spanned_node(s: Spanned<Kind>) -> Node {
    Node {
        kind: s.value,
        at: pos_of(s.referenced),
    }
}

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(i128::from(v)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(i128::try_from(v).map_or_else(|_| Kind::Str(v.to_string()), Kind::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Spanned<Kind>>()? {
            items.push(spanned_node(item));
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        // Keys are read as the text written: YAML 1.1 reads a plain `y` or `no` as a boolean,
        // but Compose (and everyone naming a service) means the name.
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Kind>>()?;
            let key = Node {
                kind: Kind::Str(key.value),
                at: pos_of(key.referenced),
            };
            entries.push((key, spanned_node(value)));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Node {
        match parse(text) {
            Ok(node) => node,
            Err(e) => panic!("parse failed: {e:?}"),
        }
    }

    #[test]
    fn positions_point_at_values_and_keys() {
        let root = ok("services:\n  db:\n    image: postgres:16\n");
        let db = root.get("services").and_then(|s| s.get("db")).unwrap();
        let image = db.get("image").unwrap();
        assert_eq!(image.kind, Kind::Str("postgres:16".into()));
        assert_eq!(image.at, Pos::at(3, 12));
        let (key, _) = &db.as_map().unwrap()[0];
        assert_eq!(key.at, Pos::at(3, 5));
    }

    #[test]
    fn merge_keys_and_anchors_expand() {
        let root = ok(
            "x-db: &db\n  image: redis:7\n  x-provision: {version: '7'}\nservices:\n  cache:\n    <<: *db\n    ports: ['6380:6379']\n",
        );
        let cache = root.get("services").and_then(|s| s.get("cache")).unwrap();
        assert_eq!(
            cache.get("image").unwrap().kind,
            Kind::Str("redis:7".into())
        );
        assert!(cache.get("ports").is_some());
        assert!(cache.get("<<").is_none());
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_position() {
        let err = parse("services:\n  a: {image: x}\n  a: {image: y}\n").unwrap_err();
        assert!(err.message.to_lowercase().contains("duplicate"), "{err:?}");
        assert_eq!(err.at.map(|p| p.line), Some(3));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("services:\n  a: [unclosed\n").unwrap_err();
        assert!(err.at.is_some(), "{err:?}");
    }

    #[test]
    fn keys_are_the_text_written() {
        let root = ok("services:\n  y: {image: redis}\n  no: {}\n  8080: {}\n");
        let keys: Vec<_> = root
            .get("services")
            .unwrap()
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.kind.clone())
            .collect();
        assert_eq!(
            keys,
            [
                Kind::Str("y".into()),
                Kind::Str("no".into()),
                Kind::Str("8080".into())
            ]
        );
    }

    /// Compose sets no limit on aliases (<https://docs.docker.com/reference/compose-file/fragments/>,
    /// <https://docs.docker.com/reference/compose-file/extension/>): a self-hosted stack
    /// merging shared blocks into every service, 140 aliases to 10 anchors, the shape of
    /// public files that the parser's alias-to-anchor ratio used to refuse.
    #[test]
    fn many_aliases_to_few_anchors_are_fine() {
        let mut text = String::from(
            "x-restart: &restart unless-stopped\nx-logging: &logging\n  driver: json-file\n  options: {max-size: 10m}\nx-env: &env\n  DATABASE_URL: postgres://app:app@db/app\n  REDIS_URL: redis://cache:6379/0\nx-depends: &depends\n  - db\n  - cache\nx-common: &common\n  image: example/app:1.4\n  restart: *restart\n  logging: *logging\nx-healthcheck: &healthcheck\n  test: [CMD, true]\n  interval: 30s\nx-ulimits: &ulimits\n  nofile: {soft: 65536, hard: 65536}\nx-labels: &labels\n  com.example.stack: demo\nx-tmpfs: &tmpfs [/tmp]\nx-volumes: &volumes\n  - ./config:/etc/app:ro\nservices:\n  db: {image: 'postgres:16', restart: *restart, logging: *logging}\n  cache: {image: 'redis:7', restart: *restart, logging: *logging}\n",
        );
        let mut aliases = 4;
        for i in 0..17 {
            text.push_str(&format!(
                "  worker-{i}:\n    <<: *common\n    command: run worker {i}\n    environment:\n      <<: *env\n      QUEUE: q{i}\n    depends_on: *depends\n    healthcheck: *healthcheck\n    ulimits: *ulimits\n    labels: *labels\n    tmpfs: *tmpfs\n    volumes: *volumes\n"
            ));
            aliases += 8;
        }
        assert!(aliases >= 140, "{aliases}");
        let root = ok(&text);
        let worker = root
            .get("services")
            .and_then(|s| s.get("worker-16"))
            .unwrap();
        assert_eq!(
            worker.get("image").unwrap().kind,
            Kind::Str("example/app:1.4".into())
        );
        assert!(
            worker
                .get("environment")
                .unwrap()
                .get("REDIS_URL")
                .is_some()
        );
    }

    /// Alias bombs are still refused, by what they expand to, with a message that says so.
    #[test]
    fn an_alias_bomb_is_refused_clearly() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                [prev.as_str(); 10].join(", ")
            ));
        }
        text.push_str("services:\n  bomb: {image: postgres, labels: *a9}\n");
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{err:?}");
        assert!(err.at.is_some(), "{err:?}");
    }

    #[test]
    fn empty_input_is_null() {
        assert_eq!(ok("").kind, Kind::Null);
        assert_eq!(ok("# just a comment\n").kind, Kind::Null);
    }
}

/// Compose's merge tags (<https://docs.docker.com/reference/compose-file/merge/#reset-value>):
/// `!reset` removes a value an earlier file set, `!override` replaces it without merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeTag {
    Reset,
    Override,
}

/// Where `!reset` and `!override` are written: the position of the value each tags. The
/// parser drops tags it does not know, so they are found in the text: a tag is followed by
/// the node it tags, the first value at or after the tag's end.
pub fn merge_tags(text: &str, root: &Node) -> Vec<(Pos, MergeTag)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.contains('!') {
            continue;
        }
        for (tag, kind) in [
            ("!reset", MergeTag::Reset),
            ("!override", MergeTag::Override),
        ] {
            for (at, _) in line.match_indices(tag) {
                let before = &line[..at];
                let after = &line[at + tag.len()..];
                let starts_token = before
                    .chars()
                    .last()
                    .is_none_or(|c| c.is_whitespace() || matches!(c, ':' | '-' | '[' | ','));
                let ends_token = after
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || matches!(c, '[' | '{'));
                // Not in a comment or a quoted string (an approximation good for Compose files).
                let in_comment = before.contains(" #") || before.trim_start().starts_with('#');
                let quoted =
                    before.matches('"').count() % 2 == 1 || before.matches('\'').count() % 2 == 1;
                if starts_token && ends_token && !in_comment && !quoted {
                    let end = Pos {
                        line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        col: u32::try_from(before.chars().count() + tag.len() + 1)
                            .unwrap_or(u32::MAX),
                        file: 0,
                    };
                    found.push((end, kind));
                }
            }
        }
    }
    if found.is_empty() {
        return found;
    }
    let mut values = Vec::new();
    collect_values(root, &mut values);
    values.sort_unstable();
    found
        .into_iter()
        .filter_map(|(end, kind)| {
            let i = values.partition_point(|p| (p.line, p.col) < (end.line, end.col));
            values.get(i).map(|p| (*p, kind))
        })
        .collect()
}

fn collect_values(node: &Node, out: &mut Vec<Pos>) {
    match &node.kind {
        Kind::Seq(items) => {
            out.push(node.at);
            for n in items {
                collect_values(n, out);
            }
        }
        Kind::Map(entries) => {
            out.push(node.at);
            for (_, v) in entries {
                collect_values(v, out);
            }
        }
        _ => out.push(node.at),
    }
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    #[test]
    fn merge_tags_point_at_their_values() {
        let text = "services:\n  app:\n    ports: !reset []\n    command: !override\n      - run\n    environment:\n      FOO: !reset null # not !reset here\n    label: \"!reset\"\n";
        let root = parse(text).unwrap();
        let tags = merge_tags(text, &root);
        assert_eq!(
            tags,
            [
                (Pos::at(3, 19), MergeTag::Reset),
                (Pos::at(5, 7), MergeTag::Override),
                (Pos::at(7, 19), MergeTag::Reset),
            ]
        );
    }
}
