//! The `name |` multiplexer shared by `start` and `logs`: every line of every source is
//! written whole, with one `write` call under a lock, so two services never interleave
//! mid-line; names are padded to one width and coloured on a terminal (`NO_COLOR` honoured,
//! <https://no-color.org>). A last line without a newline is written with one at the end.

use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};

/// ANSI colours cycled over the names, as foreman and Compose do.
const COLOURS: [&str; 6] = [
    "\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[31m",
];
const RESET: &str = "\x1b[0m";

/// Where prefixed lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone)]
pub struct Mux {
    width: usize,
    colour: bool,
    names: Arc<Vec<String>>,
    /// Writes to stdout and stderr are serialised by one lock, so the two never cross.
    lock: Arc<Mutex<()>>,
}

/// One source's prefix, ready to put in front of its lines.
#[derive(Debug, Clone)]
pub struct Prefix {
    mux: Mux,
    text: Arc<str>,
}

impl Mux {
    /// `names` fixes the padding and the colour of each name (by position).
    pub fn new(names: &[&str]) -> Self {
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        Self::with_colour(names, colour)
    }

    pub fn with_colour(names: &[&str], colour: bool) -> Self {
        Self {
            width: names.iter().map(|n| n.len()).max().unwrap_or(0),
            colour,
            names: Arc::new(names.iter().map(|n| (*n).to_owned()).collect()),
            lock: Arc::new(Mutex::new(())),
        }
    }

    pub fn prefix(&self, name: &str) -> Prefix {
        let padded = format!("{name:<width$} | ", width = self.width);
        let text = match self.names.iter().position(|n| n == name) {
            Some(i) if self.colour => format!("{}{padded}{RESET}", COLOURS[i % COLOURS.len()]),
            _ => padded,
        };
        Prefix {
            mux: self.clone(),
            text: text.into(),
        }
    }
}

impl Prefix {
    /// The bytes of one output line: prefix, the line, one newline.
    pub fn format(&self, line: &[u8]) -> Vec<u8> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut out = Vec::with_capacity(self.text.len() + line.len() + 1);
        out.extend_from_slice(self.text.as_bytes());
        out.extend_from_slice(line);
        out.push(b'\n');
        out
    }

    /// Writes one line whole. A closed stdout (`start | head`) loses the output, not the apps.
    pub fn line(&self, stream: Stream, line: &[u8]) {
        let bytes = self.format(line);
        let _guard = self
            .mux
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(&bytes),
            Stream::Stderr => std::io::stderr().lock().write_all(&bytes),
        };
    }

    /// A note from provision itself about this source (`exited with status 1`), on stderr.
    pub fn note(&self, text: &str) {
        self.line(Stream::Stderr, text.as_bytes());
    }

    /// Copies `reader` line by line until it ends. Lines are bytes: an app's output need not
    /// be UTF-8, and it is passed on as it came.
    pub async fn pump<R: AsyncRead + Unpin>(&self, reader: R, stream: Stream) {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::with_capacity(256);
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => self.line(stream, &buf),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_and_coloured() {
        let mux = Mux::with_colour(&["web", "worker"], false);
        assert_eq!(mux.prefix("web").format(b"hi\n"), b"web    | hi\n");
        assert_eq!(
            mux.prefix("worker").format(b"partial"),
            b"worker | partial\n"
        );
        assert_eq!(mux.prefix("web").format(b"crlf\r\n"), b"web    | crlf\n");
        let mux = Mux::with_colour(&["web", "worker"], true);
        assert_eq!(
            mux.prefix("worker").format(b"x"),
            b"\x1b[33mworker | \x1b[0mx\n"
        );
    }

    #[tokio::test]
    async fn pump_splits_lines_and_ends_the_last() {
        // Through a pipe, as from a child: lines arrive in pieces and the last has no newline.
        let (mut w, r) = tokio::io::duplex(8);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            for chunk in [&b"one\ntw"[..], b"o\nthr", b"ee"] {
                w.write_all(chunk).await.unwrap();
            }
        });
        let mut lines = Vec::new();
        let mut reader = BufReader::new(r);
        let mut buf = Vec::new();
        while reader.read_until(b'\n', &mut buf).await.unwrap() > 0 {
            lines.push(Mux::with_colour(&["a"], false).prefix("a").format(&buf));
            buf.clear();
        }
        writer.await.unwrap();
        assert_eq!(
            lines,
            [
                b"a | one\n".to_vec(),
                b"a | two\n".to_vec(),
                b"a | three\n".to_vec()
            ]
        );
    }
}
