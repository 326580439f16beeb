//! Finding a server's binaries on this machine: `PATH` and the template's search directories,
//! newest version first, and the version the found server reports.

use std::fs;
use std::path::{Path, PathBuf};

use crate::local::Spec;
use crate::progress::Progress;

/// The first `N.N[.N]` in a `--version` line.
pub(super) fn version_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|t| t.contains('.') && t.starts_with(|c: char| c.is_ascii_digit()))
        .map(|t| t.trim_end_matches('.').to_owned())
}

/// Directories to search: the manifest's version first (`/usr/lib/postgresql/16/bin`), then
/// `PATH`, then the template's other directories (`*` expanded, newest version first).
fn search_dirs(spec: &Spec<'_>) -> Vec<PathBuf> {
    let line = spec
        .template
        .version_line(&spec.resource.version)
        .unwrap_or(&spec.resource.version)
        .to_owned();
    let (versioned, others): (Vec<&String>, Vec<&String>) = spec
        .template
        .native
        .search
        .iter()
        .partition(|p| p.contains("{version}"));
    let mut dirs: Vec<PathBuf> = versioned
        .iter()
        .map(|p| PathBuf::from(p.replace("{version}", &line)))
        .collect();
    dirs.extend(
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    for pattern in others {
        match pattern.split_once("/*/") {
            Some((parent, rest)) => {
                let mut found: Vec<PathBuf> = fs::read_dir(parent)
                    .map(|entries| {
                        entries
                            .filter_map(Result::ok)
                            .map(|e| e.path().join(rest))
                            .collect()
                    })
                    .unwrap_or_default();
                found.sort_by_key(|p| {
                    std::cmp::Reverse(
                        version_in(&p.to_string_lossy())
                            .and_then(|v| v.split('.').next()?.parse::<u32>().ok())
                            .unwrap_or(0),
                    )
                });
                dirs.extend(found);
            }
            None => dirs.push(PathBuf::from(pattern)),
        }
    }
    dirs
}

/// The directory holding all of the template's binaries.
pub(super) fn find(spec: &Spec<'_>) -> Option<PathBuf> {
    let needed = &spec.template.native.binaries;
    search_dirs(spec)
        .into_iter()
        .find(|dir| needed.iter().all(|b| dir.join(b).is_file()))
}

/// The first-run setup program, when the template has one: the first candidate that exists.
/// `Ok(None)`: no setup needed; `Err`: the candidates, none installed.
pub(super) fn init_program(spec: &Spec<'_>, bin: &Path) -> Result<Option<PathBuf>, Vec<String>> {
    let Some(init) = &spec.template.native.init else {
        return Ok(None);
    };
    let candidates: Vec<String> = init
        .programs
        .iter()
        .map(|p| p.replace("{bin}", &bin.display().to_string()))
        .collect();
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .map(Some)
        .ok_or(candidates)
}

/// Whether the server and its setup program are installed.
pub(super) fn installed(spec: &Spec<'_>) -> bool {
    find(spec).is_some_and(|bin| init_program(spec, &bin).is_ok())
}

/// Records the installed server's version; warns when it is not the line the manifest asks for.
pub(super) async fn check_version(spec: &Spec<'_>, server: &Path, dir: &Path, progress: &Progress) {
    let output = tokio::process::Command::new(server)
        .args(&spec.template.native.version_args)
        .output()
        .await;
    let Some(found) = output
        .ok()
        .and_then(|o| version_in(&String::from_utf8_lossy(&o.stdout)))
    else {
        return;
    };
    let _ = fs::write(dir.join("version"), &found);
    let wanted = spec.template.version_line(&spec.resource.version);
    let have = spec.template.version_line(&found);
    if wanted != have {
        progress.say(
            &spec.resource.name,
            &format!(
                "warning: the manifest asks for {} {}, but {} is version {found}",
                spec.template.name,
                spec.resource.version,
                server.display()
            ),
        );
    }
}
