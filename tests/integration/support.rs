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
        command.current_dir(dir).args(args).env("NO_COLOR", "1");
        // Never the machine's real native state (`/var/lib/provision` as root): the native
        // runtime keeps its data under `PROVISION_HOME` (src/local/native/mod.rs), and
        // `--runtime auto` looks there for the project's databases. Each test gets its own,
        // beside its project directory.
        command.env(
            "PROVISION_HOME",
            dir.parent().unwrap_or(dir).join("provision-home"),
        );
        command.env_remove("XDG_DATA_HOME");
        // Never real AWS, never the instance-metadata address: every test starts from
        // dummy credentials and an endpoint on a closed local port; the emulator tests point
        // it at the emulator.
        for var in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ] {
            command.env_remove(var);
        }
        command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws-credentials",
            )
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        Self { command }
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    pub(crate) fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// The same run under a wrapper program: `wrapper[0] wrapper[1..] provision ARGS...`, with
    /// the same directory and environment (for example `unshare -m sh -c ...`).
    pub(crate) fn wrapped(self, wrapper: &[&str]) -> Self {
        let mut command = Command::new(wrapper[0]);
        command
            .args(&wrapper[1..])
            .arg(self.command.get_program())
            .args(self.command.get_args());
        if let Some(dir) = self.command.get_current_dir() {
            command.current_dir(dir);
        }
        for (k, v) in self.command.get_envs() {
            match v {
                Some(v) => command.env(k, v),
                None => command.env_remove(k),
            };
        }
        Self { command }
    }

    /// Its stdin from this file.
    pub(crate) fn stdin_from(mut self, file: std::fs::File) -> Self {
        self.command.stdin(file);
        self
    }

    /// Starts it with stdin, stdout and stderr piped.
    pub(crate) fn spawn_with_stdin(mut self) -> std::process::Child {
        self.command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start provision")
    }

    /// Starts it with stdout and stderr piped, for commands that run until stopped.
    pub(crate) fn spawn(mut self) -> std::process::Child {
        self.command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start provision")
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
        // `doctor --local` names the machine's container engine: make it the same everywhere.
        let out = project
            .cmd($args)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output();
        insta::assert_snapshot!($name, out.snapshot());
        out
    }};
}

/// A port nothing listens on right now (the OS's pick). Tests fix ports in their manifests so
/// that parallel tests never race for an engine's default port.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A unique project name for one test, so parallel tests and reruns never share resources.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // The emulator's state outlives a test run and PIDs repeat: add the clock.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("t-{prefix}-{:x}{:x}-{n}", std::process::id(), nanos & 0xfff)
}

/// A project whose databases are torn down (data included) when the test ends, pass or fail.
pub struct Live {
    pub project: Project,
    pub name: String,
    pub runtime: &'static str,
    pub home: PathBuf,
}

impl Live {
    pub fn new(prefix: &str, runtime: &'static str, manifest: &str) -> Self {
        let project = Project::with_manifest(manifest);
        let home = project
            .dir
            .parent()
            .expect("temp dir")
            .join("provision-home");
        Self {
            project,
            name: unique(prefix),
            runtime,
            home,
        }
    }

    /// `provision -p NAME --runtime R ARGS...`, with native data in the test's temp dir
    /// (`home`, which [`Run::new`] sets for every run).
    pub fn cmd(&self, args: &[&str]) -> Run {
        let mut all = vec!["-p", &self.name, "--runtime", self.runtime];
        all.extend_from_slice(args);
        self.project.cmd(&all)
    }

    /// Runs and insists on success, showing everything when it fails.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output();
        assert_eq!(
            out.code,
            Some(0),
            "provision {args:?} failed:\n{}",
            out.snapshot()
        );
        out
    }

    /// The link variables as a map (`env --format json`).
    pub fn vars(&self, extra: &[&str]) -> std::collections::BTreeMap<String, String> {
        let mut args = vec!["env", "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.ok(&args);
        serde_json::from_str(&out.stdout).expect("env --format json prints JSON")
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.cmd(&["down", "--volumes", "--yes", "-q"]).output();
    }
}

/// Runs a real client program; fails the test loudly when it is not installed.
pub fn client(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` (tests/support/ensure-all.sh installs it): {e}")
        });
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
