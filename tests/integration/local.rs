//! The local backend against real servers: every engine, in containers through a real Docker
//! engine (`needs_docker`) and as native server processes (`needs_native`), with real clients
//! (psql, mariadb, redis-cli, and memcached's text protocol over a socket).
//!
//! Each test uses its own project name and fixed free ports, so tests run in parallel.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use crate::support::{Live, client, free_port};

/// Writes a marker through a real client using the link variables.
fn write(engine: &str, v: &BTreeMap<String, String>, p: &str, marker: &str) {
    let get = |k: &str| {
        v.get(&format!("{p}_{k}"))
            .unwrap_or_else(|| panic!("{p}_{k} missing in {v:?}"))
            .clone()
    };
    let out = match engine {
        // psql takes the URL itself: the link contract is what it parses.
        "postgres" => client(
            "psql",
            &[
                &get("URL"),
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE TABLE marks (v text); INSERT INTO marks VALUES ('{marker}')"),
            ],
        ),
        "mariadb" => client(
            "mariadb",
            &[
                "-h",
                &get("HOST"),
                "-P",
                &get("PORT"),
                "-u",
                &get("USERNAME"),
                &format!("-p{}", get("PASSWORD")),
                &get("PATH")[1..],
                "-e",
                &format!("CREATE TABLE marks (v text); INSERT INTO marks VALUES ('{marker}')"),
            ],
        ),
        "redis" => client(
            "redis-cli",
            &[
                "-h",
                &get("HOST"),
                "-p",
                &get("PORT"),
                "-a",
                &get("PASSWORD"),
                "--no-auth-warning",
                "SET",
                "mark",
                marker,
            ],
        ),
        "memcached" => {
            let reply = memcached(
                &get("HOST"),
                &get("PORT"),
                &format!("set mark 0 0 {}\r\n{marker}\r\n", marker.len()),
            );
            assert_eq!(reply, "STORED\r\n");
            return;
        }
        other => panic!("unknown engine {other}"),
    };
    assert_eq!(
        out.code,
        Some(0),
        "{engine} write failed: {}",
        out.snapshot()
    );
    if engine == "redis" {
        assert_eq!(out.stdout.trim(), "OK", "{}", out.snapshot());
    }
}

/// Reads the marker back; `None` when it is gone.
fn read(engine: &str, v: &BTreeMap<String, String>, p: &str) -> Option<String> {
    let get = |k: &str| v[&format!("{p}_{k}")].clone();
    let out = match engine {
        "postgres" => client("psql", &[&get("URL"), "-tAc", "SELECT v FROM marks"]),
        "mariadb" => client(
            "mariadb",
            &[
                "-h",
                &get("HOST"),
                "-P",
                &get("PORT"),
                "-u",
                &get("USERNAME"),
                &format!("-p{}", get("PASSWORD")),
                &get("PATH")[1..],
                "-N",
                "-e",
                "SELECT v FROM marks",
            ],
        ),
        "redis" => client(
            "redis-cli",
            &[
                "-h",
                &get("HOST"),
                "-p",
                &get("PORT"),
                "-a",
                &get("PASSWORD"),
                "--no-auth-warning",
                "GET",
                "mark",
            ],
        ),
        "memcached" => {
            let reply = memcached(&get("HOST"), &get("PORT"), "get mark\r\n");
            return reply
                .lines()
                .nth(1)
                .map(str::to_owned)
                .filter(|_| reply.starts_with("VALUE"));
        }
        other => panic!("unknown engine {other}"),
    };
    let text = out.stdout.trim().to_owned();
    (out.code == Some(0) && !text.is_empty()).then_some(text)
}

