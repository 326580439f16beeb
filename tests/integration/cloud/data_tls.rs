//! `dump --cloud` and `restore --cloud` end to end over real, verified TLS: real servers, real
//! clients (`pg_dump`/`pg_restore`, `mariadb-dump`/`mariadb`), the emulator over HTTP.
//!
//! No RDS runs here, so the cloud database is stood in for by a real server: the project's own
//! local database (`--runtime native`, `x-provision.local.tls`), which refuses plaintext and
//! presents a certificate for `localhost`, `127.0.0.1` and `::1` from the project's local CA.
//! The rest is the cloud path as it is: `up --cloud` makes the instance and its secret on the
//! emulator; the rules layer's test injection `POST /_rules/endpoint` makes
//! `DescribeDBInstances` report that server as the instance's `Endpoint` (moto's is a name
//! nothing serves); the stage's secret, where provision reads the password, is set to the
//! server's with boto3, and the cloud's master user is the local link's user. The trust anchor is
//! the one thing a test server cannot have from AWS: `PROVISION_RDS_CA_BUNDLE` names the local
//! CA, as a user names AWS China's or GovCloud's bundle; without it the embedded AWS bundle is
//! trusted, and the same dump is refused.
//!
//! Checked with independent clients: the contents by `pg_dump`/`mariadb-dump` run by the
//! test, that TLS was used by the server's own view (MariaDB's `Ssl_accepts`, Postgres's
//! `hostssl`-only `pg_hba.conf`), that no secret is on any command line by reading every
//! process's `/proc/PID/cmdline` from inside the tool's run (a shim first on `PATH` that
//! records them, then `exec`s the real tool).

use std::collections::BTreeMap;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::CloudProject;
use crate::support::Output;

/// One project, two sides: its local database (the real server) and its cloud instance on the
/// emulator, whose endpoint and secret are made to name that server.
struct Rig {
    p: CloudProject,
    /// The local link variables of the database (`env --format json`, local).
    local: BTreeMap<String, String>,
    /// Where the shims record what they saw.
    log: PathBuf,
    /// `PATH` with the shims first.
    path: String,
}

