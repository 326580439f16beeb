//! Process supervision for native servers: the account a server runs as, files it may read,
//! the PID-plus-start-time record that identifies it across runs, and running setup programs.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::Stdio;

use crate::error::Error;

/// A system account to run a server as when we are root (servers refuse root, rightly).
#[derive(Debug, Clone, Copy)]
pub(super) struct Account {
    pub(super) uid: u32,
    pub(super) gid: u32,
}

pub(super) fn account(name: &str) -> Option<Account> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name)).then(|| {
            Some(Account {
                uid: fields.get(2)?.parse().ok()?,
                gid: fields.get(3)?.parse().ok()?,
            })
        })?
    })
}

pub(super) fn io_error(resource: &str, what: &str) -> impl FnOnce(std::io::Error) -> Error {
    let (resource, what) = (resource.to_owned(), what.to_owned());
    move |e| Error::Native {
        resource,
        what,
        source: Box::new(e),
    }
}

/// The start time of a process (field 22 of `/proc/PID/stat`): with the PID, it identifies
/// the process even after the PID is reused.
pub(super) fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None; // a zombie has exited
    }
    fields.get(19)?.parse().ok()
}

pub(super) fn write_private(
    path: &Path,
    text: &str,
    owner: Option<Account>,
) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    give_to(path, owner)
}

pub(super) fn make_dir(path: &Path, mode: u32, owner: Option<Account>) -> std::io::Result<()> {
    fs::create_dir_all(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    give_to(path, owner)
}

/// Hands a file or directory to the server's account (when we run as root).
fn give_to(path: &Path, owner: Option<Account>) -> std::io::Result<()> {
    if let Some(a) = owner {
        rustix::fs::chown(
            path,
            Some(rustix::fs::Uid::from_raw(a.uid)),
            Some(rustix::fs::Gid::from_raw(a.gid)),
        )?;
    }
    Ok(())
}

/// A setup program that failed, with the last lines it printed.
#[derive(Debug)]
pub(super) struct SetupFailed(pub(super) String);

impl std::fmt::Display for SetupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupFailed {}

/// Runs a setup program to completion, as `owner` when given.
pub(super) async fn run_as(
    mut cmd: tokio::process::Command,
    owner: Option<Account>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if let Some(a) = owner {
        cmd.uid(a.uid).gid(a.gid);
    }
    // Ctrl-C drops this future: take the setup process down with it rather than let it
    // write on while the next run starts over.
    cmd.stdin(Stdio::null()).current_dir("/").kill_on_drop(true);
    let output = cmd.output().await?;
    if output.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let last: Vec<&str> = text.lines().rev().take(15).collect();
    Err(Box::new(SetupFailed(format!(
        "{}:\n{}",
        output.status,
        last.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))))
}

/// The last lines of a log file.
pub(super) fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(25).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}
