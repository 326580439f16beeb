//! Where Docker is, against the real engine tests/run.sh starts: found through a context the
//! real `docker` CLI wrote, through rootless Docker's socket, and over `tcp://` (plain and
//! TLS) through `socat` (plain) and `stunnel` (TLS) forwarding to the engine's socket. Each test then brings a database up
//! through what it found and writes to it with a real client.
//!
//! To prove which way was used, the `up` runs happen in a private mount namespace
//! (`unshare -m`) where a fresh tmpfs hides `/run` (so `/var/run/docker.sock` and Podman's
//! sockets), and the engine's socket is bind-mounted at one path in the test's temp dir: only
//! the path under test reaches an engine. Needs root, like the rest of `needs_docker`.
//!
//! Rules, with their pages:
//! - contexts (`docker context create --docker host=...,ca=...,cert=...,key=...`,
//!   `docker context use`): https://docs.docker.com/engine/manage-resources/contexts/ and
//!   https://docs.docker.com/reference/cli/docker/context/use/ (the current context applies
//!   only when `DOCKER_HOST` and `DOCKER_CONTEXT` are unset)
//! - `DOCKER_CONTEXT`, `DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`:
//!   https://docs.docker.com/engine/reference/commandline/cli/#environment-variables
//! - rootless socket `$XDG_RUNTIME_DIR/docker.sock`:
//!   https://docs.docker.com/engine/security/rootless/tips/
//! - TLS: the client verifies the engine against `ca.pem` and presents `cert.pem`/`key.pem`;
//!   the engine (here stunnel with `requireCert`/`verifyChain`) only accepts clients with a certificate signed by
//!   that CA: https://docs.docker.com/engine/security/protect-access/

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Live, Output, Run, client, free_port};

