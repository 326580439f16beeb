//! The `.env` file next to the manifest, as Compose reads it. Compose's rules
//! (<https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/#env-file-syntax>):
//! `KEY=value` lines, `#` comments (inline ones after a space for unquoted values, after the
//! closing quote for quoted ones), an optional `export ` prefix, single quotes literal (`\'`
//! escapes a quote), double quotes with `\n`, `\r`, `\t`, `\\`, `\"` escapes and `$VAR`
//! interpolation, quoted values spanning lines.
//!
//! `dotenvy` parses the file: it splits logical lines (quoted values across lines), handles
//! quotes, escapes and `$VAR`/`${VAR}` (from the process environment, then earlier lines).
//! Where Compose accepts more than dotenvy (unquoted values with spaces, `\t`/`\r` in double
//! quotes, `\'` in single quotes), dotenvy rejects the line and [`compose_line`] reads it by
//! Compose's rule instead, so no line that Compose accepts is lost.

/// Parses `.env` text; malformed lines are skipped (the file is optional input for
/// interpolation, and an unreadable line must not hide the manifest's own errors).
pub fn parse(text: &str) -> Vec<(String, String)> {
    let lines = logical_lines(text);
    let mut items = dotenvy::from_read_iter(text.as_bytes());
    let mut vars = Vec::new();
    // dotenvy yields one item per logical line that is not blank or a comment, in order; its
    // errors carry only part of the line, so the line itself comes from `logical_lines`.
    // Should the two ever disagree (a key differs), each remaining line is read on its own.
    let mut aligned = true;
    for line in lines {
        let item = if aligned {
            items.next()
        } else {
            dotenvy::from_read_iter(line.as_bytes()).next()
        };
        match item {
            Some(Ok((key, value))) if compose_key(line) == Some(key.as_str()) => {
                vars.push((key, value));
            }
            Some(Ok(_)) | None => {
                aligned = false;
                if let Some(Ok(pair)) = dotenvy::from_read_iter(line.as_bytes()).next() {
                    vars.push(pair);
                } else {
                    vars.extend(compose_line(line));
                }
            }
            Some(Err(_)) => match compose_line(line) {
                Some(pair) => vars.push(pair),
                // An unterminated quote runs to the end of the text: read the rest line by
                // line, as a person would expect from a file with one broken line.
                None => vars.extend(line.lines().skip(1).filter_map(compose_line)),
            },
        }
    }
    vars
}

/// Parses an `env_file:` without expanding `$` references: Compose interpolates those
/// values with the project's variables (`.env`, then the environment), which dotenvy does not
/// know, and would otherwise replace with nothing.
pub fn parse_uninterpolated(text: &str) -> Vec<(String, String)> {
    // A private-use character stands in for `$` while dotenvy reads the text.
    const DOLLAR: char = '\u{e000}';
    parse(&text.replace('$', &DOLLAR.to_string()))
        .into_iter()
        .map(|(k, v)| (k, v.replace(DOLLAR, "$")))
        .collect()
}

/// The logical lines of `.env` text that are not blank or comments: a quoted value continues
/// across newlines until its closing quote (dotenvy's and Compose's rule), an unquoted ` #`
/// starts a comment that ends the line.
fn logical_lines(text: &str) -> Vec<&str> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Plain,
        Space,
        Escape,
        Double,
        DoubleEscape,
        Single,
        SingleEscape,
        Comment,
    }
    let mut lines = Vec::new();
    let mut start = 0;
    let mut state = State::Plain;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, c) in text.char_indices() {
        if c == '\n' && matches!(state, State::Plain | State::Space | State::Comment) {
            lines.push(&text[start..i]);
            start = i + 1;
            state = State::Plain;
            continue;
        }
        state = match (state, c) {
            (State::Comment, _) => State::Comment,
            (State::Space, '#') => State::Comment,
            (State::Plain | State::Space, '\\') => State::Escape,
            (State::Plain | State::Space, '"') => State::Double,
            (State::Plain | State::Space, '\'') => State::Single,
            (State::Plain | State::Space, c) if c.is_whitespace() && c != '\r' => State::Space,
            (State::Plain | State::Space | State::Escape, _) => State::Plain,
            (State::Double, '\\') => State::DoubleEscape,
            (State::Double, '"') | (State::Single, '\'') => State::Plain,
            (State::Double | State::DoubleEscape, _) => State::Double,
            (State::Single, '\\') => State::SingleEscape,
            (State::Single | State::SingleEscape, _) => State::Single,
        };
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
        .into_iter()
        .filter(|l| {
            let l = l.trim_start();
            !l.is_empty() && !l.starts_with('#')
        })
        .collect()
}

/// The key of a `KEY=value` line as Compose reads it.
fn compose_key(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let line = line.strip_prefix("export ").unwrap_or(line);
    let key = line.split_once('=')?.0.trim();
    (!key.is_empty() && !key.contains(char::is_whitespace)).then_some(key)
}

/// One `KEY=value` line by Compose's rules, for the lines dotenvy rejects; `None` for a
/// comment, a blank or a malformed line.
fn compose_line(line: &str) -> Option<(String, String)> {
    let key = compose_key(line)?;
    let value = line.split_once('=')?.1.trim_start();
    let value = if let Some(rest) = value.strip_prefix('"') {
        quoted(rest, '"')?
    } else if let Some(rest) = value.strip_prefix('\'') {
        quoted(rest, '\'')?
    } else {
        if value.contains('\n') {
            return None;
        }
        // Unquoted: a ` #` starts a comment; `#` alone does not.
        value
            .split_once(" #")
            .map_or(value, |(v, _)| v)
            .trim_end()
            .to_owned()
    };
    Some((key.to_owned(), value))
}

