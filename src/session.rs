//! What every command shares once the command line is parsed: the global options, the
//! manifest and plan they select, the async runtime, stdout, and the one confirmation prompt.
//! `local` and `cloud` take a `Session`, so they never see clap.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::error::{Error, Exit};
use crate::manifest::{self, Manifest};
use crate::plan::{self, Plan, Target};

/// `--runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeChoice {
    /// Docker (or Podman) when an engine answers, else native servers
    Auto,
    Docker,
    Native,
}

#[derive(Debug)]
pub struct Session {
    /// `-f`, in order (empty: found in the working directory).
    pub file: Vec<PathBuf>,
    pub project: Option<String>,
    pub quiet: bool,
    pub verbose: u8,
    pub runtime: RuntimeChoice,
    /// `--timeout` in seconds; each target has its own default.
    pub timeout: Option<u64>,
    /// `--stage` / `PROVISION_STAGE` as given (`auto` included); the cloud side's stage.
    pub stage: Option<String>,
    /// `--ttl` as given.
    pub ttl: Option<String>,
    pub catalog: Catalog,
}

impl Session {
    /// Loads the manifest named by the flags, from the working directory.
    pub fn load(&self) -> Result<Manifest, Error> {
        let cwd = std::env::current_dir().map_err(|source| Error::ReadManifest {
            path: PathBuf::from("."),
            source,
        })?;
        let env = |name: &str| std::env::var(name).ok();
        let paths = manifest::compose::locate_files(&cwd, &self.file, &env)?;
        manifest::compose::load_files(&cwd, &paths, &env)
    }

    /// The plan for `target`, with its warnings printed on stderr (unless `--quiet`).
    pub fn plan(&self, target: Target) -> Result<(Manifest, Plan), Error> {
        let manifest = self.load()?;
        let stage = match target {
            Target::Cloud => self.stage_plan(&manifest)?,
            Target::Local => plan::StagePlan::default(),
        };
        let mut plan = plan::plan_staged(
            &manifest,
            &self.catalog,
            target,
            self.project.as_deref(),
            &stage,
        )?;
        if target == Target::Local {
            // A database moved by `provision upgrade` keeps its data in the upgrade's volume.
            let project = plan.project.name.clone();
            for r in &mut plan.resources {
                if let Some(local) = r.local.as_mut().filter(|l| l.volume.is_some())
                    && let Some(volume) = crate::home::upgraded_volume(&project, &r.name)
                {
                    local.volume = Some(volume);
                }
            }
        }
        if !self.quiet {
            for warning in &plan.warnings {
                eprint!("{}", warning.render(&manifest.file));
            }
        }
        Ok((manifest, plan))
    }

    /// The stage the flags, the environment and the manifest select, with its expiry from now.
    pub fn stage_plan(&self, manifest: &Manifest) -> Result<plan::StagePlan, Error> {
        use crate::model::stage;
        let env = |name: &str| std::env::var(name).ok();
        let from_env = env("PROVISION_STAGE").filter(|s| !s.trim().is_empty());
        let chosen = stage::resolve(
            self.stage.as_deref().or(from_env.as_deref()),
            manifest.cloud.stage.as_ref().map(|s| s.value.as_str()),
            &env,
        )?;
        stage::stage_plan(
            chosen,
            manifest.cloud.stages.as_ref(),
            self.ttl.as_deref(),
            stage::now(),
        )
    }

    /// `plan` without a runtime or AWS: the desired state still shows; stderr says why no more.
    pub fn note_live_state_unknown(&self, error: &Error) {
        if !self.quiet {
            eprintln!("note: live state unknown: {}", error.summary());
        }
    }

    /// Asks on the terminal to type `expected` before something destructive. Without a
    /// terminal the answer is an error naming the flag that skips the question.
    pub fn confirm(
        &self,
        what: String,
        question: &str,
        expected: &str,
        flag: &'static str,
    ) -> Result<bool, Error> {
        if !std::io::stdin().is_terminal() {
            return Err(Error::NeedsConfirmation { what, flag });
        }
        eprint!("{question} Type the project name to confirm: ");
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if answer.trim() == expected {
            Ok(true)
        } else {
            eprintln!("not confirmed; nothing was deleted");
            Ok(false)
        }
    }
}

/// Writes data to stdout.
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`provision plan | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Error::Output),
    }
}

/// Pretty JSON with a final newline, for stdout.
pub fn json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::Output(e.into()))?;
    text.push('\n');
    Ok(text)
}

/// Runs a command's future on a small runtime; Ctrl-C ends it with `Error::Interrupted`.
pub fn block_on<T, F: std::future::Future<Output = Result<T, Error>>>(
    future: F,
) -> Result<T, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::AsyncRuntime)?;
    runtime.block_on(async {
        tokio::select! {
            result = future => result,
            // What was started keeps running; the next `up` converges from there.
            _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
        }
    })
}

/// `Exit::Success`, or `Exit::Failure` when the user declined a confirmation.
pub fn confirmed(yes: bool) -> Exit {
    if yes { Exit::Success } else { Exit::Failure }
}
