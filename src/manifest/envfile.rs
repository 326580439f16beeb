//! `.env` and `env_file:` files, as Compose reads them. The rules are those of Compose's own
//! parser, compose-go's `dotenv` package
//! (<https://github.com/compose-spec/compose-go/blob/main/dotenv/parser.go>), documented at
//! <https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/#env-file-syntax>
//! and <https://docs.docker.com/reference/compose-file/services/#env_file-format>:
//! - a line whose first non-blank character is `#` is a comment, whatever follows (quotes
//!   included); blank lines are skipped;
//! - `export ` before a name is dropped; the name ends at `=` (or `:`, YAML style); a line with
//!   a name alone (`VAR`) takes the value from the environment, and sets nothing when it is
//!   unset;
//! - a value starting with `"` or `'` runs to the matching quote, across lines; `\"` (`\'`)
//!   escapes it; double quotes then read `\n`, `\r`, `\t`, `\\`, `\$`... and `${VAR}`;
//!   single quotes are literal;
//! - any other value runs to the end of the line, a ` #` starting a comment, trailing blanks
//!   trimmed, `${VAR}` substituted;
//! - substitution takes the environment first, then the file's earlier lines.
//!
//! Compose refuses a whole file for one malformed line; here only that line is skipped (the
//! file is input for interpolation, and a broken line must not hide the manifest's own errors).

use super::interpolate::interpolate_lenient;

/// A value as written, before `$` substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Raw {
    /// `VAR` alone: from the environment.
    Inherited,
    /// Unquoted or in double quotes (escapes already read): `$` is substituted.
    Substituted(String),
    /// In single quotes: literal.
    Literal(String),
}

/// Parses `.env` text; `env` answers for the environment (which wins over the file's own
/// lines in `${VAR}`, as in Compose).
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for (key, raw) in statements(text) {
        let value = match raw {
            Raw::Inherited => env(&key),
            Raw::Literal(v) => Some(v),
            Raw::Substituted(v) => {
                let lookup = |name: &str| {
                    env(name).or_else(|| {
                        vars.iter()
                            .rev()
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v.clone())
                    })
                };
                // `${VAR:?}` unset or a malformed `$`: Compose refuses the file; the line.
                interpolate_lenient(&v, &lookup).ok().map(|(v, _)| v)
            }
        };
        if let Some(value) = value {
            vars.push((key, value));
        }
    }
    vars
}

/// Parses an `env_file:` without substituting `$`: Compose interpolates those values with the
/// project's variables (`.env`, then the environment), which the manifest reader does. A
/// literal `$` (single quotes, `\$`) comes back as `$$`, so that interpolation leaves it a
/// `$`; a name alone (`VAR`) comes back without a value, as a bare name in `environment:`.
pub fn parse_uninterpolated(text: &str) -> Vec<(String, Option<String>)> {
    statements(text)
        .into_iter()
        .map(|(key, raw)| {
            let value = match raw {
                Raw::Inherited => None,
                Raw::Literal(v) => Some(v.replace('$', "$$")),
                Raw::Substituted(v) => Some(v),
            };
            (key, value)
        })
        .collect()
}

/// Compose's `isSpace`: blanks that do not end a line.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// The text after the end of the current line (after its `\n`), or nothing.
fn next_line(text: &str) -> &str {
    text.split_once('\n').map_or("", |(_, rest)| rest)
}

/// The statements of the file in order, as compose-go's `parser.parse` finds them.
fn statements(text: &str) -> Vec<(String, Raw)> {
    let mut out = Vec::new();
    let mut rest = text.strip_prefix('\u{feff}').unwrap_or(text);
    loop {
        // `getStatementStart`: skip blanks and newlines, and comment lines.
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('#') {
            rest = next_line(rest);
            continue;
        }
        let Some((key, after, inherited)) = key_name(rest) else {
            rest = next_line(rest);
            continue;
        };
        if inherited {
            out.push((key, Raw::Inherited));
            rest = after;
            continue;
        }
        match value(after) {
            Some((raw, after)) => {
                out.push((key, raw));
                rest = after;
            }
            // An unterminated quote: Compose refuses the file; skip the line.
            None => rest = next_line(after),
        }
    }
    out
}

