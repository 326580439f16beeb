//! `provision snapshot save|list|restore|rm`: local branches of data. A snapshot is a copy
//! of a stopped database's data (`cp -a --reflink=auto`, so a filesystem with reflinks
//! shares the blocks until either side changes them), kept beside the data:
//! - Docker: a volume `{project}-{resource}-snapshot-{name}` (labelled with its owner),
//!   filled by a short-lived container of the database's image with both volumes mounted;
//! - native: `$PROVISION_HOME/{project}/.snapshots/{resource}/{name}/data`;
//!
//! and, for both, a record `$PROVISION_HOME/{project}/.snapshots/{resource}/{name}.json`
//! (engine, version and major, image, runtime, time, size), written only once the copy is
//! complete: a snapshot without its record is an unfinished save, never restored. Snapshots
//! are not deleted by `down --volumes` (they are copies made on purpose): `snapshot rm`.
//!
//! Restore is crash-safe: the current data stays until the snapshot's copy is complete and
//! the server answers a query on it. In the data directory (the volume's top, natively the
//! data directory) the copy is built in `.provision-swap-new`; the current entries move into
//! `.provision-swap-old`, `.provision-swap-done` marks that they all did, the new entries
//! move up; the server starts and must answer; then `.provision-swap-old` is renamed to
//! `.provision-swap-trash` (the commit) and deleted. [`RECOVER`] reads those names after a
//! cut anywhere and converges: before the commit it puts the old data back, after it it
//! finishes. `up` runs it first when a restore's journal says one was cut short.
//! [`swap_in`] is the reusable step (stop, copy in, swap, start and verify, commit or put
//! back) for anything that replaces a database's data with a prepared copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::data::{self, Beside, Input, Offline};
use super::workflows::pick;
use super::{Runtime, RuntimeKind, Spec, State};
use crate::error::{DataError, Error};
use crate::plan::Target;
use crate::progress::Progress;
use crate::session::Session;
use crate::stream::file_error;

/// Seconds the restarted database has to answer, unless `--timeout` says otherwise.
const RESTART_TIMEOUT: u64 = 60;
/// Where the helper container mounts a snapshot's volume.
const SNAPSHOT_MOUNT: &str = "/provision-snapshot";

/// GNU `cp` takes `--reflink=auto` (a clone where the filesystem can, else a copy); busybox'
/// does not: ask it first.
const REFLINK: &str = "R=; if cp --help 2>&1 | grep -q -e --reflink; then R=--reflink=auto; fi";

/// `$1` the data, `$2` the snapshot's place: copies the data's top (seed marker included) to
/// `$2/data`, aside first, and prints its size in KiB.
const SAVE: &str = r#"set -e
REFLINK
rm -rf "$2/data.partial" "$2/data"
mkdir -p "$2/data.partial"
cp -a $R "$1/." "$2/data.partial/"
rm -rf "$2/data.partial"/.provision-swap-*
sync
mv "$2/data.partial" "$2/data"
sync
du -sk "$2/data" | cut -f1
"#;

/// Moves every entry of `$1` (dot files too) into `$2`, except provision's swap names.
const MOVE_ALL: &str = r#"move_all() {
  for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    case "${e##*/}" in .provision-swap-*) continue ;; esac
    mv "$e" "$2/"
  done
}
"#;

/// Converges a swap cut anywhere (`$1` the data): committed (the trash exists): finish;
/// swapped but not committed: drop the new entries, put the old back; cut while moving the
/// old aside: put them back. The copy in progress is dropped. Idempotent.
pub const RECOVER: &str = r#"set -e
MOVE_ALL
cd "$1"
if [ -e .provision-swap-trash ]; then
  rm -f .provision-swap-done; sync; rm -rf .provision-swap-trash
elif [ -e .provision-swap-done ]; then
  for e in ./* ./.[!.]* ./..?*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    case "${e##*/}" in .provision-swap-*) continue ;; esac
    rm -rf "$e"
  done
  sync; rm -f .provision-swap-done; sync
  move_all .provision-swap-old .; rmdir .provision-swap-old
elif [ -e .provision-swap-old ]; then
  move_all .provision-swap-old .; rmdir .provision-swap-old
fi
rm -rf .provision-swap-new
sync
"#;

/// Copies the snapshot (`$2/data`) into `.provision-swap-new` beside the data (`$1`).
const STAGE: &str = r#"set -e
REFLINK
cd "$1"
rm -rf .provision-swap-new
mkdir .provision-swap-new
cp -a $R "$2/data/." .provision-swap-new/
sync
"#;

/// Moves the current entries aside, marks it, moves the copy's up.
const SWAP: &str = r#"set -e
MOVE_ALL
cd "$1"
mkdir -p .provision-swap-old
move_all . .provision-swap-old
sync; : > .provision-swap-done; sync
move_all .provision-swap-new .
rm -rf .provision-swap-new
sync
"#;

