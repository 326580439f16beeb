//! The TLS files provision hands to servers and apps, all under `$PROVISION_HOME/<project>/tls`:
//! - a local CA per project and a server certificate it signs, for local databases with
//!   `x-provision.local.tls` (made once; the keys 0600, the certificates 0644);
//! - AWS's RDS CA bundle, embedded at build time, for cloud links to RDS;
//! - the bundles behind the process-wide variables clients read by themselves
//!   (`PGSSLROOTCERT`, `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`), named by their content so
//!   that concurrent runs never rewrite each other's.
//!
//! ElastiCache's certificates chain to public roots (Amazon Trust Services), which every
//! system bundle has: its links need no CA file.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use sha2::{Digest as _, Sha256};

use crate::error::Error;
use crate::links::{Value, Var};

/// AWS's RDS root CAs (the G1 roots of every region), from the global bundle AWS publishes at
/// <https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem>; see
/// `templates/tls/README.md` for where this copy came from and when.
pub const RDS_BUNDLE: &str = include_str!("../templates/tls/rds-global-bundle.pem");

/// Names a PEM file of CA certificates to trust for RDS instead of [`RDS_BUNDLE`]: the
/// bundles of other partitions (AWS China, GovCloud), or a corporate proxy's CA. See
/// <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html>.
pub const RDS_BUNDLE_ENV: &str = "PROVISION_RDS_CA_BUNDLE";

/// How long the local CA lives, and a server certificate: under the 825 days macOS's
/// verifier (used by Go and Swift clients there) allows a TLS server certificate.
const CA_DAYS: i64 = 3650;
const SERVER_DAYS: i64 = 800;
/// A server certificate this close to its end is reissued by the next `up`.
const RENEW_DAYS: i64 = 60;

/// A local server's TLS files, made by [`Store::ensure_local`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Names the server certificate: a server set up with another one is replaced.
    pub fingerprint: String,
}

/// A file for a server: its name, contents and mode.
pub type ServerFile = (&'static str, Vec<u8>, u32);

impl ServerFiles {
    /// The files a server needs.
    pub fn contents(&self) -> Result<Vec<ServerFile>, Error> {
        Ok(vec![
            ("ca.pem", read(&self.ca)?, 0o644),
            ("server.pem", read(&self.cert)?, 0o644),
            ("server.key", read(&self.key)?, 0o600),
        ])
    }
}

/// A project's TLS directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    project: String,
}

impl Store {
    /// `$PROVISION_HOME/<project>/tls`.
    pub fn of(project: &str) -> Self {
        Self::under(&crate::home::root(), project)
    }

