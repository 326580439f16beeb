//! `provision upgrade DB` (and `up --upgrade`): a local database moved to the manifest's
//! newer major version by the engines' own tools, since a server does not read the files of
//! another major (`pg_upgrade` would need both versions' binaries in one container):
//!
//! 1. the database's container is removed (apps see it down: nothing is written meanwhile);
//! 2. the OLD image runs on the old volume, on a port apps do not use; the server counts its
//!    rows per table (keys per database for Redis) and dumps with its own tool to a file in
//!    provision's home;
//! 3. a NEW volume (`names::upgraded_volume`) takes the old one's port and password labels;
//!    the NEW image runs on it and loads the dump; the new server counts too;
//! 4. equal counts: the new data is the database's from now on (the record says `verified`);
//!    the database's container is made from the new image on the new volume, with the same
//!    name, port, password and TLS;
//! 5. the old volume stays until `upgrade --cleanup`, which refuses before step 4.
//!
//! The record of progress is `upgrade.json` in the database's directory of provision's home,
//! written atomically; `home::upgraded_volume` reads it for every local command's plan. A run
//! killed at any point converges on the next `provision upgrade`: before `verified` the
//! partial new data is removed and the old server started again, then the upgrade starts
//! over from the untouched old volume; from `verified` on the switch is finished. A step that fails puts the old database back as it was and names the step.
//!
//! Which major wrote the data is the volume's `dev.provision.major` label, set from the
//! image's own configuration (`PG_MAJOR`, `MARIADB_VERSION`, ...) when the volume was made:
//! not the data directory's `PG_VERSION` file, which the `postgres:18` stand-in (15 binaries
//! under 18's layout) writes as `15` and a real 18 image as `18`; the label is right for both.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt as _;

use super::data::{self, Input, Sink};
use super::docker::DockerRuntime;
use super::{Runtime, Spec};
use crate::error::{DataError, Error, UpgradeError, compare_majors};
use crate::names::{LABEL_MAJOR, LABEL_PASSWORD, LABEL_PORT, LABEL_UPGRADE_OF};
use crate::plan::{LocalPlan, PlannedResource, Target};
use crate::progress::Progress;
use crate::session::Session;
use crate::stream::megabytes;

/// Seconds each server of the upgrade has to answer, unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT: u64 = 120;

/// How far an upgrade got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Under way: the old server may be stopped and the new data partial; the old data is
    /// untouched.
    Started,
    /// The new data is complete and holds what the old held: it is the database's data.
    Verified,
    /// The database's container runs the new image on the new data.
    Switched,
    /// The old data was deleted by `--cleanup`.
    Cleaned,
}

/// `upgrade.json`: what an upgrade moves from and to, and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub step: Step,
    pub from: String,
    pub to: String,
    pub old_volume: String,
    pub new_volume: String,
    pub old_image: String,
    pub new_image: String,
    /// Rows per table (keys per database) both servers counted.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
}

fn dir(project: &str, resource: &str) -> PathBuf {
    crate::home::root().join(project).join(resource)
}

fn record_path(project: &str, resource: &str) -> PathBuf {
    crate::home::upgrade_record(project, resource)
}

/// The old server's dump, kept until the switch (a resumed run does not need it again).
fn dump_path(project: &str, resource: &str) -> PathBuf {
    dir(project, resource).join("upgrade.dump")
}

fn file_error(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.to_owned();
    move |source| DataError::File { op, path, source }.into()
}

impl Record {
    /// The record of an upgrade whose old volume is gone, rebuilt from the labels of the
    /// volume that holds the data now (`dev.provision.upgrade-of`, `dev.provision.major`):
    /// what `home::upgraded_volume` needs to point every command at it again.
    pub fn recover(
        project: &str,
        resource: &str,
        old_volume: &str,
        new_volume: &str,
        major: &str,
    ) -> Result<PathBuf, Error> {
        let record = Self {
            step: Step::Cleaned,
            from: String::new(),
            to: major.to_owned(),
            old_volume: old_volume.to_owned(),
            new_volume: new_volume.to_owned(),
            old_image: String::new(),
            new_image: String::new(),
            counts: BTreeMap::new(),
        };
        record.save(project, resource)?;
        Ok(record_path(project, resource))
    }

