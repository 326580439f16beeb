//! `provision logs [DATABASE...] [-f] [--tail N]`: the databases' server output, each line
//! prefixed with its database's name as `start` prefixes its apps'. Containers' logs come
//! from the Engine API (both streams); native servers' from the `server.log` the native
//! runtime writes in each database's directory.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::commands::start::output::{Mux, Prefix, Stream};
use crate::error::{Error, Exit};
use crate::local::{self, Runtime, Spec};
use crate::plan::Target;
use crate::session::Session;

/// How often a followed native log is checked for growth.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct Options {
    pub databases: Vec<String>,
    pub follow: bool,
    /// Only the last N lines of each log (default: all).
    pub tail: Option<usize>,
}

/// Server logs are this machine's: the cloud's are in CloudWatch.
pub fn run(session: &Session, target: Target, options: &Options) -> Result<Exit, Error> {
    match target {
        Target::Cloud => Err(Error::LocalOnly {
            command: "logs",
            cloud: "the AWS console or `aws logs`",
        }),
        Target::Local => crate::session::block_on(logs(session, options)).map(|()| Exit::Success),
    }
}

async fn logs(session: &Session, options: &Options) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let all = local::specs(&plan);
    for name in &options.databases {
        if !all.iter().any(|s| s.resource.name == *name) {
            return Err(Error::UnknownDatabase {
                name: name.clone(),
                known: all.iter().map(|s| s.resource.name.clone()).collect(),
            });
        }
    }
    let specs: Vec<Spec<'_>> = all
        .into_iter()
        .filter(|s| options.databases.is_empty() || options.databases.contains(&s.resource.name))
        .collect();
    let runtime = Runtime::select(session.runtime, &specs).await?;
    let names: Vec<&str> = specs.iter().map(|s| s.resource.name.as_str()).collect();
    let mux = Mux::new(&names);
    let results = futures_util::future::join_all(specs.iter().map(|spec| {
        let prefix = mux.prefix(&spec.resource.name);
        let runtime = &runtime;
        async move {
            match runtime {
                Runtime::Docker(d) => container(d.client(), spec, &prefix, options).await,
                Runtime::Native(n) => native(&n.log_path(spec), spec, &prefix, options).await,
            }
        }
    }))
    .await;
    results.into_iter().collect()
}

async fn container(
    docker: &bollard::Docker,
    spec: &Spec<'_>,
    prefix: &Prefix,
    options: &Options,
) -> Result<(), Error> {
    let name = &spec.local.container;
    let query = bollard::query_parameters::LogsOptionsBuilder::new()
        .follow(options.follow)
        .stdout(true)
        .stderr(true)
        .tail(
            &options
                .tail
                .map_or_else(|| "all".to_owned(), |n| n.to_string()),
        )
        .build();
    let mut stream = docker.logs(name, Some(query));
    // Frames need not end at line ends: keep the rest of a line until its end arrives.
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = stream.next().await {
        let frame = frame.map_err(|e| Error::Docker {
            op: "read the logs of",
            target: name.clone(),
            source: Box::new(e),
        })?;
        pending.extend_from_slice(frame.as_ref());
        emit_lines(&mut pending, prefix);
    }
    if !pending.is_empty() {
        prefix.line(Stream::Stdout, &pending);
    }
    Ok(())
}

/// Writes every complete line of `pending` and keeps the unfinished rest.
fn emit_lines(pending: &mut Vec<u8>, prefix: &Prefix) {
    let mut start = 0;
    while let Some(end) = pending[start..].iter().position(|b| *b == b'\n') {
        prefix.line(Stream::Stdout, &pending[start..start + end]);
        start += end + 1;
    }
    pending.drain(..start);
}

/// The last `n` lines of `bytes`, where they start.
fn tail_start(bytes: &[u8], n: usize) -> usize {
    if n == 0 {
        return bytes.len();
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    body.iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(n - 1)
        .map_or(0, |(i, _)| i + 1)
}

async fn native(
    path: &Path,
    spec: &Spec<'_>,
    prefix: &Prefix,
    options: &Options,
) -> Result<(), Error> {
    let read_failed = |source: std::io::Error| Error::Native {
        resource: spec.resource.name.clone(),
        what: format!("read its log `{}`", path.display()),
        source: Box::new(source),
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoLogs {
                resource: spec.resource.name.clone(),
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(read_failed(e)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(read_failed)?;
    let from = options.tail.map_or(0, |n| tail_start(&bytes, n));
    let mut pending = bytes.split_off(from);
    emit_lines(&mut pending, prefix);
    if !options.follow {
        if !pending.is_empty() {
            prefix.line(Stream::Stdout, &pending);
        }
        return Ok(());
    }
    let mut offset = file.stream_position().map_err(read_failed)?;
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        if len < offset {
            // Truncated or replaced (a fresh `up` after `down --volumes`): start over.
            file = std::fs::File::open(path).map_err(read_failed)?;
            offset = 0;
        }
        file.seek(SeekFrom::Start(offset)).map_err(read_failed)?;
        let read = file.read_to_end(&mut pending).map_err(read_failed)?;
        offset += read as u64;
        emit_lines(&mut pending, prefix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_of_lines() {
        let text = b"a\nb\nc\n";
        assert_eq!(&text[tail_start(text, 2)..], b"b\nc\n");
        assert_eq!(&text[tail_start(text, 5)..], b"a\nb\nc\n");
        assert_eq!(&text[tail_start(text, 0)..], b"");
        let partial = b"a\nb\nc";
        assert_eq!(&partial[tail_start(partial, 1)..], b"c");
    }
}
