use std::process::ExitCode;

use clap::Parser as _;
use provision::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(error) => {
            eprint!("{}", error.render_with(cli.verbose()));
            ExitCode::from(error.exit().code())
        }
    }
}