/// The server answered on the new data: the old goes (renamed first: that is the commit).
const COMMIT: &str = r#"set -e
cd "$1"
if [ -d .provision-swap-old ]; then mv .provision-swap-old .provision-swap-trash; fi
sync; rm -f .provision-swap-done; sync
rm -rf .provision-swap-trash
"#;

fn script(text: &str) -> String {
    text.replace("REFLINK", REFLINK)
        .replace("MOVE_ALL", MOVE_ALL)
}

/// What a snapshot holds, recorded once its copy is complete.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub database: String,
    pub name: String,
    /// The template's name (`postgres`, `mariadb`, `redis`).
    pub engine: String,
    /// The version the server ran and its major line: only that line reads the files.
    pub version: String,
    pub major: String,
    pub image: String,
    pub runtime: RuntimeKind,
    /// RFC 3339, UTC.
    pub created: String,
    pub bytes: u64,
    /// Docker: the volume that holds the copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
}

fn store(project: &str, resource: &str) -> PathBuf {
    crate::home::root()
        .join(project)
        .join(".snapshots")
        .join(resource)
}

fn record(project: &str, resource: &str, name: &str) -> PathBuf {
    store(project, resource).join(format!("{name}.json"))
}

/// The restore journal: present while a restore is under way, so that `up` converges a cut.
fn journal(project: &str, resource: &str) -> PathBuf {
    store(project, resource).join("restore-in-progress")
}

fn beside(runtime: &Runtime, spec: &Spec<'_>, name: &str) -> Beside {
    match runtime {
        Runtime::Docker(_) => Beside::Volume {
            volume: crate::names::snapshot_volume(spec.project, &spec.resource.name, name),
            mount: SNAPSHOT_MOUNT.to_owned(),
        },
        Runtime::Native(_) => Beside::Dir(store(spec.project, &spec.resource.name).join(name)),
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if crate::names::valid_snapshot(name) {
        Ok(())
    } else {
        Err(DataError::SnapshotName {
            name: name.to_owned(),
        }
        .into())
    }
}

fn read_record(path: &Path) -> Option<Meta> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// The major line the database runs now (the image's real version, or the native server's).
fn major_now(spec: &Spec<'_>, live: &super::Live) -> (String, String) {
    let version = live
        .version
        .clone()
        .unwrap_or_else(|| spec.resource.version.clone());
    (spec.template.major(&version), version)
}

/// `provision snapshot save DB NAME`.
pub async fn save(session: &Session, database: &str, name: &str) -> Result<(), Error> {
    check_name(name)?;
    let (_, plan) = session.plan(Target::Local)?;
    let p = pick(session, &plan, database).await?;
    if p.live.state == State::Missing {
        return Err(Error::NotUp {
            resource: database.to_owned(),
            cloud: false,
        });
    }
    let path = record(p.spec.project, database, name);
    if path.exists() {
        return Err(DataError::SnapshotExists {
            resource: database.to_owned(),
            name: name.to_owned(),
        }
        .into());
    }
    std::fs::create_dir_all(store(p.spec.project, database))
        .map_err(file_error("create", &store(p.spec.project, database)))?;
    let progress = Progress::new(session.quiet, &[database]);
    let timeout = Duration::from_secs(session.timeout.unwrap_or(RESTART_TIMEOUT));
    let (major, version) = major_now(&p.spec, &p.live);
    let started = std::time::Instant::now();
    if let Runtime::Docker(d) = &p.runtime {
        d.ensure_snapshot_volume(&p.spec, name).await?;
    }
    let was_running = p.live.state == State::Running;
    progress.say(database, "stopping the server for a consistent copy");
    p.runtime.down(&p.spec, false).await?;
    let place = beside(&p.runtime, &p.spec, name);
    let offline = Offline::start(&p.runtime, &p.spec, Some(&place)).await?;
    let copied = async {
        let o = offline.run(&script(RECOVER), &[], Input::None).await?;
        data::check(&p.spec, "converge an earlier restore", &sh(), &o)?;
        let o = offline.run(&script(SAVE), &[], Input::None).await?;
        data::check(&p.spec, "copy the data", &sh(), &o)?;
        Ok::<_, Error>(o)
    }
    .await;
    offline.finish().await?;
    data::crash_point("snapshot-save-copied");
    // The server comes back whether or not the copy worked.
    if was_running {
        p.runtime.up(&p.spec, &progress, timeout).await?;
    }
    let o = copied?;
    let kib: u64 = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let meta = Meta {
        database: database.to_owned(),
        name: name.to_owned(),
        engine: p.spec.template.name.clone(),
        version,
        major,
        image: p
            .live
            .image
            .clone()
            .unwrap_or_else(|| p.spec.local.image.clone()),
        runtime: p.runtime.kind(),
        created: crate::model::stage::timestamp(crate::model::stage::now()),
        bytes: kib * 1024,
        volume: match &place {
            Beside::Volume { volume, .. } => Some(volume.clone()),
            Beside::Dir(_) => None,
        },
    };
    let text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    let aside = path.with_extension("json.partial");
    std::fs::write(&aside, text).map_err(file_error("write", &aside))?;
    std::fs::rename(&aside, &path).map_err(file_error("rename into place", &path))?;
    progress.say(
        database,
        &format!(
            "saved snapshot {name} ({}) in {:.1}s",
            size(meta.bytes),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}

fn sh() -> [String; 1] {
    ["sh".to_owned()]
}

fn size(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a figure for people")]
    let mb = bytes as f64 / 1_000_000.0;
    format!("{mb:.1} MB")
}

/// Every complete snapshot of the project (of one database), by database then name.
pub fn list(session: &Session, database: Option<&str>) -> Result<Vec<Meta>, Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let root = crate::home::root()
        .join(&plan.project.name)
        .join(".snapshots");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let resource = dir.file_name().to_string_lossy().into_owned();
        if database.is_some_and(|d| d != resource) {
            continue;
        }
        for file in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Some(meta) = read_record(&path)
            {
                out.push(meta);
            }
        }
    }
    out.sort_by(|a, b| (&a.database, &a.name).cmp(&(&b.database, &b.name)));
    Ok(out)
}

