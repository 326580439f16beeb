//! Where provision keeps what it knows on this machine outside any runtime: the native
//! servers' data, and a marker per project saying that its data lives in Docker, so that
//! `--runtime auto` never starts empty native databases while Docker is merely down.

use std::path::PathBuf;

/// `$PROVISION_HOME`, else `/var/lib/provision` as root, else `$XDG_DATA_HOME/provision`.
pub fn root() -> PathBuf {
    match std::env::var_os("PROVISION_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        // Root's home is private; native servers run as their own users and need to reach
        // their data, so as root the data lives where system services keep theirs.
        None if rustix::process::geteuid().is_root() => PathBuf::from("/var/lib/provision"),
        None => match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d).join("provision"),
            None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".local/share/provision"),
        },
    }
}

fn docker_marker(project: &str) -> PathBuf {
    root().join(project).join(".data-in-docker")
}

/// Records that `project` keeps data in Docker volumes. Best effort: without it, `auto`
/// merely loses its guard.
pub fn mark_docker(project: &str) {
    let path = docker_marker(project);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&path, "");
}

/// Forgets the marker (after `down --volumes` deleted the data).
pub fn unmark_docker(project: &str) {
    let _ = std::fs::remove_file(docker_marker(project));
}

pub fn docker_marked(project: &str) -> bool {
    docker_marker(project).exists()
}

/// The record of a local major version upgrade of one database (`local::upgrade` writes it).
pub fn upgrade_record(project: &str, resource: &str) -> PathBuf {
    root().join(project).join(resource).join("upgrade.json")
}

/// The volume that holds a database's data according to its upgrade record: the old one
/// while the upgrade is under way, the new one from the moment its data was verified. `None`
/// without a (readable) record. Read here, below `session` and `local`, so that every local
/// command's plan follows the switch.
pub fn upgraded_volume(project: &str, resource: &str) -> Option<String> {
    let bytes = std::fs::read(upgrade_record(project, resource)).ok()?;
    let record: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let key = if record.get("step")?.as_str()? == "started" {
        "old_volume"
    } else {
        "new_volume"
    };
    record.get(key)?.as_str().map(str::to_owned)
}
