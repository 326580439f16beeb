//! `x-provision.seed`: a file or a directory of files (applied in name order) run by the
//! engine's own client against the database: `.sql` and `.sql.gz` (Postgres in one
//! transaction, stopping at the first error), `.sh` (run where the server is, as the official
//! images run their init scripts), `.redis` (Redis commands, one a line) and `.rdb` (a Redis
//! RDB file, loaded by the crash-safe offline restore). A file that fails names itself and the
//! engine's own message with its line; the database is then emptied again, so a retry starts
//! from clean rather than half-seeded.
//!
//! Applied once, automatically, by `up` (and `start`) right after the data is first made
//! and answers. Whether it is due is recorded with the data itself, so that what keeps the
//! data keeps the record and what deletes the data deletes it too:
//! - Docker: a volume provision makes for new data carries `dev.provision.seed=pending`
//!   (labels cannot change later), and a file `.provision-seed` at the top of the volume
//!   says `started`, `done` or `pending` once there is one. `down` keeps the volume and so
//!   the record; `down --volumes` deletes both, and the new empty volume is pending again.
//!   Volumes from before seeding existed, and data in the Compose file's own volume or bind
//!   mount, carry no label: they are never seeded unasked.
//! - Native: a file `seed` in the database's directory, written `pending` before the data
//!   directory is first initialised; `down --volumes` deletes the directory with it.
//!
//! A snapshot copies the volume's top, marker included, so restored data is as seeded as it
//! was when saved.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::data::{self, Input, Sink};
use super::workflows::{Picked, wipe_at};
use super::{Live, Runtime, Spec};
use crate::error::{DataError, Error};
use crate::progress::Progress;

/// In the top of a Docker data volume: where the database stands with its seed.
const DOCKER_MARK: &str = ".provision-seed";
/// In a native database's directory.
const NATIVE_MARK: &str = "seed";
/// Seconds a server restarted by an RDB seed has to answer again.
const RESTART_TIMEOUT: u64 = 60;

/// Where a database stands with its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// New data: the seed has not been applied.
    Due,
    /// A seed began and did not end (killed): the data may be half-seeded.
    Started,
    Done,
}

