//! The engine's own tools, run where the server is: `pg_dump`, `mariadb-dump`, `redis-cli`
//! and friends, inside the database's container through the Engine API's exec (no client on
//! the host), or beside the native binaries. What each engine runs is data
//! (`data:` in `templates/*.yml`); this module only fills it in and streams bytes through.
//!
//! Passwords never go on a command line: an environment variable the tool reads
//! (`PGPASSWORD`, `REDISCLI_AUTH`), or, for the MySQL tools, an option file the tool reads
//! as `/dev/fd/3`, written by a `sh` here-document from an environment variable that the
//! wrapper unsets before it runs the tool (no file on disk, nothing in `ps`).

use std::path::PathBuf;
use std::time::Instant;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::{Live, Runtime, Spec};
use crate::catalog::DataTools;
use crate::error::{DataError, Error};
use crate::stream::copy;

/// Runs the tool with fd 3 open on the option file (when there is one): `sh -c WRAPPER sh PROGRAM ARGS...`.
const WRAPPER: &str = "exec 3<<PROVISION_EOF\n$PROVISION_OPTIONS\nPROVISION_EOF\nunset PROVISION_OPTIONS\nexec \"$@\"\n";

/// The last bytes of a tool's stderr kept for its error message.
const STDERR_KEPT: usize = 16 * 1024;

/// Where a tool's stdin comes from.
#[allow(missing_debug_implementations, reason = "holds a reader")]
pub enum Input {
    None,
    Reader(Box<dyn AsyncRead + Send + Unpin>),
    Bytes(Vec<u8>),
}

/// Where a tool's stdout goes.
#[allow(missing_debug_implementations, reason = "holds a writer")]
pub enum Sink {
    /// Kept, for small outputs (a count, a version).
    Capture,
    Writer(Box<dyn AsyncWrite + Send + Unpin>),
}

/// How a tool ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: i64,
    pub stderr: String,
    pub stdout: Vec<u8>,
    /// Bytes copied in each direction.
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub took: std::time::Duration,
}

/// The tools of `spec`'s engine, or an error saying it keeps no data.
pub fn tools<'a>(spec: &Spec<'a>) -> Result<&'a DataTools, Error> {
    spec.template.data.as_ref().ok_or_else(|| {
        DataError::NoData {
            resource: spec.resource.name.clone(),
            title: spec.template.title.clone(),
        }
        .into()
    })
}

/// A running database's address as the tools see it: inside the container, the server's own
/// port on its loopback; natively, the published port.
struct At {
    host: &'static str,
    port: u16,
    tls_dir: String,
}

