//! The wording of the errors of the commands themselves: flags and targets, apps, clients, output.

use std::fmt::Write as _;

use super::Error;

/// Writes `error` if it is one of this area's; `Error::render_with` decides which area.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per error variant: the wording of each error of this area in one place"
)]
pub(super) fn render(error: &Error, verbose: bool, out: &mut String) {
    match error {
        Error::Output(source) => {
            let _ = writeln!(out, "error: cannot write the output");
            let _ = writeln!(out, "Caused by: {source}");
        }
        Error::InvalidStage { given } => {
            let _ = writeln!(out, "error: `{given}` cannot be a stage name");
            let _ = writeln!(
                out,
                "hint: use letters, digits and `-`, for example `--stage pr-42`, or `--stage auto` in CI"
            );
        }
        Error::NoCiStage => {
            let _ = writeln!(
                out,
                "error: `--stage auto` found no CI system (none of GITHUB_ACTIONS, GITLAB_CI, BUILDKITE, CIRCLECI is set, or it names no branch)"
            );
            let _ = writeln!(
                out,
                "hint: name the stage: `--stage NAME` or `PROVISION_STAGE=NAME`"
            );
        }
        Error::InvalidTtl { given } => {
            let _ = writeln!(out, "error: `{given}` is not a time to live");
            let _ = writeln!(
                out,
                "hint: a whole number and a unit: `30m`, `12h`, `3d` or `2w`"
            );
        }
        Error::TtlOnDefaultStage { given } => {
            let _ = writeln!(
                out,
                "error: `--ttl {given}` on the default stage: the default stage never expires"
            );
            let _ = writeln!(out, "hint: name a stage: `--stage NAME --ttl {given}`");
        }
        Error::MarkdownNeedsCloud => {
            let _ = writeln!(
                out,
                "error: `plan --format markdown` describes the cloud plan only"
            );
            let _ = writeln!(out, "hint: `provision plan --cloud --format markdown`");
        }
        Error::DriftNeedsCloud => {
            let _ = writeln!(
                out,
                "error: `plan --drift` looks for changes made on AWS outside provision"
            );
            let _ = writeln!(out, "hint: `provision plan --cloud --drift`");
        }
        Error::GithubEnvUnset => {
            let _ = writeln!(
                out,
                "error: `--format github` writes to the file `GITHUB_ENV` names, and `GITHUB_ENV` is not set"
            );
            let _ = writeln!(
                out,
                "hint: run it in a GitHub Actions `run:` step; elsewhere use `--format dotenv` or `--format shell`, or `provision run -- CMD`"
            );
        }
        Error::GithubEnvIsStdout { path } => {
            let _ = writeln!(
                out,
                "error: stdout is the file `GITHUB_ENV` names ({}): the masks would land in it",
                path.display()
            );
            let _ = writeln!(
                out,
                "hint: drop the `>> \"$GITHUB_ENV\"`: `provision env --format github` appends the variables to that file itself and prints the masks on stdout, where the runner reads them"
            );
        }
        Error::WriteGithubEnv { path, source } => {
            let _ = writeln!(
                out,
                "error: cannot append the variables to `GITHUB_ENV` ({})",
                path.display()
            );
            let _ = writeln!(out, "Caused by: {source}");
        }
        Error::GithubEnvRefused { name, reason } => {
            let (why, hint) = match reason {
                crate::env_format::GithubRefusal::Name => (
                    "its name is not one the runner reads back as written",
                    "hand the variables over with `provision run -- CMD` instead",
                ),
                crate::env_format::GithubRefusal::Delimiter => (
                    "its value contains the delimiter that would end it in the file",
                    "run the command again: the delimiter is new on every run",
                ),
            };
            let _ = writeln!(
                out,
                "error: `{name}` cannot be written to `GITHUB_ENV`: {why}; nothing was written"
            );
            let _ = writeln!(out, "hint: {hint}");
        }
        Error::AsyncRuntime(source) => {
            let _ = writeln!(out, "error: cannot start provision's async runtime");
            let _ = writeln!(out, "Caused by: {source}");
        }
        Error::NotUp {
            resource,
            cloud: false,
        } => {
            let _ = writeln!(out, "error: {resource} is not running");
            let _ = writeln!(out, "hint: start it with `provision --local`");
        }
        Error::NotUp {
            resource,
            cloud: true,
        } => {
            let _ = writeln!(out, "error: {resource} does not exist on AWS");
            let _ = writeln!(out, "hint: create it with `provision --cloud`");
        }
        Error::UpFailed { failures, ok, done } => {
            for (_, error) in failures {
                out.push_str(&error.render_with(verbose));
            }
            let names: Vec<&str> = failures.iter().map(|(n, _)| n.as_str()).collect();
            let _ = writeln!(
                out,
                "error: {} of {} databases failed: {}; {ok} {done}",
                failures.len(),
                failures.len() + ok,
                names.join(", ")
            );
        }
        Error::UnknownService { name, known } => {
            let _ = writeln!(
                out,
                "error: `{name}` is not an app service of this manifest"
            );
            let suggestion = crate::suggest::did_you_mean(name, known.iter().map(String::as_str));
            match suggestion {
                Some(s) => {
                    let _ = writeln!(out, "hint: did you mean `{s}`?");
                }
                None => {
                    let _ = writeln!(out, "hint: app services: {}", known.join(", "));
                }
            }
        }
        Error::NeedsConfirmation { what, flag } => {
            let _ = writeln!(
                out,
                "error: {what} needs confirmation, and there is no terminal to ask on"
            );
            let _ = writeln!(out, "hint: add `{flag}` if you mean it");
        }
        Error::RunCommand { program, source } => {
            let _ = writeln!(out, "error: cannot run `{program}`");
            let _ = writeln!(out, "Caused by: {source}");
        }
        Error::LocalOnly { command, cloud } => {
            let _ = writeln!(
                out,
                "error: `{command}` works on the local databases, not with `--cloud`"
            );
            let _ = writeln!(
                out,
                "hint: in the cloud, `{cloud}` deletes the project's databases"
            );
        }
        Error::NeedsCloud { command, local } => {
            let _ = writeln!(
                out,
                "error: `{command}` works on the cloud databases: add `--cloud`"
            );
            let _ = writeln!(
                out,
                "hint: locally, `{local}` stops the databases and deletes their data"
            );
        }
        Error::Interrupted => {
            let _ = writeln!(
                out,
                "error: interrupted; what was started keeps running or being created, and running the same command again picks up from there"
            );
        }
        Error::StartContainersNative => {
            let _ = writeln!(
                out,
                "error: `start --containers` runs the apps in Docker, and `--runtime native` rules Docker out"
            );
            let _ = writeln!(
                out,
                "hint: drop `--runtime native` (Docker must be running), or drop `--containers` to run the apps as host processes"
            );
        }
        Error::BuildFailed { service, reason } => {
            let _ = writeln!(
                out,
                "error: the image of app service `{service}` did not build"
            );
            let _ = writeln!(out, "Caused by: {reason}");
            let _ = writeln!(
                out,
                "hint: the build's output is above, prefixed `{service} |`; fix the Dockerfile or the `build:` keys"
            );
        }
        Error::StartCloud => {
            let _ = writeln!(
                out,
                "error: `start` runs the app on this machine; there is no `start --cloud`"
            );
            let _ = writeln!(
                out,
                "hint: to run a program against the cloud databases, use `provision run --cloud --service NAME -- CMD`"
            );
        }
        Error::AppWithoutCommand { service } => {
            let _ = writeln!(
                out,
                "error: `{service}` has no `command:` or `entrypoint:` to run"
            );
            let _ = writeln!(
                out,
                "hint: give `{service}` a `command:` in the manifest, for example `command: [\"python3\", \"app.py\"]`"
            );
        }
        Error::NoApps { file } => {
            let _ = writeln!(
                out,
                "error: no app service in `{}` has a `command:` to run",
                file.display()
            );
            let _ = writeln!(
                out,
                "hint: add `command:` to the services `start` should run; `provision up` starts only the databases"
            );
        }
        Error::AppEnvFile {
            service,
            path,
            reason,
        } => {
            let _ = writeln!(
                out,
                "error: {service}: cannot read its `env_file` `{}`",
                path.display()
            );
            let _ = writeln!(out, "Caused by: {reason}");
            let _ = writeln!(
                out,
                "hint: create the file, fix it, or mark it `{{path: ..., required: false}}`"
            );
        }
        Error::SpawnApp {
            service,
            program,
            dir,
            source,
        } => {
            let _ = writeln!(
                out,
                "error: {service}: cannot start `{program}` in `{}`",
                dir.display()
            );
            let _ = writeln!(out, "Caused by: {source}");
            let _ = writeln!(
                out,
                "hint: check that `{program}` is installed and on PATH, and the service's `command:`"
            );
        }
        Error::ClientMissing {
            resource,
            programs,
            package,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: no client to connect with (looked for `{}` on PATH)",
                programs.join("`, `")
            );
            let _ = writeln!(
                out,
                "hint: install it, e.g. `sudo apt-get install {package}`"
            );
        }
        Error::NoClient { resource, hint } => {
            let _ = writeln!(
                out,
                "error: {resource}: there is no interactive client for it"
            );
            let _ = writeln!(out, "hint: {hint}");
        }
        Error::Client {
            program,
            what,
            source,
        } => {
            let _ = writeln!(out, "error: cannot {what} for `{program}`");
            let _ = writeln!(out, "Caused by: {source}");
        }
        Error::UnknownDatabase { name, known } => {
            let _ = writeln!(out, "error: `{name}` is not a database of this manifest");
            match crate::suggest::did_you_mean(name, known.iter().map(String::as_str)) {
                Some(s) => {
                    let _ = writeln!(out, "hint: did you mean `{s}`?");
                }
                None => {
                    let _ = writeln!(out, "hint: the databases are: {}", known.join(", "));
                }
            }
        }
        _ => {}
    }
}
