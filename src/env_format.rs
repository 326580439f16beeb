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
    /// GitHub Actions: the variables appended to the file `$GITHUB_ENV` names, every secret
    /// value masked in the job's log (`::add-mask::` on stdout)
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
        // Not a text for stdout: `commands::env` writes `github()`'s two parts where GitHub
        // reads each. Here only the file's part; nothing when a value is refused.
        Format::Github => {
            if let Some(g) = github_delimiter().ok().and_then(|d| github(vars, &d).ok()) {
                out = g.env_file;
            }
        }
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

/// What `--format github` hands GitHub Actions: `masks` for the step's stdout, where the runner
/// reads workflow commands, and `env_file` for the file `GITHUB_ENV` names, which the runner
/// reads after the step into the environment of the job's later steps.
#[derive(Debug, PartialEq, Eq)]
pub struct Github {
    /// One `::add-mask::VALUE` line per secret value (per line of a multi-line one).
    pub masks: String,
    /// `NAME<<DELIMITER`, the value, `DELIMITER`, for every variable.
    pub env_file: String,
}

/// Why a variable cannot be written to `GITHUB_ENV` safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubRefusal {
    /// The runner would read a different name (or none) than the one meant.
    Name,
    /// The value holds the delimiter: the runner would end the value there and read the rest
    /// as more variables.
    Delimiter,
}

/// A workflow command's data, escaped as the runner unescapes it (`%` `\r` `\n`; actions/runner
/// `ActionCommand` `_escapeDataMappings`, and actions/toolkit's `escapeData`): a value with a
/// `%25` in it is masked as written, not as the runner's unescaping would turn it.
fn command_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The two parts of `--format github`, with `delimiter` (a fresh random one per run, as
/// actions/toolkit's `prepareKeyValueMessage` uses: the value cannot guess it).
///
/// GitHub's "Setting an environment variable" (docs.github.com/en/actions/reference/
/// workflows-and-actions/workflow-commands#setting-an-environment-variable) gives the
/// `{name}<<{delimiter}` form for multi-line values and warns that the delimiter must not occur
/// on a line of its own in the value. Every variable takes that form here, so a CA bundle and a
/// one-line URL are written alike; a name or value that would break it is refused, never
/// written in part.
///
/// "Masking a value in a log" (the same page, `::add-mask::{value}`): the runner replaces the
/// value with `***` in everything the job prints afterwards. The runner takes a command per line,
/// so a multi-line secret is masked line by line; an empty line would mask nothing (the runner
/// warns on it) and is left out.
pub fn github(vars: &[Var], delimiter: &str) -> Result<Github, (String, GithubRefusal)> {
    let mut masks = String::new();
    let mut env_file = String::new();
    for v in vars {
        let value = v.value.expose();
        let name_ok = !v.name.is_empty()
            && !v.name.contains(['=', '\n', '\r'])
            && !v.name.contains("<<")
            && !v.name.contains(delimiter);
        if !name_ok {
            return Err((v.name.clone(), GithubRefusal::Name));
        }
        if value.contains(delimiter) {
            return Err((v.name.clone(), GithubRefusal::Delimiter));
        }
        if matches!(v.value, crate::links::Value::Secret(_)) {
            for line in value.split('\n').map(|l| l.trim_end_matches('\r')) {
                if !line.trim().is_empty() {
                    let _ = writeln!(masks, "::add-mask::{}", command_data(line));
                }
            }
        }
        let _ = writeln!(env_file, "{}<<{delimiter}\n{value}\n{delimiter}", v.name);
    }
    Ok(Github { masks, env_file })
}

/// A delimiter no value can know in advance: `ghadelimiter_` and 32 hex digits from the OS
/// CSPRNG (actions/toolkit uses `ghadelimiter_` and a UUID the same way).
pub fn github_delimiter() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().fold("ghadelimiter_".to_owned(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
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
        let json: serde_json::Value = serde_json::from_str(&render(&vars(), Format::Json)).unwrap();
        assert_eq!(json["B"], "it's");
    }

    /// The reader of `GITHUB_ENV`, as actions/runner's `SetEnvFileCommand` (src/Runner.Worker/
    /// FileCommandManager.cs) reads it: `NAME=value`, or `NAME<<DELIM`, lines, `DELIM`.
    fn runner_reads(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut lines = text.split('\n');
        while let Some(line) = lines.next() {
            if line.is_empty() {
                continue;
            }
            let (eq, here) = (line.find('='), line.find("<<"));
            if let Some(h) = here.filter(|h| eq.is_none_or(|e| *h < e)) {
                let delim = &line[h + 2..];
                let mut value = Vec::new();
                for l in lines.by_ref() {
                    if l == delim {
                        break;
                    }
                    value.push(l);
                }
                out.push((line[..h].to_owned(), value.join("\n")));
            } else if let Some(e) = eq {
                out.push((line[..e].to_owned(), line[e + 1..].to_owned()));
            }
        }
        out
    }

    #[test]
    fn github_masks_every_secret_and_writes_every_variable_multi_line_safe() {
        let mut all = vars();
        all.push(Var {
            name: "CA".into(),
            value: Value::Plain("-----BEGIN\nabc\n-----END".into()),
        });
        all.push(Var {
            name: "K_PASSWORD".into(),
            value: Value::Secret(Secret::new("line1\n\nli%ne2\r")),
        });
        let g = github(&all, "ghadelimiter_x").unwrap();
        // Secrets only; `%` escaped as the runner unescapes it; no mask for an empty line.
        assert_eq!(
            g.masks,
            "::add-mask::redis://:p@h:1/0\n::add-mask::line1\n::add-mask::li%25ne2\n"
        );
        assert!(
            g.env_file
                .starts_with("A_URL<<ghadelimiter_x\nredis://:p@h:1/0\nghadelimiter_x\n")
        );
        let read = runner_reads(&g.env_file);
        let want: Vec<(String, String)> = all
            .iter()
            .map(|v| (v.name.clone(), v.value.expose().to_owned()))
            .collect();
        assert_eq!(read, want);
        // The file's part never carries a mask, and the masks never a plain value.
        assert!(!g.env_file.contains("::add-mask::"));
        assert!(!g.masks.contains("it's"));
    }

    #[test]
    fn github_refuses_a_value_with_the_delimiter_and_a_name_the_runner_would_misread() {
        let evil = vec![Var {
            name: "X_URL".into(),
            value: Value::Secret(Secret::new("a\nghadelimiter_x\nPATH=/evil")),
        }];
        assert_eq!(
            github(&evil, "ghadelimiter_x"),
            Err(("X_URL".into(), GithubRefusal::Delimiter))
        );
        for name in ["", "A=B", "A<<B", "A\nB"] {
            let v = vec![Var {
                name: name.into(),
                value: Value::Plain("v".into()),
            }];
            assert_eq!(
                github(&v, "ghadelimiter_x"),
                Err((name.into(), GithubRefusal::Name))
            );
        }
        let a = github_delimiter().unwrap();
        let b = github_delimiter().unwrap();
        assert_eq!(a.len(), "ghadelimiter_".len() + 32);
        assert_ne!(a, b);
    }
}