    pub fn load(project: &str, resource: &str) -> Result<Option<Self>, Error> {
        let path = record_path(project, resource);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| file_error("read", &path)(std::io::Error::other(e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error("read", &path)(e)),
        }
    }

    /// Written aside, synced and renamed: a kill leaves the old record or the new, whole.
    fn save(&self, project: &str, resource: &str) -> Result<(), Error> {
        let path = record_path(project, resource);
        let aside = path.with_extension("json.partial");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(file_error("create", parent))?;
        }
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| file_error("write", &aside)(std::io::Error::other(e)))?;
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&aside)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&aside, &path)?;
            if let Some(parent) = path.parent() {
                std::fs::File::open(parent)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(file_error("write", &path))
    }

    pub fn remove(project: &str, resource: &str) -> Result<(), Error> {
        let path = record_path(project, resource);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(file_error("remove", &path)(e)),
        }
    }
}

/// What a server counted, from its tool's output: `name<TAB>count` lines (SQL engines), or
/// `INFO keyspace` lines (`db0:keys=50,expires=0,avg_ttl=0`, Redis and Valkey).
pub fn parse_counts(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            if let Some((name, n)) = line.split_once('\t') {
                return Some((name.to_owned(), n.trim().parse().ok()?));
            }
            let (db, rest) = line.split_once(':')?;
            let keys = rest.split(',').find_map(|kv| kv.strip_prefix("keys="))?;
            Some((db.to_owned(), keys.trim().parse().ok()?))
        })
        .collect()
}

/// Every name whose count differs between the two sides (absent on one side included).
pub fn differences(
    old: &BTreeMap<String, u64>,
    new: &BTreeMap<String, u64>,
) -> Vec<(String, Option<u64>, Option<u64>)> {
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (a, b) = (old.get(name).copied(), new.get(name).copied());
            (a != b).then(|| (name.clone(), a, b))
        })
        .collect()
}

/// `PROVISION_TEST_FAIL_AT=<step>`: makes that step fail for real (the restore is fed half
/// the dump, which the engine's tool rejects), so tests can prove a failure's undo.
fn fail_point(step: &str) -> bool {
    std::env::var("PROVISION_TEST_FAIL_AT").is_ok_and(|s| s == step)
}

/// A server of the upgrade: the old or the new image on its data, as a resource of its own
/// (its own container name, a port apps do not use, no init scripts).
struct Side {
    resource: PlannedResource,
    local: LocalPlan,
}

impl Side {
    fn new(
        spec: &Spec<'_>,
        side: &str,
        image: &str,
        major: &str,
        volume: &str,
        avoid: &[u16],
    ) -> Result<Self, Error> {
        let mut resource = spec.resource.clone();
        resource.version = major.to_owned();
        resource.local = None;
        let mut local = spec.local.clone();
        local.container = crate::names::upgrade_container(&spec.local.container, side);
        local.image = image.to_owned();
        local.volume = Some(volume.to_owned());
        // The volume's password is the data's; the file's was checked against it already.
        local.password = None;
        // The Compose file's init scripts ran when the old data was made; on the new data
        // the dump brings everything back, and a script's objects would be there twice.
        local
            .mounts
            .retain(|m| !m.target.starts_with("/docker-entrypoint-initdb.d"));
        super::ports::reserve(avoid.iter().copied().chain([spec.local.container_port]));
        let port = super::ports::choose(spec.local.container_port).map_err(|e| Error::Docker {
            op: "choose a port for",
            target: local.container.clone(),
            source: Box::new(e),
        })?;
        local.host_port = Some(port);
        Ok(Self { resource, local })
    }

    fn spec<'a>(&'a self, of: &Spec<'a>) -> Spec<'a> {
        Spec {
            project: of.project,
            resource: &self.resource,
            local: &self.local,
            template: of.template,
        }
    }
}

/// A step's failure, with the step's words for the error.
type StepError = (&'static str, Box<Error>);

fn at(step: &'static str) -> impl FnOnce(Error) -> StepError {
    move |e| (step, Box::new(e))
}

struct Upgrade<'a> {
    docker: &'a DockerRuntime,
    runtime: &'a Runtime,
    spec: Spec<'a>,
    progress: &'a Progress,
    timeout: Duration,
}