    /// `<root>/<project>/tls`.
    pub fn under(root: &Path, project: &str) -> Self {
        Self {
            dir: root.join(project).join("tls"),
            project: project.to_owned(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The local CA's certificate: what apps verify local servers against (`P_CA_FILE`).
    pub fn local_ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Where the RDS bundle goes: what apps verify RDS against.
    pub fn rds_ca_file(&self) -> PathBuf {
        self.dir.join("rds-ca.pem")
    }

    /// The RDS bundle (the one [`RDS_BUNDLE_ENV`] names, else the embedded one), written
    /// (0644) where cloud links point; returns its path.
    pub fn ensure_rds_bundle(&self) -> Result<PathBuf, Error> {
        let chosen = std::env::var_os(RDS_BUNDLE_ENV).filter(|v| !v.is_empty());
        self.ensure_rds_bundle_from(chosen.as_deref().map(Path::new))
    }

    /// [`Self::ensure_rds_bundle`] with the override given: a copy, never a link, so every
    /// link, command and app reads one file whatever becomes of the original.
    fn ensure_rds_bundle_from(&self, chosen: Option<&Path>) -> Result<PathBuf, Error> {
        let wanted = match chosen {
            Some(source) => read_rds_bundle(source)?,
            None => RDS_BUNDLE.as_bytes().to_vec(),
        };
        let path = self.rds_ca_file();
        if !fs::read(&path).is_ok_and(|have| have == wanted) {
            make_dir(&self.dir)?;
            write_file(&path, &wanted, 0o644)?;
        }
        Ok(path)
    }

    /// The CA's fixed identity: the same parameters and key always make the same issuer, so
    /// a server certificate can be reissued from the stored key alone.
    fn ca_params(&self) -> Result<CertificateParams, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(
            DnType::CommonName,
            format!("provision local CA ({})", self.project),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, "provision");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ok(params)
    }

    /// The CA's key, making the CA first when there is none.
    fn ca_key(&self) -> Result<KeyPair, Error> {
        let key_path = self.dir.join("ca.key");
        let ca = self.local_ca_file();
        match fs::read_to_string(&key_path) {
            Ok(pem) => {
                if !ca.exists() {
                    return Err(failed("read", &ca)(
                        "the CA's key is there but its certificate is not; remove the key to make a new CA".into(),
                    ));
                }
                KeyPair::from_pem(&pem).map_err(|e| failed("read", &key_path)(Box::new(e)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key =
                    KeyPair::generate().map_err(|e| failed("make", &key_path)(Box::new(e)))?;
                let mut params = self
                    .ca_params()
                    .map_err(|e| failed("make", &ca)(Box::new(e)))?;
                params.not_before = now() - time::Duration::days(1);
                params.not_after = now() + time::Duration::days(CA_DAYS);
                let cert = params
                    .self_signed(&key)
                    .map_err(|e| failed("make", &ca)(Box::new(e)))?;
                write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
                write_file(&ca, cert.pem().as_bytes(), 0o644)?;
                // A new CA: the server certificates beside it were signed by another.
                if let Ok(entries) = fs::read_dir(&self.dir) {
                    for entry in entries.flatten() {
                        if entry.path().extension().is_some_and(|e| e == "names") {
                            let _ = fs::remove_file(entry.path());
                        }
                    }
                }
                Ok(key)
            }
            Err(e) => Err(failed("read", &key_path)(Box::new(e))),
        }
    }

    /// The local CA and a server certificate for database `resource` under `names` (host
    /// names and addresses the apps connect to), made when missing, reissued when the names
    /// change or the certificate nears its end. The CA itself is made once: apps and tools
    /// that trust it keep trusting.
    pub fn ensure_local(&self, resource: &str, names: &[String]) -> Result<ServerFiles, Error> {
        make_dir(&self.dir)?;
        let ca_key = self.ca_key()?;
        let cert_path = self.dir.join(format!("{resource}.pem"));
        let key_path = self.dir.join(format!("{resource}.key"));
        let record = self.dir.join(format!("{resource}.names"));
        let wanted = names.join("\n");
        let current = fs::read_to_string(&record).ok().is_some_and(|text| {
            let Some((until, have)) = text.split_once('\n') else {
                return false;
            };
            let until = until
                .parse()
                .ok()
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok());
            have == wanted && until.is_some_and(|u| u - now() > time::Duration::days(RENEW_DAYS))
        });
        if !current || !cert_path.exists() || !key_path.exists() {
            let make = |e: rcgen::Error| failed("make", &cert_path)(Box::new(e));
            let issuer = Issuer::new(self.ca_params().map_err(make)?, ca_key);
            let mut params = CertificateParams::new(names.to_vec()).map_err(make)?;
            params.distinguished_name.push(
                DnType::CommonName,
                format!("provision {resource} ({})", self.project),
            );
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.use_authority_key_identifier_extension = true;
            let not_after = now() + time::Duration::days(SERVER_DAYS);
            params.not_before = now() - time::Duration::days(1);
            params.not_after = not_after;
            let key = KeyPair::generate().map_err(make)?;
            let cert = params.signed_by(&key, &issuer).map_err(make)?;
            write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
            write_file(
                &record,
                format!("{}\n{wanted}", not_after.unix_timestamp()).as_bytes(),
                0o644,
            )?;
        }
        Ok(ServerFiles {
            fingerprint: short_hash(&read(&cert_path)?),
            ca: self.local_ca_file(),
            cert: cert_path,
            key: key_path,
        })
    }

    /// The fingerprint of `resource`'s server certificate made so far, without making
    /// anything (for `plan`).
    pub fn server_fingerprint(&self, resource: &str) -> Option<String> {
        fs::read(self.dir.join(format!("{resource}.pem")))
            .ok()
            .map(|c| short_hash(&c))
    }

    /// Writes `parts` concatenated into a file named by its content; returns its path.
    fn bundle(&self, stem: &str, parts: &[Vec<u8>]) -> Result<PathBuf, Error> {
        let mut text = Vec::new();
        for part in parts {
            text.extend_from_slice(part);
            if !text.ends_with(b"\n") {
                text.push(b'\n');
            }
        }
        let path = self.dir.join(format!("{stem}-{}.pem", short_hash(&text)));
        if !path.exists() {
            make_dir(&self.dir)?;
            write_file(&path, &text, 0o644)?;
        }
        Ok(path)
    }

    /// `rendered`'s variables, then the client variables for its CA files (from this
    /// process's environment, see [`Self::client_vars`]).
    pub fn with_client_vars(&self, rendered: crate::links::Rendered) -> Result<Vec<Var>, Error> {
        let mut vars = rendered.vars;
        vars.extend(self.client_vars(&rendered.ca_files, &|name| std::env::var(name).ok())?);
        Ok(vars)
    }

    /// The variables clients read by themselves, for a process whose links verify against
    /// `ca_files`: `PGSSLROOTCERT` (libpq), `NODE_EXTRA_CA_CERTS` (Node adds it to its
    /// roots) and `SSL_CERT_FILE` (OpenSSL's default file: Python's `ssl`, Ruby, curl). That
    /// last one replaces the system bundle, so it points at the system bundle plus ours. A
    /// value the environment already has is kept inside ours, never dropped. Nothing
    /// without CA files (public roots only).
    pub fn client_vars(
        &self,
        ca_files: &[PathBuf],
        inherited: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Var>, Error> {
        let mut cas: Vec<&PathBuf> = Vec::new();
        for f in ca_files {
            if !cas.contains(&f) {
                cas.push(f);
            }
        }
        if cas.is_empty() {
            return Ok(Vec::new());
        }
        let ours: Vec<Vec<u8>> = cas.iter().map(|p| read(p)).collect::<Result<_, _>>()?;
        let ca = match cas.as_slice() {
            [one] => (*one).clone(),
            _ => self.bundle("cas", &ours)?,
        };
        let with_inherited = |name: &str, base: Option<PathBuf>| -> Result<PathBuf, Error> {
            let base = inherited(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or(base);
            match base {
                Some(b) if b != ca => {
                    let mut parts = ours.clone();
                    parts.push(read(&b)?);
                    self.bundle(&name.to_ascii_lowercase().replace('_', "-"), &parts)
                }
                _ => Ok(ca.clone()),
            }
        };
        let node = with_inherited("NODE_EXTRA_CA_CERTS", None)?;
        let openssl = with_inherited("SSL_CERT_FILE", system_bundle())?;
        let var = |name: &str, path: &Path| Var {
            name: name.to_owned(),
            value: Value::Plain(path.display().to_string()),
        };
        Ok(vec![
            var("PGSSLROOTCERT", &ca),
            var("NODE_EXTRA_CA_CERTS", &node),
            var("SSL_CERT_FILE", &openssl),
        ])
    }
}

fn failed(
    op: &'static str,
    path: &Path,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Error + use<> {
    let path = path.to_path_buf();
    move |source| Error::TlsFiles { op, path, source }
}

/// The bundle at `path`, when it is PEM with at least one certificate and every certificate
/// in it is one a verifier can use as a trust anchor: a file that is not would make every
/// cloud connection fail later, with a TLS error far from its cause.
fn read_rds_bundle(path: &Path) -> Result<Vec<u8>, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let refuse = |problem: String| Error::RdsBundle {
        path: path.to_path_buf(),
        problem,
    };
    let bytes = fs::read(path).map_err(|e| refuse(format!("cannot be read ({e})")))?;
    let mut anchors = rustls::RootCertStore::empty();
    for (n, cert) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
        let cert = cert.map_err(|e| refuse(format!("is not valid PEM ({e})")))?;
        anchors.add(cert).map_err(|e| {
            refuse(format!(
                "has a certificate that does not parse (number {}: {e})",
                n + 1
            ))
        })?;
    }
    if anchors.is_empty() {
        return Err(refuse(
            "holds no certificate (no `-----BEGIN CERTIFICATE-----` block)".to_owned(),
        ));
    }
    Ok(bytes)
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|e| failed("read", path)(Box::new(e)))
}

/// Writes `bytes` to `path` with `mode`, through a file beside it renamed into place: a
/// reader never sees half a key or certificate.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let aside = path.with_extension(format!("partial.{}", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&aside)?;
        // The umask may have narrowed the mode; certificates must stay readable by servers
        // running as their own accounts.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&aside, path)
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&aside);
        failed("write", path)(Box::new(e))
    })
}

