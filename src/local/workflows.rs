//! The local data verbs: `dump`, `restore` and `reset` of one database, on Docker and
//! native alike, through the engine's own tools (`data`).
//!
//! Crash safety: a restore never destroys the old data before the new is in place. Postgres
//! restores in one transaction (`pg_restore --single-transaction`): killed part way, the
//! server rolls it back. Redis loads a new AOF directory built aside and swapped in by
//! renames, the old one kept until the server answers on the new. MariaDB/MySQL dumps are
//! plain SQL the server cannot apply atomically: a restore first takes a dump of what is
//! there (`before-restore.sql`, next to the data), kept until the restore has finished, and
//! a restore killed part way is finished by running it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::data::{self, Input, Sink};
use super::{Live, Runtime, Spec, State, specs};
use crate::error::{DataError, Error};
use crate::plan::Target;
use crate::progress::Progress;
use crate::session::Session;
use crate::stream::{file_error, megabytes, partial};

/// Seconds a restarted database has to answer again.
const RESTART_TIMEOUT: u64 = 60;

/// One database picked by name, its runtime, and what it runs as now.
#[derive(Debug)]
pub struct Picked<'a> {
    pub spec: Spec<'a>,
    pub runtime: Runtime,
    pub live: Live,
}

pub async fn pick<'a>(
    session: &Session,
    plan: &'a crate::plan::Plan,
    database: &str,
) -> Result<Picked<'a>, Error> {
    let all = specs(plan);
    let Some(spec) = all.iter().find(|s| s.resource.name == database).copied() else {
        return Err(Error::UnknownDatabase {
            name: database.to_owned(),
            known: plan.resources.iter().map(|r| r.name.clone()).collect(),
        });
    };
    data::tools(&spec)?;
    let runtime = Runtime::select(session.runtime, &[spec]).await?;
    let live = runtime.inspect(&spec).await?;
    Ok(Picked {
        spec,
        runtime,
        live,
    })
}

fn running(p: &Picked<'_>) -> Result<(), Error> {
    if p.live.state == State::Running {
        Ok(())
    } else {
        Err(Error::NotUp {
            resource: p.spec.resource.name.clone(),
            cloud: false,
        })
    }
}

