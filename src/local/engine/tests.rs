//! Discovery's precedence and parsing, over temporary directories laid out as the Docker CLI
//! lays out its own. Rules, with their pages:
//! - `DOCKER_HOST`, `DOCKER_CONTEXT`, `DOCKER_CONFIG`, `DOCKER_CERT_PATH`, `DOCKER_TLS_VERIFY`:
//!   https://docs.docker.com/engine/reference/commandline/cli/#environment-variables
//! - the current context applies only "when `DOCKER_HOST`, `DOCKER_CONTEXT` environment
//!   variables and `--host`, `--context` global options aren't set":
//!   https://docs.docker.com/reference/cli/docker/context/use/ (and docker 28.2 here:
//!   `DOCKER_HOST=... DOCKER_CONTEXT=foo docker context show` prints `default`)
//! - contexts, `docker context create --docker host=...,ca=...,cert=...,key=...`:
//!   https://docs.docker.com/engine/manage-resources/contexts/ ; the files below are written
//!   exactly as docker 28.2's `docker context create foo --docker host=unix:///...` wrote them
//!   on this machine (`contexts/meta/<sha256("foo")>/meta.json`)
//! - TLS: `ca.pem`, `cert.pem`, `key.pem`; `tcp://` defaults to 2375, 2376 with TLS:
//!   https://docs.docker.com/engine/security/protect-access/ and docker(1) `-H`
//! - rootless: "The socket path is set to `$XDG_RUNTIME_DIR/docker.sock` by default":
//!   https://docs.docker.com/engine/security/rootless/tips/
//! - Colima (`~/.colima/default/docker.sock`, v0.4+), Docker Desktop for Linux
//!   (`~/.docker/desktop/docker.sock`), OrbStack (`~/.orbstack/run/docker.sock`), Podman
//!   (`$XDG_RUNTIME_DIR/podman/podman.sock`, `/run/podman/podman.sock`,
//!   https://docs.podman.io/en/latest/markdown/podman-system-service.1.html)

use std::path::{Path, PathBuf};

use super::*;

/// A scratch machine: `root` for machine-wide paths, a home, a runtime dir.
struct Machine {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    run: PathBuf,
}

impl Machine {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let home = tmp.path().join("home");
        let run = tmp.path().join("run-user");
        for d in [&root, &home, &run] {
            std::fs::create_dir_all(d).unwrap();
        }
        Self {
            _tmp: tmp,
            root,
            home,
            run,
        }
    }

    fn env(&self, extra: &[(&str, &str)]) -> Env {
        let home = self.home.to_str().unwrap();
        let run = self.run.to_str().unwrap();
        let mut vars = vec![("HOME", home), ("XDG_RUNTIME_DIR", run)];
        vars.extend_from_slice(extra);
        Env::new(&vars, &self.root)
    }

    fn docker_dir(&self) -> PathBuf {
        self.home.join(".docker")
    }

    /// A context as `docker context create NAME --docker host=HOST` writes it.
    fn context(&self, name: &str, host: &str, skip_tls_verify: bool) -> PathBuf {
        let dir = self
            .docker_dir()
            .join("contexts/meta")
            .join(context_id(name));
        std::fs::create_dir_all(&dir).unwrap();
        let meta = format!(
            r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":{skip_tls_verify}}}}}}}"#
        );
        std::fs::write(dir.join("meta.json"), meta).unwrap();
        dir
    }

    fn use_context(&self, name: &str) {
        std::fs::create_dir_all(self.docker_dir()).unwrap();
        std::fs::write(
            self.docker_dir().join("config.json"),
            format!("{{\n\t\"auths\": {{}},\n\t\"currentContext\": \"{name}\"\n}}"),
        )
        .unwrap();
    }

    fn context_tls(&self, name: &str) -> PathBuf {
        let dir = self
            .docker_dir()
            .join("contexts/tls")
            .join(context_id(name))
            .join("docker");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.join(f), "PEM").unwrap();
        }
        dir
    }
}

fn vias(c: &[Candidate]) -> Vec<Via> {
    c.iter().map(|c| c.via.clone()).collect()
}