/// `snapshot list` as a table.
pub fn render(list: &[Meta]) -> String {
    if list.is_empty() {
        return "no snapshots\n".to_owned();
    }
    let mut rows = vec![[
        "DATABASE".to_owned(),
        "NAME".to_owned(),
        "ENGINE".to_owned(),
        "IMAGE".to_owned(),
        "RUNTIME".to_owned(),
        "SIZE".to_owned(),
        "CREATED".to_owned(),
    ]];
    for m in list {
        rows.push([
            m.database.clone(),
            m.name.clone(),
            format!("{} {}", m.engine, m.version),
            m.image.clone(),
            m.runtime.to_string(),
            size(m.bytes),
            m.created.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text
}

fn known(project: &str, resource: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(store(project, resource))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

fn missing(spec: &Spec<'_>, name: &str) -> Error {
    DataError::SnapshotMissing {
        resource: spec.resource.name.clone(),
        name: name.to_owned(),
        known: known(spec.project, &spec.resource.name),
    }
    .into()
}

/// `provision snapshot restore DB NAME`.
pub async fn restore(session: &Session, database: &str, name: &str) -> Result<(), Error> {
    check_name(name)?;
    let (_, plan) = session.plan(Target::Local)?;
    let p = pick(session, &plan, database).await?;
    if p.live.state == State::Missing {
        return Err(Error::NotUp {
            resource: database.to_owned(),
            cloud: false,
        });
    }
    let meta = read_record(&record(p.spec.project, database, name))
        .ok_or_else(|| missing(&p.spec, name))?;
    let (major, version) = major_now(&p.spec, &p.live);
    let mismatch = |what: &'static str, snapshot: &str, now: &str| {
        Err(DataError::SnapshotMismatch {
            resource: database.to_owned(),
            name: name.to_owned(),
            what,
            snapshot: snapshot.to_owned(),
            now: now.to_owned(),
        }
        .into())
    };
    if meta.engine != p.spec.template.name {
        return mismatch("engine", &meta.engine, &p.spec.template.name);
    }
    if meta.runtime != p.runtime.kind() {
        return mismatch(
            "runtime",
            &meta.runtime.to_string(),
            &p.runtime.kind().to_string(),
        );
    }
    if meta.major != major {
        return mismatch(
            "major version",
            &format!("{} ({})", meta.major, meta.version),
            &format!("{major} ({version})"),
        );
    }
    let progress = Progress::new(session.quiet, &[database]);
    let timeout = Duration::from_secs(session.timeout.unwrap_or(RESTART_TIMEOUT));
    let started = std::time::Instant::now();
    let place = beside(&p.runtime, &p.spec, name);
    swap_in(&p.runtime, &p.spec, &place, &progress, timeout).await?;
    progress.say(
        database,
        &format!(
            "restored snapshot {name} in {:.1}s; the data from before it is gone",
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}

/// Replaces a database's data with the copy at `from` (`$2/data` of an offline step: a
/// snapshot, or any prepared copy) without ever losing the current data: stop; copy in
/// beside; swap by renames; start and wait for a real query; then commit (the old data
/// goes). If the server does not answer, the old data is put back and started (`RolledBack`).
/// A journal beside the snapshots lets `up` converge a run cut anywhere ([`recover`]).
pub async fn swap_in(
    runtime: &Runtime,
    spec: &Spec<'_>,
    from: &Beside,
    progress: &Progress,
    timeout: Duration,
) -> Result<(), Error> {
    let name = spec.resource.name.as_str();
    let journal = journal(spec.project, name);
    if let Some(dir) = journal.parent() {
        std::fs::create_dir_all(dir).map_err(file_error("create", dir))?;
    }
    std::fs::write(&journal, "restore\n").map_err(file_error("write", &journal))?;
    progress.say(name, "stopping the server to put the snapshot in place");
    runtime.down(spec, false).await?;
    data::crash_point("snapshot-restore-stopped");
    let offline = Offline::start(runtime, spec, Some(from)).await?;
    let steps = async {
        let o = offline.run(&script(RECOVER), &[], Input::None).await?;
        data::check(spec, "converge an earlier restore", &sh(), &o)?;
        let o = offline.run(&script(STAGE), &[], Input::None).await?;
        data::check(spec, "copy the snapshot in", &sh(), &o)?;
        data::crash_point("snapshot-restore-copied");
        let o = offline.run(&script(SWAP), &[], Input::None).await?;
        data::check(spec, "swap the data", &sh(), &o)?;
        data::crash_point("snapshot-restore-swapped");
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = steps {
        // Before the commit the old data is whole: put it back and start it.
        let o = offline.run(&script(RECOVER), &[], Input::None).await;
        offline.finish().await?;
        data::check(spec, "put the old data back", &sh(), &o?)?;
        runtime.up(spec, progress, timeout).await?;
        let _ = std::fs::remove_file(&journal);
        return Err(e);
    }
    offline.finish().await?;
    match runtime.up(spec, progress, timeout).await {
        Ok(_) => {}
        Err(cause) => {
            runtime.down(spec, false).await?;
            let o = data::offline(runtime, spec, &script(RECOVER), &[], None, Input::None).await?;
            data::check(spec, "put the old data back", &sh(), &o)?;
            runtime.up(spec, progress, timeout).await?;
            let _ = std::fs::remove_file(&journal);
            return Err(DataError::RolledBack {
                resource: name.to_owned(),
                cause: Box::new(cause),
            }
            .into());
        }
    }
    data::crash_point("snapshot-restore-started");
    let path = super::workflows::data_path_at(runtime, spec)?;
    let o = data::shell(
        runtime,
        spec,
        COMMIT,
        &[path],
        Vec::new(),
        Input::None,
        false,
    )
    .await?;
    data::check(spec, "remove the data from before the restore", &sh(), &o)?;
    std::fs::remove_file(&journal).map_err(file_error("remove", &journal))?;
    Ok(())
}

/// Before `up` starts a database: a restore that was cut short (its journal is there) is
/// converged first, with the server stopped: the old data back unless the new one was
/// committed. Costs one `stat` when there is none.
pub async fn recover(runtime: &Runtime, spec: &Spec<'_>, progress: &Progress) -> Result<(), Error> {
    let journal = journal(spec.project, &spec.resource.name);
    if !journal.exists() || spec.template.data.is_none() {
        return Ok(());
    }
    progress.say(
        &spec.resource.name,
        "a snapshot restore was cut short: putting the data from before it back",
    );
    runtime.down(spec, false).await?;
    let o = data::offline(runtime, spec, &script(RECOVER), &[], None, Input::None).await?;
    data::check(spec, "converge the restore that was cut short", &sh(), &o)?;
    std::fs::remove_file(&journal).map_err(file_error("remove", &journal))
}

/// `provision snapshot rm DB NAME`: the record first (so a half-removed snapshot is never
/// listed), then the copy.
pub async fn remove(session: &Session, database: &str, name: &str) -> Result<(), Error> {
    check_name(name)?;
    let (_, plan) = session.plan(Target::Local)?;
    let all = super::specs(&plan);
    let Some(spec) = all.iter().find(|s| s.resource.name == database).copied() else {
        return Err(Error::UnknownDatabase {
            name: database.to_owned(),
            known: plan.resources.iter().map(|r| r.name.clone()).collect(),
        });
    };
    let path = record(spec.project, database, name);
    let meta = read_record(&path).ok_or_else(|| missing(&spec, name))?;
    std::fs::remove_file(&path).map_err(file_error("remove", &path))?;
    match meta.runtime {
        RuntimeKind::Docker => {
            let runtime = Runtime::select(super::RuntimeChoice::Docker, &[spec]).await?;
            if let Runtime::Docker(d) = &runtime {
                d.remove_snapshot_volume(&spec, name).await?;
            }
        }
        RuntimeKind::Native => {
            let dir = store(spec.project, database).join(name);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(file_error("remove", &dir))?;
            }
        }
    }
    if !session.quiet {
        eprintln!("{database}: removed snapshot {name}");
    }
    Ok(())
}