/// `provision dump DB [-o FILE]`: the engine's dump of the running database, streamed to
/// FILE (written aside and renamed when complete) or stdout.
pub async fn dump(session: &Session, database: &str, output: Option<&Path>) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let p = pick(session, &plan, database).await?;
    running(&p)?;
    let tools = data::tools(&p.spec)?;
    let to_stdout = output.is_none_or(|o| o == Path::new("-"));
    if to_stdout && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(DataError::DumpToTerminal {
            resource: database.to_owned(),
            suffix: tools.suffix.clone(),
        }
        .into());
    }
    let meter = crate::meter::Meter::new(database, session.quiet, None);
    let (sink, aside): (Sink, Option<(PathBuf, PathBuf)>) = match output {
        Some(path) if !to_stdout => {
            let aside = partial(path);
            let file = tokio::fs::File::create(&aside)
                .await
                .map_err(file_error("create", &aside))?;
            let file = meter.writer(file);
            (Sink::Writer(Box::new(file)), Some((aside, path.to_owned())))
        }
        _ => (
            Sink::Writer(Box::new(meter.writer(tokio::io::stdout()))),
            None,
        ),
    };
    let outcome =
        data::run_tool(&p.runtime, &p.spec, &p.live, &tools.dump, Input::None, sink).await;
    meter.finish();
    let outcome = match outcome {
        Ok(o) if o.code == 0 => o,
        other => {
            if let Some((aside, _)) = &aside {
                let _ = std::fs::remove_file(aside);
            }
            let o = other?;
            data::check(&p.spec, "dump the database", &tools.dump, &o)?;
            o
        }
    };
    if let Some((aside, path)) = &aside {
        let file = tokio::fs::File::open(aside)
            .await
            .map_err(file_error("open", aside))?;
        file.sync_all().await.map_err(file_error("sync", aside))?;
        std::fs::rename(aside, path).map_err(file_error("rename into place", path))?;
    }
    if !session.quiet {
        eprintln!(
            "{database}: dumped {} in {:.1}s{}",
            megabytes(outcome.bytes_out),
            outcome.took.as_secs_f64(),
            output
                .filter(|_| !to_stdout)
                .map(|o| format!(" to {}", o.display()))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// The input of `restore`: a file, or stdin for `-` or none; counted by a meter that knows
/// a file's size.
async fn open_input(
    input: Option<&Path>,
    database: &str,
    quiet: bool,
) -> Result<(Input, crate::meter::Meter), Error> {
    use crate::meter::Meter;
    match input {
        Some(path) if path != Path::new("-") => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(file_error("open", path))?;
            let size = file.metadata().await.ok().map(|m| m.len());
            let meter = Meter::new(database, quiet, size);
            Ok((Input::Reader(Box::new(meter.reader(file))), meter))
        }
        _ => {
            let meter = Meter::new(database, quiet, None);
            let stdin = meter.reader(tokio::io::stdin());
            Ok((Input::Reader(Box::new(stdin)), meter))
        }
    }
}

/// `provision restore DB [FILE|-]`: the dump into the database, replacing what the dump
/// holds, crash-safely (see the module's comment).
pub async fn restore(session: &Session, database: &str, input: Option<&Path>) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let p = pick(session, &plan, database).await?;
    let tools = data::tools(&p.spec)?;
    let progress = Progress::new(session.quiet, &[database]);
    let (reader, meter) = open_input(input, database, session.quiet).await?;
    if let Some(script) = &tools.restore_offline {
        return restore_offline(session, &p, script, reader, &progress).await;
    }
    running(&p)?;
    // Plain SQL cannot be applied atomically: keep what is there until the restore is done.
    let keep = p.spec.template.probe == crate::catalog::Probe::Mysql;
    let backup = backup_path(&p);
    if keep {
        if backup.exists() {
            progress.say(
                database,
                &format!(
                    "an earlier restore did not finish; the data from before it is kept in {}",
                    backup.display()
                ),
            );
        } else {
            let aside = partial(&backup);
            let file = tokio::fs::File::create(&aside)
                .await
                .map_err(file_error("create", &aside))?;
            let o = data::run_tool(
                &p.runtime,
                &p.spec,
                &p.live,
                &tools.dump,
                Input::None,
                Sink::Writer(Box::new(file)),
            )
            .await?;
            data::check(&p.spec, "dump the data before the restore", &tools.dump, &o)?;
            std::fs::rename(&aside, &backup).map_err(file_error("rename into place", &backup))?;
            progress.say(
                database,
                &format!(
                    "kept the current data in {} until the restore is done",
                    backup.display()
                ),
            );
        }
    }
    data::crash_point("restore-before-load");
    let outcome = data::run_tool(
        &p.runtime,
        &p.spec,
        &p.live,
        &tools.restore,
        reader,
        Sink::Capture,
    )
    .await;
    meter.finish();
    let outcome = outcome?;
    data::check(&p.spec, "restore the dump", &tools.restore, &outcome)?;
    data::crash_point("restore-loaded");
    if keep {
        std::fs::remove_file(&backup).map_err(file_error("remove", &backup))?;
    }
    progress.say(
        database,
        &format!(
            "restored {} in {:.1}s",
            megabytes(outcome.bytes_in),
            outcome.took.as_secs_f64()
        ),
    );
    Ok(())
}

/// Where a MySQL restore keeps the data from before it: the project's directory in
/// provision's home, whichever runtime.
fn backup_path(p: &Picked<'_>) -> PathBuf {
    let dir = crate::home::root()
        .join(p.spec.project)
        .join(&p.spec.resource.name);
    let _ = std::fs::create_dir_all(&dir);
    dir.join("before-restore.sql")
}

/// Redis: stop, build the new data aside and swap it in, start; the old data goes only once
/// the server answers on the new, and comes back if it does not.
async fn restore_offline(
    session: &Session,
    p: &Picked<'_>,
    script: &str,
    reader: Input,
    progress: &Progress,
) -> Result<(), Error> {
    let timeout = Duration::from_secs(session.timeout.unwrap_or(RESTART_TIMEOUT));
    let outcome = load_offline(&p.runtime, &p.spec, script, reader, progress, timeout).await?;
    progress.say(
        &p.spec.resource.name,
        &format!(
            "restored {} in {:.1}s",
            megabytes(outcome.bytes_in),
            outcome.took.as_secs_f64()
        ),
    );
    Ok(())
}

