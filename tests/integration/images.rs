//! Images as people use them, through a real Docker engine: the official images' layouts per
//! version line, floating tags, Bitnami's contract, and what must never happen to data or
//! secrets. The stand-ins are built by tests/images/build.sh from Debian packages (no
//! registry is reachable here); each enforces the documented behaviour it stands in for,
//! and the first tests below prove that it does.

use crate::support::{Live, Output, client, free_port};

/// Runs the Docker CLI (installed by tests/support/ensure-docker.sh).
fn docker(args: &[&str]) -> Output {
    client("docker", args)
}

/// `docker inspect -f FORMAT NAME`, trimmed.
fn inspect(name: &str, format: &str) -> String {
    let out = docker(&["inspect", "-f", format, name]);
    assert_eq!(out.code, Some(0), "{}", out.snapshot());
    out.stdout.trim().to_owned()
}

fn psql(url: &str, sql: &str) -> Output {
    client("psql", &[url, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
}

/// An app linked to one database `name` running `image` on host port `port`.
fn linked(name: &str, image: &str, port: u16) -> String {
    format!(
        "services:\n  app:\n    build: .\n    links: [{name}]\n  {name}:\n    image: '{image}'\n    x-provision: {{local: {{port: {port}}}}}\n"
    )
}

/// `linked` brought up: the project, its port and the app's link variables.
fn up_one(
    prefix: &str,
    name: &str,
    image: &str,
) -> (Live, u16, std::collections::BTreeMap<String, String>) {
    let port = free_port();
    let live = Live::new(prefix, "docker", &linked(name, image, port));
    live.ok(&["up"]);
    let vars = live.vars(&["--service", "app"]);
    (live, port, vars)
}

fn postgres_manifest(image: &str, port: u16) -> String {
    linked("db", image, port)
}

mod needs_docker {
    use super::*;

    /// The stand-in refuses what the official 18 image refuses: a mount at the pre-18 data
    /// path (docker-library/postgres pull 1259; hub.docker.com/_/postgres, "PGDATA").
    #[test]
    fn the_postgres_18_stand_in_refuses_a_mount_at_the_old_path() {
        let volume = format!("provision-test-old-mount-{}", std::process::id());
        let out = docker(&[
            "run",
            "--rm",
            "-e",
            "POSTGRES_PASSWORD=x",
            "-v",
            &format!("{volume}:/var/lib/postgresql/data"),
            "postgres:18",
        ]);
        let _ = docker(&["volume", "rm", "-f", &volume]);
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains("unused mount/volume"),
            "{}",
            out.snapshot()
        );
    }

    /// postgres:18 keeps its data in the volume (mounted one level up), across down and up.
    #[test]
    fn postgres_18_keeps_its_data_in_the_volume() {
        let live = Live::new(
            "pg18",
            "docker",
            &postgres_manifest("postgres:18", free_port()),
        );
        live.ok(&["up"]);
        let container = format!("{}-db", live.name);
        let mounts = inspect(
            &container,
            "{{range .Mounts}}{{.Name}}={{.Destination}} {{end}}",
        );
        let wanted = format!("{}-db-data=/var/lib/postgresql", live.name);
        assert!(
            mounts.split_whitespace().any(|m| m == wanted),
            "the volume holds /var/lib/postgresql: {mounts}"
        );
        let url = live.vars(&["--service", "app"])["DB_URL"].clone();
        let out = psql(
            &url,
            "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')",
        );
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        live.ok(&["down"]);
        live.ok(&["up"]);
        let out = psql(&url, "SELECT v FROM t");
        assert_eq!(out.stdout.trim(), "kept", "{}", out.snapshot());
    }

    /// An untagged image is whatever `latest` is (18 here, as on Docker Hub since 18's
    /// release): its version is read from the image, its data goes where 18 keeps it, and
    /// `status` says which version runs.
    #[test]
    fn an_untagged_image_runs_and_reports_the_version_it_really_is() {
        let live = Live::new(
            "floating",
            "docker",
            &postgres_manifest("postgres", free_port()),
        );
        let up = live.ok(&["up"]);
        assert!(up.stderr.contains("version 18.1"), "{}", up.snapshot());
        let status = live.ok(&["status", "--json"]);
        assert!(
            status.stdout.contains("\"type\": \"postgres 18.1\""),
            "{}",
            status.stdout
        );
        let container = format!("{}-db", live.name);
        let mounts = inspect(&container, "{{range .Mounts}}{{.Destination}} {{end}}");
        assert!(
            mounts
                .split_whitespace()
                .any(|m| m == "/var/lib/postgresql"),
            "18's layout for an untagged image: {mounts}"
        );
        assert_eq!(inspect(&container, "{{.Config.Image}}"), "postgres");
    }

    /// A major upgrade on existing data is refused with exit 1, and the data is untouched:
    /// the old image still reads it afterwards.
    #[test]
    fn a_major_version_change_is_refused_and_the_data_kept() {
        let port = free_port();
        let live = Live::new("major", "docker", &postgres_manifest("postgres:15", port));
        live.ok(&["up"]);
        let url = live.vars(&["--service", "app"])["DB_URL"].clone();
        let out = psql(
            &url,
            "CREATE TABLE t (v text); INSERT INTO t VALUES ('v15')",
        );
        assert_eq!(out.code, Some(0), "{}", out.snapshot());

        live.project.write(
            "compose.yaml",
            postgres_manifest("postgres:18", port).as_bytes(),
        );
        let out = live.cmd(&["up"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains("written by PostgreSQL 15")
                && out.stderr.contains("is PostgreSQL 18")
                && out.stderr.contains("nothing was changed")
                && out.stderr.contains("hint: "),
            "{}",
            out.snapshot()
        );
        // Refused before anything was replaced: the 15 container still serves the data.
        assert_eq!(psql(&url, "SELECT v FROM t").stdout.trim(), "v15");

        live.project.write(
            "compose.yaml",
            postgres_manifest("postgres:15", port).as_bytes(),
        );
        live.ok(&["up"]);
        assert_eq!(psql(&url, "SELECT v FROM t").stdout.trim(), "v15");
    }

    /// Bitnami's image keeps Redis data in /bitnami/redis/data and takes REDIS_PASSWORD
    /// (bitnami/containers, bitnami/redis README, "Persisting your database" and
    /// "Setting the server password on first run"): the volume must be there, or the data is
    /// lost on `down`.
    #[test]
    fn bitnami_redis_keeps_its_data_in_the_volume() {
        let port = free_port();
        let manifest = linked("cache", "bitnami/redis:7.0", port);
        let live = Live::new("bitnami", "docker", &manifest);
        live.ok(&["up"]);
        let container = format!("{}-cache", live.name);
        assert!(
            inspect(&container, "{{range .Mounts}}{{.Destination}} {{end}}")
                .contains("/bitnami/redis/data"),
            "the volume is where Bitnami keeps the data"
        );
        let v = live.vars(&["--service", "app"]);
        let cli = |args: &[&str]| {
            let mut all = vec![
                "-h",
                "127.0.0.1",
                "-p",
                v["CACHE_PORT"].as_str(),
                "--no-auth-warning",
                "-a",
                v["CACHE_PASSWORD"].as_str(),
            ];
            all.extend_from_slice(args);
            client("redis-cli", &all)
        };
        assert_eq!(cli(&["SET", "k", "kept"]).stdout.trim(), "OK");
        live.ok(&["down"]);
        live.ok(&["up"]);
        assert_eq!(cli(&["GET", "k"]).stdout.trim(), "kept");
    }

    /// The Redis password is in a file inside the container, not in its command line, where
    /// `docker inspect` and every `ps` on the machine would show it.
    #[test]
    fn the_redis_password_is_not_a_command_line_argument() {
        let (live, port, vars) = up_one("redispw", "cache", "redis:7");
        let password = vars["CACHE_PASSWORD"].clone();
        let container = format!("{}-cache", live.name);
        let config = inspect(
            &container,
            "{{json .Config.Cmd}} {{json .Args}} {{json .Config.Env}}",
        );
        assert!(!config.contains(&password), "in docker inspect: {config}");
        let top = docker(&["top", &container, "-o", "pid,args"]);
        assert_eq!(top.code, Some(0), "{}", top.snapshot());
        assert!(!top.stdout.contains(&password), "in ps: {}", top.stdout);
        // And it really is the password the server demands.
        let out = client(
            "redis-cli",
            &[
                "-p",
                &port.to_string(),
                "--no-auth-warning",
                "-a",
                &password,
                "PING",
            ],
        );
        assert_eq!(out.stdout.trim(), "PONG", "{}", out.snapshot());
        let out = client("redis-cli", &["-p", &port.to_string(), "PING"]);
        assert!(out.stdout.contains("NOAUTH"), "{}", out.snapshot());
    }

    /// MariaDB's root password is not the app's: the image makes a random one
    /// (MARIADB_RANDOM_ROOT_PASSWORD, hub.docker.com/_/mariadb), so the app's password
    /// opens the app's database and nothing more.
    #[test]
    fn the_mariadb_root_password_is_not_the_apps() {
        let (live, port, vars) = up_one("mariaroot", "db", "mariadb:10.11");
        let password = vars["DB_PASSWORD"].clone();
        let as_root = client(
            "mariadb",
            &[
                "-h",
                "127.0.0.1",
                "-P",
                &port.to_string(),
                "-u",
                "root",
                &format!("-p{password}"),
                "-e",
                "SELECT 1",
            ],
        );
        assert_ne!(
            as_root.code,
            Some(0),
            "root with the app's password: {}",
            as_root.snapshot()
        );
        assert!(
            as_root.stderr.contains("Access denied"),
            "{}",
            as_root.snapshot()
        );
        let env = inspect(&format!("{}-db", live.name), "{{json .Config.Env}}");
        assert!(env.contains("MARIADB_RANDOM_ROOT_PASSWORD=yes"), "{env}");
    }

    /// A root-only file (MARIADB_ROOT_PASSWORD and MARIADB_DATABASE, no MARIADB_USER): its
    /// app logs in as root with that password, so the link hands out root, and the container
    /// is set up for root alone (hub.docker.com/_/mariadb; https://mariadb.com/kb/en/mariadb-server-docker-official-image-environment-variables/).
    #[test]
    fn a_root_only_mariadb_file_hands_out_root() {
        let port = free_port();
        let manifest = format!(
            "services:\n  app:\n    build: .\n    links: [db]\n  db:\n    image: 'mariadb:10.11'\n    environment:\n      MARIADB_ROOT_PASSWORD: Root-only-pw-1\n      MARIADB_DATABASE: wiki\n    x-provision: {{local: {{port: {port}}}}}\n"
        );
        let live = Live::new("rootonly", "docker", &manifest);
        live.ok(&["up"]);
        let vars = live.vars(&["--service", "app"]);
        assert_eq!(vars["DB_USERNAME"], "root");
        assert_eq!(vars["DB_PASSWORD"], "Root-only-pw-1");
        let as_root = client(
            "mariadb",
            &[
                "-h",
                "127.0.0.1",
                "-P",
                &port.to_string(),
                "-u",
                "root",
                "-pRoot-only-pw-1",
                "-e",
                "SELECT DATABASE()",
                "wiki",
            ],
        );
        assert_eq!(as_root.code, Some(0), "{}", as_root.snapshot());
        let env = inspect(&format!("{}-db", live.name), "{{json .Config.Env}}");
        assert!(!env.contains("MARIADB_USER="), "{env}");
        assert!(!env.contains("MARIADB_RANDOM_ROOT_PASSWORD"), "{env}");
    }

    /// A container that restarted once, long ago, is not crash-looping: `up` after a stop
    /// waits for it as for any other start.
    #[test]
    fn an_old_restart_is_not_a_crash_loop() {
        let port = free_port();
        let manifest = linked("db", "postgres:15", port);
        let live = Live::new("restarted", "docker", &manifest);
        live.ok(&["up"]);
        let container = format!("{}-db", live.name);
        // The server dies (killed from the host, as the OOM killer would); the restart
        // policy brings it back: RestartCount 1.
        let pid = inspect(&container, "{{.State.Pid}}");
        let out = client("kill", &["-KILL", &pid]);
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while inspect(&container, "{{.RestartCount}}") == "0" {
            assert!(
                std::time::Instant::now() < until,
                "the engine never restarted it"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let out = docker(&["stop", &container]);
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        let up = live.ok(&["up"]);
        assert!(up.stderr.contains("ready in"), "{}", up.snapshot());
    }
}

/// Compose files as people write them for the official images: credentials in the
/// database's own `environment:`, server flags in `command:`, init scripts and a volume of
/// their own in `volumes:` (hub.docker.com/_/postgres: "Environment Variables",
/// "Initialization scripts"; docs.docker.com/reference/compose-file/services/#command and
/// #volumes).
mod compose_settings {
    use super::*;

    #[test]
    fn credentials_flags_init_scripts_and_their_volume_are_honoured() {
        let port = free_port();
        let manifest = format!(
            "services:
  app:
    build: .
    depends_on: [db]
  db:
    image: 'postgres:15'
    command: postgres -c max_connections=42
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: from-the-file
      POSTGRES_DB: orders
    volumes:
      - ./init:/docker-entrypoint-initdb.d:ro
      - pgdata:/var/lib/postgresql/data
    ports: ['{port}:5432']
volumes:
  pgdata: {{}}
"
        );
        let live = Live::new("composeset", "docker", &manifest);
        std::fs::create_dir_all(live.project.dir.join("init")).unwrap();
        live.project.write(
            "init/01-schema.sql",
            b"CREATE TABLE seeded (v text); INSERT INTO seeded VALUES ('from init');\n",
        );
        live.ok(&["up"]);
        let v = live.vars(&["--service", "app"]);
        assert_eq!(v["DB_USERNAME"], "shop");
        assert_eq!(v["DB_PASSWORD"], "from-the-file");
        assert_eq!(v["DB_PATH"], "/orders");
        let url = v["DB_URL"].clone();
        assert_eq!(psql(&url, "SHOW max_connections").stdout.trim(), "42");
        assert_eq!(
            psql(&url, "SELECT v FROM seeded").stdout.trim(),
            "from init"
        );
        // Their volume holds the data, under Compose's project prefix.
        let container = format!("{}-db", live.name);
        let mounts = inspect(
            &container,
            "{{range .Mounts}}{{.Name}}={{.Destination}} {{end}}",
        );
        let theirs = format!("{}_pgdata=/var/lib/postgresql/data", live.name);
        assert!(mounts.split_whitespace().any(|m| m == theirs), "{mounts}");

        // A new password in the file cannot open data made with the old one: said at once.
        live.project.write(
            "compose.yaml",
            manifest.replace("from-the-file", "changed").as_bytes(),
        );
        let out = live.cmd(&["up"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains("`POSTGRES_PASSWORD` is not the password"),
            "{}",
            out.snapshot()
        );
        let _ = docker(&["volume", "rm", "-f", &format!("{}_pgdata", live.name)]);
    }

    #[test]
    fn redis_flags_in_command_keep_the_password_off_the_command_line() {
        let port = free_port();
        let manifest = format!(
            "services:
  app:
    build: .
    links: [cache]
  cache:
    image: 'redis:7'
    command: redis-server --requirepass from-the-file --maxmemory 10mb
    ports: ['{port}:6379']
"
        );
        let live = Live::new("redisflags", "docker", &manifest);
        live.ok(&["up"]);
        let v = live.vars(&["--service", "app"]);
        assert_eq!(v["CACHE_PASSWORD"], "from-the-file");
        let out = client(
            "redis-cli",
            &[
                "-p",
                &port.to_string(),
                "--no-auth-warning",
                "-a",
                "from-the-file",
                "CONFIG",
                "GET",
                "maxmemory",
            ],
        );
        assert!(out.stdout.contains("10485760"), "{}", out.snapshot());
        let container = format!("{}-cache", live.name);
        let config = inspect(&container, "{{json .Config.Cmd}} {{json .Args}}");
        assert!(!config.contains("from-the-file"), "{config}");
    }
}

/// A server that rejects the credentials is reported at once, with the likely cause, instead
/// of being retried until the timeout (Postgres SQLSTATE 28P01,
/// postgresql.org/docs/current/errcodes-appendix.html; Redis `-WRONGPASS`,
/// redis.io/docs/latest/commands/auth).
mod refused_credentials {
    use super::*;

    fn refused_at_once(live: &Live) {
        let started = std::time::Instant::now();
        let out = live.cmd(&["up", "--timeout", "120"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains("refused the readiness check")
                && out.stderr.contains("other credentials"),
            "{}",
            out.snapshot()
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "reported at once, not after the timeout: {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn postgres() {
        let live = Live::new(
            "pgrefused",
            "docker",
            &postgres_manifest("postgres:15", free_port()),
        );
        live.ok(&["up"]);
        let url = live.vars(&["--service", "app"])["DB_URL"].clone();
        let out = psql(&url, "ALTER USER app PASSWORD 'changed-behind-our-back'");
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        refused_at_once(&live);
    }

    #[test]
    fn redis() {
        let (live, port, vars) = up_one("redisrefused", "cache", "redis:7");
        let password = vars["CACHE_PASSWORD"].clone();
        let out = client(
            "redis-cli",
            &[
                "-p",
                &port.to_string(),
                "--no-auth-warning",
                "-a",
                &password,
                "CONFIG",
                "SET",
                "requirepass",
                "changed-behind-our-back",
            ],
        );
        assert_eq!(out.stdout.trim(), "OK", "{}", out.snapshot());
        refused_at_once(&live);
    }
}

/// Data never splits and ports are never shared.
mod data_safety {
    use super::*;

    const REDIS: &str =
        "services:\n  app:\n    build: .\n    links: [cache]\n  cache:\n    image: 'redis:7'\n";

    /// `--runtime auto` with the project's data in Docker and Docker down exits 69 rather
    /// than starting empty native servers beside that data.
    #[test]
    fn auto_never_splits_a_projects_data_across_runtimes() {
        let live = Live::new("nosplit", "docker", REDIS);
        live.ok(&["up"]);
        let out = live
            .project
            .cmd(&["-p", &live.name, "--runtime", "auto", "up"])
            .env("PROVISION_HOME", live.home.to_str().unwrap())
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output();
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(
            out.stderr.contains("keep their data in Docker"),
            "{}",
            out.snapshot()
        );
        assert!(
            !live.home.join(&live.name).join("cache").exists(),
            "no native server was set up"
        );
    }

    /// A port a database remembers stays its own while it is down: another project's new
    /// database gets another one.
    #[test]
    fn a_remembered_port_is_not_handed_to_another_database() {
        let first = Live::new("portsa", "docker", REDIS);
        first.ok(&["up"]);
        let port = first.vars(&["--service", "app"])["CACHE_PORT"].clone();
        first.ok(&["down"]);
        let second = Live::new("portsb", "docker", REDIS);
        second.ok(&["up"]);
        assert_ne!(second.vars(&["--service", "app"])["CACHE_PORT"], port);
        second.ok(&["down"]);
        first.ok(&["up"]);
        assert_eq!(first.vars(&["--service", "app"])["CACHE_PORT"], port);
    }
}

/// Pulling through a real registry (Debian's `docker-registry`, the distribution project's
/// server, on 127.0.0.1: Docker treats 127.0.0.0/8 registries as insecure without setup,
/// docs.docker.com/reference/cli/dockerd/#insecure-registries) behind a proxy that delays
/// every request, so the pull is slow.
mod pulling {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};

    /// A registry on a free port with its storage in `dir`; killed on drop.
    struct Registry(Child);

    impl Drop for Registry {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn registry(dir: &std::path::Path, port: u16) -> Registry {
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (tests/support/ensure-docker.sh installs it)");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < until,
                "the registry did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Registry(child)
    }

    /// Forwards connections on a new port to `target`, each after `delay`.
    fn slow_proxy(target: u16, delay: std::time::Duration) -> u16 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                        return;
                    };
                    let pipe = |mut from: TcpStream, mut to: TcpStream| {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    };
                    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let up = std::thread::spawn(move || pipe(c2, s2));
                    pipe(server, client);
                    let _ = up.join();
                });
            }
        });
        port
    }

    /// A slow first pull does not use up the readiness timeout: the pull has its own bound
    /// and `--timeout` starts once the image is here. Before, `--timeout 2` timed out here
    /// without a single probe.
    #[test]
    fn a_slow_pull_does_not_count_against_the_readiness_timeout() {
        let tmp = tempfile::tempdir().unwrap();
        let registry_port = free_port();
        let _registry = registry(tmp.path(), registry_port);
        let pushed = format!("127.0.0.1:{registry_port}/provision-test/redis:7");
        // A layer of its own, so that the pull really downloads something.
        let context = tmp.path().join("context");
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            "FROM redis:7\nRUN head -c 300000 /dev/urandom > /unique-layer\n",
        )
        .unwrap();
        let build = std::process::Command::new("docker")
            .args(["build", "-q", "-t", &pushed, context.to_str().unwrap()])
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("docker build");
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let out = docker(&["push", &pushed]);
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        let _ = docker(&["rmi", &pushed]);
        let proxy = slow_proxy(registry_port, std::time::Duration::from_millis(1500));
        let image = format!("127.0.0.1:{proxy}/provision-test/redis:7");
        let manifest = format!(
            "services:\n  app:\n    build: .\n    links: [cache]\n  cache:\n    image: '{image}'\n    x-provision: {{type: redis, local: {{port: {}}}}}\n",
            free_port()
        );
        let live = Live::new("slowpull", "docker", &manifest);
        let started = std::time::Instant::now();
        let up = live.ok(&["up", "--timeout", "2"]);
        let _ = docker(&["rmi", &image]);
        assert!(
            started.elapsed() > std::time::Duration::from_secs(3),
            "the pull was slow: {:?}",
            started.elapsed()
        );
        assert!(
            up.stderr.contains(&format!("pulling {image}")),
            "{}",
            up.snapshot()
        );
        assert!(
            up.stderr.contains("layers"),
            "progress in layers: {}",
            up.snapshot()
        );
        assert!(up.stderr.contains("ready in"), "{}", up.snapshot());
    }
}