impl Mark {
    fn word(self) -> &'static str {
        match self {
            Self::Due => "pending",
            Self::Started => "started",
            Self::Done => "done",
        }
    }

    fn of_word(word: &str) -> Option<Self> {
        match word.trim() {
            "pending" => Some(Self::Due),
            "started" => Some(Self::Started),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

/// Records, natively, that a data directory about to be initialised is new: its seed is due.
pub fn mark_new_native(dir: &Path) -> std::io::Result<()> {
    write_atomically(&dir.join(NATIVE_MARK), Mark::Due.word())
}

/// Written aside and renamed over. The aside name is this process's own: two `up`s of one
/// project at once both record the mark, and with one shared aside file the second rename
/// found the first had taken it (ENOENT).
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let aside = path.with_extension(format!("partial.{}", std::process::id()));
    std::fs::write(&aside, text)?;
    std::fs::rename(&aside, path)
}

async fn read_mark(runtime: &Runtime, spec: &Spec<'_>) -> Result<Mark, Error> {
    match runtime {
        Runtime::Docker(d) => {
            let path = d.data_path_of(spec)?;
            let o = data::shell(
                runtime,
                spec,
                "cat \"$1/$2\" 2>/dev/null || :",
                &[path, DOCKER_MARK.to_owned()],
                Vec::new(),
                Input::None,
                false,
            )
            .await?;
            data::check(spec, "read its seed marker", &["sh".to_owned()], &o)?;
            if let Some(mark) = Mark::of_word(&String::from_utf8_lossy(&o.stdout)) {
                return Ok(mark);
            }
            Ok(if d.seed_due(spec).await? {
                Mark::Due
            } else {
                Mark::Done
            })
        }
        Runtime::Native(n) => {
            let path = native_mark(n, spec);
            Ok(std::fs::read_to_string(path)
                .ok()
                .and_then(|w| Mark::of_word(&w))
                .unwrap_or(Mark::Done))
        }
    }
}

fn native_mark(n: &super::native::NativeRuntime, spec: &Spec<'_>) -> PathBuf {
    let data = n.data_dir(spec);
    data.parent().unwrap_or(&data).join(NATIVE_MARK)
}

async fn write_mark(runtime: &Runtime, spec: &Spec<'_>, mark: Mark) -> Result<(), Error> {
    match runtime {
        Runtime::Docker(d) => {
            let path = d.data_path_of(spec)?;
            // Written aside and renamed, owned like the volume's top (the server's account).
            let script = "set -e; printf '%s\\n' \"$3\" > \"$1/$2.partial\"; chown \"$(stat -c %u:%g \"$1\")\" \"$1/$2.partial\" 2>/dev/null || :; mv -f \"$1/$2.partial\" \"$1/$2\"";
            let o = data::shell(
                runtime,
                spec,
                script,
                &[path, DOCKER_MARK.to_owned(), mark.word().to_owned()],
                Vec::new(),
                Input::None,
                false,
            )
            .await?;
            data::check(spec, "record its seed", &["sh".to_owned()], &o)
        }
        Runtime::Native(n) => {
            let path = native_mark(n, spec);
            write_atomically(&path, mark.word()).map_err(|source| {
                DataError::File {
                    op: "record the seed in",
                    path,
                    source,
                }
                .into()
            })
        }
    }
}

/// The seed files under `path` (a file, or a directory's files in name order).
pub fn files_at(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let error = |source| DataError::File {
        op: "read the seed",
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(error)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        Ok(files)
    } else {
        std::fs::metadata(path).map_err(error)?;
        Ok(vec![path.to_owned()])
    }
}

/// The seed files of a database, in the order they are applied; none without a seed.
pub fn files(spec: &Spec<'_>) -> Result<Vec<PathBuf>, Error> {
    spec.local.seed.as_deref().map_or(Ok(Vec::new()), files_at)
}

/// Files the image's own entrypoint already ran from a Compose bind mount into its init
/// directory (`/docker-entrypoint-initdb.d`) when it made the data: not applied again.
fn run_by_image(spec: &Spec<'_>, file: &Path) -> bool {
    let Some(init) = spec
        .template
        .data
        .as_ref()
        .and_then(|t| t.init_dir.as_deref())
    else {
        return false;
    };
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
    spec.local.mounts.iter().any(|m| {
        let into_init = m.target == init || m.target.starts_with(&format!("{init}/"));
        let host = m
            .host_path
            .as_ref()
            .map(|h| std::fs::canonicalize(h).unwrap_or_else(|_| h.clone()));
        m.kind == crate::manifest::MountKind::Bind
            && into_init
            && host.is_some_and(|h| file.starts_with(h))
    })
}

/// After `up` made a database answer: applies its seed if its data is new (or a seed was
/// cut short, after emptying it again), and records that it was. A failing file stops with
/// its name and the engine's line; the database is emptied and stays due for the next `up`.
pub async fn first_up(
    runtime: &Runtime,
    spec: &Spec<'_>,
    progress: &Progress,
    timeout: Duration,
) -> Result<(), Error> {
    if spec.template.data.is_none() || spec.local.volume.is_none() {
        return Ok(());
    }
    let mark = read_mark(runtime, spec).await?;
    if mark == Mark::Done {
        return Ok(());
    }
    let name = spec.resource.name.as_str();
    let live = runtime.inspect(spec).await?;
    let mut files = files(spec)?;
    if matches!(runtime, Runtime::Docker(_)) {
        let before = files.len();
        files.retain(|f| !run_by_image(spec, f));
        if files.len() < before {
            progress.say(
                name,
                &format!(
                    "{} seed file(s) ran from the image's {} already",
                    before - files.len(),
                    spec.template
                        .data
                        .as_ref()
                        .and_then(|t| t.init_dir.as_deref())
                        .unwrap_or_default()
                ),
            );
        }
    }
    if mark == Mark::Started {
        progress.say(name, "an earlier seed did not finish: emptying it first");
        wipe_at(runtime, spec, &live).await?;
    }
    if files.is_empty() {
        return write_mark(runtime, spec, Mark::Done).await;
    }
    write_mark(runtime, spec, Mark::Started).await?;
    data::crash_point("seed-started");
    match apply_at(runtime, spec, &live, &files, progress, timeout).await {
        Ok(()) => {
            data::crash_point("seed-applied");
            write_mark(runtime, spec, Mark::Done).await
        }
        Err(e) => {
            // Emptied by `apply_at`: due again, so the next `up` retries from clean.
            let _ = write_mark(runtime, spec, Mark::Due).await;
            Err(e)
        }
    }
}

/// What kind of seed file this is for the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sql,
    SqlGz,
    Script,
    Redis,
    Rdb,
}

