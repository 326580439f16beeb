//! What the Docker runtime needs to know about images, kept pure so it is tested without an
//! engine: how to ask for exactly one image, how to summarise a pull's progress, and how to
//! pack a file to copy into a container.

use std::collections::BTreeMap;

/// The `fromImage` and `tag` of a pull. The Engine API pulls *every* tag of a repository
/// when the tag is empty (docs.docker.com/reference/api/engine/version/v1.43/#tag/Image/operation/ImageCreate),
/// so an untagged reference asks for `latest` and a digest reference for that digest.
pub fn pull_reference(image: &str) -> (String, String) {
    if let Some((name, digest)) = image.split_once('@') {
        // `name:tag@sha256:...`: the digest decides; the tag is only a label.
        let name = match name.rfind(':') {
            Some(i) if !name[i..].contains('/') => &name[..i],
            _ => name,
        };
        return (name.to_owned(), digest.to_owned());
    }
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (image[..i].to_owned(), image[i + 1..].to_owned()),
        _ => (image.to_owned(), "latest".to_owned()),
    }
}

/// A pull's progress over all its layers, as the Engine API streams it.
#[derive(Debug, Default)]
pub struct PullProgress {
    /// Per layer: bytes downloaded, bytes in all, done.
    layers: BTreeMap<String, (u64, u64, bool)>,
    last: String,
}

impl PullProgress {
    /// Takes one message of the stream; returns a new summary line when it says something
    /// new (`3/7 layers, 45.2 of 120.0 MB`), so that a pull of many small messages prints
    /// one line per change that matters.
    pub fn update(
        &mut self,
        id: Option<&str>,
        status: Option<&str>,
        current: Option<i64>,
        total: Option<i64>,
    ) -> Option<String> {
        let id = id?;
        let status = status.unwrap_or_default();
        // The first message of a pull names the tag, not a layer.
        if status.starts_with("Pulling from") {
            return None;
        }
        let layer = self.layers.entry(id.to_owned()).or_default();
        let bytes = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        match status {
            "Downloading" => {
                if let Some(c) = bytes(current) {
                    layer.0 = c;
                }
                if let Some(t) = bytes(total) {
                    layer.1 = t;
                }
            }
            "Download complete" => layer.0 = layer.1,
            "Pull complete" | "Already exists" => {
                layer.0 = layer.1;
                layer.2 = true;
            }
            _ => {}
        }
        let done = self.layers.values().filter(|l| l.2).count();
        let current: u64 = self.layers.values().map(|l| l.0).sum();
        let total: u64 = self.layers.values().map(|l| l.1).sum();
        let megabytes = |b: u64| {
            #[allow(
                clippy::cast_precision_loss,
                reason = "display only: the precision lost above 2^52 bytes does not matter"
            )]
            let mb = b as f64 / 1_000_000.0;
            mb
        };
        // Tenths of a megabyte are enough to show movement without a line per packet.
        let line = if total > 0 {
            format!(
                "pulling: {done}/{} layers, {:.0} of {:.0} MB",
                self.layers.len(),
                megabytes(current),
                megabytes(total)
            )
        } else {
            format!("pulling: {done}/{} layers", self.layers.len())
        };
        (line != self.last).then(|| {
            self.last.clone_from(&line);
            line
        })
    }
}

/// A tar archive holding one file at `path` (absolute, in the container), to upload with
/// the archive endpoint at `/`. Mode 0644: the server may run as any user the image picks,
/// and the file is inside the container only.
pub fn single_file_tar(path: &str, text: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, path.trim_start_matches('/'), text.as_bytes())?;
    builder.into_inner()
}

/// A tar of `(path, bytes, mode)` files owned by `(uid, gid)`, for `upload_to_container`.
pub fn files_tar<'a>(
    files: impl IntoIterator<Item = (String, &'a [u8], u32)>,
    (uid, gid): (u64, u64),
) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes, mode) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path.trim_start_matches('/'), bytes)?;
    }
    builder.into_inner()
}

