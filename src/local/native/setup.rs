//! Per-engine setup, driven entirely by the template's `native:` section: first-run
//! initialisation of the data directory, the files and directories a server needs before each
//! start, and its command line. Nothing here names an engine.

use std::fs;
use std::path::{Path, PathBuf};

use super::process::{self, Account, io_error, make_dir, write_private};
use crate::error::Error;
use crate::local::Spec;
use crate::progress::Progress;
use crate::secret::Secret;

/// The values a template's placeholders stand for.
pub(super) struct Values<'a> {
    /// The resource's directory (data, logs, password, config files).
    pub(super) dir: &'a Path,
    /// The data directory this step works on (`data`, or `data.partial` during init).
    pub(super) data: PathBuf,
    /// The directory of the server's binaries.
    pub(super) bin: &'a Path,
    pub(super) port: Option<u16>,
    pub(super) spec: &'a Spec<'a>,
    /// The server's TLS files, copied to `{dir}/tls` (`x-provision.local.tls`).
    pub(super) tls: Option<&'a crate::tls::ServerFiles>,
}

impl Values<'_> {
    fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// Fills `{dir}`, `{data}`, `{bin}`, `{port}`, `{username}`, `{database}` (never the
    /// password: see `with_password`).
    fn fill(&self, text: &str) -> String {
        text.replace("{tls_dir}", &self.tls_dir().display().to_string())
            .replace("{dir}", &self.dir.display().to_string())
            .replace("{data}", &self.data.display().to_string())
            .replace("{bin}", &self.bin.display().to_string())
            .replace(
                "{port}",
                &self.port.map(|p| p.to_string()).unwrap_or_default(),
            )
            .replace(
                "{username}",
                self.spec.resource.username.as_deref().unwrap_or("app"),
            )
            .replace(
                "{database}",
                self.spec.resource.database.as_deref().unwrap_or("app"),
            )
    }
}

/// First-run setup of the data directory, then what every start needs: its directories and
/// its private files.
pub(super) async fn prepare(
    values: &Values<'_>,
    init_program: Option<&Path>,
    password: Option<&Secret>,
    owner: Option<Account>,
    is_root: bool,
    progress: &Progress,
) -> Result<(), Error> {
    let spec = values.spec;
    let name = spec.resource.name.as_str();
    let native = &spec.template.native;
    let has_data = !spec.template.container.data_path.is_empty();
    if has_data && !values.data.exists() {
        match (&native.init, init_program) {
            (Some(init), Some(program)) => {
                progress.say(
                    name,
                    &format!(
                        "initialising a new data directory ({})",
                        program
                            .file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                    ),
                );
                // Built aside and renamed when complete: a setup cut short (Ctrl-C) leaves
                // only `data.partial`, which the next run may safely start over.
                let partial = values.dir.join("data.partial");
                if partial.exists() {
                    fs::remove_dir_all(&partial)
                        .map_err(io_error(name, "remove an unfinished data directory"))?;
                }
                make_dir(&partial, 0o700, owner)
                    .map_err(io_error(name, "create its data directory"))?;
                let aside = Values {
                    data: partial.clone(),
                    ..*values
                };
                let password_file = values.dir.join("init-password");
                let needs_password = init.args.iter().any(|a| a.contains("{password_file}"));
                if needs_password {
                    write_private(
                        &password_file,
                        password.map(Secret::expose).unwrap_or_default(),
                        owner,
                    )
                    .map_err(io_error(name, "write the setup password file"))?;
                }
                let mut cmd = tokio::process::Command::new(program);
                cmd.args(init.args.iter().map(|a| {
                    aside
                        .fill(a)
                        .replace("{password_file}", &password_file.display().to_string())
                }));
                if is_root {
                    cmd.args(init.root_args.iter().map(|a| aside.fill(a)));
                }
                let result = process::run_as(cmd, owner.filter(|_| init.as_account)).await;
                if needs_password {
                    let _ = fs::remove_file(&password_file);
                }
                result.map_err(|source| Error::Native {
                    resource: name.to_owned(),
                    what: format!("initialise its data directory ({})", program.display()),
                    source,
                })?;
                fs::rename(&partial, &values.data)
                    .map_err(io_error(name, "move its new data directory in place"))?;
            }
            _ => make_dir(&values.data, 0o700, owner)
                .map_err(io_error(name, "create its data directory"))?,
        }
    }
    for dir in &native.dirs {
        make_dir(&values.dir.join(dir), 0o755, owner)
            .map_err(io_error(name, &format!("create its `{dir}` directory")))?;
    }
    for file in &native.files {
        let text = values.fill(&file.text).replace(
            "{password}",
            password.map(Secret::expose).unwrap_or_default(),
        );
        write_private(&values.dir.join(&file.name), &text, owner)
            .map_err(io_error(name, &format!("write its `{}`", file.name)))?;
    }
    if let (Some(files), Some(tls)) = (values.tls, &spec.template.tls) {
        // The server's own copies, owned by its account: PostgreSQL refuses a key that is
        // not its own and private.
        let dir = values.tls_dir();
        make_dir(&dir, 0o700, owner).map_err(io_error(name, "create its `tls` directory"))?;
        for (file, bytes, _) in files.contents()? {
            let text = String::from_utf8_lossy(&bytes);
            write_private(&dir.join(file), &text, owner)
                .map_err(io_error(name, &format!("write its `tls/{file}`")))?;
        }
        for file in &tls.files {
            // Natively other users share the machine: the socket asks for the password too.
            let text = values
                .fill(&file.text)
                .replace("{socket_auth}", "scram-sha-256");
            write_private(&dir.join(&file.name), &text, owner)
                .map_err(io_error(name, &format!("write its `tls/{}`", file.name)))?;
        }
    }
    Ok(())
}

/// The server's arguments.
pub(super) fn server_args(values: &Values<'_>, is_root: bool) -> Vec<String> {
    let native = &values.spec.template.native;
    let mut args: Vec<String> = native.args.iter().map(|a| values.fill(a)).collect();
    if is_root {
        args.extend(native.root_args.iter().map(|a| values.fill(a)));
    }
    if let (Some(_), Some(tls)) = (values.tls, &values.spec.template.tls) {
        args.extend(tls.args.iter().map(|a| values.fill(a)));
    }
    args
}