impl Rig {
    fn new(prefix: &str, manifest: &str, tools: &[&str]) -> Self {
        let mut p = CloudProject::isolated(prefix, manifest);
        p.live.runtime = "native";
        p.live.ok(&["up"]);
        let local = p.live.vars(&[]);
        p.ok(&["up"]);
        let dir = p.live.project.dir.clone();
        let log = dir.join("argv.log");
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for tool in tools {
            let real = which(tool);
            let shim = bin.join(tool);
            // Every process's command line at this moment (provision's, the wrapper's, this
            // tool's), then the real tool with the same arguments and descriptors.
            std::fs::write(
                &shim,
                format!(
                    "#!/bin/sh\n{{ echo \"== {tool} $*\"; for f in /proc/[0-9]*/cmdline; do {{ tr '\\0' ' ' < \"$f\"; }} 2>/dev/null; echo; done; }} >> {log}\nexec {real} \"$@\"\n",
                    log = log.display(),
                    real = real.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        Self {
            p,
            local,
            log,
            path,
        }
    }

    fn var(&self, name: &str) -> &str {
        let key = self
            .local
            .keys()
            .find(|k| k.ends_with(&format!("_{name}")))
            .unwrap_or_else(|| panic!("no *_{name} in {:?}", self.local.keys()));
        &self.local[key]
    }

    /// The instance's endpoint, as DescribeDBInstances will report it.
    fn point_at(&self, address: &str, port: u16) {
        self.p.rules(
            "endpoint",
            serde_json::json!({"id": self.p.id("db"), "address": address, "port": port}),
        );
    }

    /// The secret holds the server's password, so the cloud link's credentials open it.
    fn share_password(&self) {
        let secret = format!("provision/{}/db", self.p.live.name);
        self.p.boto3(&format!(
            "sm.put_secret_value(SecretId={secret:?}, SecretString={:?})\nout(1)",
            self.var("PASSWORD")
        ));
        let cloud = self.p.vars(&[]);
        assert_eq!(cloud["DB_PASSWORD"], self.var("PASSWORD"));
        assert_eq!(
            cloud["DB_USERNAME"],
            self.var("USERNAME"),
            "the cloud's master user is the local user"
        );
    }

    /// `provision --cloud ARGS` trusting the local CA as the RDS bundle, the shims first.
    fn cloud(&self, args: &[&str], trust_local_ca: bool) -> Output {
        let run = self.p.cmd(args).env("PATH", &self.path);
        let run = if trust_local_ca {
            run.env("PROVISION_RDS_CA_BUNDLE", self.var("CA_FILE"))
        } else {
            run.env_remove("PROVISION_RDS_CA_BUNDLE")
        };
        run.output()
    }

    /// What the shims recorded, and a check that no command line held the password.
    fn argv_log(&self) -> String {
        let log = std::fs::read_to_string(&self.log).expect("the tool ran through its shim");
        assert!(
            !log.contains(self.var("PASSWORD")),
            "a command line held the password:\n{log}"
        );
        log
    }

    fn no_secret_in(&self, out: &Output) {
        assert!(
            !out.stdout.contains(self.var("PASSWORD"))
                && !out.stderr.contains(self.var("PASSWORD")),
            "{}",
            out.snapshot()
        );
    }
}

fn which(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{program}` is not installed (tests/support/ensure-all.sh installs it)")
        })
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TCP relay from `ip` (another loopback address: Linux routes all of 127/8 to `lo`) to the
/// server's port, so the server is reached under a name its certificate does not carry.
fn relay(ip: &str, to: u16) -> u16 {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let pipe = |mut from: TcpStream, to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut &to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    port
}

/// A dump that failed left neither its file nor the file it was written to aside.
fn nothing_left(file: &Path) {
    let partial = file.with_file_name(format!(
        ".{}.partial",
        file.file_name().unwrap().to_string_lossy()
    ));
    assert!(!file.exists(), "{} was left", file.display());
    assert!(!partial.exists(), "{} was left", partial.display());
}

mod postgres {
    use super::*;

    fn psql(rig: &Rig, database: &str, sql: &str) -> String {
        run(Command::new("psql")
            .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .envs(libpq(rig, database)))
    }

    /// The server's own verified-TLS connection settings, for the test's own clients.
    fn libpq(rig: &Rig, database: &str) -> Vec<(&'static str, String)> {
        vec![
            ("PGHOST", "localhost".to_owned()),
            ("PGPORT", rig.var("PORT").to_owned()),
            ("PGUSER", rig.var("USERNAME").to_owned()),
            ("PGPASSWORD", rig.var("PASSWORD").to_owned()),
            ("PGDATABASE", database.to_owned()),
            ("PGSSLMODE", "verify-full".to_owned()),
            ("PGSSLROOTCERT", rig.var("CA_FILE").to_owned()),
        ]
    }

    /// Every object and row of `database`, as plain SQL (`\restrict` keys are random per run).
    fn contents(rig: &Rig, database: &str) -> String {
        run(Command::new("pg_dump")
            .args(["--no-owner", "--format=plain"])
            .envs(libpq(rig, database)))
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
    }

    const MANIFEST: &str = "x-provision: {local: {tls: true}}
services:
  db:
    image: 'postgres:15'
    environment: {POSTGRES_DB: shop}
";

    #[test]
    fn dump_and_restore_cloud_run_real_pg_tools_over_verified_tls() {
        let rig = Rig::new("ctlspg", MANIFEST, &["pg_dump", "pg_restore"]);
        let port: u16 = rig.var("PORT").parse().unwrap();
        rig.point_at("localhost", port);
        rig.share_password();
        psql(
            &rig,
            "shop",
            "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, qty int, data bytea);
             INSERT INTO orders (item, qty, data)
               SELECT 'item ' || g, g, decode(md5(g::text), 'hex') FROM generate_series(1, 3000) g;
             CREATE INDEX orders_item ON orders (item);
             CREATE VIEW big AS SELECT * FROM orders WHERE qty > 1000;",
        );
        let before = contents(&rig, "shop");
        assert!(before.contains("CREATE VIEW public.big"), "{before}");

        // The server admits TCP only with TLS: whatever reached it, reached it encrypted.
        let plain = Command::new("psql")
            .args(["-XAtc", "SELECT 1"])
            .envs(libpq(&rig, "shop"))
            .env("PGSSLMODE", "disable")
            .output()
            .unwrap();
        assert!(!plain.status.success());
        assert!(
            String::from_utf8_lossy(&plain.stderr).contains("no encryption"),
            "{}",
            String::from_utf8_lossy(&plain.stderr)
        );

        // dump --cloud: real pg_dump, verify-full against the bundle named, the file in place.
        let dir = rig.p.live.project.dir.clone();
        let file = dir.join("shop.pgdump");
        let out = rig.cloud(&["dump", "db", "-o", file.to_str().unwrap()], true);
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        assert!(out.stderr.contains("from localhost"), "{}", out.stderr);
        rig.no_secret_in(&out);
        assert_eq!(&std::fs::read(&file).unwrap()[..5], b"PGDMP");
        assert!(!dir.join(".shop.pgdump.partial").exists());
        let log = rig.argv_log();
        assert!(log.contains("== pg_dump --format=custom"), "{log}");
        // The RDS bundle provision wrote is the one named, byte for byte.
        let rds_ca = rig
            .p
            .live
            .home
            .join(&rig.p.live.name)
            .join("tls/rds-ca.pem");
        assert_eq!(
            std::fs::read(&rds_ca).unwrap(),
            std::fs::read(rig.var("CA_FILE")).unwrap()
        );

        // Restored into a fresh database by hand: the same contents.
        psql(&rig, "shop", "CREATE DATABASE fresh");
        run(Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "-d", "fresh"])
            .arg(&file)
            .envs(libpq(&rig, "fresh")));
        assert_eq!(contents(&rig, "fresh"), before);

        // restore --cloud after a destructive change brings every row back.
        psql(
            &rig,
            "shop",
            "DROP VIEW big; DELETE FROM orders WHERE qty % 2 = 0; UPDATE orders SET item = 'gone'",
        );
        assert_ne!(contents(&rig, "shop"), before);
        let out = rig.cloud(&["restore", "db", file.to_str().unwrap()], true);
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        rig.no_secret_in(&out);
        assert_eq!(contents(&rig, "shop"), before);
        assert!(rig.argv_log().contains("== pg_restore "));

        // The AWS bundle (the default): this server's certificate does not chain to it.
        let refused = dir.join("refused.pgdump");
        let out = rig.cloud(&["dump", "db", "-o", refused.to_str().unwrap()], false);
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains("certificate verify failed"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&rds_ca.display().to_string()),
            "the CA file is named: {}",
            out.stderr
        );
        rig.no_secret_in(&out);
        nothing_left(&refused);
        assert!(
            std::fs::read_to_string(&rds_ca)
                .unwrap()
                .matches("BEGIN CERTIFICATE")
                .count()
                > 80
        );

        // The right CA, the wrong name: 127.0.0.2 is not in the certificate.
        rig.point_at("127.0.0.2", relay("127.0.0.2", port));
        let out = rig.cloud(&["dump", "db", "-o", refused.to_str().unwrap()], true);
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains("does not match host name \"127.0.0.2\""),
            "{}",
            out.stderr
        );
        nothing_left(&refused);
        // The data is as restored: nothing a refused connection did touched it.
        assert_eq!(contents(&rig, "shop"), before);
    }
}

mod mariadb {
    use super::*;

    /// The test's own client: verified TLS to the server, the password by `MYSQL_PWD` (never
    /// on a command line), `-N -B` output.
    fn sql(rig: &Rig, statements: &str) -> String {
        run(Command::new("mariadb")
            .args(["--protocol=TCP", "-h", "localhost", "-P", rig.var("PORT")])
            .args([
                "-u",
                rig.var("USERNAME"),
                "--ssl",
                "--ssl-verify-server-cert",
            ])
            .arg(format!("--ssl-ca={}", rig.var("CA_FILE")))
            .args(["-N", "-B", "shop", "-e", statements])
            .env("MYSQL_PWD", rig.var("PASSWORD")))
    }

    /// Every table and row of `shop`, as SQL.
    fn contents(rig: &Rig) -> String {
        run(Command::new("mariadb-dump")
            .args(["--protocol=TCP", "-h", "localhost", "-P", rig.var("PORT")])
            .args([
                "-u",
                rig.var("USERNAME"),
                "--ssl",
                "--ssl-verify-server-cert",
            ])
            .arg(format!("--ssl-ca={}", rig.var("CA_FILE")))
            .args([
                "--skip-dump-date",
                "--skip-comments",
                "--single-transaction",
                "--no-tablespaces",
                "shop",
            ])
            .env("MYSQL_PWD", rig.var("PASSWORD")))
    }

    /// Connections the server accepted over TLS, by its own count.
    fn ssl_accepts(rig: &Rig) -> u64 {
        let out = sql(rig, "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'");
        out.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    const MANIFEST: &str = "x-provision: {local: {tls: true}}
services:
  db:
    image: 'mariadb:10.11'
    environment: {MARIADB_DATABASE: shop}
";

    #[test]
    fn dump_and_restore_cloud_run_real_mariadb_tools_over_verified_tls() {
        let rig = Rig::new("ctlsmy", MANIFEST, &["mariadb-dump", "mariadb"]);
        let port: u16 = rig.var("PORT").parse().unwrap();
        rig.point_at("localhost", port);
        rig.share_password();
        sql(
            &rig,
            "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(40) NOT NULL, qty INT, data VARBINARY(16), KEY (item));
             INSERT INTO orders (item, qty, data) SELECT CONCAT('item ', seq), seq, UNHEX(MD5(seq)) FROM seq_1_to_3000;
             CREATE VIEW big AS SELECT * FROM orders WHERE qty > 1000;",
        );
        let before = contents(&rig);
        assert!(before.contains("INSERT INTO `orders`"), "{before}");

        // The server refuses plaintext (`require_secure_transport`).
        let plain = Command::new("mariadb")
            .args(["--protocol=TCP", "-h", "127.0.0.1", "-P", rig.var("PORT")])
            .args([
                "-u",
                rig.var("USERNAME"),
                "--skip-ssl",
                "shop",
                "-e",
                "SELECT 1",
            ])
            .env("MYSQL_PWD", rig.var("PASSWORD"))
            .output()
            .unwrap();
        // (MariaDB 10.11 answers a plaintext login with 1045 rather than 3159.)
        assert!(!plain.status.success());
        assert_eq!(sql(&rig, "SELECT @@require_secure_transport").trim(), "1");

        // dump --cloud: real mariadb-dump with ssl-verify-server-cert against the bundle named.
        let dir = rig.p.live.project.dir.clone();
        let file = dir.join("shop.sql");
        let accepted = ssl_accepts(&rig);
        let out = rig.cloud(&["dump", "db", "-o", file.to_str().unwrap()], true);
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        rig.no_secret_in(&out);
        // The dump's connection, and this count's own, were TLS by the server's count.
        assert!(ssl_accepts(&rig) >= accepted + 2);
        let dumped = std::fs::read_to_string(&file).unwrap();
        assert!(dumped.contains("INSERT INTO `orders`"), "{dumped}");
        assert!(!dir.join(".shop.sql.partial").exists());
        let log = rig.argv_log();
        assert!(
            log.contains("== mariadb-dump --defaults-extra-file=/dev/fd/3"),
            "{log}"
        );

        // restore --cloud after a destructive change brings every row back (the data from
        // before it is kept until the restore is done, then removed).
        sql(
            &rig,
            "DROP VIEW big; DELETE FROM orders WHERE qty % 2 = 0; UPDATE orders SET item = 'gone'",
        );
        assert_ne!(contents(&rig), before);
        let out = rig.cloud(&["restore", "db", file.to_str().unwrap()], true);
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        rig.no_secret_in(&out);
        assert_eq!(contents(&rig), before);
        assert!(
            rig.argv_log()
                .contains("== mariadb --defaults-extra-file=/dev/fd/3")
        );
        let kept = rig
            .p
            .live
            .home
            .join(&rig.p.live.name)
            .join("cloud")
            .join(rig.p.id("db"))
            .join("before-restore.sql");
        assert!(!kept.exists(), "{} was left", kept.display());

        // The AWS bundle: refused, the CA file named, nothing left.
        let refused = dir.join("refused.sql");
        let out = rig.cloud(&["dump", "db", "-o", refused.to_str().unwrap()], false);
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        let rds_ca = rig
            .p
            .live
            .home
            .join(&rig.p.live.name)
            .join("tls/rds-ca.pem");
        assert!(
            out.stderr.contains("could not verify the TLS certificate")
                && out.stderr.contains(&rds_ca.display().to_string()),
            "{}",
            out.stderr
        );
        rig.no_secret_in(&out);
        nothing_left(&refused);

        // A `mysql:` database in the cloud, dumped with Debian's `mysqldump` (MariaDB's client
        // under MySQL's name, which provision must recognise by `--version` and give MariaDB's
        // TLS words; MySQL's would be refused). No MySQL server or client can be had here:
        // the server behind this RDS MySQL instance is the MariaDB above, and MySQL's own
        // `ssl-mode=VERIFY_IDENTITY` is checked only by `cloud::data`'s unit test.
        let mysql = CloudProject::isolated(
            "ctlsmy8",
            "services:\n  db: {image: 'mysql:8.4', environment: {MYSQL_DATABASE: shop}}\n",
        );
        mysql.ok(&["up"]);
        mysql.rules(
            "endpoint",
            serde_json::json!({"id": mysql.id("db"), "address": "localhost", "port": port}),
        );
        mysql.boto3(&format!(
            "sm.put_secret_value(SecretId={:?}, SecretString={:?})\nout(1)",
            format!("provision/{}/db", mysql.live.name),
            rig.var("PASSWORD")
        ));
        let shims = rig.p.live.project.dir.join("bin");
        std::os::unix::fs::symlink(which("mariadb-dump"), shims.join("mysqldump")).unwrap();
        let via_mysqldump = dir.join("mysql.sql");
        let out = mysql
            .cmd(&["dump", "db", "-o", via_mysqldump.to_str().unwrap()])
            .env("PATH", &rig.path)
            .env("PROVISION_RDS_CA_BUNDLE", rig.var("CA_FILE"))
            .output();
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        rig.no_secret_in(&out);
        let text = std::fs::read_to_string(&via_mysqldump).unwrap();
        assert!(text.contains("INSERT INTO `orders`"), "{text}");
        // ... and still verifying: the AWS bundle refuses this server.
        let out = mysql
            .cmd(&["dump", "db", "-o", refused.to_str().unwrap()])
            .env("PATH", &rig.path)
            .env_remove("PROVISION_RDS_CA_BUNDLE")
            .output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains("`mysqldump` could not verify the TLS certificate"),
            "{}",
            out.stderr
        );
        nothing_left(&refused);

        // The right CA, the wrong name.
        rig.point_at("127.0.0.2", relay("127.0.0.2", port));
        let out = rig.cloud(&["dump", "db", "-o", refused.to_str().unwrap()], true);
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains("could not verify the TLS certificate of `127.0.0.2:"),
            "{}",
            out.stderr
        );
        nothing_left(&refused);
        assert_eq!(contents(&rig), before);
    }
}