/// The value inside quotes up to the closing `quote`, with Compose's escapes; `None` when the
/// quote is not closed or something other than a comment follows it.
fn quoted(text: &str, quote: char) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next()?;
                match (quote, next) {
                    ('"', 'n') => out.push('\n'),
                    ('"', 'r') => out.push('\r'),
                    ('"', 't') => out.push('\t'),
                    ('"', '\\' | '"' | '$') | ('\'', '\'') => out.push(next),
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
            }
            c if c == quote => {
                let rest = chars.as_str().trim();
                return (rest.is_empty() || rest.starts_with('#')).then_some(out);
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod uninterpolated_tests {
    use super::parse_uninterpolated;

    #[test]
    fn references_are_left_for_compose_to_interpolate() {
        let vars = parse_uninterpolated("A=${DB_PASSWORD}\nB=\"x $Y\"\nC='$lit'\n");
        assert_eq!(
            vars,
            [
                ("A".to_owned(), "${DB_PASSWORD}".to_owned()),
                ("B".to_owned(), "x $Y".to_owned()),
                ("C".to_owned(), "$lit".to_owned())
            ]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn one(text: &str) -> String {
        let vars = parse(text);
        assert_eq!(vars.len(), 1, "{text:?} gave {vars:?}");
        assert_eq!(vars[0].0, "VAR", "{text:?}");
        vars[0].1.clone()
    }

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
        assert_eq!(vars.len(), expect.len(), "{vars:?}");
        for ((k, v), (ek, ev)) in vars.iter().zip(expect) {
            assert_eq!((k.as_str(), v.as_str()), (ek, ev));
        }
    }

    /// Every example of Compose's `.env` syntax page, with the value Compose documents:
    /// <https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/#env-file-syntax>
    #[test]
    fn follows_every_example_of_composes_env_file_syntax() {
        let cases = [
            ("VAR=VAL", "VAL"),
            ("VAR=\"VAL\"", "VAL"),
            ("VAR='VAL'", "VAL"),
            ("VAR=VAL # comment", "VAL"),
            ("VAR=VAL# not a comment", "VAL# not a comment"),
            ("VAR=\"VAL # not a comment\"", "VAL # not a comment"),
            ("VAR=\"VAL\" # comment", "VAL"),
            ("VAR='$OTHER'", "$OTHER"),
            ("VAR='${OTHER}'", "${OTHER}"),
            ("VAR='Let\\'s go!'", "Let's go!"),
            (
                "VAR=\"{\\\"hello\\\": \\\"json\\\"}\"",
                "{\"hello\": \"json\"}",
            ),
            ("VAR=\"some\\tvalue\"", "some\tvalue"),
            ("VAR='some\\tvalue'", "some\\tvalue"),
            ("VAR=some\\tvalue", "some\\tvalue"),
            ("VAR='SOME\nVALUE'", "SOME\nVALUE"),
        ];
        for (text, want) in cases {
            assert_eq!(one(text), want, "{text:?}");
        }
    }

    /// What the hand-written line-by-line parser got wrong.
    #[test]
    fn reads_multi_line_and_escaped_values() {
        // A PEM key in double quotes over several lines: the old parser saw `KEY="-----BEGIN`
        // and then garbage lines.
        let vars =
            parse("KEY=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nAFTER=1\n# KEY=ignored\n");
        assert_eq!(
            vars,
            [
                (
                    "KEY".to_owned(),
                    "-----BEGIN KEY-----\nabc\n-----END KEY-----".to_owned()
                ),
                ("AFTER".to_owned(), "1".to_owned())
            ]
        );
        // An escaped backslash before `n` is a backslash and an `n`, not a newline (the old
        // parser replaced `\n` first).
        assert_eq!(one("VAR=\"a\\\\nb\""), "a\\nb");
        // An escaped quote at the very end of a double-quoted value.
        assert_eq!(one("VAR=\"say \\\"hi\\\"\" # greeting"), "say \"hi\"");
        // A single-quoted value with a `#` and a closing quote followed by a comment.
        assert_eq!(one("VAR='a # b' # c"), "a # b");
        // CRLF line ends (a file saved on Windows) leave no `\r` in the value.
        assert_eq!(parse("A=1\r\nB='2'\r\n").len(), 2);
        assert_eq!(parse("A=1\r\nB='2'\r\n")[1].1, "2");
        // `${VAR}` refers to an earlier line of the same file.
        assert_eq!(
            parse("PROVISION_TEST_BASE=x\nVAR=\"${PROVISION_TEST_BASE}/y\"\n")[1].1,
            "x/y"
        );
    }

    #[test]
    fn an_unterminated_quote_loses_only_its_own_line() {
        let vars = parse("A=\"open\nB=2\nC=3\n");
        assert!(vars.iter().any(|(k, v)| k == "B" && v == "2"), "{vars:?}");
        assert!(vars.iter().any(|(k, v)| k == "C" && v == "3"), "{vars:?}");
        assert!(!vars.iter().any(|(k, _)| k == "A"), "{vars:?}");
    }
}