#[test]
fn context_directories_are_the_sha256_of_the_name() {
    // What docker 28.2 created for `docker context create foo` on this machine.
    assert_eq!(
        context_id("foo"),
        "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
    );
}

#[test]
fn docker_host_alone_beats_every_context() {
    let m = Machine::new();
    m.context("foo", "unix:///foo.sock", false);
    m.use_context("foo");
    let c = candidates(&m.env(&[
        ("DOCKER_HOST", "unix:///from/env.sock"),
        ("DOCKER_CONTEXT", "foo"),
    ]));
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].via, Via::DockerHost);
    assert_eq!(
        c[0].transport,
        Ok(Transport::Unix(PathBuf::from("/from/env.sock")))
    );
}

#[test]
fn an_empty_docker_host_counts_as_unset() {
    let m = Machine::new();
    let c = candidates(&m.env(&[("DOCKER_HOST", "")]));
    assert_eq!(c[0].via, Via::Socket(Known::Docker));
}

#[test]
fn docker_context_beats_the_current_context_and_is_alone() {
    let m = Machine::new();
    m.context("env", "unix:///env.sock", false);
    m.context("current", "unix:///current.sock", false);
    m.use_context("current");
    let c = candidates(&m.env(&[("DOCKER_CONTEXT", "env")]));
    assert_eq!(vias(&c), vec![Via::ContextEnv("env".into())]);
    assert_eq!(c[0].host, "unix:///env.sock");
    assert_eq!(
        c[0].transport,
        Ok(Transport::Unix(PathBuf::from("/env.sock")))
    );
}

#[test]
fn the_current_context_comes_from_config_json() {
    let m = Machine::new();
    m.context(
        "colima",
        "unix:///home/me/.colima/default/docker.sock",
        false,
    );
    m.use_context("colima");
    let c = candidates(&m.env(&[]));
    assert_eq!(
        vias(&c),
        vec![Via::ContextCurrent {
            name: "colima".into(),
            config: m.docker_dir().join("config.json"),
        }]
    );
    assert_eq!(
        c[0].transport,
        Ok(Transport::Unix(PathBuf::from(
            "/home/me/.colima/default/docker.sock"
        )))
    );
}

#[test]
fn docker_config_moves_the_config_directory() {
    let m = Machine::new();
    let elsewhere = m.home.join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("contexts/meta").join(context_id("x"))).unwrap();
    std::fs::write(
        elsewhere
            .join("contexts/meta")
            .join(context_id("x"))
            .join("meta.json"),
        r#"{"Name":"x","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2375","SkipTLSVerify":false}}}"#,
    )
    .unwrap();
    std::fs::write(elsewhere.join("config.json"), r#"{"currentContext":"x"}"#).unwrap();
    let c = candidates(&m.env(&[("DOCKER_CONFIG", elsewhere.to_str().unwrap())]));
    assert_eq!(
        c[0].transport,
        Ok(Transport::Tcp {
            host: "10.0.0.5".into(),
            port: 2375,
            tls: None
        })
    );
}

#[test]
fn the_default_context_means_the_usual_sockets() {
    let m = Machine::new();
    m.use_context("default");
    let c = candidates(&m.env(&[]));
    assert_eq!(c[0].via, Via::Socket(Known::Docker));
    let c = candidates(&m.env(&[("DOCKER_CONTEXT", "default")]));
    assert_eq!(c[0].via, Via::Socket(Known::Docker));
}

#[test]
fn a_missing_context_is_reported_and_nothing_else_is_tried() {
    let m = Machine::new();
    m.use_context("gone");
    let c = candidates(&m.env(&[]));
    assert_eq!(c.len(), 1, "{c:?}");
    let meta = m
        .docker_dir()
        .join("contexts/meta")
        .join(context_id("gone"))
        .join("meta.json");
    assert_eq!(c[0].transport, Err(Reason::NoContext { meta }));
}

#[test]
fn an_unreadable_config_is_reported_then_the_sockets_are_tried() {
    let m = Machine::new();
    std::fs::create_dir_all(m.docker_dir()).unwrap();
    std::fs::write(m.docker_dir().join("config.json"), "{not json").unwrap();
    let c = candidates(&m.env(&[]));
    assert!(
        matches!(&c[0].transport, Err(Reason::BadFile { path, .. }) if path.ends_with("config.json")),
        "{c:?}"
    );
    assert_eq!(c[1].via, Via::Socket(Known::Docker));
}

