//! `start`, `connect`, `logs`, and the shell integration, against real processes: native
//! servers (`needs_native`) or containers (`needs_docker`), real clients (psql, mariadb,
//! redis-cli), and the process table (`/proc`) to prove that nothing is left running.
//!
//! The command-line checks at the top need nothing but the binary.

use std::io::{BufRead as _, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{Live, Project, client, free_port};

#[test]
fn start_cloud_is_refused_with_a_pointer_to_run() {
    let p = Project::with_manifest(
        "services:\n  web: {command: x, links: [db]}\n  db: {image: postgres:16}\n",
    );
    let out = p.cmd(&["start", "--cloud"]).output();
    assert_eq!(out.code, Some(2), "{}", out.snapshot());
    assert!(out.stderr.contains("no `start --cloud`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("provision run --cloud"),
        "{}",
        out.stderr
    );
}

#[test]
fn start_needs_an_app_with_a_command() {
    let p = Project::with_manifest(
        "services:\n  web: {build: ., links: [db]}\n  db: {image: postgres:16}\n",
    );
    let out = p.cmd(&["start"]).output();
    assert_eq!(out.code, Some(2), "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("no app service in `compose.yaml` has a `command:`"),
        "{}",
        out.stderr
    );
    let out = p.cmd(&["start", "web"]).output();
    assert_eq!(out.code, Some(2), "{}", out.snapshot());
    assert!(
        out.stderr.contains("`web` has no `command:`"),
        "{}",
        out.stderr
    );
    let out = p.cmd(&["start", "wbe"]).output();
    assert_eq!(out.code, Some(2), "{}", out.snapshot());
    assert!(out.stderr.contains("did you mean `web`?"), "{}", out.stderr);
}

/// `--containers` needs Docker: with `--runtime native` it is refused before anything starts.
#[test]
fn start_containers_with_native_runtime_is_refused() {
    let p = Project::with_manifest(
        "services:\n  web: {build: ., links: [db]}\n  db: {image: postgres:16}\n",
    );
    let out = p
        .cmd(&["--runtime", "native", "start", "--containers"])
        .output();
    assert_eq!(out.code, Some(2), "{}", out.snapshot());
    assert!(
        out.stderr.contains("`--runtime native` rules Docker out"),
        "{}",
        out.stderr
    );
}

#[test]
fn completions_and_man_page_come_from_the_command_line_definition() {
    let p = Project::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = p.cmd(&["completions", shell]).output();
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        // Every subcommand, including the new ones, is offered.
        for sub in ["start", "connect", "logs", "doctor"] {
            assert!(
                out.stdout.contains(sub),
                "{shell}: no `{sub}` in\n{}",
                out.stdout
            );
        }
    }
    // bash can load what it printed.
    let out = p.cmd(&["completions", "bash"]).output();
    let check = client(
        "bash",
        &["-c", &format!("{}\ncomplete -p provision", out.stdout)],
    );
    assert_eq!(check.code, Some(0), "{}", check.snapshot());
    let man = p.cmd(&["man"]).output();
    assert_eq!(man.code, Some(0), "{}", man.snapshot());
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH provision"),
        "{}",
        man.stdout
    );
    assert!(man.stdout.contains("start"), "{}", man.stdout);
    let cloud = p.cmd(&["connect", "--help"]).output();
    assert!(cloud.stdout.contains("ARGS"), "{}", cloud.stdout);
}

/// A link variable that `environment:` also sets: the link wins, and `doctor` warns.
#[test]
fn doctor_warns_when_a_link_shadows_environment() {
    let p = Project::with_manifest(
        "services:\n  web:\n    command: x\n    links: [db]\n    environment: {DB_URL: postgres://elsewhere/db}\n  db: {image: postgres:16}\n",
    );
    let out = p.cmd(&["doctor", "--local"]).output();
    assert_eq!(out.code, Some(0), "{}", out.snapshot());
    assert!(
        out.stdout.contains("[!]")
            && out.stdout.contains("`DB_URL`")
            && out.stdout.contains("hand out the link's value"),
        "{}",
        out.snapshot()
    );
}

