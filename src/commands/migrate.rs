//! `x-provision.migrate` on an app service: its schema migrations, run as the app would run
//! them, once the databases answer and before any app starts. `up` runs them after the
//! databases are ready (locally, or with `--cloud` from the CI runner against the cloud
//! endpoints), `start` before it starts the apps; `--no-migrate` skips them.
//!
//! A migration is a process on this machine, like `start`'s apps: the service's Compose
//! `environment:` (with its `env_file:`), then its link variables (which win), in its
//! directory (`working_dir:` when it is a directory here, else the `build:` context, else the
//! manifest's). Secrets reach it by environment only, never by argument. Migrations run one at
//! a time in the manifest's order, and the first that fails stops everything after it: a
//! schema half-migrated by one service is no base for the next, nor for an app.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::start::apps;
use super::start::output::{Mux, Stream};
use crate::error::{DataError, Error};
use crate::links::{self, Value, Var};
use crate::manifest::Manifest;
use crate::manifest::process::Words;
use crate::plan::{Plan, PlannedLink, Target};
use crate::session::Session;

/// One service's migration, ready to run but for its link variables.
#[derive(Debug, Clone)]
pub struct Migration {
    pub service: String,
    pub argv: Vec<String>,
    /// The command as written, for messages (never carries a secret: it is the manifest's).
    pub shown: String,
    /// The service's `environment:` (bare names excluded: this process passes them on).
    pub env: Vec<Var>,
    pub dir: PathBuf,
}

/// The migrations of the manifest's app services, in the manifest's order. Pure.
pub fn planned(manifest: &Manifest, plan: &Plan, manifest_dir: &Path) -> Vec<Migration> {
    manifest
        .services
        .iter()
        .filter(|s| plan.apps.contains(&s.name))
        .filter_map(|service| {
            let words = &service.ext.migrate.as_ref()?.value;
            let argv = apps::argv(None, Some(words))?;
            let shown = match words {
                Words::Shell(line) => line.clone(),
                Words::List(list) => list.join(" "),
            };
            let env = service
                .environment
                .iter()
                .filter_map(|v| {
                    Some(Var {
                        name: v.value.name.clone(),
                        value: Value::Plain(v.value.value.clone()?),
                    })
                })
                .collect();
            Some(Migration {
                service: service.name.clone(),
                argv,
                shown,
                env,
                dir: apps::directory(service, manifest_dir),
            })
        })
        .collect()
}

/// The manifest's directory, absolute: where relative paths of the manifest point.
pub fn manifest_dir(manifest: &Manifest) -> Result<PathBuf, Error> {
    let cwd = std::env::current_dir().map_err(|source| Error::ReadManifest {
        path: PathBuf::from("."),
        source,
    })?;
    Ok(cwd
        .join(&manifest.file)
        .parent()
        .map_or_else(|| cwd.clone(), Path::to_path_buf))
}

/// `up`'s step after the databases are ready: the manifest read again (its warnings were
/// printed once already), and every migration run, output on stderr (stdout is for data).
pub async fn after_up(session: &Session, target: Target) -> Result<(), Error> {
    let manifest = session.load()?;
    if !manifest.services.iter().any(|s| s.ext.migrate.is_some()) {
        return Ok(());
    }
    let stage = match target {
        Target::Cloud => session.stage_plan(&manifest)?,
        Target::Local => crate::plan::StagePlan::default(),
    };
    let plan = crate::plan::plan_staged(
        &manifest,
        &session.catalog,
        target,
        session.project.as_deref(),
        &stage,
    )?;
    run_all(session, target, &manifest, &plan, Stream::Stderr).await
}