fn make_dir(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|e| failed("create", dir)(Box::new(e)))?;
    // Native servers running as their own accounts read certificates from here; the keys
    // themselves stay 0600.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| failed("set the permissions of", dir)(Box::new(e)))
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn short_hash(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Where this machine's OpenSSL keeps its CA bundle, if anywhere.
fn system_bundle() -> Option<PathBuf> {
    openssl_probe::probe().cert_file.filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn rds_bundle_is_whole_certificates() {
        let count = RDS_BUNDLE.matches("-----BEGIN CERTIFICATE-----").count();
        assert!(count >= 80, "every region's G1 roots: {count}");
        assert_eq!(
            count,
            RDS_BUNDLE.matches("-----END CERTIFICATE-----").count()
        );
    }

    #[test]
    fn an_rds_bundle_of_ones_own_replaces_the_embedded_one_and_bad_ones_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::under(root.path(), "shop");
        // Without one: AWS's global bundle.
        let path = store.ensure_rds_bundle_from(None).unwrap();
        assert_eq!(fs::read(&path).unwrap(), RDS_BUNDLE.as_bytes());
        // A bundle of one's own (here the local CA) is copied over it, byte for byte.
        let files = store.ensure_local("db", &["localhost".to_owned()]).unwrap();
        let same = store.ensure_rds_bundle_from(Some(&files.ca)).unwrap();
        assert_eq!(same, path);
        assert_eq!(fs::read(&path).unwrap(), fs::read(&files.ca).unwrap());
        assert_eq!(mode(&path), 0o644);
        // Unset again: back to AWS's.
        store.ensure_rds_bundle_from(None).unwrap();
        assert_eq!(fs::read(&path).unwrap(), RDS_BUNDLE.as_bytes());

        let bad = |name: &str, text: &[u8]| {
            let file = root.path().join(name);
            fs::write(&file, text).unwrap();
            let e = store.ensure_rds_bundle_from(Some(&file)).unwrap_err();
            assert!(matches!(e, Error::RdsBundle { .. }), "{e:?}");
            e.render()
        };
        let none = bad("key.pem", &fs::read(&files.key).unwrap());
        assert!(none.contains("holds no certificate"), "{none}");
        assert!(none.contains("PROVISION_RDS_CA_BUNDLE"), "{none}");
        let garbled = bad(
            "garbled.pem",
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        );
        assert!(garbled.contains("does not parse (number 1"), "{garbled}");
        let e = store
            .ensure_rds_bundle_from(Some(&root.path().join("missing.pem")))
            .unwrap_err()
            .render();
        assert!(
            e.contains("cannot be read") && e.contains("missing.pem"),
            "{e}"
        );
        // A refused bundle leaves the one in place alone.
        assert_eq!(fs::read(&path).unwrap(), RDS_BUNDLE.as_bytes());
    }

    #[test]
    fn local_ca_is_made_once_and_keys_stay_private() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::under(root.path(), "shop");
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let first = store.ensure_local("db", &names).unwrap();
        assert_eq!(mode(&first.key), 0o600);
        assert_eq!(mode(&store.dir.join("ca.key")), 0o600);
        assert_eq!(mode(&first.ca), 0o644);
        assert_eq!(mode(&first.cert), 0o644);
        let ca = fs::read(&first.ca).unwrap();
        // Same names: nothing changes.
        assert_eq!(store.ensure_local("db", &names).unwrap(), first);
        // New names: a new server certificate from the same CA.
        let more = [names.clone(), vec!["db".to_owned()]].concat();
        let second = store.ensure_local("db", &more).unwrap();
        assert_ne!(second.fingerprint, first.fingerprint);
        assert_eq!(fs::read(&second.ca).unwrap(), ca, "the CA is kept");
        assert_eq!(store.server_fingerprint("db"), Some(second.fingerprint));
        // Another database: its own certificate from the same CA.
        let other = store.ensure_local("cache", &names).unwrap();
        assert_ne!(other.cert, second.cert);
        assert_eq!(other.ca, second.ca);
    }

    #[test]
    fn client_vars_extend_the_inherited_bundles() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::under(root.path(), "shop");
        assert!(store.client_vars(&[], &|_| None).unwrap().is_empty());
        let files = store.ensure_local("db", &["127.0.0.1".to_owned()]).unwrap();
        let theirs = root.path().join("theirs.pem");
        fs::write(&theirs, "THEIRS\n").unwrap();
        let theirs_text = theirs.display().to_string();
        let vars = store
            .client_vars(std::slice::from_ref(&files.ca), &|name| {
                (name == "SSL_CERT_FILE").then(|| theirs_text.clone())
            })
            .unwrap();
        let get = |n: &str| {
            vars.iter()
                .find(|v| v.name == n)
                .map(|v| PathBuf::from(v.value.expose()))
                .unwrap()
        };
        assert_eq!(get("PGSSLROOTCERT"), files.ca);
        assert_eq!(get("NODE_EXTRA_CA_CERTS"), files.ca);
        let bundle = fs::read_to_string(get("SSL_CERT_FILE")).unwrap();
        assert!(bundle.starts_with(&fs::read_to_string(&files.ca).unwrap()));
        assert!(bundle.ends_with("THEIRS\n"), "the inherited bundle is kept");
    }
}