/// `locateKeyName`: the name, the text after its `=` (blanks skipped) and whether the name
/// stood alone; `None` for a line that is not `NAME=...`.
fn key_name(text: &str) -> Option<(String, &str, bool)> {
    let mut src = text;
    if let Some(after) = src.strip_prefix("export")
        && after.starts_with(char::is_whitespace)
    {
        src = after.trim_start_matches(is_space);
    }
    let mut end = None;
    for (i, c) in src.char_indices() {
        if is_space(c) {
            continue;
        }
        match c {
            '=' | ':' | '\n' => {
                end = Some((i, c));
                break;
            }
            '_' | '.' | '-' | '[' | ']' => {}
            c if c.is_alphanumeric() => {}
            _ => return None,
        }
    }
    // A name alone on the last line, without a newline: alone as well.
    let (i, c) = end.unwrap_or((src.len(), '\n'));
    let key = src[..i].trim_end();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    let after = src.get(i + c.len_utf8()..).unwrap_or("");
    Some((
        key.to_owned(),
        after.trim_start_matches(is_space),
        c == '\n',
    ))
}

/// `extractVarValue`: the value at the start of `text` and the text after it; `None` for an
/// unterminated quote.
fn value(text: &str) -> Option<(Raw, &str)> {
    let Some(quote) = text.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
        let (line, rest) = text.split_once('\n').unwrap_or((text, ""));
        let line = line.split_once(" #").map_or(line, |(v, _)| v);
        return Some((Raw::Substituted(line.trim_end().to_owned()), rest));
    };
    let body = &text[1..];
    let mut chars = String::new();
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if c != quote {
            if !escaped && c == '\\' {
                escaped = true;
                continue;
            }
            if escaped {
                escaped = false;
                chars.push('\\');
            }
            chars.push(c);
            continue;
        }
        if escaped {
            escaped = false;
            chars.push(c);
            continue;
        }
        let rest = &body[i + c.len_utf8()..];
        let raw = if quote == '"' {
            Raw::Substituted(escapes(&chars))
        } else {
            Raw::Literal(chars)
        };
        return Some((raw, rest));
    }
    None
}

/// Compose's `expandEscapes` in double quotes: `\a \b \f \n \r \t \v \" \\`, `\$` for a
/// literal `$` (written `$$` for the substitution that follows) and `\0` + three octal digits;
/// any other backslash stays as written.
fn escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let mut chars = after.chars();
        let (replacement, used) = match chars.next() {
            Some('a') => ("\u{7}".to_owned(), 1),
            Some('b') => ("\u{8}".to_owned(), 1),
            Some('f') => ("\u{c}".to_owned(), 1),
            Some('n') => ("\n".to_owned(), 1),
            Some('r') => ("\r".to_owned(), 1),
            Some('t') => ("\t".to_owned(), 1),
            Some('v') => ("\u{b}".to_owned(), 1),
            Some('"') => ("\"".to_owned(), 1),
            Some('\\') => ("\\".to_owned(), 1),
            Some('$') => ("$$".to_owned(), 1),
            Some('0') => octal(after),
            _ => ("\\".to_owned(), 0),
        };
        out.push_str(&replacement);
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

/// `\0NNN` (the regex takes `0` and up to three digits; Go reads three octal digits up to
/// 377, else the text stays).
fn octal(after: &str) -> (String, usize) {
    let digits: String = after[1..]
        .chars()
        .take(3)
        .take_while(char::is_ascii_digit)
        .collect();
    let taken = 1 + digits.len();
    match u8::from_str_radix(&digits, 8) {
        Ok(byte) if digits.len() == 3 => (char::from(byte).to_string(), taken),
        _ => (format!("\\{}", &after[..taken]), taken),
    }
}