/// Runs every migration of the manifest against `target`'s running databases, their output
/// prefixed `SERVICE:migrate |` on `stream`. Nothing to do without `x-provision.migrate`.
pub async fn run_all(
    session: &Session,
    target: Target,
    manifest: &Manifest,
    plan: &Plan,
    stream: Stream,
) -> Result<(), Error> {
    let migrations = planned(manifest, plan, &manifest_dir(manifest)?);
    if migrations.is_empty() {
        return Ok(());
    }
    let wanted: Vec<(&Migration, Vec<PlannedLink>)> = migrations
        .iter()
        .map(|m| {
            let links = plan
                .services
                .iter()
                .find(|s| s.service == m.service)
                .map(|s| s.links.clone())
                .unwrap_or_default();
            (m, links)
        })
        .collect();
    let mut names: Vec<&str> = wanted
        .iter()
        .flat_map(|(_, links)| links.iter().map(|l| l.resource.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    // One read of the endpoints for all of them (for the cloud, one round of AWS calls).
    let endpoints = match target {
        Target::Local => crate::local::live_endpoints(session, plan, &names).await?,
        Target::Cloud => crate::cloud::live_endpoints(session, plan, &names).await?,
    };
    let labels: Vec<String> = migrations
        .iter()
        .map(|m| format!("{}:migrate", m.service))
        .collect();
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let mux = Mux::new(&label_refs);
    for ((migration, links), label) in wanted.iter().zip(&labels) {
        let rendered = links::render_links(links.iter().map(PlannedLink::parts), |name| {
            let at = names.iter().position(|n| *n == name)?;
            Some((&*plan.resource(name)?.template, endpoints.get(at)?.clone()))
        });
        let mut env = migration.env.clone();
        env.extend(crate::tls::Store::of(&plan.project.name).with_client_vars(rendered)?);
        let prefix = mux.prefix(label);
        if !session.quiet {
            prefix.note(&format!("running `{}`", migration.shown));
        }
        run_one(migration, &env, &prefix, stream).await?;
        if !session.quiet {
            prefix.note("done");
        }
    }
    Ok(())
}

/// Runs one migration to its end; a non-zero status is an error naming the service.
async fn run_one(
    migration: &Migration,
    env: &[Var],
    prefix: &super::start::output::Prefix,
    stream: Stream,
) -> Result<(), Error> {
    let spawn_error = |source| DataError::MigrationSpawn {
        service: migration.service.clone(),
        program: migration.argv.first().cloned().unwrap_or_default(),
        dir: migration.dir.clone(),
        source,
    };
    let (program, args) = migration
        .argv
        .split_first()
        .ok_or_else(|| Error::AppWithoutCommand {
            service: migration.service.clone(),
        })?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|v| (&v.name, v.value.expose())))
        .current_dir(&migration.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Dropped (Ctrl-C ends the command's future): the migration goes with provision.
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let pump = |reader: Option<tokio::process::ChildStdout>| async move {
        if let Some(r) = reader {
            prefix.pump(r, stream).await;
        }
    };
    let pump_err = |reader: Option<tokio::process::ChildStderr>| async move {
        if let Some(r) = reader {
            prefix.pump(r, stream).await;
        }
    };
    let (status, (), ()) = tokio::join!(child.wait(), pump(out), pump_err(err));
    let status = status.map_err(spawn_error)?;
    if status.success() {
        return Ok(());
    }
    Err(DataError::MigrationFailed {
        service: migration.service.clone(),
        command: migration.shown.clone(),
        code: status.code(),
        signal: status.signal(),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrations(text: &str) -> Vec<Migration> {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let m = crate::manifest::from_bytes(
            text.as_bytes(),
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let plan = crate::plan::plan(&m, &catalog, Target::Local, None).unwrap();
        planned(&m, &plan, Path::new("/nonexistent"))
    }

    #[test]
    fn every_app_with_migrate_in_manifest_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().display().to_string();
        let ms = migrations(&format!(
            "services:\n  worker:\n    command: w\n    links: [db]\n    x-provision: {{migrate: [./m, up]}}\n  web:\n    build: {dir}\n    environment: {{A: a, BARE: }}\n    links: [db]\n    x-provision: {{migrate: 'alembic upgrade head && echo ok'}}\n  plain: {{command: x, links: [db]}}\n  db: {{image: postgres:16}}\n"
        ));
        let names: Vec<&str> = ms.iter().map(|m| m.service.as_str()).collect();
        assert_eq!(names, ["worker", "web"]);
        assert_eq!(ms[0].argv, ["./m", "up"]);
        // The string form is a shell line, as `command:` is.
        assert_eq!(ms[1].argv, ["sh", "-c", "alembic upgrade head && echo ok"]);
        // Its directory is the build context; without one, the manifest's.
        assert_eq!(ms[1].dir, tmp.path());
        assert_eq!(ms[0].dir, Path::new("/nonexistent"));
        let env: Vec<(&str, &str)> = ms[1]
            .env
            .iter()
            .map(|v| (v.name.as_str(), v.value.expose()))
            .collect();
        assert_eq!(env, [("A", "a")]);
    }

    #[test]
    fn migrate_on_a_database_is_a_problem() {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let m = crate::manifest::from_bytes(
            b"services:\n  web: {command: x, links: [db]}\n  db:\n    image: postgres:16\n    x-provision: {migrate: x}\n",
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let e = crate::plan::plan(&m, &catalog, Target::Local, None).unwrap_err();
        let text = e.render();
        assert!(text.contains("compose.yaml:5:"), "{text}");
        assert!(text.contains("on an app service"), "{text}");
    }
}
