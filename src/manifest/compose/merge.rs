//! How later files merge into earlier ones: maps key by key, lists appended, some keys replaced,
//! some unique by a key of their own, `!reset` and `!override`
//! (<https://docs.docker.com/reference/compose-file/merge/>,
//! <https://docs.docker.com/compose/how-tos/multiple-compose-files/merge/>).

use super::super::yaml::{Kind, Node, Pos};
use super::Tags;

/// Removes `key` from a map node and returns its value.
pub(super) fn take_key(node: &mut Node, key: &str) -> Option<Node> {
    let Kind::Map(entries) = &mut node.kind else {
        return None;
    };
    let i = entries
        .iter()
        .position(|(k, _)| k.scalar_text().as_deref() == Some(key))?;
    Some(entries.remove(i).1)
}

/// Two files' top levels: `services` service by service, everything else key by key.
pub fn merge_top(base: Node, over: Node, t: &Tags) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => Node {
            kind: Kind::Map(merge_maps(b, o, t, |key, b, o| match key {
                "services" => merge_services(b, o, t),
                _ => merge_generic(b, o, t),
            })),
            at: base.at,
        },
        // An empty override changes nothing.
        (kind, Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

/// Maps: entries of `over` replace (through `f`) or add to those of `base`, in order.
pub(super) fn merge_maps(
    mut base: Vec<(Node, Node)>,
    over: Vec<(Node, Node)>,
    t: &Tags,
    f: impl Fn(&str, Node, Node) -> Node,
) -> Vec<(Node, Node)> {
    for (k, v) in over {
        let key = k.scalar_text().unwrap_or_default();
        let existing = base
            .iter()
            .position(|(bk, _)| bk.scalar_text().as_deref() == Some(key.as_str()));
        // `!reset` drops what earlier files set; `!override` replaces it unmerged.
        if t.reset.contains(&v.at) {
            if let Some(i) = existing {
                base.remove(i);
            }
            continue;
        }
        if t.replace.contains(&v.at) {
            match existing {
                Some(i) => base[i] = (k, v),
                None => base.push((k, v)),
            }
            continue;
        }
        match existing {
            Some(i) => {
                let old = std::mem::replace(
                    &mut base[i].1,
                    Node {
                        kind: Kind::Null,
                        at: v.at,
                    },
                );
                base[i].1 = f(&key, old, v);
            }
            None => base.push((k, v)),
        }
    }
    base
}

pub(super) fn merge_services(base: Node, over: Node, t: &Tags) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => Node {
            kind: Kind::Map(merge_maps(b, o, t, |_, b, o| merge_service(b, o, t))),
            at: base.at,
        },
        (kind, Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

/// Generic rule: maps merged key by key, sequences appended, scalars replaced.
pub(super) fn merge_generic(base: Node, over: Node, t: &Tags) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => Node {
            kind: Kind::Map(merge_maps(b, o, t, |_, b, o| merge_generic(b, o, t))),
            at: base.at,
        },
        (Kind::Seq(mut b), Kind::Seq(o)) => {
            b.extend(o);
            Node {
                kind: Kind::Seq(b),
                at: base.at,
            }
        }
        (kind @ (Kind::Map(_) | Kind::Seq(_)), Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

/// One service over another (a later file's, or the extending service over its base).
pub fn merge_service(base: Node, over: Node, t: &Tags) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => Node {
            kind: Kind::Map(merge_maps(b, o, t, |k, b, o| merge_service_key(k, b, o, t))),
            at: base.at,
        },
        (kind, Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

pub(super) fn merge_service_key(key: &str, base: Node, over: Node, t: &Tags) -> Node {
    match key {
        // Shell commands are replaced, not appended.
        "command" | "entrypoint" => over,
        "healthcheck" => match (base.kind, over.kind) {
            (Kind::Map(b), Kind::Map(o)) => Node {
                kind: Kind::Map(merge_maps(b, o, t, |k, b, o| {
                    if k == "test" {
                        o
                    } else {
                        merge_generic(b, o, t)
                    }
                })),
                at: base.at,
            },
            (_, kind) => Node { kind, at: over.at },
        },
        // Merged as maps whether written as lists or maps.
        "environment" | "labels" | "annotations" | "sysctls" | "build" => {
            if key == "build" {
                return merge_generic(base, over, t);
            }
            merge_env_like(base, over, t)
        }
        "depends_on" => {
            let mergeable = |n: &Node| matches!(n.kind, Kind::Map(_) | Kind::Seq(_) | Kind::Null);
            if !(mergeable(&base) && mergeable(&over)) {
                return over;
            }
            let (b, at) = as_depends_map(base);
            let (o, _) = as_depends_map(over);
            Node {
                kind: Kind::Map(merge_maps(b, o, t, |_, b, o| merge_generic(b, o, t))),
                at,
            }
        }
        // Unique resources: a later entry with the same key replaces the earlier one.
        "ports" => merge_unique(base, over, port_key),
        "volumes" => merge_unique(base, over, volume_target),
        "secrets" => merge_unique(base, over, |n| secret_target(n, "/run/secrets/")),
        "configs" => merge_unique(base, over, |n| secret_target(n, "/")),
        // Sequences that may be written as one string.
        "dns" | "dns_search" | "tmpfs" | "env_file" => merge_generic(as_seq(base), as_seq(over), t),
        _ => merge_generic(base, over, t),
    }
}

pub(super) fn as_seq(node: Node) -> Node {
    match node.kind {
        Kind::Seq(_) | Kind::Null => node,
        kind => Node {
            kind: Kind::Seq(vec![Node { kind, at: node.at }]),
            at: node.at,
        },
    }
}

/// `environment:`/`labels:` in map form: `- KEY=value` becomes `KEY: value`, `- KEY`
/// becomes `KEY:` (null), each keeping its position.
pub(super) fn env_map(node: Node) -> (Vec<(Node, Node)>, Pos) {
    let at = node.at;
    match node.kind {
        Kind::Map(entries) => (entries, at),
        Kind::Seq(items) => (
            items
                .into_iter()
                .filter_map(|item| {
                    let text = item.scalar_text()?;
                    Some(match text.split_once('=') {
                        Some((k, v)) => (Node::str(k, item.at), Node::str(v, item.at)),
                        None => (
                            Node::str(text, item.at),
                            Node {
                                kind: Kind::Null,
                                at: item.at,
                            },
                        ),
                    })
                })
                .collect(),
            at,
        ),
        _ => (Vec::new(), at),
    }
}

pub(super) fn merge_env_like(base: Node, over: Node, t: &Tags) -> Node {
    if !matches!(over.kind, Kind::Map(_) | Kind::Seq(_)) {
        return if matches!(over.kind, Kind::Null) {
            base
        } else {
            over
        };
    }
    if !matches!(base.kind, Kind::Map(_) | Kind::Seq(_)) {
        return over;
    }
    let (b, at) = env_map(base);
    let (o, _) = env_map(over);
    Node {
        kind: Kind::Map(merge_maps(b, o, t, |_, _, o| o)),
        at,
    }
}

/// `depends_on:` in map form: a list entry `- db` is `db: {}` (`service_started`).
pub(super) fn as_depends_map(node: Node) -> (Vec<(Node, Node)>, Pos) {
    let at = node.at;
    match node.kind {
        Kind::Map(entries) => (entries, at),
        Kind::Seq(items) => (
            items
                .into_iter()
                .filter_map(|i| {
                    let name = i.scalar_text()?;
                    Some((
                        Node::str(name, i.at),
                        Node {
                            kind: Kind::Map(Vec::new()),
                            at: i.at,
                        },
                    ))
                })
                .collect(),
            at,
        ),
        _ => (Vec::new(), at),
    }
}

pub(super) fn merge_unique(base: Node, over: Node, key: impl Fn(&Node) -> Option<String>) -> Node {
    match (base.kind, over.kind) {
        (Kind::Seq(mut b), Kind::Seq(o)) => {
            for item in o {
                let k = key(&item);
                match k
                    .as_ref()
                    .and_then(|k| b.iter().position(|e| key(e).as_ref() == Some(k)))
                {
                    Some(i) => b[i] = item,
                    None => b.push(item),
                }
            }
            Node {
                kind: Kind::Seq(b),
                at: base.at,
            }
        }
        (kind @ Kind::Seq(_), Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

/// A port's unique key {ip, target, published, protocol}, in one canonical text.
pub(super) fn port_key(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::Map(_) => {
            let field = |k: &str| node.get(k).and_then(Node::scalar_text).unwrap_or_default();
            let protocol = Some(field("protocol")).filter(|p| !p.is_empty());
            Some(format!(
                "{}|{}|{}|{}",
                field("host_ip"),
                field("published"),
                field("target"),
                protocol.as_deref().unwrap_or("tcp")
            ))
        }
        _ => {
            let text = node.scalar_text()?;
            let (spec, protocol) = text.split_once('/').unwrap_or((text.as_str(), "tcp"));
            let (rest, target) = spec.rsplit_once(':').unwrap_or(("", spec));
            let (ip, published) = rest.rsplit_once(':').unwrap_or(("", rest));
            Some(format!("{ip}|{published}|{target}|{protocol}"))
        }
    }
}

pub(super) fn volume_target(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::Map(_) => node.get("target").and_then(Node::scalar_text),
        _ => {
            let text = node.scalar_text()?;
            // `target`, `source:target`, `target:mode`, `source:target:mode`.
            let parts: Vec<&str> = text.split(':').collect();
            let target = match parts.as_slice() {
                [target] => target,
                [_, target] if target.starts_with('/') => target,
                [target, _] => target,
                [_, target, ..] => target,
                [] => return None,
            };
            Some((*target).to_owned())
        }
    }
}

pub(super) fn secret_target(node: &Node, dir: &str) -> Option<String> {
    match &node.kind {
        Kind::Map(_) => node
            .get("target")
            .or_else(|| node.get("source"))
            .and_then(Node::scalar_text)
            .map(|t| {
                if t.starts_with('/') {
                    t
                } else {
                    format!("{dir}{t}")
                }
            }),
        _ => node.scalar_text().map(|s| format!("{dir}{s}")),
    }
}
