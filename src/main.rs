use std::process::ExitCode;

use clap::Parser as _;
use provision::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(error) => {
            eprint!("{}", error.render());
            ExitCode::from(error.exit().code())
        }
    }
}