fn at(runtime: &Runtime, spec: &Spec<'_>, live: &Live) -> Result<At, Error> {
    let tls_dir = match runtime {
        Runtime::Docker(_) => spec
            .template
            .tls
            .as_ref()
            .map(|t| t.container_dir.clone())
            .unwrap_or_default(),
        Runtime::Native(_) => crate::tls::Store::of(spec.project)
            .local_ca_file()
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    let port = match runtime {
        Runtime::Docker(_) => spec.local.container_port,
        Runtime::Native(_) => live.port.ok_or_else(|| Error::NotUp {
            resource: spec.resource.name.clone(),
            cloud: false,
        })?,
    };
    Ok(At {
        host: super::runtime::LOCALHOST,
        port,
        tls_dir,
    })
}

/// The program and arguments with the placeholders filled, and the environment that carries
/// the password.
fn command(
    spec: &Spec<'_>,
    live: &Live,
    tools: &DataTools,
    argv: &[String],
    at: &At,
) -> (Vec<String>, Vec<(String, String)>) {
    let password = live
        .password
        .as_ref()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    let fill = |a: &str| {
        a.replace("{host}", at.host)
            .replace("{port}", &at.port.to_string())
            .replace(
                "{username}",
                spec.resource.username.as_deref().unwrap_or_default(),
            )
            .replace(
                "{database}",
                spec.resource.database.as_deref().unwrap_or_default(),
            )
            .replace("{options}", "/dev/fd/3")
            .replace("{tls_dir}", &at.tls_dir)
    };
    let mut filled: Vec<String> = argv.iter().map(|a| fill(a)).collect();
    let tls = live.tls.is_some();
    if tls && !tools.tls_args.is_empty() && filled.len() > 1 {
        let extra: Vec<String> = tools.tls_args.iter().map(|a| fill(a)).collect();
        filled.splice(1..1, extra);
    }
    let mut env = Vec::new();
    let options = argv.iter().any(|a| a.contains("{options}"));
    if options {
        env.push((
            "PROVISION_OPTIONS".to_owned(),
            mysql_options(spec, &password, at, tls, &filled),
        ));
    }
    if let Some(var) = &tools.password_env
        && !password.is_empty()
    {
        env.push((var.clone(), password));
    }
    if tls && spec.template.probe == crate::catalog::Probe::Postgres {
        env.push(("PGSSLMODE".to_owned(), "require".to_owned()));
    }
    (filled, env)
}

/// The MySQL tools' option file: the connection and the password (quoted, as option files
/// allow), and TLS in the spelling of the client family.
fn mysql_options(spec: &Spec<'_>, password: &str, at: &At, tls: bool, args: &[String]) -> String {
    let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut text = format!(
        "[client]\nhost={}\nport={}\nuser={}\npassword={}\n",
        quote(at.host),
        at.port,
        quote(spec.resource.username.as_deref().unwrap_or_default()),
        quote(password)
    );
    if tls {
        let mariadb = args.first().is_some_and(|p| p.starts_with("mariadb"));
        text.push_str(if mariadb {
            "ssl\n"
        } else {
            "ssl-mode=REQUIRED\n"
        });
    }
    text
}

/// Runs one of the engine's tools against the running database.
pub async fn run_tool(
    runtime: &Runtime,
    spec: &Spec<'_>,
    live: &Live,
    argv: &[String],
    input: Input,
    sink: Sink,
) -> Result<Outcome, Error> {
    let tools = tools(spec)?;
    let at = at(runtime, spec, live)?;
    let (program, env) = command(spec, live, tools, argv, &at);
    match runtime {
        Runtime::Docker(d) => {
            exec(
                d,
                spec,
                &spec.local.container,
                None,
                program,
                env,
                input,
                sink,
            )
            .await
        }
        Runtime::Native(_) => spawn(spec, program, env, input, sink).await,
    }
}

/// Runs a shell script on the stopped database's data directory (`$1`), `input` on its
/// stdin: in a short-lived container of the database's image with its volume mounted, or
/// natively on the data directory.
pub async fn offline_script(
    runtime: &Runtime,
    spec: &Spec<'_>,
    script: &str,
    input: Input,
) -> Result<Outcome, Error> {
    offline(runtime, spec, script, &[], None, input).await
}

/// A second place an offline step reads or writes besides the data: a Docker volume mounted
/// in the helper container at `mount`, or a directory on this machine.
#[derive(Debug, Clone)]
pub enum Beside {
    Volume { volume: String, mount: String },
    Dir(PathBuf),
}

/// [`offline_script`] with more arguments after the data directory (`$2`...) and, when
/// `beside` is given, its place as the first of them.
pub async fn offline(
    runtime: &Runtime,
    spec: &Spec<'_>,
    script: &str,
    extra: &[String],
    beside: Option<&Beside>,
    input: Input,
) -> Result<Outcome, Error> {
    let session = Offline::start(runtime, spec, beside).await?;
    let result = session.run(script, extra, input).await;
    session.finish().await?;
    result
}

/// Several offline steps in one place: on Docker one short-lived helper container of the
/// database's image, as root, with the data (and `beside`) mounted; natively this machine.
/// Each [`Offline::run`] gets the data directory as `$1`, `beside` as `$2`, then its own
/// arguments. The building block of every step that changes the data's files while no
/// server runs (a Redis restore, a snapshot, a swap of the data by renames).
#[derive(Debug)]
pub struct Offline<'a> {
    runtime: &'a Runtime,
    spec: &'a Spec<'a>,
    helper: Option<String>,
    head: Vec<String>,
}

