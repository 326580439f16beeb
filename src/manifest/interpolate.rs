//! Compose's `${VAR}` substitution: `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}` and `$$` for a literal `$`.
//!
//! An unset variable: Compose warns and substitutes an empty string
//! (<https://docs.docker.com/reference/compose-file/interpolation/>). [`interpolate`] makes it
//! an error, for the fields where an empty value is never what was meant (a database's
//! settings, ports); [`interpolate_lenient`] follows Compose and names what was unset.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    Undefined(String),
    Required { name: String, message: String },
    Malformed,
}

/// Substitutes variables in `text`; `lookup` answers `None` for an unset variable.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    interpolate_at(
        text,
        lookup,
        &|name| Err(InterpolationError::Undefined(name.to_owned())),
        0,
    )
}

/// As Compose does: an unset `${VAR}` or `$VAR` is an empty string; the names that were
/// unset come back with the text (for a warning). `${VAR:?message}` is still an error.
pub fn interpolate_lenient(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), InterpolationError> {
    let unset = std::cell::RefCell::new(Vec::new());
    let out = interpolate_at(
        text,
        lookup,
        &|name| {
            let mut unset = unset.borrow_mut();
            if !unset.iter().any(|n| n == name) {
                unset.push(name.to_owned());
            }
            Ok(String::new())
        },
        0,
    )?;
    Ok((out, unset.into_inner()))
}

/// What an unset variable without an operator becomes: an error, or (Compose) empty.
type OnUnset<'a> = &'a dyn Fn(&str) -> Result<String, InterpolationError>;

/// Defaults may nest (`${A:-${B}}`), but not without bound: a crafted manifest must not
/// exhaust the stack.
const MAX_NESTING: usize = 16;

fn interpolate_at(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: OnUnset<'_>,
    depth: usize,
) -> Result<String, InterpolationError> {
    if depth > MAX_NESTING {
        return Err(InterpolationError::Malformed);
    }
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = matching_brace(body_and_tail).ok_or(InterpolationError::Malformed)?;
            out.push_str(&braced(&body_and_tail[..end], lookup, unset, depth)?);
            rest = &body_and_tail[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                return Err(InterpolationError::Malformed);
            }
            let name = &after[..len];
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => out.push_str(&unset(name)?),
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn name_len(s: &str) -> usize {
    let mut len = 0;
    for (i, c) in s.char_indices() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

/// The index of the `}` closing a `${`, allowing nested `${...}` in defaults.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: OnUnset<'_>,
    depth: usize,
) -> Result<String, InterpolationError> {
    let len = name_len(body);
    if len == 0 {
        return Err(InterpolationError::Malformed);
    }
    let (name, op) = body.split_at(len);
    let value = lookup(name);
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let nested = |t: &str| interpolate_at(t, lookup, unset, depth + 1);
    let required = |message: &str| InterpolationError::Required {
        name: name.to_owned(),
        message: message.to_owned(),
    };
    Ok(match op {
        "" => match value {
            Some(v) => v,
            None => unset(name)?,
        },
        _ if op.starts_with(":-") => {
            if set_nonempty {
                value.unwrap_or_default()
            } else {
                nested(&op[2..])?
            }
        }
        _ if op.starts_with(":?") => {
            if set_nonempty {
                value.unwrap_or_default()
            } else {
                return Err(required(&op[2..]));
            }
        }
        _ if op.starts_with(":+") => {
            if set_nonempty {
                nested(&op[2..])?
            } else {
                String::new()
            }
        }
        _ if op.starts_with('-') => match value {
            Some(v) => v,
            None => nested(&op[1..])?,
        },
        _ if op.starts_with('?') => value.ok_or_else(|| required(&op[1..]))?,
        _ if op.starts_with('+') => {
            if value.is_some() {
                nested(&op[1..])?
            } else {
                String::new()
            }
        }
        _ => return Err(InterpolationError::Malformed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<String, InterpolationError> {
        let lookup = |name: &str| match name {
            "USER" => Some("alice".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        interpolate(text, &lookup)
    }

    #[test]
    fn substitutes_like_compose() {
        assert_eq!(run("plain").unwrap(), "plain");
        assert_eq!(run("${USER}").unwrap(), "alice");
        assert_eq!(run("a-$USER-b").unwrap(), "a-alice-b");
        assert_eq!(run("$$USER").unwrap(), "$USER");
        assert_eq!(run("${NOPE:-x}").unwrap(), "x");
        assert_eq!(run("${EMPTY:-x}").unwrap(), "x");
        assert_eq!(run("${EMPTY-x}").unwrap(), "");
        assert_eq!(run("${NOPE-x}").unwrap(), "x");
        assert_eq!(run("${USER:+set}").unwrap(), "set");
        assert_eq!(run("${NOPE:+set}").unwrap(), "");
        assert_eq!(run("${NOPE:-${USER}}").unwrap(), "alice");
        assert_eq!(run("${NOPE:-}").unwrap(), "");
    }

    #[test]
    fn unset_and_malformed_are_errors() {
        assert_eq!(
            run("${NOPE}"),
            Err(InterpolationError::Undefined("NOPE".into()))
        );
        assert_eq!(
            run("$NOPE"),
            Err(InterpolationError::Undefined("NOPE".into()))
        );
        assert_eq!(
            run("${NOPE:?give me one}"),
            Err(InterpolationError::Required {
                name: "NOPE".into(),
                message: "give me one".into()
            })
        );
        assert_eq!(run("${USER"), Err(InterpolationError::Malformed));
        assert_eq!(run("${}"), Err(InterpolationError::Malformed));
        assert_eq!(run("$ 5"), Err(InterpolationError::Malformed));
        assert_eq!(run("${USER!x}"), Err(InterpolationError::Malformed));
        // Compose's rule: empty, with the names for a warning; `:?` stays an error.
        let lenient = |t: &str| interpolate_lenient(t, &|n| (n == "USER").then(|| "alice".into()));
        assert_eq!(
            lenient("a${NOPE}b$NOPE-$USER-${OTHER}"),
            Ok(("ab-alice-".into(), vec!["NOPE".into(), "OTHER".into()]))
        );
        assert!(matches!(
            lenient("${NOPE:?set it}"),
            Err(InterpolationError::Required { .. })
        ));
        let deep = format!("{}x{}", "${A:-".repeat(10_000), "}".repeat(10_000));
        assert_eq!(
            run(&deep),
            Err(InterpolationError::Malformed),
            "bounded, not a stack overflow"
        );
    }
}
