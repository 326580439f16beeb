//! Progress of `dump` and `restore` on a terminal (`needs_native`): run under a real pty
//! (util-linux `script`), the live line shows bytes and the rate on stderr; with stderr on a
//! pipe there is none, only the one summary line.

use crate::support::{Live, client, free_port};

fn manifest(port: u16) -> String {
    format!(
        "services:\n  app: {{build: ., links: [store]}}\n  store:\n    image: 'postgres:15'\n    x-provision: {{local: {{port: {port}}}}}\n"
    )
}

/// `provision ARGS` with stdin, stdout and stderr on a pty; returns what the terminal got.
/// (The words are joined by spaces for `script -c`: the test's paths have none.)
fn on_a_terminal(live: &Live, args: &[&str]) -> String {
    let out = live
        .cmd(args)
        .wrapped(&["sh", "-c", "exec script -qefc \"$*\" /dev/null", "sh"])
        .env("TERM", "xterm")
        .output();
    assert_eq!(out.code, Some(0), "{}", out.snapshot());
    out.stdout
}

#[test]
fn dump_and_restore_show_bytes_and_rate_on_a_terminal_only() {
    let live = Live::new("prog", "native", &manifest(free_port()));
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    // About 20 MB of dump, so that the copy takes more than one redraw.
    let filled = client(
        "psql",
        &[
            &v["STORE_URL"],
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            "CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 300000) g",
        ],
    );
    assert_eq!(filled.code, Some(0), "{}", filled.snapshot());
    let file = live.project.dir.join("store.pgdump");
    let file = file.to_str().unwrap();
    let shown = on_a_terminal(&live, &["dump", "store", "-o", file]);
    assert!(shown.contains("store  "), "{shown:?}");
    assert!(shown.contains("B/s"), "no rate on the terminal: {shown:?}");
    assert!(shown.contains("dumped"), "{shown:?}");
    // A file's restore knows the size: "N MiB of M MiB (P%)".
    let shown = on_a_terminal(&live, &["restore", "store", file]);
    assert!(shown.contains(" of ") && shown.contains('%'), "{shown:?}");
    assert!(shown.contains("restored"), "{shown:?}");
    // Off a terminal: the summary line only.
    let out = live.ok(&["dump", "store", "-o", file]);
    assert!(!out.stderr.contains("B/s"), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    let out = live.ok(&["restore", "store", file]);
    assert!(!out.stderr.contains("B/s"), "{}", out.stderr);
}