fn kind(spec: &Spec<'_>, file: &Path) -> Option<Kind> {
    let text = file.display().to_string().to_ascii_lowercase();
    let sql = spec.template.sql;
    let offline = spec
        .template
        .data
        .as_ref()
        .is_some_and(|t| t.restore_offline.is_some());
    if has_suffix(&text, ".sh") {
        Some(Kind::Script)
    } else if sql && has_suffix(&text, ".sql.gz") {
        Some(Kind::SqlGz)
    } else if sql && has_suffix(&text, ".sql") {
        Some(Kind::Sql)
    } else if !sql && has_suffix(&text, ".redis") {
        Some(Kind::Redis)
    } else if offline && has_suffix(&text, ".rdb") {
        Some(Kind::Rdb)
    } else {
        None
    }
}

/// Applies every seed file; on a failure, empties the database again and reports the file.
pub async fn apply(p: &Picked<'_>, files: &[PathBuf], progress: &Progress) -> Result<(), Error> {
    apply_at(
        &p.runtime,
        &p.spec,
        &p.live,
        files,
        progress,
        Duration::from_secs(RESTART_TIMEOUT),
    )
    .await
}

/// [`apply`] on a database given by its parts (what `up` has at hand).
pub async fn apply_at(
    runtime: &Runtime,
    spec: &Spec<'_>,
    live: &Live,
    files: &[PathBuf],
    progress: &Progress,
    timeout: Duration,
) -> Result<(), Error> {
    let name = spec.resource.name.as_str();
    // Every file's kind first: a file that cannot be applied stops before any is.
    let mut kinds = Vec::with_capacity(files.len());
    for file in files {
        kinds.push(kind(spec, file).ok_or_else(|| DataError::SeedKind {
            resource: name.to_owned(),
            file: file.clone(),
        })?);
    }
    let mut live = live.clone();
    for (file, kind) in files.iter().zip(kinds) {
        let failed = match kind {
            Kind::Rdb => {
                let reader = open(file).await?;
                let script = data::tools(spec)?
                    .restore_offline
                    .clone()
                    .unwrap_or_default();
                match super::workflows::load_offline(
                    runtime, spec, &script, reader, progress, timeout,
                )
                .await
                {
                    Ok(_) => {
                        live = runtime.inspect(spec).await?;
                        None
                    }
                    // The RDB was refused (not an RDB file): the old data is untouched.
                    Err(Error::Data(e)) => match *e {
                        DataError::ToolFailed { code, stderr, .. } => {
                            Some((code, stderr.trim().to_owned()))
                        }
                        other => return Err(other.into()),
                    },
                    Err(e) => return Err(e),
                }
            }
            Kind::Script => script(runtime, spec, &live, file).await?,
            Kind::Sql | Kind::SqlGz | Kind::Redis => {
                client_file(runtime, spec, &live, file, kind).await?
            }
        };
        if let Some((code, detail)) = failed {
            let _ = wipe_at(runtime, spec, &live).await;
            return Err(DataError::SeedFailed {
                resource: name.to_owned(),
                file: file.clone(),
                code,
                detail,
            }
            .into());
        }
        progress.say(name, &format!("seeded from {}", file.display()));
    }
    Ok(())
}

async fn open(file: &Path) -> Result<Input, Error> {
    let reader = tokio::fs::File::open(file)
        .await
        .map_err(|source| DataError::File {
            op: "open",
            path: file.to_owned(),
            source,
        })?;
    Ok(Input::Reader(Box::new(reader)))
}

/// A `.sql`, `.sql.gz` or `.redis` file through the engine's client. `Some` when it failed:
/// the exit code and the engine's own words, with the file's name where the tool says
/// `<stdin>`.
async fn client_file(
    runtime: &Runtime,
    spec: &Spec<'_>,
    live: &Live,
    file: &Path,
    kind: Kind,
) -> Result<Option<(i64, String)>, Error> {
    let tools = data::tools(spec)?;
    let argv: Vec<String> = if kind == Kind::SqlGz {
        let mut a = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "gzip -dc | \"$@\"".to_owned(),
            "sh".to_owned(),
        ];
        a.extend(tools.run.iter().cloned());
        a
    } else {
        tools.run.clone()
    };
    let o = data::run_tool(runtime, spec, live, &argv, open(file).await?, Sink::Capture).await?;
    let stdout = String::from_utf8_lossy(&o.stdout);
    // redis-cli reading commands goes on after an error and exits 0: its replies say.
    let redis_error = (kind == Kind::Redis)
        .then(|| {
            stdout
                .lines()
                .enumerate()
                .find(|(_, l)| {
                    l.starts_with("ERR") || l.starts_with("WRONGTYPE") || l.starts_with("(error)")
                })
                .map(|(n, l)| format!("reply {}: {l}", n + 1))
        })
        .flatten();
    if o.code == 0 && redis_error.is_none() {
        return Ok(None);
    }
    let detail = redis_error.unwrap_or_else(|| {
        o.stderr
            .replace("<stdin>", &file.display().to_string())
            .trim()
            .to_owned()
    });
    Ok(Some((o.code, detail)))
}