#[test]
fn a_context_with_certificates_uses_tls() {
    let m = Machine::new();
    m.context("remote", "tcp://build.example:2376", false);
    let dir = m.context_tls("remote");
    let c = candidates(&m.env(&[("DOCKER_CONTEXT", "remote")]));
    assert_eq!(
        c[0].transport,
        Ok(Transport::Tcp {
            host: "build.example".into(),
            port: 2376,
            tls: Some(Tls {
                ca: dir.join("ca.pem"),
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
            }),
        })
    );
}

#[test]
fn skipping_tls_verification_is_refused() {
    let m = Machine::new();
    m.context("insecure", "tcp://build.example:2376", true);
    m.context_tls("insecure");
    let c = candidates(&m.env(&[("DOCKER_CONTEXT", "insecure")]));
    assert_eq!(c[0].transport, Err(Reason::TlsWithoutVerify));
}

#[test]
fn docker_host_forms() {
    let tcp = |host: &str, port| Transport::Tcp {
        host: host.into(),
        port,
        tls: None,
    };
    assert_eq!(
        parse_host("unix:///run/user/1000/docker.sock", false),
        Ok(Transport::Unix("/run/user/1000/docker.sock".into()))
    );
    assert_eq!(
        parse_host("tcp://10.1.2.3:2375", false),
        Ok(tcp("10.1.2.3", 2375))
    );
    assert_eq!(
        parse_host("tcp://docker.lan", false),
        Ok(tcp("docker.lan", 2375))
    );
    assert_eq!(
        parse_host("tcp://docker.lan", true),
        Ok(tcp("docker.lan", 2376))
    );
    assert_eq!(parse_host("tcp://[::1]:2375", false), Ok(tcp("::1", 2375)));
    assert_eq!(
        parse_host("tcp://docker.lan:2375/", false),
        Ok(tcp("docker.lan", 2375))
    );
    assert_eq!(
        parse_host("ssh://deploy@build.example:2222", false),
        Ok(Transport::Ssh {
            destination: "deploy@build.example".into(),
            host: "build.example".into(),
            port: Some(2222),
            socket: "/var/run/docker.sock".into(),
        })
    );
    assert_eq!(
        parse_host("ssh://build.example/run/user/1000/docker.sock", false),
        Ok(Transport::Ssh {
            destination: "build.example".into(),
            host: "build.example".into(),
            port: None,
            socket: "/run/user/1000/docker.sock".into(),
        })
    );
    for bad in [
        "npipe:////./pipe/docker_engine",
        "/var/run/docker.sock",
        "tcp://:2375",
        "tcp://host:port",
        "unix://",
    ] {
        assert!(
            matches!(parse_host(bad, false), Err(Reason::BadHost { .. })),
            "{bad}"
        );
    }
}

#[test]
fn docker_tls_verify_takes_certificates_from_docker_cert_path() {
    let m = Machine::new();
    let certs = m.home.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("ca.pem"), "PEM").unwrap();
    let c = candidates(&m.env(&[
        ("DOCKER_HOST", "tcp://10.1.2.3"),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", certs.to_str().unwrap()),
    ]));
    assert_eq!(
        c[0].transport,
        Ok(Transport::Tcp {
            host: "10.1.2.3".into(),
            port: 2376,
            tls: Some(Tls {
                ca: certs.join("ca.pem"),
                cert: certs.join("cert.pem"),
                key: certs.join("key.pem"),
            }),
        })
    );
}

#[test]
fn docker_tls_verify_defaults_to_the_config_directory_and_needs_a_ca() {
    let m = Machine::new();
    let c = candidates(&m.env(&[
        ("DOCKER_HOST", "tcp://10.1.2.3:2376"),
        ("DOCKER_TLS_VERIFY", "1"),
    ]));
    assert_eq!(
        c[0].transport,
        Err(Reason::MissingCa {
            path: m.docker_dir().join("ca.pem")
        })
    );
    // TLS without verification (`DOCKER_TLS` alone) is refused; without either, plain HTTP.
    let c = candidates(&m.env(&[("DOCKER_HOST", "tcp://10.1.2.3"), ("DOCKER_TLS", "1")]));
    assert_eq!(c[0].transport, Err(Reason::TlsWithoutVerify));
    let c = candidates(&m.env(&[("DOCKER_HOST", "tcp://10.1.2.3")]));
    assert!(matches!(
        c[0].transport,
        Ok(Transport::Tcp { tls: None, .. })
    ));
}