impl<'a> Offline<'a> {
    pub async fn start(
        runtime: &'a Runtime,
        spec: &'a Spec<'a>,
        beside: Option<&Beside>,
    ) -> Result<Self, Error> {
        match runtime {
            Runtime::Docker(d) => {
                let path = d.data_path_of(spec)?;
                let mut head = vec![path.clone()];
                let mut more = Vec::new();
                if let Some(Beside::Volume { volume, mount }) = beside {
                    head.push(mount.clone());
                    more.push(format!("{volume}:{mount}"));
                }
                let helper = d.start_data_helper_with(spec, &path, &more).await?;
                Ok(Self {
                    runtime,
                    spec,
                    helper: Some(helper),
                    head,
                })
            }
            Runtime::Native(n) => {
                let mut head = vec![n.data_dir(spec).display().to_string()];
                if let Some(Beside::Dir(dir)) = beside {
                    head.push(dir.display().to_string());
                }
                Ok(Self {
                    runtime,
                    spec,
                    helper: None,
                    head,
                })
            }
        }
    }

    /// Runs `script` (sh) with the data directory, `beside` and `extra` as its arguments.
    pub async fn run(
        &self,
        script: &str,
        extra: &[String],
        input: Input,
    ) -> Result<Outcome, Error> {
        let mut args = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            script.to_owned(),
            "sh".to_owned(),
        ];
        args.extend(self.head.iter().cloned());
        args.extend(extra.iter().cloned());
        match (self.runtime, &self.helper) {
            (Runtime::Docker(d), Some(helper)) => {
                exec(
                    d,
                    self.spec,
                    helper,
                    None,
                    args,
                    Vec::new(),
                    input,
                    Sink::Capture,
                )
                .await
            }
            _ => spawn(self.spec, args, Vec::new(), input, Sink::Capture).await,
        }
    }

    /// Removes the helper container (a killed run leaves it; the next one replaces it).
    pub async fn finish(self) -> Result<(), Error> {
        match (self.runtime, &self.helper) {
            (Runtime::Docker(d), Some(helper)) => d.remove_data_helper(helper).await,
            _ => Ok(()),
        }
    }
}

/// Runs a shell script where the running server is (in its container, as the server's
/// account when `as_server`, else as the exec's default; or on this machine), with `env`
/// added and `input` on stdin; no placeholders are filled.
pub async fn shell(
    runtime: &Runtime,
    spec: &Spec<'_>,
    script: &str,
    args: &[String],
    env: Vec<(String, String)>,
    input: Input,
    as_server: bool,
) -> Result<Outcome, Error> {
    let mut command = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "sh".to_owned(),
    ];
    command.extend(args.iter().cloned());
    match runtime {
        Runtime::Docker(d) => {
            let user = if as_server {
                d.script_user(spec).await?
            } else {
                None
            };
            exec(
                d,
                spec,
                &spec.local.container,
                user,
                command,
                env,
                input,
                Sink::Capture,
            )
            .await
        }
        Runtime::Native(_) => spawn(spec, command, env, input, Sink::Capture).await,
    }
}

/// The values a seed script's environment is filled from (`data.script_env` in the
/// template): the same address and credentials the tools use.
pub fn script_env(
    runtime: &Runtime,
    spec: &Spec<'_>,
    live: &Live,
) -> Result<Vec<(String, String)>, Error> {
    let tools = tools(spec)?;
    let at = at(runtime, spec, live)?;
    let password = live
        .password
        .as_ref()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    let fill = |v: &str| {
        v.replace("{host}", at.host)
            .replace("{port}", &at.port.to_string())
            .replace(
                "{username}",
                spec.resource.username.as_deref().unwrap_or_default(),
            )
            .replace(
                "{database}",
                spec.resource.database.as_deref().unwrap_or_default(),
            )
            .replace("{password}", &password)
            .replace("{tls_dir}", &at.tls_dir)
    };
    let mut env: Vec<(String, String)> = tools
        .script_env
        .iter()
        .map(|(k, v)| (k.clone(), fill(v)))
        .collect();
    if live.tls.is_some() {
        env.extend(
            tools
                .script_tls_env
                .iter()
                .map(|(k, v)| (k.clone(), fill(v))),
        );
    }
    Ok(env)
}

fn failed(spec: &Spec<'_>, program: &str, what: &str, source: std::io::Error) -> Error {
    DataError::Stream {
        resource: spec.resource.name.clone(),
        program: program.to_owned(),
        what: what.to_owned(),
        source,
    }
    .into()
}

