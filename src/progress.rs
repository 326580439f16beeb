//! Progress on stderr: one line per state change of a resource (`db  starting container
//! shop-db`). stdout stays for data. Lines, not redraws, so that logs and CI read the same.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    quiet: bool,
    width: usize,
    started: Instant,
}

impl Progress {
    pub fn new(quiet: bool, names: &[&str]) -> Self {
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        Self {
            inner: Arc::new(Inner {
                quiet,
                width,
                started: Instant::now(),
            }),
        }
    }

    /// One state change of one resource.
    pub fn say(&self, resource: &str, message: &str) {
        if self.inner.quiet {
            return;
        }
        let elapsed = self.inner.started.elapsed().as_secs_f64();
        let width = self.inner.width;
        // One write per line so that parallel tasks never interleave within a line.
        let line = format!("{elapsed:>5.1}s  {resource:width$}  {message}\n");
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    /// A message about no resource in particular.
    pub fn note(&self, message: &str) {
        if !self.inner.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        }
    }
}
