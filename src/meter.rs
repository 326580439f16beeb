//! Bytes and rate of a dump or a restore on stderr, while it runs: on a terminal only
//! (elsewhere, CI and pipes, nothing: the one summary line at the end says it all), and not
//! with `--quiet`. A restore from a file knows its size, so it shows how far it is.
//!
//! The meter wraps the stream provision copies anyway (the dump on its way to the file, the
//! dump on its way to the tool), so counting costs one atomic add per buffer.

use std::io::IsTerminal as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How often the line is redrawn, and the rate recomputed.
const TICK: Duration = Duration::from_millis(200);

/// One transfer's live line, or nothing when stderr is not a terminal.
#[derive(Debug, Clone)]
pub struct Meter {
    bar: Option<ProgressBar>,
}

impl Meter {
    /// `label` (the database's name) starts the line; `total` is the size when known.
    pub fn new(label: &str, quiet: bool, total: Option<u64>) -> Self {
        let on = !quiet && std::io::stderr().is_terminal();
        Self::with(label, on, total)
    }

    fn with(label: &str, on: bool, total: Option<u64>) -> Self {
        if !on {
            return Self { bar: None };
        }
        let template = if total.is_some() {
            "  {prefix}  {bytes} of {total_bytes} ({percent}%), {binary_bytes_per_sec}, {elapsed}"
        } else {
            "  {prefix}  {bytes}, {binary_bytes_per_sec}, {elapsed}"
        };
        let Ok(style) = ProgressStyle::with_template(template) else {
            return Self { bar: None };
        };
        // Drawn from the first byte on (not before: a restore may print other lines first).
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr())
            .with_style(style)
            .with_prefix(label.to_owned());
        Self { bar: Some(bar) }
    }

    /// Whether a line is drawn (stderr is a terminal).
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    fn add(&self, n: usize) {
        if let Some(bar) = &self.bar {
            if bar.position() == 0 && n > 0 {
                // Redrawn while the stream stalls too, so the rate falls as it should.
                bar.enable_steady_tick(TICK);
            }
            bar.inc(n as u64);
        }
    }

    /// Clears the line, for the summary that follows it.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// `inner`, counted as it is read.
    pub fn reader<R>(&self, inner: R) -> Counted<R> {
        Counted {
            inner,
            meter: self.clone(),
        }
    }

    /// `inner`, counted as it is written.
    pub fn writer<W>(&self, inner: W) -> Counted<W> {
        Counted {
            inner,
            meter: self.clone(),
        }
    }
}

/// A reader or writer that adds what passes through it to a [`Meter`].
#[derive(Debug)]
pub struct Counted<T> {
    inner: T,
    meter: Meter,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let n = buf.filled().len() - before;
            if n == 0 && buf.remaining() > 0 {
                // End of the input: the line goes before whatever the command says next.
                self.meter.finish();
            }
            self.meter.add(n);
        }
        polled
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Counted<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.meter.add(n);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test]
    async fn counts_what_passes_and_stays_silent_off_a_terminal() {
        let meter = Meter::with("db", false, None);
        assert!(!meter.is_drawn());
        let mut out = meter.writer(Vec::new());
        out.write_all(b"hello").await.unwrap();
        assert_eq!(out.inner, b"hello");
        // Drawn to a hidden target: the count is kept, nothing is printed.
        let meter = Meter {
            bar: Some(ProgressBar::hidden()),
        };
        let mut input = meter.reader(&b"0123456789"[..]);
        let mut got = Vec::new();
        input.read_to_end(&mut got).await.unwrap();
        let mut out = meter.writer(Vec::new());
        out.write_all(&got).await.unwrap();
        assert_eq!(meter.bar.as_ref().unwrap().position(), 20);
    }
}
