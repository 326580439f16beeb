#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::format_push_string,
    clippy::format_collect,
    // A test reads top to bottom as one scenario (set up, act, check each rule); the test
    // servers' protocol loops mirror their specifications step by step.
    clippy::too_many_lines
)]

//! The one integration-test binary. Modules are grouped by what they need:
//! `cli` and `fuzz` need nothing but the binary and the library.

mod architecture;
mod cli;
mod clients;
mod cloud;
mod corpus;
mod data;
mod data_progress;
mod engine;
mod fuzz;
mod images;
mod local;
mod migrate;
mod mysql8;
mod seed_snapshot;
mod start;
mod support;
mod upgrade;