/// A scratch machine layout: the engine's socket bound at `real`, a home, a runtime dir and a
/// Docker CLI config directory, all under one temp dir.
struct Scratch {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    real: PathBuf,
    home: PathBuf,
    xdg: PathBuf,
    config: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_owned();
        let (home, xdg, config) = (dir.join("home"), dir.join("xdg"), dir.join("docker-config"));
        for d in [&home, &xdg, &config] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        Self {
            _tmp: tmp,
            real: dir.join("real.sock"),
            dir,
            home,
            xdg,
            config,
        }
    }

    /// The environment of a user with nothing configured but what the test adds.
    fn env(&self, run: Run) -> Run {
        run.env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env("HOME", s(&self.home))
            .env("XDG_RUNTIME_DIR", s(&self.xdg))
            .env("DOCKER_CONFIG", s(&self.config))
    }

    /// Runs with `/run` hidden and the engine reachable only at `self.real`.
    fn hidden(&self, run: Run) -> Output {
        self.hidden_with(run, &[])
    }

    /// The same with variables set on top of the scratch environment.
    fn hidden_with(&self, run: Run, vars: &[(&str, &str)]) -> Output {
        let mut run = self.env(run);
        for (k, v) in vars {
            run = run.env(k, v);
        }
        let script = r#"set -e
real=$(readlink -f /var/run/docker.sock)
: > "$PROVISION_TEST_REAL"
mount --bind "$real" "$PROVISION_TEST_REAL"
mount -t tmpfs tmpfs /run
if [ -e /var/run/docker.sock ]; then echo "the default socket is still visible" >&2; exit 99; fi
exec "$@""#;
        run.env("PROVISION_TEST_REAL", s(&self.real))
            .wrapped(&[
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .output()
    }

    /// The real Docker CLI, with this scratch config directory.
    fn docker(&self, args: &[&str]) -> Output {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_CONFIG", &self.config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .output()
            .expect("run the docker CLI (tests/support/ensure-docker.sh installs it)");
        let out = Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_eq!(out.code, Some(0), "docker {args:?}: {}", out.snapshot());
        out
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn redis_manifest(port: u16) -> String {
    format!(
        "services:\n  app:\n    build: .\n    links: [cache]\n  cache:\n    image: 'redis:7'\n    x-provision: {{local: {{port: {port}}}}}\n"
    )
}

/// Writes and reads back a key with redis-cli through the link variables.
fn redis_roundtrip(live: &Live, vars: &std::collections::BTreeMap<String, String>) {
    let args = [
        "-h",
        &vars["CACHE_HOST"],
        "-p",
        &vars["CACHE_PORT"],
        "-a",
        &vars["CACHE_PASSWORD"],
        "--no-auth-warning",
    ];
    let mut set = args.to_vec();
    set.extend(["SET", "where", &live.name]);
    let out = client("redis-cli", &set);
    assert_eq!(out.stdout.trim(), "OK", "{}", out.snapshot());
    let mut get = args.to_vec();
    get.extend(["GET", "where"]);
    let out = client("redis-cli", &get);
    assert_eq!(out.stdout.trim(), live.name, "{}", out.snapshot());
}

fn ok(out: Output, what: &str) -> Output {
    assert_eq!(out.code, Some(0), "{what}:\n{}", out.snapshot());
    out
}

/// A forwarder from 127.0.0.2:`port` to the engine's socket; stopped on drop.
struct Forwarder(Child);

impl Forwarder {
    /// `socat`, listening on `listen` (a socat address).
    fn socat(listen: &str, port: u16) -> Self {
        let mut command = Command::new("socat");
        command.args([listen, "UNIX-CONNECT:/var/run/docker.sock"]);
        Self::start(command, port)
    }

    /// `stunnel` terminating TLS with the server certificate in `certs`, accepting only
    /// clients whose certificate the CA signed (dockerd's `--tlsverify`). Not socat: its
    /// OpenSSL server sets no session id context, so it fails every resumed session
    /// ("session id context uninitialized"), which rustls clients attempt and Go's do not.
    fn stunnel(certs: &Path, port: u16) -> Self {
        let config = certs.join("stunnel.conf");
        std::fs::write(
            &config,
            format!(
                "foreground = yes\npid =\noutput = {log}\n[docker]\naccept = 127.0.0.2:{port}\nconnect = /var/run/docker.sock\ncert = {cert}\nkey = {key}\nCAfile = {ca}\nrequireCert = yes\nverifyChain = yes\n",
                log = s(&certs.join("stunnel.log")),
                cert = s(&certs.join("server-cert.pem")),
                key = s(&certs.join("server-key.pem")),
                ca = s(&certs.join("ca.pem")),
            ),
        )
        .expect("write stunnel.conf");
        let mut command = Command::new("stunnel");
        command.arg(&config);
        Self::start(command, port)
    }

    fn start(mut command: Command, port: u16) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("run the forwarder (tests/support/ensure-docker.sh installs socat, stunnel4)");
        let forwarder = Self(child);
        // Bounded wait until it listens.
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.2", port)).is_err() {
            assert!(Instant::now() < until, "socat does not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        forwarder
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A CA, a server certificate for 127.0.0.2 and a client certificate, made with openssl as
/// Docker's "Protect the Docker daemon socket" page makes them.
fn certificates(dir: &Path) {
    let sh = |script: &str| {
        let out = Command::new("sh")
            .args(["-ec", script])
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca \
        -keyout ca-key.pem -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.2 \
        -keyout server-key.pem -out server.csr 2>/dev/null
        printf 'subjectAltName = IP:127.0.0.2\\nextendedKeyUsage = serverAuth\\n' > server.ext
        openssl x509 -req -days 2 -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
        -extfile server.ext -out server-cert.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=client \
        -keyout key.pem -out client.csr 2>/dev/null
        printf 'extendedKeyUsage = clientAuth\\n' > client.ext
        openssl x509 -req -days 2 -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
        -extfile client.ext -out cert.pem 2>/dev/null",
    );
}

mod needs_docker {
    use super::*;

    #[test]
    fn a_context_written_by_the_docker_cli_is_found_and_used() {
        let m = Scratch::new();
        let link = m.dir.join("ctx.sock");
        std::os::unix::fs::symlink(&m.real, &link).expect("symlink");
        m.docker(&[
            "context",
            "create",
            "laptop",
            "--docker",
            &format!("host=unix://{}", s(&link)),
        ]);
        m.docker(&[
            "context",
            "create",
            "broken",
            "--docker",
            "host=unix:///nonexistent/docker.sock",
        ]);
        m.docker(&["context", "use", "broken"]);
        let port = free_port();
        let live = Live::new("ctx", "docker", &redis_manifest(port));

        // The current context is the only engine tried, as with `docker`.
        let out = m.hidden(live.cmd(&["up"]));
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        let config = m.config.join("config.json");
        assert!(
            out.stderr.contains(&format!(
                "  1. unix:///nonexistent/docker.sock (context `broken`, current in {}): no socket there\n",
                config.display()
            )),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("  2. "), "{}", out.stderr);

        // `DOCKER_CONTEXT` beats the current context.
        let out = ok(
            m.hidden_with(
                live.project.cmd(&["doctor", "--local"]),
                &[("DOCKER_CONTEXT", "laptop")],
            ),
            "doctor",
        );
        assert!(
            out.stdout.contains(&format!(
                " at unix://{} (context `laptop`, from `DOCKER_CONTEXT`)",
                s(&link)
            )),
            "{}",
            out.stdout
        );

        // `docker context use laptop`: `up` goes through it (nothing else answers here).
        m.docker(&["context", "use", "laptop"]);
        let out = ok(m.hidden(live.cmd(&["doctor", "--local"])), "doctor");
        assert!(
            out.stdout.contains("[✓] Container engine: Docker ")
                && out.stdout.contains(&format!(
                    " at unix://{} (context `laptop`, current in {})",
                    s(&link),
                    config.display()
                )),
            "{}",
            out.stdout
        );
        ok(m.hidden(live.cmd(&["up"])), "up through the context");
        let vars = live.vars(&["--service", "app"]);
        assert_eq!(vars["CACHE_HOST"], "127.0.0.1");
        redis_roundtrip(&live, &vars);
    }

    #[test]
    fn rootless_dockers_socket_is_found_when_the_default_one_is_missing() {
        let m = Scratch::new();
        let port = free_port();
        let live = Live::new("rootless", "docker", &redis_manifest(port));

        // Nothing there yet: every well-known place is listed, in order, with its reason.
        let out = m.hidden(live.cmd(&["up"]));
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        let expected = [
            "  1. unix:///var/run/docker.sock (context `default`): no socket there".to_owned(),
            format!(
                "  2. unix://{}/docker.sock (rootless Docker's socket): no socket there",
                s(&m.xdg)
            ),
            format!(
                "  3. unix://{}/.docker/desktop/docker.sock (Docker Desktop's socket)",
                s(&m.home)
            ),
            format!(
                "  7. unix://{}/podman/podman.sock (rootless Podman's socket)",
                s(&m.xdg)
            ),
            "  8. unix:///run/podman/podman.sock (Podman's socket): no socket there".to_owned(),
            "hint: start Docker".to_owned(),
        ];
        let mut from = 0;
        for line in &expected {
            let at = out.stderr[from..]
                .find(line.as_str())
                .unwrap_or_else(|| panic!("{line:?} in order in:\n{}", out.stderr));
            from += at + line.len();
        }

        std::os::unix::fs::symlink(&m.real, m.xdg.join("docker.sock")).expect("symlink");
        let out = ok(m.hidden(live.project.cmd(&["doctor", "--local"])), "doctor");
        assert!(
            out.stdout.contains(&format!(
                " at unix://{}/docker.sock (rootless Docker's socket)",
                s(&m.xdg)
            )),
            "{}",
            out.stdout
        );
        ok(
            m.hidden(live.cmd(&["up"])),
            "up through the rootless socket",
        );
        redis_roundtrip(&live, &live.vars(&["--service", "app"]));
    }

    #[test]
    fn docker_host_tcp_and_the_app_reaches_the_engines_host() {
        let m = Scratch::new();
        let api = free_port();
        let _socat = Forwarder::socat(
            &format!("TCP-LISTEN:{api},bind=127.0.0.2,reuseaddr,fork"),
            api,
        );
        let port = free_port();
        let live = Live::new("tcp", "docker", &redis_manifest(port));
        let host = format!("tcp://127.0.0.2:{api}");
        let run = |args: &[&str]| m.env(live.cmd(args)).env("DOCKER_HOST", &host).output();
        let out = ok(run(&["up"]), "up over tcp");
        assert!(
            out.stderr.contains(&format!("on 127.0.0.2:{port}")),
            "{}",
            out.stderr
        );
        // The engine's host, not 127.0.0.1: there its published ports listen.
        let out = ok(run(&["env", "--service", "app", "--format", "json"]), "env");
        let vars: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&out.stdout).expect("json");
        assert_eq!(vars["CACHE_HOST"], "127.0.0.2");
        redis_roundtrip(&live, &vars);
        let bindings = ok(
            client(
                "docker",
                &[
                    "inspect",
                    "-f",
                    "{{json .HostConfig.PortBindings}}",
                    &format!("{}-cache", live.name),
                ],
            ),
            "docker inspect",
        );
        assert!(
            bindings.stdout.contains(r#""HostIp":"127.0.0.2""#),
            "{}",
            bindings.stdout
        );
        let out = ok(run(&["status"]), "status");
        assert!(
            out.stdout.contains(&format!("127.0.0.2:{port}")),
            "{}",
            out.stdout
        );
        let out = ok(run(&["plan"]), "plan");
        assert!(
            out.stdout.contains(&format!("running on 127.0.0.2:{port}")),
            "{}",
            out.stdout
        );
        let out = ok(
            m.env(live.project.cmd(&["doctor", "--local"]))
                .env("DOCKER_HOST", &host)
                .output(),
            "doctor",
        );
        assert!(
            out.stdout.contains(&format!(
                " at {host} (from `DOCKER_HOST`); databases are reached at 127.0.0.2"
            )),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn docker_host_tcp_with_tls_verify_and_a_tls_context() {
        let m = Scratch::new();
        let certs = m.dir.join("certs");
        std::fs::create_dir_all(&certs).expect("mkdir");
        certificates(&certs);
        let api = free_port();
        let _stunnel = Forwarder::stunnel(&certs, api);
        let port = free_port();
        let live = Live::new("tls", "docker", &redis_manifest(port));
        let host = format!("tcp://127.0.0.2:{api}");
        let tls = |run: Run, dir: &Path| {
            m.env(run)
                .env("DOCKER_HOST", &host)
                .env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", s(dir))
                .output()
        };

        // Without a client certificate the engine refuses us; without TLS it cannot answer.
        let ca_only = m.dir.join("ca-only");
        std::fs::create_dir_all(&ca_only).expect("mkdir");
        std::fs::copy(certs.join("ca.pem"), ca_only.join("ca.pem")).expect("copy");
        let out = tls(live.cmd(&["up"]), &ca_only);
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        // In TLS 1.3 the client's handshake is over before the server judges its (missing)
        // certificate (RFC 8446 4.4.2.4): the `certificate_required` alert races the first
        // request, so the client sees either the alert or the connection closing under it.
        assert!(
            out.stderr.contains("CertificateRequired")
                || out.stderr.contains("connection was not ready")
                || out.stderr.contains("connection closed"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains(&format!("  1. {host} (from `DOCKER_HOST`): ")),
            "{}",
            out.stderr
        );
        let out = m.env(live.cmd(&["up"])).env("DOCKER_HOST", &host).output();
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains(&format!("  1. {host} (from `DOCKER_HOST`): ")),
            "{}",
            out.stderr
        );
        // An engine whose certificate another CA signed is not trusted.
        let other = m.dir.join("other-ca");
        std::fs::create_dir_all(&other).expect("mkdir");
        certificates(&other);
        for f in ["cert.pem", "key.pem"] {
            std::fs::copy(certs.join(f), other.join(f)).expect("copy");
        }
        let out = tls(live.cmd(&["up"]), &other);
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(
            out.stderr.contains("invalid peer certificate"),
            "{}",
            out.stderr
        );

        ok(tls(live.cmd(&["up"]), &certs), "up over TLS");
        let out = ok(
            tls(
                live.cmd(&["env", "--service", "app", "--format", "json"]),
                &certs,
            ),
            "env",
        );
        let vars: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&out.stdout).expect("json");
        assert_eq!(vars["CACHE_HOST"], "127.0.0.2");
        redis_roundtrip(&live, &vars);

        // The same engine through a context the Docker CLI made, certificates and all.
        m.docker(&[
            "context",
            "create",
            "secure",
            "--docker",
            &format!(
                "host={host},ca={},cert={},key={}",
                s(&certs.join("ca.pem")),
                s(&certs.join("cert.pem")),
                s(&certs.join("key.pem"))
            ),
        ]);
        let out = ok(
            m.env(live.cmd(&["status"]))
                .env("DOCKER_CONTEXT", "secure")
                .output(),
            "status through the TLS context",
        );
        assert!(
            out.stdout.contains(&format!("127.0.0.2:{port}")),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn podmans_socket_is_found_and_named_podman() {
        // Podman 4.3 serves the Docker API here but cannot start containers on these machines
        // (runc is denied setrlimit; see NOTES.md): discovery, identification and the API
        // calls `status` makes are what can be shown.
        let m = Scratch::new();
        let socket = m.xdg.join("podman/podman.sock");
        std::fs::create_dir_all(m.xdg.join("podman")).expect("mkdir");
        let mut service = Forwarder(
            Command::new("podman")
                .args(["system", "service", "--time=0"])
                .arg(format!("unix://{}", s(&socket)))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run podman (tests/support/ensure-docker.sh installs it)"),
        );
        let until = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                service.0.try_wait().ok().flatten().is_none(),
                "podman system service exited"
            );
            assert!(
                Instant::now() < until,
                "podman does not listen at {socket:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let live = Live::new("podman", "docker", &redis_manifest(free_port()));
        let out = ok(m.hidden(live.project.cmd(&["doctor", "--local"])), "doctor");
        assert!(
            out.stdout.contains(&format!(
                "[✓] Container engine: Podman 4.3.1 at unix://{} (rootless Podman's socket)",
                s(&socket)
            )),
            "{}",
            out.stdout
        );
        let out = ok(m.hidden(live.cmd(&["status"])), "status through Podman");
        assert!(out.stdout.contains("missing"), "{}", out.stdout);
        drop(service);
    }

    #[test]
    fn docker_host_ssh_forwards_the_engines_socket_for_as_long_as_provision_runs() {
        let m = Scratch::new();
        let sshd = Sshd::start(&m.dir);
        let port = free_port();
        let live = Live::new("ssh", "docker", &redis_manifest(port));
        let host = format!("ssh://root@127.0.0.2:{}", sshd.port);
        let run = |args: &[&str]| {
            m.env(live.cmd(args))
                .env("DOCKER_HOST", &host)
                .env("PROVISION_SSH", s(&sshd.client))
                .output()
        };
        let out = ok(run(&["up"]), "up over ssh");
        assert!(
            out.stderr.contains(&format!("on 127.0.0.2:{port}")),
            "{}",
            out.stderr
        );
        let out = ok(run(&["env", "--service", "app", "--format", "json"]), "env");
        let vars: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&out.stdout).expect("json");
        assert_eq!(vars["CACHE_HOST"], "127.0.0.2");
        redis_roundtrip(&live, &vars);
        let out = ok(
            m.env(live.project.cmd(&["doctor", "--local"]))
                .env("DOCKER_HOST", &host)
                .env("PROVISION_SSH", s(&sshd.client))
                .output(),
            "doctor",
        );
        assert!(
            out.stdout.contains(&format!(
                " at {host} (from `DOCKER_HOST`); databases are reached at 127.0.0.2"
            )),
            "{}",
            out.stdout
        );
        // The forwarding `ssh` ended with each command: none is left running.
        let key = s(&sshd.key).to_owned();
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let left = processes_mentioning(&key);
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < until, "ssh still running: {left:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        // A login that fails is reported with ssh's own words and the workaround.
        let out = m
            .env(live.cmd(&["status"]))
            .env(
                "DOCKER_HOST",
                &format!("ssh://nobody@127.0.0.2:{}", sshd.port),
            )
            .env("PROVISION_SSH", s(&sshd.client))
            .output();
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
        assert!(
            out.stderr.contains("hint: check that `ssh HOST` logs in"),
            "{}",
            out.stderr
        );
    }
}

/// The command lines of running processes that contain `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                out.push(text);
            }
        }
    }
    out
}

/// A real OpenSSH server on 127.0.0.2 that lets root in with a key made for the test, and a
/// client wrapper (`PROVISION_SSH`) that uses that key and trusts the server on first use.
/// Stopped on drop.
struct Sshd {
    child: Child,
    port: u16,
    key: PathBuf,
    client: PathBuf,
}

impl Sshd {
    fn start(dir: &Path) -> Self {
        let dir = dir.join("ssh");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let key = dir.join("id");
        for (file, comment) in [(&key, "client"), (&dir.join("host_key"), "host")] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(file)
                .output()
                .expect("run ssh-keygen (tests/support/ensure-docker.sh installs openssh)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Root's key only: another user's login is refused.
        std::fs::copy(dir.join("id.pub"), dir.join("authorized_keys_root")).expect("copy");
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.2\nHostKey {host}\nAuthorizedKeysFile {dir}/authorized_keys_%u\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n",
                host = s(&dir.join("host_key")),
                dir = s(&dir),
            ),
        )
        .expect("write sshd_config");
        // sshd's privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("run sshd (tests/support/ensure-docker.sh installs openssh-server)");
        let client = dir.join("ssh-client.sh");
        std::fs::write(
            &client,
            format!(
                "#!/bin/sh\nexec ssh -F /dev/null -i {key} -o IdentitiesOnly=yes -o UserKnownHostsFile={known} -o StrictHostKeyChecking=accept-new \"$@\"\n",
                key = s(&key),
                known = s(&dir.join("known_hosts")),
            ),
        )
        .expect("write the ssh wrapper");
        let mut perms = std::fs::metadata(&client).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&client, perms).expect("chmod");
        let sshd = Self {
            child,
            port,
            key,
            client,
        };
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.2", port)).is_err() {
            assert!(Instant::now() < until, "sshd does not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
