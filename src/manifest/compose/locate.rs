//! Which files make the project, in Compose's order: `-f` as given, else `COMPOSE_FILE` (from
//! the environment or the `.env` file), else the first manifest name found with its override
//! beside it (<https://docs.docker.com/compose/how-tos/environment-variables/envvars/#compose_file>).

use std::path::{Path, PathBuf};

use super::super::FILE_NAMES;
use super::{OVERRIDE_NAMES, read_dotenv};
use crate::error::Error;

/// The files of the project: `-f` as given (repeatable), else `COMPOSE_FILE` (from the
/// environment or the `.env` file in `dir`), else the first of [`FILE_NAMES`] with the first
/// of [`OVERRIDE_NAMES`] beside it.
pub fn locate_files(
    dir: &Path,
    given: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<PathBuf>, Error> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let dotenv = read_dotenv(&dir.join(".env"), env).unwrap_or_default();
    // An empty value counts as unset, at each level.
    let var = |name: &str| {
        env(name).filter(|v| !v.is_empty()).or_else(|| {
            dotenv
                .iter()
                .rev()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        })
    };
    if let Some(list) = var("COMPOSE_FILE") {
        let separator = var("COMPOSE_PATH_SEPARATOR")
            .unwrap_or_else(|| if cfg!(windows) { ";" } else { ":" }.to_owned());
        let files: Vec<PathBuf> = list
            .split(separator.as_str())
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .collect();
        if !files.is_empty() {
            return Ok(files);
        }
    }
    let base = super::super::locate(dir, None)?;
    let mut files = vec![base.clone()];
    // Compose's own base names only: `provision.yml` is ours, and has no override.
    let is_compose_name = base
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| FILE_NAMES[2..].contains(&n));
    if is_compose_name
        && let Some(over) = OVERRIDE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    {
        files.push(
            over.strip_prefix(dir)
                .map(Path::to_path_buf)
                .unwrap_or(over),
        );
    }
    Ok(files)
}