/// `provision upgrade DB [--cleanup]`.
pub async fn upgrade(session: &Session, database: &str, cleanup: bool) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let p = super::workflows::pick(session, &plan, database).await?;
    let Runtime::Docker(docker) = &p.runtime else {
        return Err(UpgradeError::Native {
            resource: database.to_owned(),
            title: p.spec.template.title.clone(),
        }
        .into());
    };
    let progress = Progress::new(session.quiet, &[database]);
    let u = Upgrade {
        docker,
        runtime: &p.runtime,
        spec: p.spec,
        progress: &progress,
        timeout: Duration::from_secs(session.timeout.unwrap_or(DEFAULT_TIMEOUT)),
    };
    if cleanup {
        u.cleanup().await
    } else {
        u.run().await
    }
}

/// `up --upgrade`: every database with data whose major is older than the manifest's.
pub async fn upgrade_all(session: &Session) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Local)?;
    for spec in super::specs(&plan) {
        if spec.template.data.is_some() && spec.local.volume.is_some() {
            upgrade(session, &spec.resource.name, false).await?;
        }
    }
    Ok(())
}

impl Upgrade<'_> {
    fn name(&self) -> &str {
        &self.spec.resource.name
    }

    fn say(&self, message: &str) {
        self.progress.say(self.name(), message);
    }

    /// The database as a runtime sees it, on `volume` with `image` at `major`.
    fn with(&self, volume: &str, image: &str, major: &str) -> (PlannedResource, LocalPlan) {
        let mut resource = self.spec.resource.clone();
        resource.version = major.to_owned();
        let mut local = self.spec.local.clone();
        local.volume = Some(volume.to_owned());
        local.image = image.to_owned();
        (resource, local)
    }

    async fn run(&self) -> Result<(), Error> {
        let spec = &self.spec;
        let project = spec.project;
        let name = self.name().to_owned();
        if let Some(path) = spec.local.data_path.as_deref()
            && let Some(m) = crate::manifest::data_mount(&spec.local.mounts, path)
        {
            return Err(UpgradeError::TheirVolume {
                resource: name,
                location: m.source.clone().map_or_else(
                    || m.target.clone(),
                    |s| format!("`{s}` (mounted at {})", m.target),
                ),
            }
            .into());
        }
        let Some(current) = spec.local.volume.clone() else {
            self.say("keeps no data on disk: nothing to upgrade");
            return Ok(());
        };
        match Record::load(project, &name)? {
            Some(r) if r.step == Step::Verified => {
                self.say(&format!(
                    "an earlier upgrade to {} was verified; finishing its switch",
                    r.to
                ));
                return self.switch(r, false).await;
            }
            Some(r) if r.step == Step::Started => {
                self.say(&format!(
                    "an earlier upgrade to {} stopped part way; undoing it (the data in {} is untouched)",
                    r.to, r.old_volume
                ));
                self.roll_back(&r).await?;
                // The plan was read with the record: it points at the old volume.
            }
            _ => {}
        }
        let Some((mut record, labels)) = self.decide(current).await? else {
            return Ok(());
        };
        // Before anything changes: a kill from here on is undone by the next run.
        record.save(project, &name)?;
        self.say(&format!(
            "upgrading {} {} -> {}: the data in {} is kept until `provision upgrade {name} --cleanup`",
            spec.template.title, record.from, record.to, record.old_volume
        ));
        match self.move_data(&record, &labels).await {
            Ok(counts) => {
                record.counts = counts;
                record.step = Step::Verified;
                record.save(project, &name)?;
                data::crash_point("upgrade-verified");
                self.switch(record, true).await
            }
            Err((step, cause)) => Err(self.failed(&record, step, cause).await),
        }
    }

    /// What an upgrade of the data in `current` moves from and to; none when there is
    /// nothing to do (no data yet, or already at the manifest's major).
    async fn decide(
        &self,
        current: String,
    ) -> Result<Option<(Record, HashMap<String, String>)>, Error> {
        let spec = &self.spec;
        let project = spec.project;
        let name = self.name().to_owned();
        let Some(labels) = self.docker.our_volume(spec, &current).await? else {
            self.say("no data yet: `provision up` creates it at the manifest's version");
            return Ok(None);
        };
        let live = self.runtime.inspect(spec).await?;
        let from = labels
            .get(LABEL_MAJOR)
            .cloned()
            .or_else(|| live.version.as_deref().map(|v| spec.template.major(v)))
            .ok_or_else(|| Error::Docker {
                op: "find the major version of the data in",
                target: current.clone(),
                source: format!("the volume has no `{LABEL_MAJOR}` label").into(),
            })?;
        let to_version = self
            .docker
            .image_version(spec, self.progress)
            .await?
            .unwrap_or_else(|| spec.resource.version.clone());
        let to = spec.template.major(&to_version);
        match compare_majors(&from, &to) {
            std::cmp::Ordering::Equal => {
                self.say(&format!(
                    "the data is already {} {to}: nothing to upgrade",
                    spec.template.title
                ));
                return Ok(None);
            }
            std::cmp::Ordering::Greater => {
                return Err(UpgradeError::Downgrade {
                    resource: name,
                    type_name: spec.template.title.clone(),
                    from,
                    to,
                }
                .into());
            }
            std::cmp::Ordering::Less => {}
        }
        // The image the old data ran under: its container's, else the family's tag of the
        // old major (`postgres:15`).
        let old_image = match (&live.image, &live.version) {
            (Some(image), Some(v)) if spec.template.major(v) == from => image.clone(),
            _ => format!("{}:{from}", spec.local.repository),
        };
        let new_volume = crate::names::upgraded_volume(project, &name, &to);
        if self.docker.our_volume(spec, &new_volume).await?.is_some() {
            return Err(UpgradeError::Leftover {
                resource: name,
                volume: new_volume,
                old_volume: current,
            }
            .into());
        }
        Ok(Some((
            Record {
                step: Step::Started,
                from,
                to,
                old_volume: current,
                new_volume,
                old_image,
                new_image: spec.local.image.clone(),
                counts: BTreeMap::new(),
            },
            labels,
        )))
    }

    /// Undoes a failed step and says what became of the data.
    async fn failed(&self, record: &Record, step: &'static str, cause: Box<Error>) -> Error {
        let restored = match self.roll_back(record).await {
            Ok(()) => true,
            Err(e) => {
                self.say(&format!("could not undo the upgrade: {}", e.summary()));
                false
            }
        };
        UpgradeError::Failed {
            resource: self.name().to_owned(),
            step,
            old_data: format!("volume {}", record.old_volume),
            restored,
            cause,
        }
        .into()
    }

    /// Steps 1-3 of the module's comment: the old data dumped, loaded into the new, and both
    /// counted. Returns the counts.
    async fn move_data(
        &self,
        record: &Record,
        labels: &HashMap<String, String>,
    ) -> Result<BTreeMap<String, u64>, StepError> {
        let app_port: Vec<u16> = labels
            .get(LABEL_PORT)
            .and_then(|p| p.parse().ok())
            .into_iter()
            .collect();
        let before = self.dump_old(record, &app_port).await?;
        self.load_new(record, labels, &app_port, &before).await?;
        Ok(before)
    }

    /// Steps 1-2: the database stopped, the old image on the old data counted and dumped.
    async fn dump_old(
        &self,
        record: &Record,
        app_port: &[u16],
    ) -> Result<BTreeMap<String, u64>, StepError> {
        let spec = &self.spec;
        self.say("stopping the database");
        self.runtime
            .down(spec, false)
            .await
            .map_err(at("stop the old server"))?;
        data::crash_point("upgrade-stopped");

        let old = Side::new(
            spec,
            "from",
            &record.old_image,
            &record.from,
            &record.old_volume,
            app_port,
        )
        .map_err(at("start the old server"))?;
        let old_spec = old.spec(spec);
        self.say(&format!(
            "starting {} on the old data, on port {} (not the app's)",
            record.old_image,
            old.local.host_port.unwrap_or_default()
        ));
        self.runtime
            .up(&old_spec, self.progress, self.timeout)
            .await
            .map_err(at("start the old server on its data"))?;
        let before = self
            .count(&old_spec)
            .await
            .map_err(at("count the old server's data"))?;
        self.say(&format!(
            "the old server holds {}",
            summary(&before, spec.template.sql)
        ));
        let dump = dump_path(spec.project, self.name());
        self.dump(&old_spec, &dump)
            .await
            .map_err(at("dump the old data"))?;
        data::crash_point("upgrade-dumped");
        self.runtime
            .down(&old_spec, false)
            .await
            .map_err(at("stop the old server"))?;
        Ok(before)
    }

    /// Step 3: the new data made from the dump by the new image, counted and compared.
    async fn load_new(
        &self,
        record: &Record,
        labels: &HashMap<String, String>,
        app_port: &[u16],
        before: &BTreeMap<String, u64>,
    ) -> Result<(), StepError> {
        let spec = &self.spec;
        let tools = data::tools(spec).map_err(at("find the engine's tools"))?;
        let dump = dump_path(spec.project, self.name());
        let mut new_labels = HashMap::from([
            (LABEL_MAJOR.to_owned(), record.to.clone()),
            (LABEL_UPGRADE_OF.to_owned(), record.old_volume.clone()),
        ]);
        for key in [LABEL_PORT, LABEL_PASSWORD] {
            if let Some(v) = labels.get(key) {
                new_labels.insert(key.to_owned(), v.clone());
            }
        }
        self.say(&format!(
            "creating volume {} for the new data",
            record.new_volume
        ));
        self.docker
            .create_volume(spec, &record.new_volume, new_labels)
            .await
            .map_err(at("create the new data's volume"))?;
        let new = Side::new(
            spec,
            "to",
            &record.new_image,
            &record.to,
            &record.new_volume,
            app_port,
        )
        .map_err(at("start the new server"))?;
        let new_spec = new.spec(spec);
        if let Some(script) = &tools.restore_offline {
            // Redis and Valkey load their data from files at start: the dump goes in first.
            // A newer server loads an older RDB (the format is read forward-compatibly).
            let input = self.dump_input(&dump).await.map_err(at("load the dump"))?;
            let o = data::offline_script(self.runtime, &new_spec, script, input)
                .await
                .map_err(at("load the dump into the new data"))?;
            data::check(&new_spec, "load the dump", &["sh".to_owned()], &o)
                .map_err(at("load the dump into the new data"))?;
        }
        self.say(&format!(
            "starting {} on the new data, on port {} (not the app's)",
            record.new_image,
            new.local.host_port.unwrap_or_default()
        ));
        self.runtime
            .up(&new_spec, self.progress, self.timeout)
            .await
            .map_err(at("start the new server on the new data"))?;
        if tools.restore_offline.is_none() {
            let live = self
                .runtime
                .inspect(&new_spec)
                .await
                .map_err(at("restore the dump into the new server"))?;
            let input = self
                .dump_input(&dump)
                .await
                .map_err(at("restore the dump into the new server"))?;
            let o = data::run_tool(
                self.runtime,
                &new_spec,
                &live,
                &tools.restore,
                input,
                Sink::Capture,
            )
            .await
            .map_err(at("restore the dump into the new server"))?;
            data::check(&new_spec, "restore the dump", &tools.restore, &o)
                .map_err(at("restore the dump into the new server"))?;
        }
        data::crash_point("upgrade-restored");
        let after = self
            .count(&new_spec)
            .await
            .map_err(at("count the new server's data"))?;
        let differ = differences(before, &after);
        if !differ.is_empty() {
            return Err(at("verify the new data")(
                UpgradeError::CountsDiffer {
                    resource: self.name().to_owned(),
                    differences: differ,
                }
                .into(),
            ));
        }
        self.say(&format!(
            "the new server holds the same: {}",
            summary(&after, spec.template.sql)
        ));
        self.runtime
            .down(&new_spec, false)
            .await
            .map_err(at("stop the new server"))
            .map(|_| ())
    }

    /// The dump file as a tool's stdin; under `PROVISION_TEST_FAIL_AT=upgrade-restore`
    /// only its first half.
    async fn dump_input(&self, path: &Path) -> Result<Input, Error> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(file_error("open", path))?;
        if fail_point("upgrade-restore") {
            let len = file
                .metadata()
                .await
                .map_err(file_error("read", path))?
                .len();
            return Ok(Input::Reader(Box::new(file.take(len / 2))));
        }
        Ok(Input::Reader(Box::new(file)))
    }

    /// The engine's own dump of a running server into `path` (aside, synced, renamed).
    async fn dump(&self, spec: &Spec<'_>, path: &Path) -> Result<(), Error> {
        let tools = data::tools(spec)?;
        let live = self.runtime.inspect(spec).await?;
        let aside = path.with_extension("dump.partial");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(file_error("create", parent))?;
        }
        let file = tokio::fs::File::create(&aside)
            .await
            .map_err(file_error("create", &aside))?;
        let o = data::run_tool(
            self.runtime,
            spec,
            &live,
            &tools.dump,
            Input::None,
            Sink::Writer(Box::new(file)),
        )
        .await;
        let o = match o
            .and_then(|o| data::check(spec, "dump the database", &tools.dump, &o).map(|()| o))
        {
            Ok(o) => o,
            Err(e) => {
                let _ = std::fs::remove_file(&aside);
                return Err(e);
            }
        };
        let file = std::fs::File::open(&aside).map_err(file_error("open", &aside))?;
        file.sync_all().map_err(file_error("sync", &aside))?;
        std::fs::rename(&aside, path).map_err(file_error("rename into place", path))?;
        self.say(&format!(
            "dumped {} with the old server's {}",
            megabytes(o.bytes_out),
            tools.dump.first().map_or("tool", String::as_str)
        ));
        Ok(())
    }

    /// What a running server holds, by its own count (`counts:` in the template).
    async fn count(&self, spec: &Spec<'_>) -> Result<BTreeMap<String, u64>, Error> {
        let tools = data::tools(spec)?;
        let Some(counts) = &tools.counts else {
            return Ok(BTreeMap::new());
        };
        let live = self.runtime.inspect(spec).await?;
        let o = data::run_tool(
            self.runtime,
            spec,
            &live,
            &counts.run,
            Input::Bytes(counts.input.clone().into_bytes()),
            Sink::Capture,
        )
        .await?;
        data::check(spec, "count what the database holds", &counts.run, &o)?;
        Ok(parse_counts(&String::from_utf8_lossy(&o.stdout)))
    }

    /// Step 4: the database's container made from the new image on the new data. `fresh`:
    /// this run verified the new data, so nothing but the upgrade has written to it, and a
    /// failure here may still go back to the old data.
    async fn switch(&self, mut record: Record, fresh: bool) -> Result<(), Error> {
        let spec = &self.spec;
        let project = spec.project;
        let name = self.name().to_owned();
        for side in ["from", "to"] {
            let mut local = spec.local.clone();
            local.container = crate::names::upgrade_container(&spec.local.container, side);
            let temp = Spec {
                local: &local,
                ..*spec
            };
            self.runtime.down(&temp, false).await?;
        }
        let (resource, local) = self.with(&record.new_volume, &record.new_image, &record.to);
        let mut resource = resource;
        resource.version.clone_from(&spec.resource.version);
        let new_spec = Spec {
            resource: &resource,
            local: &local,
            ..*spec
        };
        self.say(&format!(
            "switching {} to {} on volume {}",
            spec.local.container, record.new_image, record.new_volume
        ));
        if let Err(cause) = self
            .runtime
            .up(&new_spec, self.progress, self.timeout)
            .await
        {
            if fresh {
                return Err(self
                    .failed(
                        &record,
                        "start the database on the new data",
                        Box::new(cause),
                    )
                    .await);
            }
            return Err(cause);
        }
        data::crash_point("upgrade-switched");
        record.step = Step::Switched;
        record.save(project, &name)?;
        let dump = dump_path(project, &name);
        if let Err(e) = std::fs::remove_file(&dump)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(file_error("remove", &dump)(e));
        }
        self.say(&format!(
            "upgraded to {} {}; the {} data stays in volume {} until `provision upgrade {name} --cleanup`",
            spec.template.title, record.to, record.from, record.old_volume
        ));
        Ok(())
    }

    /// Puts the old database back as it was: the upgrade's servers and new data removed,
    /// the old image started on the old data, the record deleted last.
    async fn roll_back(&self, record: &Record) -> Result<(), Error> {
        let spec = &self.spec;
        for side in ["from", "to"] {
            let mut local = spec.local.clone();
            local.container = crate::names::upgrade_container(&spec.local.container, side);
            local.volume = None;
            let temp = Spec {
                local: &local,
                ..*spec
            };
            self.runtime.down(&temp, false).await?;
        }
        self.docker.remove_volume(spec, &record.new_volume).await?;
        let dump = dump_path(spec.project, self.name());
        for path in [dump.clone(), dump.with_extension("dump.partial")] {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(file_error("remove", &path)(e));
            }
        }
        let (resource, local) = self.with(&record.old_volume, &record.old_image, &record.from);
        let old_spec = Spec {
            resource: &resource,
            local: &local,
            ..*spec
        };
        self.say(&format!(
            "starting {} on the old data again",
            record.old_image
        ));
        self.runtime
            .up(&old_spec, self.progress, self.timeout)
            .await?;
        Record::remove(spec.project, self.name())
    }

    /// `--cleanup`: the old data deleted, once the database serves on the new.
    async fn cleanup(&self) -> Result<(), Error> {
        let spec = &self.spec;
        let name = self.name().to_owned();
        let record = match Record::load(spec.project, &name)? {
            Some(r) if matches!(r.step, Step::Switched | Step::Cleaned) => r,
            _ => return Err(UpgradeError::NothingVerified { resource: name }.into()),
        };
        if record.step == Step::Cleaned {
            self.say(&format!(
                "the {} data was already deleted; nothing to clean up",
                record.from
            ));
            return Ok(());
        }
        // Deleting the old data is safe only while the new serves: prove it with a query.
        self.runtime.up(spec, self.progress, self.timeout).await?;
        self.docker.remove_volume(spec, &record.old_volume).await?;
        let mut record = record;
        record.step = Step::Cleaned;
        record.save(spec.project, &name)?;
        self.say(&format!(
            "deleted volume {} (the {} {} data); {} {} serves from {}",
            record.old_volume,
            spec.template.title,
            record.from,
            spec.template.title,
            record.to,
            record.new_volume
        ));
        Ok(())
    }
}