fn memcached(host: &str, port: &str, request: &str) -> String {
    let mut s =
        std::net::TcpStream::connect(format!("{host}:{port}")).expect("connect to memcached");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = [0u8; 512];
    let mut reply = String::new();
    while !(reply.ends_with("END\r\n")
        || reply.ends_with("STORED\r\n")
        || reply.ends_with("ERROR\r\n"))
    {
        let n = s.read(&mut buf).expect("memcached reply");
        assert!(n > 0, "memcached closed the connection after {reply:?}");
        reply.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    reply
}

/// up; write through the URL; down; up; read it back; down --volumes; up; it is gone.
fn roundtrip(runtime: &'static str, engine: &str, image: &str) {
    let port = free_port();
    let manifest = format!(
        "services:\n  app:\n    build: .\n    links: ['store:main']\n  store:\n    image: '{image}'\n    x-provision: {{local: {{port: {port}}}}}\n"
    );
    let live = Live::new(engine, runtime, &manifest);
    let up = live.ok(&["up"]);
    assert!(up.stderr.contains("ready in"), "{}", up.snapshot());
    let v = live.vars(&["--service", "app"]);
    assert_eq!(v["MAIN_PORT"], port.to_string());
    assert_eq!(v["MAIN_HOST"], "127.0.0.1");
    let password = v["MAIN_PASSWORD"].clone();
    if engine != "memcached" {
        assert_eq!(password.len(), 32, "a generated password: {v:?}");
        // Secrets stay out of everything but `env` and `run`.
        for args in [
            &["up"][..],
            &["status"],
            &["status", "--json"],
            &["plan", "--json"],
        ] {
            let out = live.ok(args);
            assert!(
                !out.stdout.contains(&password) && !out.stderr.contains(&password),
                "{args:?} printed the password"
            );
        }
    }
    write(engine, &v, "MAIN", "persisted-42");
    live.ok(&["down"]);
    let status = live.ok(&["status", "--json"]);
    assert!(
        status.stdout.contains("\"state\": \"missing\"")
            || status.stdout.contains("\"state\": \"stopped\""),
        "{}",
        status.stdout
    );
    let out = live.cmd(&["env"]).output();
    assert_eq!(
        out.code,
        Some(1),
        "env with nothing running: {}",
        out.snapshot()
    );
    assert!(out.stderr.contains("is not running"), "{}", out.stderr);

    live.ok(&["up"]);
    let again = live.vars(&["--service", "app"]);
    assert_eq!(again, v, "the same address and password across down + up");
    if engine == "memcached" {
        // An in-memory cache keeps nothing across a restart, by design.
        assert_eq!(read(engine, &again, "MAIN"), None);
    } else {
        assert_eq!(
            read(engine, &again, "MAIN").as_deref(),
            Some("persisted-42"),
            "data survives down + up"
        );
    }

    live.ok(&["down", "--volumes", "--yes"]);
    live.ok(&["up"]);
    let fresh = live.vars(&["--service", "app"]);
    assert_eq!(
        read(engine, &fresh, "MAIN"),
        None,
        "down --volumes deletes the data"
    );
    if engine != "memcached" {
        assert_ne!(fresh["MAIN_PASSWORD"], password, "new data, new password");
    }
}

/// One table of engines (the image each is asked for), run on both runtimes: one test per
/// runtime and engine (`needs_docker::postgres`, `needs_native::postgres`, ...), each the full
/// [`roundtrip`].
macro_rules! engine_roundtrips {
    ($runtime:literal) => {
        engine_roundtrips!(@table $runtime;
            postgres => "postgres:15",
            mariadb => "mariadb:10.11",
            redis => "redis:7",
            memcached => "memcached:1.6",
        );
    };
    (@table $runtime:literal; $($engine:ident => $image:literal,)*) => {
        $(
            #[test]
            fn $engine() {
                super::roundtrip($runtime, stringify!($engine), $image);
            }
        )*
    };
}

mod needs_docker {
    use super::*;

    engine_roundtrips!("docker");

    #[test]
    fn an_app_with_two_databases_under_aliases_and_run() {
        let (a, b) = (free_port(), free_port());
        let manifest = format!(
            "services:\n  web:\n    build: .\n    links: ['db:primary', 'cache:sessions']\n  db: {{image: 'postgres:15', x-provision: {{database: shop, local: {{port: {a}}}}}}}\n  cache: {{image: 'redis:7', ports: ['{b}:6379']}}\n"
        );
        let live = Live::new("aliases", "docker", &manifest);
        live.ok(&["up"]);
        let v = live.vars(&["--service", "web"]);
        let names: Vec<&str> = v.keys().map(String::as_str).collect();
        assert_eq!(names.len(), 14, "{names:?}");
        assert!(
            v["PRIMARY_URL"].starts_with("postgresql://app:")
                && v["PRIMARY_URL"].ends_with(&format!("@127.0.0.1:{a}/shop"))
        );
        assert_eq!(
            v["SESSIONS_URL"],
            format!("redis://:{}@127.0.0.1:{b}/0", v["SESSIONS_PASSWORD"])
        );
        // `run` hands the variables to the program and passes its exit status through.
        let out = live
            .cmd(&[
                "run",
                "--service",
                "web",
                "--",
                "sh",
                "-c",
                "psql \"$PRIMARY_URL\" -tAc 'select 40+2' && exit 7",
            ])
            .output();
        assert_eq!(out.code, Some(7), "{}", out.snapshot());
        assert_eq!(out.stdout.trim(), "42");
        // A signal that kills the program is reported as such (run replaces itself with it).
        let out = live
            .cmd(&["run", "--", "sh", "-c", "kill -TERM $$"])
            .output();
        assert_eq!(out.code, None, "killed by a signal: {}", out.snapshot());
        let out = live.cmd(&["env", "--service", "nope"]).output();
        assert_eq!(out.code, Some(2));
        assert!(
            out.stderr.contains("`nope` is not an app service"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn two_databases_of_one_engine_get_two_ports() {
        let live = Live::new(
            "twoports",
            "docker",
            "services:\n  a: {image: 'memcached:1.6'}\n  b: {image: 'memcached:1.6'}\n",
        );
        live.ok(&["up"]);
        let v = live.vars(&[]);
        assert_ne!(v["A_PORT"], v["B_PORT"], "{v:?}");
    }

    #[test]
    fn remembered_port_and_idempotent_up() {
        // No port in the manifest: the engine's own if free, else another; kept across runs.
        let live = Live::new("ports", "docker", "services:\n  kv: {image: 'redis:7'}\n");
        live.ok(&["up"]);
        let first = live.vars(&[])["KV_PORT"].clone();
        let again = live.ok(&["up"]);
        assert!(
            again.stderr.contains("container") && again.stderr.contains("is running"),
            "{}",
            again.stderr
        );
        assert!(
            !again.stderr.contains("creating"),
            "a second up changes nothing: {}",
            again.stderr
        );
        let plan = live.ok(&["plan"]);
        assert!(
            plan.stdout.contains("Live state (docker)") && plan.stdout.contains("kv  no change"),
            "{}",
            plan.stdout
        );
        live.ok(&["down"]);
        live.ok(&["up"]);
        assert_eq!(live.vars(&[])["KV_PORT"], first);
    }

    #[test]
    fn docker_not_running_is_exit_69_with_a_hint() {
        // A real engine that does not answer: DOCKER_HOST names a socket with nobody behind it.
        // (Stopping the machine's dockerd would break the tests running beside this one.)
        let live = Live::new(
            "nodocker",
            "docker",
            "services:\n  kv: {image: 'redis:7'}\n",
        );
        let out = live
            .cmd(&["up"])
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output();
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(
            out.stderr.contains("no Docker engine answers"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("hint: start Docker"), "{}", out.stderr);
    }

    #[test]
    fn a_missing_image_is_named_and_the_others_still_come_up() {
        let port = free_port();
        let manifest = format!(
            "services:\n  old: {{image: 'postgres:13'}}\n  kv: {{image: 'redis:7', x-provision: {{local: {{port: {port}}}}}}}\n"
        );
        let live = Live::new("noimage", "docker", &manifest);
        let out = live.cmd(&["up"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains("the image `postgres:13` is not on this machine and cannot be pulled"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("1 of 2 databases failed: old; 1 ready"),
            "{}",
            out.stderr
        );
        let status = live.ok(&["status"]);
        assert!(
            status
                .stdout
                .lines()
                .any(|l| l.starts_with("kv") && l.contains("running") && l.contains("yes")),
            "{}",
            status.stdout
        );
    }

    #[test]
    fn a_taken_port_is_reported_by_number() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let live = Live::new(
            "taken",
            "docker",
            &format!("services:\n  kv: {{image: 'redis:7', ports: ['{port}:6379']}}\n"),
        );
        let out = live.cmd(&["up"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains(&format!("port {port} on 127.0.0.1 is already in use")),
            "{}",
            out.stderr
        );
        drop(listener);
        live.ok(&["up"]); // converges once the port is free
    }

    #[test]
    fn a_container_that_exits_shows_its_log() {
        // `redis:7` re-tagged under a name provision does not know, declared as Valkey: its
        // command (`valkey-server`) does not exist in the image, so the container exits.
        let tag = "provision-test/crashy:latest";
        assert_eq!(
            crate::support::client("docker", &["tag", "redis:7", tag]).code,
            Some(0)
        );
        let live = Live::new(
            "crash",
            "docker",
            &format!("services:\n  kv: {{image: '{tag}', x-provision: {{type: valkey}}}}\n"),
        );
        let out = live.cmd(&["up", "--timeout", "30"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains("kv stopped while starting"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("last lines of its log"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn interrupted_and_killed_ups_converge() {
        let port = free_port();
        let live = Live::new(
            "interrupt",
            "docker",
            &format!(
                "services:\n  db: {{image: 'postgres:15', x-provision: {{local: {{port: {port}}}}}}}\n"
            ),
        );
        for signal in ["INT", "KILL"] {
            let args = ["-p", &live.name, "--runtime", "docker", "up"];
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_provision"))
                .args(args)
                .current_dir(&live.project.dir)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // Interrupt once it has started the container and waits for Postgres (whose first
            // start, initdb included, takes about a second).
            let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
            let mut progress_line = String::new();
            while !progress_line.contains("waiting for") {
                progress_line.clear();
                let n = std::io::BufRead::read_line(&mut stderr, &mut progress_line).unwrap();
                assert!(n > 0, "provision ended before waiting for the database");
            }
            assert_eq!(
                crate::support::client("kill", &[&format!("-{signal}"), &child.id().to_string()])
                    .code,
                Some(0)
            );
            let status = child.wait().unwrap();
            if signal == "INT" {
                assert_eq!(status.code(), Some(130), "Ctrl-C exits 130");
            }
            let out = live.ok(&["up"]);
            assert!(
                out.stderr.contains("ready in"),
                "the next up converges: {}",
                out.stderr
            );
            live.ok(&["down", "--volumes", "--yes"]);
        }
    }

    #[test]
    fn two_ups_at_once_make_one_of_everything() {
        let port = free_port();
        let live = Live::new(
            "twice",
            "docker",
            &format!(
                "services:\n  db: {{image: 'postgres:15', x-provision: {{local: {{port: {port}}}}}}}\n"
            ),
        );
        let a = live.cmd(&["up"]);
        let b = live.cmd(&["up"]);
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| a.output());
            let b = s.spawn(|| b.output());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(
            (a.code, b.code),
            (Some(0), Some(0)),
            "{}\n{}",
            a.snapshot(),
            b.snapshot()
        );
        let v = live.vars(&[]);
        let out = client("psql", &[&v["DB_URL"], "-tAc", "select 1"]);
        assert_eq!(out.stdout.trim(), "1", "{}", out.snapshot());
        let ps = client(
            "docker",
            &[
                "ps",
                "-a",
                "--filter",
                &format!("label=dev.provision.project={}", live.name),
                "--format",
                "{{.Names}}",
            ],
        );
        assert_eq!(ps.stdout.lines().count(), 1, "{}", ps.stdout);
    }

    #[test]
    fn another_projects_container_and_volume_are_left_alone() {
        // Project `P-x` with service `kv` and project `P` with service `x-kv` would both be
        // `P-x-kv`: the labels tell them apart.
        let port = free_port();
        let mut owner = Live::new(
            "own",
            "docker",
            &format!(
                "services:\n  kv: {{image: 'redis:7', x-provision: {{local: {{port: {port}}}}}}}\n"
            ),
        );
        owner.name = format!("{}-x", owner.name);
        owner.ok(&["up"]);
        let mut intruder = Live::new("own", "docker", "services:\n  x-kv: {image: 'redis:7'}\n");
        intruder.name = owner.name.trim_end_matches("-x").to_owned();
        for args in [&["up"][..], &["env"], &["down", "--volumes", "--yes"]] {
            let out = intruder.cmd(args).output();
            assert_ne!(out.code, Some(0), "{args:?}: {}", out.snapshot());
            assert!(
                out.stderr
                    .contains(&format!("belongs to `{}/kv`", owner.name)),
                "{args:?}: {}",
                out.stderr
            );
        }
        let status = owner.ok(&["status"]);
        assert!(
            status.stdout.contains("running") && status.stdout.contains("yes"),
            "still up and answering: {}",
            status.stdout
        );
    }

    #[test]
    fn down_volumes_needs_yes_without_a_terminal() {
        let live = Live::new("confirm", "docker", "services:\n  kv: {image: 'redis:7'}\n");
        let out = live.cmd(&["down", "--volumes"]).output();
        assert_eq!(out.code, Some(2), "{}", out.snapshot());
        assert!(out.stderr.contains("add `--yes`"), "{}", out.stderr);
    }
}

mod needs_native {
    use super::*;

    engine_roundtrips!("native");

    /// A descriptor provision inherited (here a file the caller's shell holds open on fd 7, as
    /// a test runner's `flock` was) must not reach the native server it starts: the server
    /// would hold it for as long as it runs. `run` is the documented exception (its program is
    /// the caller's), which also shows that the descriptor really was handed to provision.
    #[test]
    fn native_servers_inherit_no_descriptor_of_provision() {
        let port = free_port();
        let live = Live::new(
            "nfds",
            "native",
            &format!(
                "services:\n  kv: {{image: 'redis:7', x-provision: {{local: {{port: {port}}}}}}}\n"
            ),
        );
        let held = live.project.dir.join("held-by-the-caller");
        let script = format!("exec 7>>'{}' && exec \"$@\"", held.display());
        let wrapper = ["sh", "-c", script.as_str(), "sh"];
        let up = live.cmd(&["up"]).wrapped(&wrapper).output();
        assert_eq!(up.code, Some(0), "{}", up.snapshot());
        let pid = std::fs::read_to_string(live.home.join(&live.name).join("kv/server.pid"))
            .expect("the native server's pid file");
        // `PID START-TIME`
        let pid = pid.split_whitespace().next().unwrap_or_default();
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("the server's descriptors");
        let open: Vec<std::path::PathBuf> = fds
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .collect();
        assert!(
            !open.contains(&held),
            "the server holds provision's inherited descriptor: {open:?}"
        );
        let run = live
            .cmd(&["run", "--", "ls", "-l", "/proc/self/fd/"])
            .wrapped(&wrapper)
            .output();
        assert_eq!(run.code, Some(0), "{}", run.snapshot());
        assert!(
            run.stdout.contains(&held.display().to_string()),
            "`run` hands its program the caller's descriptors:\n{}",
            run.stdout
        );
    }

    #[test]
    fn a_taken_port_and_a_version_mismatch() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Debian ships Redis 7; asking for 6 gets a warning, not a refusal.
        let live = Live::new(
            "ntaken",
            "native",
            &format!(
                "services:\n  kv: {{image: 'redis:6', x-provision: {{local: {{port: {port}}}}}}}\n"
            ),
        );
        let out = live.cmd(&["up"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains(&format!("port {port} on 127.0.0.1 is already in use")),
            "{}",
            out.stderr
        );
        drop(listener);
        let out = live.ok(&["up"]);
        assert!(
            out.stderr
                .contains("warning: the manifest asks for redis 6"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn a_new_port_in_the_manifest_moves_the_server() {
        let (a, b) = (free_port(), free_port());
        let live = Live::new(
            "nport",
            "native",
            &format!(
                "services:\n  kv: {{image: 'redis:7', x-provision: {{local: {{port: {a}}}}}}}\n"
            ),
        );
        live.ok(&["up"]);
        write("redis", &live.vars(&[]), "KV", "moved");
        live.project.write(
            "compose.yaml",
            format!(
                "services:\n  kv: {{image: 'redis:7', x-provision: {{local: {{port: {b}}}}}}}\n"
            )
            .as_bytes(),
        );
        let up = live.ok(&["up"]);
        assert!(
            up.stderr.contains(&format!("restarting on port {b}")),
            "{}",
            up.stderr
        );
        let v = live.vars(&[]);
        assert_eq!(v["KV_PORT"], b.to_string());
        assert_eq!(
            read("redis", &v, "KV").as_deref(),
            Some("moved"),
            "the data moved with it"
        );
    }

    #[test]
    fn servers_outlive_the_command_and_two_ups_share_one_server() {
        let port = free_port();
        let live = Live::new(
            "ntwice",
            "native",
            &format!(
                "services:\n  db: {{image: 'postgres:15', x-provision: {{local: {{port: {port}}}}}}}\n"
            ),
        );
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| live.cmd(&["up"]).output());
            let b = s.spawn(|| live.cmd(&["up"]).output());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(
            (a.code, b.code),
            (Some(0), Some(0)),
            "{}\n{}",
            a.snapshot(),
            b.snapshot()
        );
        // Both commands have exited; the server still answers.
        let v = live.vars(&[]);
        assert_eq!(
            client("psql", &[&v["DB_URL"], "-tAc", "select 1"])
                .stdout
                .trim(),
            "1"
        );
        let status = live.ok(&["status"]);
        assert!(
            status.stdout.contains("native")
                && status.stdout.contains(&live.home.display().to_string()),
            "{}",
            status.stdout
        );
    }

    /// MariaDB's `ed25519` authentication plugin: a user switched to it (as the docs show,
    /// <https://mariadb.com/kb/en/authentication-plugin-ed25519/>) must still be probed as
    /// ready. The server asks for the plugin with an AuthSwitchRequest after the default
    /// `mysql_native_password` greeting; the probe must answer it, not time out.
    #[test]
    fn a_mariadb_user_on_the_ed25519_plugin_is_probed_ready() {
        let port = free_port();
        let live = Live::new(
            "ed25519",
            "native",
            &format!(
                "services:\n  db:\n    image: 'mariadb:10.11'\n    x-provision: {{local: {{port: {port}}}}}\n"
            ),
        );
        live.ok(&["up"]);
        let v = live.vars(&[]);
        let (user, password) = (&v["DB_USERNAME"], &v["DB_PASSWORD"]);
        let socket = live.home.join(&live.name).join("db/run/mysqld.sock");
        let socket = socket.to_str().unwrap();
        // As root over the server's socket (root authenticates by unix_socket there).
        let sql = format!(
            "INSTALL SONAME 'auth_ed25519'; \
             ALTER USER '{user}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('{password}'); \
             ALTER USER '{user}'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD('{password}'); \
             SELECT JSON_VALUE(Priv, '$.plugin') FROM mysql.global_priv WHERE User = '{user}';"
        );
        let out = client(
            "mariadb",
            &["-S", socket, "-u", "root", "-N", "-B", "-e", &sql],
        );
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        assert_eq!(
            out.stdout.lines().collect::<Vec<_>>(),
            ["ed25519", "ed25519"],
            "{}",
            out.snapshot()
        );
        // `up` on the running server probes it again, within its deadline.
        let up = live.ok(&["up", "--timeout", "30"]);
        assert!(up.stderr.contains("ready in"), "{}", up.snapshot());
        let status = live.ok(&["status", "--json"]);
        assert!(
            status.stdout.contains("\"ready\": true"),
            "{}",
            status.stdout
        );
    }

    /// A server that refuses the credentials (here: the user's password changed behind
    /// provision's back, as when a volume was made with other credentials) is reported at
    /// once with the cause and the fix, not retried until the timeout.
    #[test]
    fn refused_credentials_are_reported_at_once() {
        let port = free_port();
        let live = Live::new(
            "denied",
            "native",
            &format!(
                "services:\n  db:\n    image: 'mariadb:10.11'\n    x-provision: {{local: {{port: {port}}}}}\n"
            ),
        );
        live.ok(&["up"]);
        let user = live.vars(&[])["DB_USERNAME"].clone();
        let socket = live.home.join(&live.name).join("db/run/mysqld.sock");
        let sql = format!(
            "ALTER USER '{user}'@'%' IDENTIFIED BY 'changed-elsewhere'; \
             ALTER USER '{user}'@'localhost' IDENTIFIED BY 'changed-elsewhere';"
        );
        let out = client(
            "mariadb",
            &["-S", socket.to_str().unwrap(), "-u", "root", "-e", &sql],
        );
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        let started = std::time::Instant::now();
        let out = live.cmd(&["up", "--timeout", "120"]).output();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains("db refused the readiness check")
                && out.stderr.contains("error 1045 (28000)")
                && out.stderr.contains("other credentials"),
            "{}",
            out.stderr
        );
    }
}
