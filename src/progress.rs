//! Progress on stderr; stdout stays for data. On a terminal, one live line per resource
//! (an `indicatif` spinner in a `MultiProgress`), redrawn in place as its state changes
//! (`db  ⠋ waiting for PostgreSQL ... (1.2s)`). Elsewhere (CI, pipes, logs) one plain line per
//! state change, so logs read the same every time.
//!
//! Anything else printed on stderr while the live block is drawn (the `-v` lines) must go
//! through [`eprintln`] here: a bare `eprintln!` would be written into the middle of the block
//! and the next redraw would overwrite or duplicate lines.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    quiet: bool,
    width: usize,
    started: Instant,
    /// On a terminal: the live block, one spinner per resource.
    live: Option<Live>,
}

#[derive(Debug)]
struct Live {
    /// Which `Progress` registered this block in [`ACTIVE`], so that dropping an older one does
    /// not unregister a newer one.
    id: u64,
    multi: MultiProgress,
    bars: Vec<(String, ProgressBar)>,
}

/// The live block currently drawn, if any, for [`eprintln`].
static ACTIVE: Mutex<Option<(u64, MultiProgress)>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Prints one line on stderr: above the live block while one is drawn (so the block stays
/// whole), else as a plain line. For `-v` output and other messages printed by code that does
/// not hold the `Progress`.
pub fn eprintln(message: &str) {
    if let Ok(active) = ACTIVE.lock()
        && let Some((_, multi)) = active.as_ref()
        && !multi.is_hidden()
        && multi.println(message).is_ok()
    {
        return;
    }
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// `NO_COLOR` set to anything but the empty string turns colour off (<https://no-color.org>).
fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl Live {
    fn new(names: &[&str], width: usize) -> Option<Self> {
        // `wide_msg` cuts the message at the terminal's width, so a long message never wraps
        // (a wrapped line would throw off the redraw of the block).
        let template = if colour() {
            "  {prefix:.bold}  {spinner:.cyan} {wide_msg}"
        } else {
            "  {prefix}  {spinner} {wide_msg}"
        };
        let style = ProgressStyle::with_template(template)
            .ok()?
            // The last string is shown once the bar is finished.
            .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "·"]);
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let bars = names
            .iter()
            .map(|name| {
                let bar = multi.add(
                    ProgressBar::new_spinner()
                        .with_style(style.clone())
                        .with_prefix(format!("{name:width$}"))
                        .with_message("waiting"),
                );
                bar.enable_steady_tick(Duration::from_millis(100));
                ((*name).to_owned(), bar)
            })
            .collect();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut active) = ACTIVE.lock() {
            *active = Some((id, multi.clone()));
        }
        Some(Self { id, multi, bars })
    }
}

impl Drop for Live {
    /// The block stays on screen with each resource's last state; the spinners stop, and
    /// stderr is plain again for whatever is printed next (the summary, an error).
    fn drop(&mut self) {
        for (_, bar) in &self.bars {
            bar.finish();
        }
        if let Ok(mut active) = ACTIVE.lock()
            && active.as_ref().is_some_and(|(id, _)| *id == self.id)
        {
            *active = None;
        }
    }
}

impl Progress {
    pub fn new(quiet: bool, names: &[&str]) -> Self {
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        let terminal = std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_some_and(|t| t != "dumb");
        let live = (terminal && !quiet && !names.is_empty())
            .then(|| Live::new(names, width))
            .flatten();
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
        if let Some(live) = &self.inner.live
            && let Some((_, bar)) = live.bars.iter().find(|(n, _)| n == resource)
        {
            bar.set_message(format!("{message} ({elapsed:.1}s)"));
            return;
        }
        // One write per line so that parallel tasks never interleave within a line.
        let line = format!("{elapsed:>5.1}s  {resource:width$}  {message}");
        self.line(&line);
    }

    /// A message about no resource in particular, printed above the live block.
    pub fn note(&self, message: &str) {
        if self.inner.quiet {
            return;
        }
        self.line(message);
    }

    /// A whole line on stderr, above this block while it is drawn.
    fn line(&self, line: &str) {
        if let Some(live) = &self.inner.live
            && !live.multi.is_hidden()
            && live.multi.println(line).is_ok()
        {
            return;
        }
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
