//! What `start` runs for each app service, from its Compose keys: the argument vector
//! (`entrypoint:` + `command:`), the environment (`environment:`, into which the loader has
//! folded `env_file:`, then the link variables, which win), the directory, and the restart
//! policy. Pure, so the rules are tested without starting anything.

use std::path::{Path, PathBuf};

use crate::links::{Value, Var};
use crate::manifest::Service;
use crate::manifest::process::{Restart, Words};

/// One app service, ready to spawn.
#[derive(Debug, Clone)]
pub struct AppProcess {
    pub name: String,
    pub argv: Vec<String>,
    /// Added to provision's own environment, in order (later entries win).
    pub env: Vec<Var>,
    pub dir: PathBuf,
    pub restart: Restart,
    /// Published host ports (`ports:`), for the links of other apps to this one.
    pub published: Vec<u16>,
}

/// Quotes a word for `sh`: single quotes, with `'` spelled `'\''`.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn shell_line(words: &Words) -> String {
    match words {
        Words::Shell(line) => line.clone(),
        Words::List(list) => list
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The argument vector: lists run as they are; a string (Compose's shell form) runs through
/// `sh -c`, and so does an entrypoint/command pair where either is a string.
pub fn argv(entrypoint: Option<&Words>, command: Option<&Words>) -> Option<Vec<String>> {
    let sh = |line: String| vec!["sh".to_owned(), "-c".to_owned(), line];
    match (entrypoint, command) {
        (None, None) => None,
        (Some(Words::List(e)), Some(Words::List(c))) => {
            Some(e.iter().chain(c).cloned().collect()).filter(|v: &Vec<String>| !v.is_empty())
        }
        (Some(Words::List(l)), None) | (None, Some(Words::List(l))) => {
            Some(l.clone()).filter(|v| !v.is_empty())
        }
        (Some(w), None) | (None, Some(w)) => {
            Some(sh(shell_line(w))).filter(|v| !v[2].trim().is_empty())
        }
        (Some(e), Some(c)) => Some(sh(format!("{} {}", shell_line(e), shell_line(c)))),
    }
}

/// Where a service runs on this machine: `working_dir` when it names a directory here
/// (Compose's is usually a path inside the image, such as `/app`), else the `build:` context,
/// else the manifest's directory.
pub fn directory(service: &Service, manifest_dir: &Path) -> PathBuf {
    let candidates = [
        service
            .process
            .working_dir
            .as_ref()
            .map(|w| w.value.as_path()),
        service
            .process
            .build
            .as_ref()
            .map(|b| b.value.context.as_path()),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_dir())
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// The process for one service, or `None` when it has no command to run here.
pub fn process(service: &Service, manifest_dir: &Path, links: Vec<Var>) -> Option<AppProcess> {
    let argv = argv(
        service.process.entrypoint.as_ref().map(|e| &e.value),
        service.process.command.as_ref(),
    )?;
    // A bare `NAME` passes the host's value through, which a host process inherits anyway.
    let mut env: Vec<Var> = Vec::new();
    env.extend(service.environment.iter().filter_map(|v| {
        Some(Var {
            name: v.value.name.clone(),
            value: Value::Plain(v.value.value.clone()?),
        })
    }));
    env.extend(links);
    Some(AppProcess {
        name: service.name.clone(),
        argv,
        env,
        dir: directory(service, manifest_dir),
        restart: service
            .process
            .restart
            .as_ref()
            .map_or(Restart::No, |r| r.value),
        published: service
            .ports
            .iter()
            .filter_map(|p| p.value.published)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(words: &[&str]) -> Words {
        Words::List(words.iter().map(|w| (*w).to_owned()).collect())
    }

    #[test]
    fn argv_forms() {
        assert_eq!(argv(None, None), None);
        assert_eq!(
            argv(None, Some(&list(&["python3", "web.py"]))).unwrap(),
            ["python3", "web.py"]
        );
        assert_eq!(
            argv(
                None,
                Some(&Words::Shell("python3 web.py > /dev/null".into()))
            )
            .unwrap(),
            ["sh", "-c", "python3 web.py > /dev/null"]
        );
        assert_eq!(
            argv(Some(&list(&["env", "A=1"])), Some(&list(&["sh"]))).unwrap(),
            ["env", "A=1", "sh"]
        );
        assert_eq!(
            argv(
                Some(&Words::Shell("exec env".into())),
                Some(&list(&["it's", "b c"]))
            )
            .unwrap(),
            ["sh", "-c", r"exec env 'it'\''s' 'b c'"]
        );
        assert_eq!(argv(None, Some(&list(&[]))), None);
        assert_eq!(argv(None, Some(&Words::Shell("  ".into()))), None);
    }

    #[test]
    fn environment_order_and_directory() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("app")).unwrap();
        let dir = tmp.path().display().to_string();
        let text = format!(
            "services:\n  web:\n    build: {dir}/app\n    working_dir: /srv/in-image\n    command: run\n    environment: {{A: a, C: c, BARE: }}\n"
        );
        let m = crate::manifest::from_bytes(
            text.as_bytes(),
            "compose.yaml".into(),
            "x".into(),
            &|_| None,
        )
        .unwrap();
        let links = vec![Var {
            name: "C".into(),
            value: Value::Plain("link".into()),
        }];
        let p = process(&m.services[0], Path::new("/nonexistent"), links).unwrap();
        // `/srv/in-image` is no directory here: the build context is.
        assert_eq!(p.dir, tmp.path().join("app"));
        let env: Vec<(&str, &str)> = p
            .env
            .iter()
            .map(|v| (v.name.as_str(), v.value.expose()))
            .collect();
        // Applied in order, so the link's `C` wins.
        assert_eq!(env, [("A", "a"), ("C", "c"), ("C", "link")]);
        assert_eq!(p.argv, ["sh", "-c", "run"]);
        assert_eq!(p.restart, Restart::No);
    }
}