/// `user`'s uid and gid in the `/etc/passwd` inside `archive` (a tar, as the Engine API's
/// archive download returns it).
pub fn passwd_ids(archive: &[u8], user: &str) -> Option<(u64, u64)> {
    let mut tar = tar::Archive::new(archive);
    let mut entry = tar.entries().ok()?.next()?.ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == user).then_some(())?;
        let _password = fields.next()?;
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_tar_carries_owner_and_mode_and_passwd_is_read_back() {
        let archive = files_tar(
            [(
                "/etc/passwd".to_owned(),
                &b"root:x:0:0::/root:/bin/sh\npostgres:x:999:998::/var/lib/postgresql:/bin/bash\n"
                    [..],
                0o600,
            )],
            (7, 8),
        )
        .unwrap();
        let mut tar = tar::Archive::new(archive.as_slice());
        let entry = tar.entries().unwrap().next().unwrap().unwrap();
        let header = entry.header();
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (7, 8));
        assert_eq!(header.mode().unwrap(), 0o600);
        assert_eq!(passwd_ids(&archive, "postgres"), Some((999, 998)));
        assert_eq!(passwd_ids(&archive, "redis"), None);
    }

    #[test]
    fn one_image_is_pulled_never_every_tag() {
        let cases = [
            ("postgres", ("postgres", "latest")),
            ("convox/postgres", ("convox/postgres", "latest")),
            ("postgres:16.4-alpine", ("postgres", "16.4-alpine")),
            ("localhost:5000/pg", ("localhost:5000/pg", "latest")),
            ("localhost:5000/pg:16", ("localhost:5000/pg", "16")),
            ("postgres@sha256:abc", ("postgres", "sha256:abc")),
            ("postgres:16@sha256:abc", ("postgres", "sha256:abc")),
            ("host:5000/pg@sha256:abc", ("host:5000/pg", "sha256:abc")),
        ];
        for (image, (name, tag)) in cases {
            assert_eq!(
                pull_reference(image),
                (name.to_owned(), tag.to_owned()),
                "{image}"
            );
        }
    }

    #[test]
    fn pull_progress_sums_layers_and_prints_only_changes() {
        let mut p = PullProgress::default();
        assert_eq!(
            p.update(
                Some("16"),
                Some("Pulling from library/postgres"),
                None,
                None
            ),
            None
        );
        assert_eq!(
            p.update(Some("a"), Some("Pulling fs layer"), None, None)
                .as_deref(),
            Some("pulling: 0/1 layers")
        );
        p.update(Some("b"), Some("Pulling fs layer"), None, None);
        assert_eq!(
            p.update(
                Some("a"),
                Some("Downloading"),
                Some(1_000_000),
                Some(4_000_000)
            )
            .as_deref(),
            Some("pulling: 0/2 layers, 1 of 4 MB")
        );
        // Same rounded figures: nothing new to say.
        assert_eq!(
            p.update(
                Some("a"),
                Some("Downloading"),
                Some(1_100_000),
                Some(4_000_000)
            ),
            None
        );
        assert_eq!(
            p.update(Some("a"), Some("Pull complete"), None, None)
                .as_deref(),
            Some("pulling: 1/2 layers, 4 of 4 MB")
        );
        assert_eq!(
            p.update(Some("b"), Some("Already exists"), None, None)
                .as_deref(),
            Some("pulling: 2/2 layers, 4 of 4 MB")
        );
    }

    #[test]
    fn the_config_file_tar_holds_one_readable_file() {
        let bytes = single_file_tar("/usr/local/etc/redis/provision.conf", "requirepass x\n")
            .unwrap_or_default();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| {
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                (path, e.header().mode().unwrap_or(0), e.size())
            })
            .collect();
        assert_eq!(
            entries,
            vec![("usr/local/etc/redis/provision.conf".to_owned(), 0o644, 14)]
        );
    }
}
