//! `x-provision.seed`: a file or a directory of files (applied in name order) run by the
//! engine's own client against the database: `.sql` and `.sql.gz` (Postgres in one
//! transaction, stopping at the first error), `.redis` (Redis commands, one a line). A file
//! that fails names itself and the engine's own message with its line; the database is then
//! emptied again, so a retry starts from clean rather than half-seeded.

use std::path::{Path, PathBuf};

use super::data::{self, Input, Sink};
use super::workflows::{Picked, wipe};
use crate::error::{DataError, Error};
use crate::manifest::Manifest;
use crate::progress::Progress;

/// The seed files of `database`, in the order they are applied; none without `x-provision.seed`.
pub fn files(manifest: &Manifest, database: &str) -> Result<Vec<PathBuf>, Error> {
    let Some(seed) = manifest
        .services
        .iter()
        .find(|s| s.name == database)
        .and_then(|s| s.ext.seed.as_ref())
    else {
        return Ok(Vec::new());
    };
    let base = manifest.file.parent().unwrap_or(Path::new("."));
    let path = base.join(&seed.value);
    let error = |source| DataError::File {
        op: "read the seed",
        path: path.clone(),
        source,
    };
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(error)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        Ok(files)
    } else {
        std::fs::metadata(&path).map_err(error)?;
        Ok(vec![path])
    }
}

/// Applies every seed file; on a failure, empties the database again and reports the file.
pub async fn apply(p: &Picked<'_>, files: &[PathBuf], progress: &Progress) -> Result<(), Error> {
    let tools = data::tools(&p.spec)?;
    let name = p.spec.resource.name.as_str();
    for file in files {
        let text = file.display().to_string().to_ascii_lowercase();
        let argv: Vec<String> = if has_suffix(&text, ".sql.gz") {
            let mut a = vec![
                "sh".to_owned(),
                "-c".to_owned(),
                "gzip -dc | \"$@\"".to_owned(),
                "sh".to_owned(),
            ];
            a.extend(tools.run.iter().cloned());
            a
        } else if has_suffix(&text, ".sql") && p.spec.template.sql
            || has_suffix(&text, ".redis") && !p.spec.template.sql
        {
            tools.run.clone()
        } else {
            return Err(DataError::SeedKind {
                resource: name.to_owned(),
                file: file.clone(),
            }
            .into());
        };
        let reader = tokio::fs::File::open(file)
            .await
            .map_err(|source| DataError::File {
                op: "open",
                path: file.clone(),
                source,
            })?;
        let o = data::run_tool(
            &p.runtime,
            &p.spec,
            &p.live,
            &argv,
            Input::Reader(Box::new(reader)),
            Sink::Capture,
        )
        .await?;
        let stdout = String::from_utf8_lossy(&o.stdout);
        // redis-cli reading commands goes on after an error and exits 0: its replies say.
        let redis_error = (!p.spec.template.sql)
            .then(|| {
                stdout
                    .lines()
                    .enumerate()
                    .find(|(_, l)| {
                        l.starts_with("ERR")
                            || l.starts_with("WRONGTYPE")
                            || l.starts_with("(error)")
                    })
                    .map(|(n, l)| format!("reply {}: {l}", n + 1))
            })
            .flatten();
        if o.code != 0 || redis_error.is_some() {
            let detail = redis_error.unwrap_or_else(|| {
                o.stderr
                    .replace("<stdin>", &file.display().to_string())
                    .trim()
                    .to_owned()
            });
            let _ = wipe(p).await;
            return Err(DataError::SeedFailed {
                resource: name.to_owned(),
                file: file.clone(),
                code: o.code,
                detail,
            }
            .into());
        }
        progress.say(name, &format!("seeded from {}", file.display()));
    }
    Ok(())
}

/// After `reset`: the seed again, when the manifest has one.
pub async fn after_reset(
    manifest: &Manifest,
    p: &Picked<'_>,
    progress: &Progress,
) -> Result<(), Error> {
    let files = files(manifest, &p.spec.resource.name)?;
    apply(p, &files, progress).await
}

/// `provision seed DB`: applies the seed on demand.
pub async fn seed(session: &crate::session::Session, database: &str) -> Result<(), Error> {
    let (manifest, plan) = session.plan(crate::plan::Target::Local)?;
    let p = super::workflows::pick(session, &plan, database).await?;
    if p.live.state != super::State::Running {
        return Err(Error::NotUp {
            resource: database.to_owned(),
            cloud: false,
        });
    }
    let files = files(&manifest, database)?;
    let progress = Progress::new(session.quiet, &[database]);
    if files.is_empty() {
        progress.say(
            database,
            "no `x-provision.seed` in the manifest: nothing to apply",
        );
    }
    apply(&p, &files, &progress).await
}

/// `name` (lower case) ends in `suffix`.
fn has_suffix(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len() && name.get(name.len() - suffix.len()..) == Some(suffix)
}
