use std::process::ExitCode;

use clap::Parser as _;
use provision::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any thread or child exists: what this process inherited (a caller's `flock`, a
    // pipe) must not outlive it in a native server or an app, or the caller waits on it.
    // `run` is the exception: its program is the caller's own, and gets what it was given.
    if !cli.hands_over_descriptors() {
        close_fds::set_fds_cloexec(3, &[]);
    }
    match run(&cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(error) => {
            eprint!("{}", error.render_with(cli.verbose()));
            ExitCode::from(error.exit().code())
        }
    }
}
