//! One file per command, as cargo's `commands/` over its `ops/`: each parses nothing (that is
//! `cli`), checks the target it was given, calls the target's module (`local` or `cloud`,
//! which share their verbs) and prints through `render`. A new command is a new file here and
//! one line in `cli`.

pub mod adopt;
pub mod completions;
pub mod connect;
pub mod destroy;
pub mod doctor;
pub mod down;
pub mod dump;
pub mod env;
pub mod gc;
pub mod iam_policy;
pub mod logs;
pub mod migrate;
pub mod plan;
pub mod reset;
pub mod restore;
pub mod seed;
pub mod snapshot;
pub mod stages;
pub mod start;
pub mod status;
pub mod up;
pub mod upgrade;
