//! A small builder for running the `provision` binary in a scratch project directory, and a
//! snapshot form of its result (exit status, stdout, stderr).

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) struct Project {
    /// Keeps the directory alive for the test's duration.
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Project {
    /// A project directory named `shop` (the name becomes the project name).
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().expect("create a temp dir");
        let dir = tmp.path().join("shop");
        std::fs::create_dir(&dir).expect("create the project dir");
        Self { _tmp: tmp, dir }
    }

    pub(crate) fn with_manifest(text: &str) -> Self {
        let p = Self::new();
        p.write("compose.yaml", text.as_bytes());
        p
    }

    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> &Self {
        std::fs::write(self.dir.join(name), bytes).expect("write a project file");
        self
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Run {
        Run::new(&self.dir, args)
    }
}

pub(crate) struct Run {
    command: Command,
}

impl Run {
    pub(crate) fn new(dir: &Path, args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_provision"));
        command
            .current_dir(dir)
            .args(args)
            .env_remove("PROVISION_PROJECT")
            .env("NO_COLOR", "1");
        Self { command }
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    pub(crate) fn output(mut self) -> Output {
        let out = self.command.output().expect("run provision");
        Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The form snapshots take: every part of the result, labelled.
    pub(crate) fn snapshot(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code
                .map_or_else(|| "signal".to_owned(), |c| c.to_string()),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `args` in a project whose manifest is `text` and snapshots the result.
#[macro_export]
macro_rules! snapshot {
    ($name:expr, $manifest:expr, $args:expr) => {{
        let project = $crate::support::Project::with_manifest($manifest);
        let out = project.cmd($args).output();
        insta::assert_snapshot!($name, out.snapshot());
        out
    }};
}