/// `3 tables, 5012 rows` / `1 database, 50 keys`.
fn summary(counts: &BTreeMap<String, u64>, sql: bool) -> String {
    let total: u64 = counts.values().sum();
    let (what, unit) = if sql {
        ("table", "rows")
    } else {
        ("database", "keys")
    };
    let n = counts.len();
    format!(
        "{n} {what}{} and {total} {unit}",
        if n == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_from_both_shapes() {
        let sql = parse_counts("public.items\t5000\npublic.empty\t0\r\nnoise\n");
        assert_eq!(sql.get("public.items"), Some(&5000));
        assert_eq!(sql.get("public.empty"), Some(&0));
        assert_eq!(sql.len(), 2);
        let redis = parse_counts(
            "# Keyspace\r\ndb0:keys=50,expires=2,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n",
        );
        assert_eq!(redis.get("db0"), Some(&50));
        assert_eq!(redis.get("db3"), Some(&1));
        assert_eq!(redis.len(), 2);
    }

    #[test]
    fn differences_name_each_table_that_differs() {
        let old = parse_counts("a\t1\nb\t2\nc\t3\n");
        let new = parse_counts("a\t1\nb\t5\nd\t0\n");
        assert_eq!(
            differences(&old, &new),
            vec![
                ("b".to_owned(), Some(2), Some(5)),
                ("c".to_owned(), Some(3), None),
                ("d".to_owned(), None, Some(0)),
            ]
        );
        assert!(differences(&old, &old).is_empty());
    }

    #[test]
    fn the_record_round_trips_with_its_step_in_words() {
        let r = Record {
            step: Step::Verified,
            from: "15".into(),
            to: "18".into(),
            old_volume: "shop-db-data".into(),
            new_volume: "shop-db-data-v18".into(),
            old_image: "postgres:15".into(),
            new_image: "postgres:18".into(),
            counts: BTreeMap::from([("public.items".into(), 3)]),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"step\":\"verified\""), "{text}");
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back.step, Step::Verified);
        assert_eq!(back.counts, r.counts);
    }
}