/// Runs a `.sh` seed file where the server is, as the official images run the `.sh` files of
/// `/docker-entrypoint-initdb.d`: an executable file is run, any other is sourced by bash
/// (`set -Eeo pipefail`, sh without bash) after the template's `docker_process_sql`; with the
/// template's variables (`POSTGRES_USER`, `PGHOST`, ...). In a container it runs as the
/// server's account, natively as this user.
const SCRIPT_RUNNER: &str = r#"d=$1; n=$2; how=$3
rm -rf "$d"; mkdir -p "$d"; f="$d/$n"
cat > "$f"
status=0
if [ "$how" = run ]; then
  chmod 0755 "$f"; "$f" || status=$?
elif command -v bash >/dev/null 2>&1; then
  bash -Eeo pipefail -c "$PROVISION_FUNCTIONS
. \"\$1\"" bash "$f" || status=$?
else
  sh -e -c "$PROVISION_FUNCTIONS
. \"\$1\"" sh "$f" || status=$?
fi
rm -rf "$d"
exit $status
"#;

async fn script(
    runtime: &Runtime,
    spec: &Spec<'_>,
    live: &Live,
    file: &Path,
) -> Result<Option<(i64, String)>, Error> {
    use std::os::unix::fs::PermissionsExt as _;
    let tools = data::tools(spec)?;
    let executable = std::fs::metadata(file)
        .map_err(|source| DataError::File {
            op: "read",
            path: file.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o111
        != 0;
    let dir = match runtime {
        Runtime::Docker(_) => "/tmp/provision-seed".to_owned(),
        Runtime::Native(n) => {
            let data = n.data_dir(spec);
            data.parent()
                .unwrap_or(&data)
                .join("seed-run")
                .display()
                .to_string()
        }
    };
    let base = file.file_name().map_or_else(
        || "seed.sh".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut env = data::script_env(runtime, spec, live)?;
    env.push((
        "PROVISION_FUNCTIONS".to_owned(),
        tools.script_functions.clone(),
    ));
    let how = if executable { "run" } else { "source" };
    let o = data::shell(
        runtime,
        spec,
        SCRIPT_RUNNER,
        &[dir.clone(), base.clone(), how.to_owned()],
        env,
        open(file).await?,
        true,
    )
    .await?;
    if o.code == 0 {
        return Ok(None);
    }
    // The shell names the copy it ran; the developer knows the file by its own path.
    let detail = o
        .stderr
        .replace(&format!("{dir}/{base}"), &file.display().to_string())
        .trim()
        .to_owned();
    Ok(Some((o.code, detail)))
}

/// After `reset`: the seed again, when the manifest has one, recorded like the first.
pub async fn after_reset(p: &Picked<'_>, progress: &Progress) -> Result<(), Error> {
    let files = files(&p.spec)?;
    applied(p, apply(p, &files, progress).await).await
}

/// Records the result of an on-demand seed: done, or due again (the database was emptied).
async fn applied(p: &Picked<'_>, result: Result<(), Error>) -> Result<(), Error> {
    let mark = if result.is_ok() {
        Mark::Done
    } else {
        Mark::Due
    };
    if p.spec.local.volume.is_some() {
        let write = write_mark(&p.runtime, &p.spec, mark).await;
        result?;
        return write;
    }
    result
}

/// `provision seed DB`: applies the seed on demand.
pub async fn seed(session: &crate::session::Session, database: &str) -> Result<(), Error> {
    let (_, plan) = session.plan(crate::plan::Target::Local)?;
    let p = super::workflows::pick(session, &plan, database).await?;
    if p.live.state != super::State::Running {
        return Err(Error::NotUp {
            resource: database.to_owned(),
            cloud: false,
        });
    }
    let files = files(&p.spec)?;
    let progress = Progress::new(session.quiet, &[database]);
    if files.is_empty() {
        progress.say(
            database,
            "no `x-provision.seed` in the manifest: nothing to apply",
        );
    }
    applied(&p, apply(&p, &files, &progress).await).await
}

/// `name` (lower case) ends in `suffix`.
fn has_suffix(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len() && name.get(name.len() - suffix.len()..) == Some(suffix)
}
