//! The formats `provision env` prints link variables in.

use std::fmt::Write as _;

use crate::links::Var;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `KEY='value'`, for `.env` files (dotenv, Compose `env_file`)
    Dotenv,
    /// `export KEY='value'`, for `eval "$(provision env --format shell)"`
    Shell,
    /// A JSON object
    Json,
    /// `KEY=value` lines (heredoc form for multi-line values), for `$GITHUB_ENV`
    Github,
}

/// Single-quoted for POSIX shells: `'` becomes `'\''`.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// dotenv readers take single quotes literally and have no escape inside them; a value with a
/// `'` is double-quoted with escapes instead.
fn dotenv_quote(value: &str) -> String {
    if value.contains('\'') || value.contains('\n') {
        format!(
            "\"{}\"",
            value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
                .replace('$', "\\$")
        )
    } else {
        format!("'{value}'")
    }
}

pub fn render(vars: &[Var], format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Dotenv => vars.iter().for_each(|v| {
            let _ = writeln!(out, "{}={}", v.name, dotenv_quote(v.value.expose()));
        }),
        Format::Shell => vars.iter().for_each(|v| {
            let _ = writeln!(out, "export {}={}", v.name, shell_quote(v.value.expose()));
        }),
        Format::Github => vars.iter().for_each(|v| {
            let value = v.value.expose();
            if value.contains('\n') {
                let _ = writeln!(out, "{}<<PROVISION_EOF\n{value}\nPROVISION_EOF", v.name);
            } else {
                let _ = writeln!(out, "{}={value}", v.name);
            }
        }),
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|v| {
                    (
                        v.name.clone(),
                        serde_json::Value::String(v.value.expose().to_owned()),
                    )
                })
                .collect();
            out = serde_json::to_string_pretty(&map).unwrap_or_default();
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::Value;
    use crate::secret::Secret;

    fn vars() -> Vec<Var> {
        vec![
            Var {
                name: "A_URL".into(),
                value: Value::Secret(Secret::new("redis://:p@h:1/0")),
            },
            Var {
                name: "B".into(),
                value: Value::Plain("it's".into()),
            },
        ]
    }

    #[test]
    fn formats() {
        assert_eq!(
            render(&vars(), Format::Dotenv),
            "A_URL='redis://:p@h:1/0'\nB=\"it's\"\n"
        );
        assert_eq!(
            render(&vars(), Format::Shell),
            "export A_URL='redis://:p@h:1/0'\nexport B='it'\\''s'\n"
        );
        assert_eq!(
            render(&vars(), Format::Github),
            "A_URL=redis://:p@h:1/0\nB=it's\n"
        );
        let json: serde_json::Value = serde_json::from_str(&render(&vars(), Format::Json)).unwrap();
        assert_eq!(json["B"], "it's");
    }
}