/// Keeps the last `STDERR_KEPT` bytes.
fn keep_tail(buffer: &mut Vec<u8>, bytes: &[u8]) {
    buffer.extend_from_slice(bytes);
    if buffer.len() > STDERR_KEPT {
        let cut = buffer.len() - STDERR_KEPT;
        buffer.drain(..cut);
    }
}

/// Copies `input` into `to`, then closes it (the tool sees end of file).
async fn feed(input: Input, mut to: impl AsyncWrite + Unpin) -> std::io::Result<u64> {
    let copied = match input {
        Input::None => 0,
        Input::Bytes(b) => {
            to.write_all(&b).await?;
            b.len() as u64
        }
        Input::Reader(mut r) => copy(&mut r, &mut to).await?,
    };
    to.shutdown().await?;
    Ok(copied)
}

/// Reads a data tool's output to its end: stdout to the sink, the tail of stderr kept for
/// the error message. Returns (captured stdout, stderr tail, stdout bytes).
async fn drain(
    mut output: impl futures_util::Stream<
        Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
    > + Unpin,
    sink: Sink,
    spec: &Spec<'_>,
    program: &str,
) -> Result<(Vec<u8>, Vec<u8>, u64), Error> {
    let mut stderr = Vec::new();
    let mut stdout = Vec::new();
    let mut out_bytes = 0u64;
    let mut sink = sink;
    while let Some(frame) = output.next().await {
        match frame
            .map_err(|e| failed(spec, program, "read its output", std::io::Error::other(e)))?
        {
            bollard::container::LogOutput::StdOut { message }
            | bollard::container::LogOutput::Console { message } => {
                out_bytes += message.len() as u64;
                match &mut sink {
                    Sink::Capture => stdout.extend_from_slice(&message),
                    Sink::Writer(w) => w
                        .write_all(&message)
                        .await
                        .map_err(|e| failed(spec, program, "write its output", e))?,
                }
            }
            bollard::container::LogOutput::StdErr { message } => {
                keep_tail(&mut stderr, &message);
            }
            bollard::container::LogOutput::StdIn { .. } => {}
        }
    }
    if let Sink::Writer(w) = &mut sink {
        w.flush()
            .await
            .map_err(|e| failed(spec, program, "write its output", e))?;
    }
    Ok((stdout, stderr, out_bytes))
}

#[allow(
    clippy::too_many_arguments,
    reason = "one exec, every part of it named"
)]
async fn exec(
    docker: &super::docker::DockerRuntime,
    spec: &Spec<'_>,
    container: &str,
    user: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    input: Input,
    sink: Sink,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let program = args.first().cloned().unwrap_or_default();
    let mut cmd = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        WRAPPER.to_owned(),
        "sh".to_owned(),
    ];
    cmd.extend(args);
    let client = docker.client();
    let call = |op: &'static str| super::docker::call(op, container);
    let created = client
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdin: Some(!matches!(input, Input::None)),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd),
                user,
                env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                ..Default::default()
            },
        )
        .await
        .map_err(call("run a data tool in"))?;
    let started_exec = client
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: Some(1 << 20),
            }),
        )
        .await
        .map_err(call("run a data tool in"))?;
    let StartExecResults::Attached {
        output,
        input: stdin,
    } = started_exec
    else {
        return Err(call("attach to a data tool in")(
            bollard::errors::Error::DockerResponseServerError {
                status_code: 500,
                message: "the exec started detached".to_owned(),
            },
        ));
    };
    let feeding = async {
        if matches!(input, Input::None) {
            drop(stdin);
            Ok(0)
        } else {
            feed(input, stdin).await
        }
    };
    let draining = drain(output, sink, spec, &program);
    let (fed, drained) = tokio::join!(feeding, draining);
    let (stdout, stderr, bytes_out) = drained?;
    let inspected = client
        .inspect_exec(&created.id)
        .await
        .map_err(call("read the exit code of a data tool in"))?;
    let code = inspected.exit_code.unwrap_or(-1);
    let output = Output {
        stdout,
        stderr,
        bytes_out,
    };
    Outcome::of(code, fed, output, started, spec, &program)
}

