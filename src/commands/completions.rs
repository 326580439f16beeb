//! `provision completions SHELL` and `provision man`: generated from the clap definition in
//! `cli`, which hands it over, so they can never disagree with the real flags.

use crate::error::{Error, Exit};
use crate::session;

pub fn completions(shell: clap_complete::Shell, mut command: clap::Command) -> Result<Exit, Error> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "provision", &mut out);
    session::print(&String::from_utf8_lossy(&out)).map(|()| Exit::Success)
}

pub fn man(command: clap::Command) -> Result<Exit, Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .map_err(Error::Output)?;
    session::print(&String::from_utf8_lossy(&out)).map(|()| Exit::Success)
}