#[test]
fn with_nothing_chosen_the_well_known_sockets_in_order() {
    let m = Machine::new();
    let c = candidates(&m.env(&[]));
    let got: Vec<(Via, String)> = c.iter().map(|c| (c.via.clone(), c.host.clone())).collect();
    let at = |p: &Path| format!("unix://{}", p.display());
    let expected = vec![
        (
            Via::Socket(Known::Docker),
            at(&m.root.join("var/run/docker.sock")),
        ),
        (
            Via::Socket(Known::DockerRootless),
            at(&m.run.join("docker.sock")),
        ),
        (
            Via::Socket(Known::DockerDesktop),
            at(&m.home.join(".docker/desktop/docker.sock")),
        ),
        (
            Via::Socket(Known::Colima),
            at(&m.home.join(".colima/default/docker.sock")),
        ),
        (
            Via::Socket(Known::Colima),
            at(&m.home.join(".config/colima/default/docker.sock")),
        ),
        (
            Via::Socket(Known::OrbStack),
            at(&m.home.join(".orbstack/run/docker.sock")),
        ),
        (
            Via::Socket(Known::PodmanRootless),
            at(&m.run.join("podman/podman.sock")),
        ),
        (
            Via::Socket(Known::Podman),
            at(&m.root.join("run/podman/podman.sock")),
        ),
    ];
    assert_eq!(got, expected);
}

#[test]
fn without_xdg_runtime_dir_rootless_sockets_are_under_run_user_uid() {
    let m = Machine::new();
    let env = Env::new(&[("HOME", m.home.to_str().unwrap())], &m.root);
    let c = candidates(&env);
    assert_eq!(
        c[1].transport,
        Ok(Transport::Unix(m.root.join("run/user/1000/docker.sock")))
    );
}

#[test]
fn apps_reach_a_remote_engine_at_its_host() {
    let unix = Transport::Unix("/var/run/docker.sock".into());
    assert_eq!(addresses(&unix), ("127.0.0.1".into(), "127.0.0.1".into()));
    let tcp = |h: &str| Transport::Tcp {
        host: h.into(),
        port: 2375,
        tls: None,
    };
    assert_eq!(
        addresses(&tcp("10.1.2.3")),
        ("10.1.2.3".into(), "0.0.0.0".into())
    );
    assert_eq!(
        addresses(&tcp("127.0.0.2")),
        ("127.0.0.2".into(), "127.0.0.2".into())
    );
    assert_eq!(
        addresses(&tcp("localhost")),
        ("127.0.0.1".into(), "127.0.0.1".into())
    );
    let ssh = parse_host("ssh://me@build.example", false).unwrap();
    assert_eq!(addresses(&ssh), ("build.example".into(), "0.0.0.0".into()));
}

#[tokio::test]
async fn nothing_answering_lists_every_place_in_order_with_its_reason() {
    let m = Machine::new();
    // A socket file that is not an engine: something there, but no answer.
    let sock = m.run.join("docker.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    drop(listener);
    let Err(Error::DockerUnavailable { tried }) = connect_with(&m.env(&[])).await else {
        panic!("nothing should answer");
    };
    assert_eq!(tried.len(), 8, "{tried:?}");
    assert_eq!(tried[0].reason, Reason::NoSocket);
    assert!(
        matches!(&tried[1].reason, Reason::NoAnswer { detail } if detail.contains("refused")),
        "{:?}",
        tried[1]
    );
    let text = Error::DockerUnavailable { tried }.render();
    assert!(
        text.starts_with("error: no Docker engine answers; tried, in order:\n  1. unix://"),
        "{text}"
    );
    assert!(text.contains("  8. unix://"), "{text}");
    assert!(text.contains("\nhint: "), "{text}");
}
