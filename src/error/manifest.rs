//! The wording of the errors of reading the manifest and the templates.

use std::fmt::Write as _;

use super::Error;
use crate::problem::Severity;

/// Writes `error` if it is one of this area's; `Error::render_with` decides which area.
pub(super) fn render(error: &Error, _verbose: bool, out: &mut String) {
    match error {
        Error::ManifestNotFound { dir, tried } => {
            let _ = writeln!(out, "error: no manifest found in `{}`", dir.display());
            let _ = writeln!(out, "  looked for: {}", tried.join(", "));
            let _ = writeln!(
                out,
                "hint: create a `compose.yaml` with your databases as services, or pass `-f PATH`"
            );
        }
        Error::ReadManifest { path, source } => {
            let _ = writeln!(out, "error: cannot read the manifest `{}`", path.display());
            let _ = writeln!(out, "Caused by: {source}");
            if source.kind() == std::io::ErrorKind::NotFound {
                let _ = writeln!(out, "hint: check the path given to `-f`");
            }
        }
        Error::ReadEnvFile { path, source } => {
            let _ = writeln!(out, "error: cannot read `{}`", path.display());
            let _ = writeln!(out, "Caused by: {source}");
            let _ = writeln!(
                out,
                "hint: the `.env` file next to the manifest supplies `${{VAR}}` values; fix its permissions or remove it"
            );
        }
        Error::ManifestInvalid { file, problems } => {
            let errors = problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            for problem in problems {
                out.push_str(&problem.render(file));
            }
            if errors > 1 {
                let _ = writeln!(
                    out,
                    "error: the manifest has {errors} errors; `provision doctor` checks everything at once"
                );
            }
        }
        Error::InvalidProjectFlag { given } => {
            let _ = writeln!(out, "error: `{given}` cannot be a project name");
            let _ = writeln!(
                out,
                "hint: use lowercase letters, digits and `-`, starting with a letter, for example `-p my-app`"
            );
        }
        Error::Template(e) => {
            let _ = writeln!(
                out,
                "error: the built-in template `templates/{}` is invalid: {}",
                e.file, e.message
            );
            let _ = writeln!(out, "hint: this is a bug in provision; please report it");
        }
        _ => {}
    }
}
