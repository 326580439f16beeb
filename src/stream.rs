//! The pieces every data command (`dump`, `restore`, `snapshot`, `upgrade`, locally and
//! `--cloud`) shares for moving a database's bytes between a tool and a file.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::error::{DataError, Error};

/// `tokio::io::copy` with a larger buffer: dumps are big, and the Engine API's frames too.
pub async fn copy(
    from: &mut (impl AsyncRead + Unpin + ?Sized),
    to: &mut (impl AsyncWrite + Unpin + ?Sized),
) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return Ok(total);
        }
        to.write_all(&buffer[..n]).await?;
        total += n as u64;
    }
}

/// The error of `op` on the file at `path`, for `map_err`.
pub fn file_error<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| {
        DataError::File {
            op,
            path: path.to_owned(),
            source,
        }
        .into()
    }
}

/// A file beside `path` named `.NAME.partial`: written there and renamed into place once
/// complete, so a killed dump never leaves a truncated file under the real name.
pub fn partial(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

/// `1043.2 MB`: a size for people.
pub fn megabytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a figure for people")]
    let mb = bytes as f64 / 1_000_000.0;
    format!("{mb:.1} MB")
}