#[cfg(test)]
mod uninterpolated_tests {
    use super::parse_uninterpolated;

    #[test]
    fn references_are_left_for_compose_to_interpolate() {
        let vars = parse_uninterpolated("A=${DB_PASSWORD}\nB=\"x $Y\"\nC='$lit'\nD\n");
        let text = |s: &str| Some(s.to_owned());
        assert_eq!(
            vars,
            [
                ("A".to_owned(), text("${DB_PASSWORD}")),
                ("B".to_owned(), text("x $Y")),
                // Literal: escaped for the interpolation that follows.
                ("C".to_owned(), text("$$lit")),
                // A name alone: from the environment, as a bare name in `environment:`.
                ("D".to_owned(), None),
            ]
        );
    }
}

#[cfg(test)]
mod tests {
    fn parse(text: &str) -> Vec<(String, String)> {
        super::parse(text, &|_| None)
    }

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

/// Compose's env-file rules as its parser applies them
/// (<https://github.com/compose-spec/compose-go/blob/main/dotenv/parser.go>,
/// <https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/#env-file-syntax>).
#[cfg(test)]
mod compose_rules_tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    fn parse(text: &str) -> Vec<(String, String)> {
        super::parse(text, &|name| {
            (name == "FROM_SHELL").then(|| "shell".to_owned())
        })
    }

    /// A comment line is a comment whatever it holds: an apostrophe in `# it's` used to open a
    /// quote that swallowed the lines after it (issue 19).
    #[test]
    fn a_comment_line_with_quotes_is_only_a_comment() {
        let text = "# Database settings. Don't commit this file, it's yours.\nPOSTGRES_USER=shop\n  # the \"app\" password\nPOSTGRES_PASSWORD=s3cret\n#'\nPOSTGRES_DB=orders\n";
        assert_eq!(
            parse(text),
            [
                ("POSTGRES_USER".to_owned(), "shop".to_owned()),
                ("POSTGRES_PASSWORD".to_owned(), "s3cret".to_owned()),
                ("POSTGRES_DB".to_owned(), "orders".to_owned()),
            ]
        );
    }

    /// A quote only opens a quoted value at the start of the value; elsewhere it is text.
    #[test]
    fn quotes_inside_unquoted_values_are_text() {
        let text =
            "TITLE=Bob's shop # it's a comment\nNEXT=1\nMSG=say \"hi\"\nHASH=a#b'c\nAFTER=2\n";
        assert_eq!(
            parse(text),
            [
                ("TITLE".to_owned(), "Bob's shop".to_owned()),
                ("NEXT".to_owned(), "1".to_owned()),
                ("MSG".to_owned(), "say \"hi\"".to_owned()),
                ("HASH".to_owned(), "a#b'c".to_owned()),
                ("AFTER".to_owned(), "2".to_owned()),
            ]
        );
    }

    /// `VAR` alone takes the environment's value, and sets nothing when that is unset;
    /// `VAR: value` is read as `VAR=value`; `export` is dropped; a quoted value may be
    /// followed by a comment holding quotes.
    #[test]
    fn names_alone_yaml_style_and_export() {
        let text = "FROM_SHELL\nNOT_IN_SHELL\nYAML_STYLE: yes\nexport EXPORTED=1\nQ=\"x\" # it's \"quoted\"\nLAST=z\n";
        assert_eq!(
            parse(text),
            [
                ("FROM_SHELL".to_owned(), "shell".to_owned()),
                ("YAML_STYLE".to_owned(), "yes".to_owned()),
                ("EXPORTED".to_owned(), "1".to_owned()),
                ("Q".to_owned(), "x".to_owned()),
                ("LAST".to_owned(), "z".to_owned()),
            ]
        );
        // The environment wins in `${VAR}`, then earlier lines; unset is empty.
        assert_eq!(
            parse("FROM_SHELL=file\nA=${FROM_SHELL}-${UNSET}\n")[1].1,
            "shell-"
        );
        // `\$` and `$$` are a literal `$`; escapes in double quotes only.
        assert_eq!(parse("A=\"\\$x $$y\\a\"\n")[0].1, "$x $y\u{7}");
        assert_eq!(parse("A=\"\\0101\"\n")[0].1, "A");
    }