/// The native tools: the server's own binary directory first on `PATH` (Debian keeps
/// `pg_dump` beside `postgres`, not on `PATH`).
async fn spawn(
    spec: &Spec<'_>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    input: Input,
    sink: Sink,
) -> Result<Outcome, Error> {
    use std::process::Stdio;
    let started = Instant::now();
    let program = args.first().cloned().unwrap_or_default();
    let mut path: Vec<PathBuf> = super::native::binary_dir(spec).into_iter().collect();
    if let Some(p) = std::env::var_os("PATH") {
        path.extend(std::env::split_paths(&p));
    }
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(WRAPPER)
        .arg("sh")
        .args(&args)
        .envs(env)
        .env("PATH", std::env::join_paths(path).unwrap_or_default())
        .stdin(if matches!(input, Input::None) {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| failed(spec, &program, "start it", e))?;
    let stdin = child.stdin.take();
    let mut stdout_pipe = child.stdout.take();
    let mut stderr_pipe = child.stderr.take();
    let feeding = async {
        match stdin {
            Some(s) => feed(input, s).await,
            None => Ok(0),
        }
    };
    let draining = async {
        let mut stdout = Vec::new();
        let mut bytes = 0u64;
        let mut sink = sink;
        if let Some(out) = stdout_pipe.as_mut() {
            match &mut sink {
                Sink::Capture => {
                    out.read_to_end(&mut stdout).await?;
                    bytes = stdout.len() as u64;
                }
                Sink::Writer(w) => {
                    bytes = copy(out, w).await?;
                    w.flush().await?;
                }
            }
        }
        Ok::<_, std::io::Error>((stdout, bytes))
    };
    let collecting = async {
        let mut stderr = Vec::new();
        if let Some(err) = stderr_pipe.as_mut() {
            let _ = err.read_to_end(&mut stderr).await;
        }
        let cut = stderr.len().saturating_sub(STDERR_KEPT);
        stderr.drain(..cut);
        stderr
    };
    let (fed, drained, stderr) = tokio::join!(feeding, draining, collecting);
    let (stdout, bytes_out) = drained.map_err(|e| failed(spec, &program, "copy its output", e))?;
    let status = child
        .wait()
        .await
        .map_err(|e| failed(spec, &program, "wait for it", e))?;
    let code = i64::from(status.code().unwrap_or(-1));
    let output = Output {
        stdout,
        stderr,
        bytes_out,
    };
    Outcome::of(code, fed, output, started, spec, &program)
}

/// An outcome that failed, as an error naming the tool and its last words.
pub fn check(spec: &Spec<'_>, what: &str, argv: &[String], outcome: &Outcome) -> Result<(), Error> {
    if outcome.code == 0 {
        return Ok(());
    }
    Err(DataError::ToolFailed {
        resource: spec.resource.name.clone(),
        what: what.to_owned(),
        program: argv.first().cloned().unwrap_or_default(),
        code: outcome.code,
        stderr: outcome.stderr.trim().to_owned(),
    }
    .into())
}

/// `PROVISION_TEST_CRASH_AT=<step>`: aborts the process at that named step, as a SIGKILL
/// would, so tests can cut a data change at exact points. Unset in normal use.
pub fn crash_point(step: &str) {
    if std::env::var("PROVISION_TEST_CRASH_AT").is_ok_and(|s| s == step) {
        eprintln!("provision: PROVISION_TEST_CRASH_AT={step}: aborting here");
        std::process::abort();
    }
}

/// What a tool wrote: stdout (when captured), the tail of stderr, and how much stdout carried.
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    bytes_out: u64,
}

impl Outcome {
    /// How a tool ended, on either runtime. A tool that stops reading (it failed) breaks the
    /// pipe: its own exit code and error say why, not the broken pipe.
    fn of(
        code: i64,
        fed: std::io::Result<u64>,
        output: Output,
        started: Instant,
        spec: &Spec<'_>,
        program: &str,
    ) -> Result<Self, Error> {
        let bytes_in = match fed {
            Ok(n) => n,
            Err(_) if code != 0 => 0,
            Err(e) => return Err(failed(spec, program, "send it the input", e)),
        };
        Ok(Self {
            code,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            stdout: output.stdout,
            bytes_in,
            bytes_out: output.bytes_out,
            took: started.elapsed(),
        })
    }
}
