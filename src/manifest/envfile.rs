//! The `.env` file next to the manifest, as Compose reads it: `KEY=value` lines, `#` comments,
//! an optional `export ` prefix, single quotes literal, double quotes with `\n` escapes.

/// Parses `.env` text; malformed lines are skipped, as Compose does.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        vars.push((key.to_owned(), unquote(value.trim())));
    }
    vars
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value
        .strip_prefix('\'')
        .and_then(|v| v.rsplit_once('\''))
        .map(|(v, _)| v)
    {
        return inner.to_owned();
    }
    if let Some(inner) = value
        .strip_prefix('"')
        .and_then(|v| v.rsplit_once('"'))
        .map(|(v, _)| v)
    {
        return inner
            .replace("\\n", "\n")
            .replace("\\\"", "\"")
            .replace("\\\\", "\\");
    }
    // Unquoted: a ` #` starts a comment.
    value
        .split_once(" #")
        .map_or(value, |(v, _)| v)
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_compose_style_env_files() {
        let vars = parse(
            "# comment\nA=1\nexport B='two words'\nC=\"line\\nnext\"\nD=x # note\nbroken line\nE=\n",
        );
        let expect = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "line\nnext"),
            ("D", "x"),
            ("E", ""),
        ];
        assert_eq!(vars.len(), expect.len());
        for ((k, v), (ek, ev)) in vars.iter().zip(expect) {
            assert_eq!((k.as_str(), v.as_str()), (ek, ev));
        }
    }
}