    #[derive(Debug, Clone)]
    enum Syntax {
        Unquoted,
        Single,
        Double,
    }

    /// How a value can be written under Compose's rules, if it can in this syntax.
    fn write_value(value: &str, syntax: &Syntax) -> Option<String> {
        match syntax {
            Syntax::Unquoted => {
                let ok = !value.contains('\n')
                    && !value.contains(" #")
                    && !value.starts_with(['\'', '"'])
                    && value.trim() == value
                    && !value.ends_with(['\u{b}', '\u{c}']);
                ok.then(|| value.replace('$', "$$"))
            }
            // `\'` is a quote; any other backslash is kept as written, so a value with one
            // could end in an escape.
            Syntax::Single => {
                (!value.contains('\\')).then(|| format!("'{}'", value.replace('\'', "\\'")))
            }
            Syntax::Double => {
                let mut out = String::from("\"");
                for c in value.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '$' => out.push_str("$$"),
                        '\t' => out.push_str("\\t"),
                        c => out.push(c),
                    }
                }
                out.push('"');
                Some(out)
            }
        }
    }

    fn comment() -> impl Strategy<Value = String> {
        "[ ]{0,3}#[a-z '\"#=$\\\\]{0,20}"
    }

    fn entry() -> impl Strategy<Value = (String, String, Syntax, bool, String, String)> {
        (
            "[A-Z_][A-Z0-9_]{0,8}",
            "[a-zA-Z0-9 '\"#=:$\\\\{}\\n\\té]{0,16}",
            prop_oneof![
                Just(Syntax::Unquoted),
                Just(Syntax::Single),
                Just(Syntax::Double)
            ],
            any::<bool>(),
            // Around `=`.
            "[ ]{0,2}",
            // After the value: nothing, or a comment (after a blank).
            prop_oneof![
                Just(String::new()),
                comment().prop_map(|c| format!(" {}", c.trim_start()))
            ],
        )
    }

    proptest! {
        /// Any file written by Compose's rules (values in the syntaxes that can hold them,
        /// `export`, blanks around `=`, comment lines and inline comments holding quotes,
        /// blank lines) reads back as the variables written.
        #[test]
        fn reads_back_what_compose_rules_wrote(
            entries in proptest::collection::vec(entry(), 0..12),
            comments in proptest::collection::vec(comment(), 12),
            crlf in any::<bool>(),
        ) {
            let mut text = String::new();
            let mut want = BTreeMap::new();
            let newline = if crlf { "\r\n" } else { "\n" };
            for (i, (key, value, syntax, export, blank, after)) in entries.iter().enumerate() {
                text.push_str(&comments[i]);
                text.push_str(newline);
                if i % 3 == 0 {
                    text.push_str(newline);
                }
                let Some(written) = write_value(value, syntax)
                    .or_else(|| write_value(value, &Syntax::Double))
                else {
                    continue;
                };
                // `KEY= # note` is the value `# note` in Compose: a comment needs a value
                // before it.
                let after = if value.is_empty() && matches!(syntax, Syntax::Unquoted) {
                    ""
                } else {
                    after.as_str()
                };
                let export = if *export { "export " } else { "" };
                text.push_str(&format!("{export}{key}{blank}={blank}{written}{after}{newline}"));
                want.insert(key.clone(), value.clone());
            }
            let got: BTreeMap<String, String> = super::parse(&text, &|_| None).into_iter().collect();
            prop_assert_eq!(got, want, "{:?}", text);
        }
    }
}
