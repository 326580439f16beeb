//! The wording of the errors of the local runtimes: Docker engines, native servers, images, data, readiness, TLS files.

use std::fmt::Write as _;

use super::engine::{engine_hint, tried_lines};
use super::{Error, MajorChange, write_causes, write_log};

/// Writes `error` if it is one of this area's; `Error::render_with` decides which area.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per error variant: the wording of each error of this area in one place"
)]
pub(super) fn render(error: &Error, verbose: bool, out: &mut String) {
    match error {
        Error::DockerUnavailable { tried } => {
            let _ = writeln!(out, "error: no Docker engine answers; tried, in order:");
            let _ = write!(out, "{}", tried_lines(tried));
            let _ = writeln!(out, "hint: {}", engine_hint(tried));
        }
        Error::NoRuntime { docker, missing } => {
            let _ = writeln!(
                out,
                "error: cannot run the databases: no Docker engine answers and native servers are missing"
            );
            match &**docker {
                Error::DockerUnavailable { tried } => {
                    let _ = writeln!(out, "Caused by: no Docker engine answers; tried, in order:");
                    let _ = write!(out, "{}", tried_lines(tried));
                }
                other => {
                    let _ = writeln!(out, "Caused by: {}", other.summary());
                }
            }
            let _ = writeln!(out, "Caused by: not installed: {}", missing.join(", "));
            let _ = writeln!(
                out,
                "hint: start Docker (or Podman with its socket), or install the servers, e.g. `sudo apt-get install postgresql redis-server mariadb-server memcached`"
            );
        }
        Error::DataInDocker { project, docker } => {
            let _ = writeln!(
                out,
                "error: the databases of `{project}` keep their data in Docker, and no Docker engine answers"
            );
            let _ = writeln!(out, "Caused by: {}", docker.summary());
            let _ = writeln!(
                out,
                "hint: start Docker; `--runtime native` would start empty databases beside that data"
            );
        }
        Error::BinaryMissing {
            resource,
            binaries,
            searched,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: `{}` is not installed",
                binaries.join("`, `")
            );
            let _ = writeln!(out, "  looked in: PATH, {}", searched.join(", "));
            let _ = writeln!(
                out,
                "hint: install the server with your package manager, or use `--runtime docker`"
            );
        }
        Error::Docker { op, target, .. } => {
            let _ = writeln!(out, "error: Docker could not {op} `{target}`");
            write_causes(out, error, verbose);
        }
        Error::ImageUnavailable { image, reason } => {
            let _ = writeln!(
                out,
                "error: the image `{image}` is not on this machine and cannot be pulled"
            );
            let _ = writeln!(out, "Caused by: {reason}");
            let _ = writeln!(
                out,
                "hint: check the network and registry login (`docker pull {image}`), or build or load the image locally under that name"
            );
        }
        Error::MajorVersionChange(change) => {
            let MajorChange {
                resource,
                volume,
                type_name,
                from,
                to,
                image,
            } = &**change;
            let _ = writeln!(
                out,
                "error: {resource}: the data in volume `{volume}` was written by {type_name} {from}, and `{image}` is {type_name} {to}"
            );
            let _ = writeln!(
                out,
                "  a server of another major version cannot read it; nothing was changed"
            );
            if super::upgrade::compare_majors(from, to).is_lt() {
                let _ = writeln!(
                    out,
                    "hint: `provision upgrade {resource}` (or `provision up --upgrade`) moves the data to {to} by dump and restore into a new volume, keeping `{volume}` until `provision upgrade {resource} --cleanup`; or keep the image at {from}"
                );
            } else {
                let _ = writeln!(
                    out,
                    "hint: keep the image at {from}: a server does not read data of a newer major, and provision does not downgrade"
                );
            }
        }
        Error::PasswordChanged {
            resource,
            setting,
            store,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: `{setting}` is not the password the data in {store} was created with"
            );
            let _ = writeln!(
                out,
                "  the server keeps the password it was initialised with; a new one in the file would only lock the app out"
            );
            let _ = writeln!(
                out,
                "hint: put the old password back in `{setting}`, change it inside the database (`ALTER USER`), or start over with `provision down --volumes` (deletes the data)"
            );
        }
        Error::PortTaken { resource, port } => {
            let _ = writeln!(
                out,
                "error: {resource}: port {port} on 127.0.0.1 is already in use by another program"
            );
            let _ = writeln!(
                out,
                "hint: stop that program, or pick another port with `x-provision: {{local: {{port: N}}}}` on `{resource}`"
            );
        }
        Error::Exited {
            resource,
            detail,
            log,
        } => {
            let _ = writeln!(out, "error: {resource} stopped while starting ({detail})");
            write_log(out, log);
        }
        Error::Refused {
            resource,
            refusal,
            detail,
        } => {
            let _ = writeln!(out, "error: {resource} refused the readiness check");
            let _ = writeln!(out, "Caused by: {detail}");
            let hint = match refusal {
                crate::probe::Refusal::Credentials => {
                    "the data was most likely created with other credentials (an earlier run, or a changed password or user); use those, or start afresh with `provision down --volumes` (deletes the data)"
                }
                crate::probe::Refusal::AuthMethod => {
                    "make the app's user authenticate with `caching_sha2_password` or `mysql_native_password` (MySQL), `mysql_native_password`, `ed25519` or `parsec` (MariaDB)"
                }
            };
            let _ = writeln!(out, "hint: {hint}");
        }
        Error::NotReady {
            resource,
            seconds,
            last,
            log,
        } => {
            let _ = writeln!(
                out,
                "error: {resource} did not accept a query within {seconds} s"
            );
            if !last.is_empty() {
                let _ = writeln!(out, "Caused by: {last}");
            }
            write_log(out, log);
            let _ = writeln!(
                out,
                "hint: a slow first start may need more time: `--timeout 180`"
            );
        }
        Error::Native { resource, what, .. } => {
            let _ = writeln!(out, "error: {resource}: could not {what}");
            write_causes(out, error, verbose);
        }
        Error::TlsFiles { op, path, source } => {
            let _ = writeln!(out, "error: cannot {op} `{}`", path.display());
            let _ = writeln!(out, "Caused by: {source}");
            let _ = writeln!(
                out,
                "hint: the project's TLS files live under $PROVISION_HOME/<project>/tls; check that the directory is writable, or remove a damaged file there to have it made anew (the keys of the local CA are regenerated only when missing)"
            );
        }
        Error::TlsUnsupported { resource, image } => {
            let _ = writeln!(
                out,
                "error: {resource}: local TLS is not supported with image `{image}`"
            );
            let _ = writeln!(
                out,
                "hint: this image family turns TLS on through its own settings; use the official image for local TLS, or set `x-provision.local.tls: false` on `{resource}`"
            );
        }
        Error::NoLogs { resource, path } => {
            let _ = writeln!(
                out,
                "error: {resource}: no server log at `{}`",
                path.display()
            );
            let _ = writeln!(
                out,
                "hint: the log appears when the server first starts: `provision up`"
            );
        }
        _ => {}
    }
}