/// The offline load of `restore_offline` (a Redis RDB into its data directory) on a
/// database given by its parts: stop, build aside, swap, start and wait for a real query,
/// then drop the old data; put back if the server does not answer on the new. A refused
/// input (`ToolFailed`) leaves the old data serving. Also what an `.rdb` seed file runs.
pub async fn load_offline(
    runtime: &Runtime,
    spec: &Spec<'_>,
    script: &str,
    reader: Input,
    progress: &Progress,
    timeout: Duration,
) -> Result<data::Outcome, Error> {
    let name = spec.resource.name.as_str();
    progress.say(name, "stopping the server to load the dump");
    runtime.down(spec, false).await?;
    data::crash_point("restore-stopped");
    let outcome = data::offline_script(runtime, spec, script, reader).await?;
    if outcome.code != 0 {
        // Nothing was swapped: the old data is untouched; bring it back up.
        let _ = runtime.up(spec, progress, timeout).await;
        data::check(spec, "load the dump", &["sh".to_owned()], &outcome)?;
    }
    data::crash_point("restore-swapped");
    match runtime.up(spec, progress, timeout).await {
        Ok(_) => {}
        Err(cause) => {
            runtime.down(spec, false).await?;
            let back = "set -e; cd \"$1\"; if [ -d appendonlydir.provision-old ]; then rm -rf appendonlydir.provision-failed; mv appendonlydir appendonlydir.provision-failed; mv appendonlydir.provision-old appendonlydir; fi";
            data::offline_script(runtime, spec, back, Input::None).await?;
            runtime.up(spec, progress, timeout).await?;
            return Err(DataError::RolledBack {
                resource: name.to_owned(),
                cause: Box::new(cause),
            }
            .into());
        }
    }
    data::crash_point("restore-started");
    let live = runtime.inspect(spec).await?;
    let cleanup = [
        "sh".to_owned(),
        "-c".to_owned(),
        "rm -rf \"$1/appendonlydir.provision-old\"".to_owned(),
        "sh".to_owned(),
        data_path_at(runtime, spec)?,
    ];
    let o = data::run_tool(runtime, spec, &live, &cleanup, Input::None, Sink::Capture).await?;
    data::check(
        spec,
        "remove the data from before the restore",
        &cleanup,
        &o,
    )?;
    Ok(outcome)
}

/// The data directory as the tools see it (in the container, or on this machine).
pub fn data_path_at(runtime: &Runtime, spec: &Spec<'_>) -> Result<String, Error> {
    match runtime {
        Runtime::Docker(d) => d.data_path_of(spec),
        Runtime::Native(n) => Ok(n.data_dir(spec).display().to_string()),
    }
}

/// `provision reset DB`: the database emptied in place by the engine (Postgres: every
/// schema, in one transaction; MariaDB/MySQL: the database dropped and created again, its
/// grants kept; Redis: `FLUSHALL`), so port, password and TLS stay as they are; then seeded.
pub async fn reset(session: &Session, database: &str, yes: bool) -> Result<bool, Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let p = pick(session, &plan, database).await?;
    running(&p)?;
    if !yes {
        let what = format!("deleting the data of {database}");
        let question = format!(
            "This deletes every table and key of `{database}` in project `{}`.",
            plan.project.name
        );
        if !session.confirm(what, &question, &plan.project.name, "--yes")? {
            return Ok(false);
        }
    }
    wipe(&p).await?;
    let progress = Progress::new(session.quiet, &[database]);
    progress.say(database, "emptied; port, password and TLS are unchanged");
    super::seed::after_reset(&p, &progress).await?;
    Ok(true)
}

/// Empties the database with the engine's `wipe` commands.
pub async fn wipe(p: &Picked<'_>) -> Result<(), Error> {
    wipe_at(&p.runtime, &p.spec, &p.live).await
}

/// [`wipe`] on a database given by its parts.
pub async fn wipe_at(runtime: &Runtime, spec: &Spec<'_>, live: &Live) -> Result<(), Error> {
    let p = Parts {
        runtime,
        spec,
        live,
    };
    let tools = data::tools(p.spec)?;
    let text = tools.wipe.replace(
        "{database}",
        p.spec.resource.database.as_deref().unwrap_or_default(),
    );
    let o = data::run_tool(
        p.runtime,
        p.spec,
        p.live,
        &tools.run,
        Input::Bytes(text.into_bytes()),
        Sink::Capture,
    )
    .await?;
    data::check(p.spec, "empty the database", &tools.run, &o)?;
    if p.spec.template.probe == crate::catalog::Probe::Redis
        && !String::from_utf8_lossy(&o.stdout).trim().starts_with("OK")
    {
        return Err(DataError::ToolFailed {
            resource: p.spec.resource.name.clone(),
            what: "empty the database".to_owned(),
            program: tools.run.first().cloned().unwrap_or_default(),
            code: 0,
            stderr: String::from_utf8_lossy(&o.stdout).into_owned(),
        }
        .into());
    }
    Ok(())
}

/// A database by its parts, borrowed.
struct Parts<'a, 'b> {
    runtime: &'a Runtime,
    spec: &'a Spec<'b>,
    live: &'a Live,
}
