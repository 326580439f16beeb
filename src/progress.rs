//! Progress on stderr; stdout stays for data. On a terminal, one live line per resource,
//! redrawn in place as its state changes (`db  waiting for PostgreSQL ... 1.2s`). Elsewhere
//! (CI, pipes, logs) one plain line per state change, so logs read the same every time.

use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
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
    /// On a terminal: the live block, one line per resource, and how many lines are drawn.
    live: Option<Mutex<Block>>,
}

#[derive(Debug)]
struct Block {
    lines: Vec<(String, String)>,
    drawn: usize,
}

impl Progress {
    pub fn new(quiet: bool, names: &[&str]) -> Self {
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        let terminal = std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_some_and(|t| t != "dumb");
        let live = (terminal && !names.is_empty()).then(|| {
            Mutex::new(Block {
                lines: names
                    .iter()
                    .map(|n| ((*n).to_owned(), "waiting".to_owned()))
                    .collect(),
                drawn: 0,
            })
        });
        Self {
            inner: Arc::new(Inner {
                quiet,
                width,
                started: Instant::now(),
                live,
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
        if let Some(block) = &self.inner.live
            && let Ok(mut block) = block.lock()
            && let Some(line) = block.lines.iter_mut().find(|(n, _)| n == resource)
        {
            line.1 = format!("{message} ({elapsed:.1}s)");
            let mut out = String::new();
            // Move up over the block drawn last time, then redraw every line.
            if block.drawn > 0 {
                out.push_str(&format!("\x1b[{}A", block.drawn));
            }
            for (name, text) in &block.lines {
                out.push_str(&format!("\x1b[2K  {name:width$}  {text}\n"));
            }
            block.drawn = block.lines.len();
            let _ = std::io::stderr().lock().write_all(out.as_bytes());
            return;
        }
        // One write per line so that parallel tasks never interleave within a line.
        let line = format!("{elapsed:>5.1}s  {resource:width$}  {message}\n");
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    /// A message about no resource in particular, printed above the live block.
    pub fn note(&self, message: &str) {
        if self.inner.quiet {
            return;
        }
        let _ = writeln!(std::io::stderr().lock(), "{message}");
    }
}