/// Lines of a running child's stdout and stderr, as they come.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(child: &mut Child) -> Self {
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("[stderr] {line}"));
            }
        });
        Self {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits until a line contains `text`; fails the test with everything seen otherwise.
    fn wait_for(&mut self, text: &str, within: Duration) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "no line with {text:?} within {within:?}; seen:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }

    /// Everything until the streams close.
    fn rest(&mut self) -> String {
        while let Ok(line) = self.rx.recv_timeout(Duration::from_secs(30)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

/// The live (non-zombie) processes of a process group, read from `/proc`.
fn group_members(group: i32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(process) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{process}/stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string() {
            found.push(format!("{process} {head})"));
        }
    }
    found
}

/// Waits for a child to exit, killing it (and failing) after `within`.
fn exit_code(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("provision did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &Child) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
}

mod needs_native {
    use super::*;

    /// Two apps, each with its own links, talk to a real Redis and a real Postgres through
    /// the variables `start` gave them: web queues a job, worker takes it, records it in
    /// Postgres, reads the count back and exits 0, which ends `start` with status 0.
    #[test]
    fn web_and_worker_use_redis_and_postgres_through_their_links() {
        let (db, cache) = (free_port(), free_port());
        let live = Live::new(
            "start-two",
            "native",
            &format!(
                r#"
services:
  web:
    command: ["sh", "-c", "psql \"$$DB_URL\" -v ON_ERROR_STOP=1 -qc 'CREATE TABLE IF NOT EXISTS done (job text)' && REDISCLI_AUTH=\"$$QUEUE_PASSWORD\" redis-cli -h \"$$QUEUE_HOST\" -p \"$$QUEUE_PORT\" RPUSH jobs job-1 && echo queued job-1 && exec sleep 600"]
    links: [db, "cache:queue"]
  worker:
    build: ./worker
    command: >-
      echo "in $$(basename $$PWD) as $$WHO ($$SHADOW)";
      job=$$(REDISCLI_AUTH="$$CACHE_PASSWORD" redis-cli -h "$$CACHE_HOST" -p "$$CACHE_PORT" BLPOP jobs 30 | tail -n 1);
      psql "$$DB_URL" -v ON_ERROR_STOP=1 -qc "INSERT INTO done VALUES ('$$job')" &&
      echo "processed $$job count=$$(psql "$$DB_URL" -tAc 'SELECT count(*) FROM done')"
    env_file: worker.env
    environment: {{SHADOW: from-environment}}
    depends_on: [db, cache]
  db:
    image: postgres:15
    ports: ["{db}:5432"]
  cache:
    image: redis:7
    ports: ["{cache}:6379"]
"#
            ),
        );
        std::fs::create_dir(live.project.dir.join("worker")).unwrap();
        live.project.write(
            "worker.env",
            b"WHO=${USER_FOR_TEST:-unset}\nSHADOW=from-file\n",
        );
        let out = live.cmd(&["start"]).env("USER_FOR_TEST", "tester").output();
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        // env_file interpolated; environment wins over env_file; the build context is the
        // working directory.
        assert!(
            out.stdout
                .contains("worker | in worker as tester (from-environment)\n"),
            "{}",
            out.snapshot()
        );
        assert!(
            out.stdout.contains("web    | queued job-1\n"),
            "{}",
            out.snapshot()
        );
        assert!(
            out.stdout.contains("worker | processed job-1 count=1\n"),
            "{}",
            out.snapshot()
        );
        assert!(
            out.stderr.contains("worker | exited with status 0"),
            "{}",
            out.snapshot()
        );
        // The databases stay up: `down` is their end, not `start`'s.
        let status = live.ok(&["status", "--json"]);
        assert_eq!(
            status.stdout.matches("\"running\"").count(),
            2,
            "{}",
            status.stdout
        );
    }

    /// Ctrl-C: every app's process group is stopped (TERM, then KILL after the grace period
    /// for what ignores TERM), `start` exits 130, and the process table holds none of them.
    #[test]
    fn ctrl_c_stops_every_group_and_leaves_no_orphan() {
        let cache = free_port();
        let live = Live::new(
            "start-int",
            "native",
            &format!(
                r#"
services:
  polite:
    # A shell whose child outlives it: only a group-wide stop catches the `sleep`.
    command: ["sh", "-c", "echo pgid=$$$$; trap 'echo bye; exit 0' TERM; sleep 600 & wait"]
    links: [cache]
  stubborn:
    # Ignores TERM, and double-forks a `sleep` that its shell never waits for.
    command: ["sh", "-c", "echo pgid=$$$$; trap 'echo ignoring TERM' TERM; (sleep 600 &); while :; do sleep 0.1; done"]
  cache:
    image: redis:7
    ports: ["{cache}:6379"]
"#
            ),
        );
        let mut child = live.cmd(&["start", "--grace", "2"]).spawn();
        let mut lines = Lines::of(&mut child);
        // Names are padded to the longest.
        let pgids: Vec<i32> = ["polite   | pgid=", "stubborn | pgid="]
            .iter()
            .map(|marker| {
                let found = lines.wait_for(marker, Duration::from_secs(60));
                found.rsplit('=').next().unwrap().parse().unwrap()
            })
            .collect();
        // Each shell prints its group before it forks: wait (bounded) until the polite one's
        // `sleep` and the stubborn one's grandchild are there too.
        let until = Instant::now() + Duration::from_secs(5);
        while (group_members(pgids[0]).len() < 2 || group_members(pgids[1]).len() < 3)
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pgid in &pgids {
            assert!(
                group_members(*pgid).len() >= 2,
                "{:?}",
                group_members(*pgid)
            );
        }
        let t0 = Instant::now();
        interrupt(&child);
        let code = exit_code(&mut child, Duration::from_secs(20));
        let took = t0.elapsed();
        let all = lines.rest();
        assert_eq!(code, Some(130), "{all}");
        assert!(all.contains("polite   | bye"), "{all}");
        assert!(all.contains("stubborn | ignoring TERM"), "{all}");
        // The stubborn group needed the KILL, after the 2 s grace and not much later.
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(8),
            "{took:?}"
        );
        for pgid in pgids {
            assert_eq!(
                group_members(pgid),
                Vec::<String>::new(),
                "orphans of group {pgid}"
            );
        }
    }

    /// Without `restart:`, an app that exits ends `start` with its status and the others
    /// are stopped.
    #[test]
    fn a_crash_without_restart_ends_start_with_its_status() {
        let cache = free_port();
        let live = Live::new(
            "start-crash",
            "native",
            &format!(
                r#"
services:
  web:
    command: ["sh", "-c", "echo pgid=$$$$; exec sleep 600"]
    links: [cache]
    ports: ["18080:8080"]
  worker:
    # A link to an app service: its published port on this machine.
    command: sh -c 'echo "web at $$API_URL $$API_HOST:$$API_PORT"; sleep 0.5; echo boom; exit 3'
    links: ["web:api"]
  cache:
    image: redis:7
    ports: ["{cache}:6379"]
"#
            ),
        );
        let out = live.cmd(&["start"]).output();
        assert_eq!(out.code, Some(3), "{}", out.snapshot());
        assert!(out.stdout.contains("worker | boom\n"), "{}", out.snapshot());
        assert!(
            out.stdout
                .contains("worker | web at http://127.0.0.1:18080 127.0.0.1:18080\n"),
            "{}",
            out.snapshot()
        );
        assert!(
            out.stderr.contains("worker | exited with status 3"),
            "{}",
            out.snapshot()
        );
        let pgid: i32 = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("web    | pgid="))
            .expect("web printed its group")
            .parse()
            .unwrap();
        assert_eq!(group_members(pgid), Vec::<String>::new());
    }

    /// `restart: on-failure:2` (Compose: at most 2 restarts after a non-zero exit): three
    /// runs, a line for each restart with its delay, then `start` ends with the last status.
    /// `restart: always` brings back an app that exited 0.
    #[test]
    fn restart_policies_bring_an_app_back_with_backoff() {
        let cache = free_port();
        let live = Live::new(
            "start-restart",
            "native",
            &format!(
                r#"
services:
  flaky:
    command: sh -c 'echo run >> runs; echo "run $$(wc -l < runs)"; exit 1'
    restart: on-failure:2
    links: [cache]
  cache:
    image: redis:7
    ports: ["{cache}:6379"]
"#
            ),
        );
        let t0 = Instant::now();
        let out = live.cmd(&["start"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        for n in 1..=3 {
            assert!(
                out.stdout.contains(&format!("flaky | run {n}\n")),
                "{}",
                out.snapshot()
            );
        }
        assert!(!out.stdout.contains("run 4"), "{}", out.snapshot());
        assert!(
            out.stderr.contains(
                "flaky | exited with status 1; restarting in 1 s (restart: on-failure, restart 1)"
            ),
            "{}",
            out.snapshot()
        );
        assert!(
            out.stderr
                .contains("restarting in 2 s (restart: on-failure, restart 2)"),
            "{}",
            out.snapshot()
        );
        assert!(
            t0.elapsed() >= Duration::from_secs(3),
            "backoff of 1 s then 2 s"
        );

        // `always`: the runs go on after a clean exit; a second app ends `start` once it has
        // seen three.
        live.project.write(
            "compose.yaml",
            format!(
                r#"
services:
  tick:
    command: sh -c 'echo run >> ticks; exit 0'
    restart: always
    links: [cache]
  watcher:
    command: sh -c 'until [ "$$(wc -l < ticks 2>/dev/null || echo 0)" -ge 3 ]; do sleep 0.1; done; echo saw 3; exit 5'
  cache:
    image: redis:7
    ports: ["{cache}:6379"]
"#
            )
            .as_bytes(),
        );
        let out = live.cmd(&["start"]).output();
        assert_eq!(out.code, Some(5), "{}", out.snapshot());
        assert!(out.stdout.contains("watcher | saw 3"), "{}", out.snapshot());
        assert!(
            out.stderr.contains("(restart: always, restart 2)"),
            "{}",
            out.snapshot()
        );
    }

    /// `connect` runs a query through each client installed here, with the credentials in
    /// the client's environment or option file.
    #[test]
    fn connect_runs_a_query_through_each_client() {
        let (pg, my, rd, mc) = (free_port(), free_port(), free_port(), free_port());
        let live = Live::new(
            "connect",
            "native",
            &format!(
                r#"
services:
  db: {{image: postgres:15, ports: ["{pg}:5432"]}}
  sql: {{image: "mariadb:10.11", ports: ["{my}:3306"]}}
  cache: {{image: redis:7, ports: ["{rd}:6379"]}}
  mc: {{image: "memcached:1.6", ports: ["{mc}:11211"]}}
"#
            ),
        );
        live.ok(&["up"]);
        let out = live.ok(&["connect", "db", "--", "-tAc", "SELECT 40 + 2"]);
        assert_eq!(out.stdout, "42\n");
        let out = live.ok(&[
            "connect",
            "sql",
            "--",
            "-N",
            "-e",
            "SELECT 40 + 2, DATABASE()",
        ]);
        assert_eq!(out.stdout, "42\tapp\n");
        let out = live.ok(&["connect", "cache", "--", "INCRBY", "n", "42"]);
        assert_eq!(out.stdout.trim(), "42");
        let out = live.cmd(&["connect", "mc"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains(&format!("nc 127.0.0.1 {mc}")),
            "{}",
            out.snapshot()
        );
        // A client that is not installed: the package to install.
        let out = live
            .cmd(&["connect", "db"])
            .env("PATH", "/nonexistent")
            .output();
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(
            out.stderr.contains("apt-get install postgresql-client"),
            "{}",
            out.snapshot()
        );
    }

    /// `logs -f` follows a native server's log: a failed login after it started shows up.
    #[test]
    fn logs_follow_a_native_server() {
        follow_postgres_log("native");
    }
}

mod needs_docker {
    use super::*;

    /// `logs -f` follows a container's log through the Engine API.
    #[test]
    fn logs_follow_a_container() {
        super::follow_postgres_log("docker");
    }

    /// The app containers of a project, running or not, by their label.
    fn app_containers(project: &str) -> String {
        let out = client(
            "docker",
            &[
                "ps",
                "-a",
                "--filter",
                &format!("label=dev.provision.project={project}"),
                "--filter",
                "label=dev.provision.app",
                "--format",
                "{{.Names}}",
            ],
        );
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        out.stdout
    }

    /// Removes the built image and the project network when a test ends, pass or fail
    /// (`down` removes the databases; `start` leaves image and network for the next run).
    /// The databases go first: a network with containers on it cannot be removed.
    struct Cleanup(Live);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let name = &self.0.name;
            let _ = self.0.cmd(&["down", "--volumes", "--yes", "-q"]).output();
            let _ = client(
                "docker",
                &["rmi", "-f", &format!("{name}-checker:provision")],
            );
            let _ = client("docker", &["network", "rm", &format!("{name}-provision")]);
        }
    }

    /// A project with a built app (multi-stage Dockerfile, build arg, target) that talks
    /// to Redis and Postgres by service name and container port, and an `image:` app that
    /// sleeps as PID 1 (which ignores SIGTERM: only the KILL after the grace period ends it).
    fn containers_project(prefix: &str, checker: &str) -> Cleanup {
        let (db, cache, web) = (free_port(), free_port(), free_port());
        let live = Live::new(
            prefix,
            "docker",
            &format!(
                r#"
services:
  checker:
    build: {{context: ./app, dockerfile: Dockerfile.dev, target: app, args: {{WORD: hello}}}}
    command: ["sh", "-c", "{checker}"]
    environment: {{GREETING: from-environment}}
    links: [db, cache]
  pinger:
    image: provision-test-base:bookworm
    command: ["sh", "-c", "echo pinger up; exec sleep 600"]
    ports: ["{web}:8080"]
  db:
    image: postgres:15
    ports: ["{db}:5432"]
  cache:
    image: redis:7
    ports: ["{cache}:6379"]
"#
            ),
        );
        std::fs::create_dir(live.project.dir.join("app")).unwrap();
        live.project.write(
            "app/Dockerfile.dev",
            b"FROM provision-test-base:bookworm AS base\nARG WORD=unset\nRUN echo \"built with $WORD\" > /marker\nFROM base AS app\nWORKDIR /srv\n",
        );
        live.project.write("app/.dockerignore", b"ignored\n");
        std::fs::create_dir(live.project.dir.join("app/ignored")).unwrap();
        live.project.write("app/ignored/big", b"not sent");
        Cleanup(live)
    }

    /// `start --containers`: the link variables name the databases' services and container
    /// ports on the project network (Compose's service-name DNS,
    /// <https://docs.docker.com/compose/how-tos/networking/>), the build used its Dockerfile,
    /// target and args, the output comes prefixed, the exit of `checker` ends `start` with
    /// status 0, and no app container remains.
    #[test]
    fn containers_reach_the_databases_by_service_name() {
        let guard = containers_project(
            "start-ctr",
            r#"test \"$$CACHE_HOST:$$CACHE_PORT\" = cache:6379 && REDISCLI_AUTH=\"$$CACHE_PASSWORD\" redis-cli -h \"$$CACHE_HOST\" -p \"$$CACHE_PORT\" SET k v && psql \"$$DB_URL\" -tAc 'SELECT 40+2' && cat /marker && echo \"in $$PWD, $$GREETING, reached $$DB_HOST:$$DB_PORT\""#,
        );
        let live = &guard.0;
        let out = live
            .cmd(&["start", "--containers", "--grace", "2"])
            .output();
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        for line in [
            "checker | OK\n",
            "checker | 42\n",
            "checker | built with hello\n",
            "checker | in /srv, from-environment, reached db:5432\n",
            "pinger  | pinger up\n",
        ] {
            assert!(
                out.stdout.contains(line),
                "no {line:?} in\n{}",
                out.snapshot()
            );
        }
        assert!(
            out.stderr.contains("checker | exited with status 0"),
            "{}",
            out.snapshot()
        );
        assert_eq!(app_containers(&live.name), "", "{}", out.snapshot());
        // The databases stay up.
        let status = live.ok(&["status", "--json"]);
        assert_eq!(
            status.stdout.matches("\"running\"").count(),
            2,
            "{}",
            status.stdout
        );
        // `.dockerignore`'s plain entry kept `ignored/` out of the context.
        let image = format!("{}-checker:provision", live.name);
        let listed = client(
            "docker",
            &["run", "--rm", &image, "sh", "-c", "ls /srv; echo end"],
        );
        assert_eq!(listed.stdout, "end\n", "{}", listed.snapshot());
    }

    /// Ctrl-C stops and removes every app container and exits 130. The mode comes from the
    /// manifest's `x-provision.local.apps: containers` here, not the flag.
    #[test]
    fn ctrl_c_removes_the_app_containers() {
        let guard = containers_project("start-ctr-int", "echo waiting; exec sleep 600");
        let live = &guard.0;
        let file = live.project.dir.join("compose.yaml");
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str("x-provision:\n  local: {apps: containers}\n");
        std::fs::write(&file, text).unwrap();
        let mut child = live.cmd(&["start", "--grace", "1"]).spawn();
        let mut lines = Lines::of(&mut child);
        lines.wait_for("checker | waiting", Duration::from_secs(120));
        lines.wait_for("pinger  | pinger up", Duration::from_secs(30));
        assert_eq!(app_containers(&live.name).lines().count(), 2);
        // `ports:` are published on 127.0.0.1 only.
        let port = client(
            "docker",
            &["port", &format!("{}-pinger", live.name), "8080/tcp"],
        );
        let web = live.project.dir.join("compose.yaml");
        let text = std::fs::read_to_string(web).unwrap();
        let published = text.split('"').find(|w| w.ends_with(":8080")).unwrap();
        assert_eq!(
            port.stdout.trim(),
            format!("127.0.0.1:{}", published.trim_end_matches(":8080")),
            "{}",
            port.snapshot()
        );
        interrupt(&child);
        assert_eq!(
            exit_code(&mut child, Duration::from_secs(30)),
            Some(130),
            "{}",
            lines.rest()
        );
        assert_eq!(app_containers(&live.name), "");
    }
}

fn follow_postgres_log(runtime: &'static str) {
    let pg = free_port();
    let live = Live::new(
        "logs",
        runtime,
        &format!("services:\n  db: {{image: postgres:15, ports: [\"{pg}:5432\"]}}\n"),
    );
    live.ok(&["up"]);
    let tail = live.ok(&["logs", "--tail", "1", "db"]);
    assert_eq!(tail.stdout.lines().count(), 1, "{}", tail.snapshot());
    assert!(tail.stdout.starts_with("db | "), "{}", tail.snapshot());
    let mut child = live.cmd(&["logs", "--follow"]).spawn();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("ready to accept connections", Duration::from_secs(30));
    // Postgres logs every failed password login (FATAL ... password authentication failed).
    let wrong = client(
        "psql",
        &[
            &format!("postgres://app:wrong@127.0.0.1:{pg}/app"),
            "-c",
            "SELECT 1",
        ],
    );
    assert_ne!(wrong.code, Some(0), "{}", wrong.snapshot());
    let failed = lines.wait_for(
        "password authentication failed for user \"app\"",
        Duration::from_secs(30),
    );
    assert!(failed.starts_with("db | "), "{failed}");
    let _ = child.kill();
    let _ = child.wait();
}
