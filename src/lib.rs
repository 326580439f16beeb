//! `provision`: an app's databases, declared once in its Compose file, run on a laptop
//! (containers or native servers) or on AWS (RDS, ElastiCache), with the same link variables.
//!
//! The core is pure: [`manifest`] reads the file, [`model`] resolves it against the
//! [`catalog`] of database types, [`plan`] computes the desired state for a target, and
//! [`links`] renders the variables from the endpoints a backend reports.

pub mod catalog;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod deadline;
pub mod doctor;
pub mod env_format;
pub mod error;
pub mod home;
pub mod links;
pub mod local;
pub mod manifest;
pub mod meter;
pub mod model;
pub mod names;
pub mod plan;
pub mod probe;
pub mod problem;
pub mod progress;
pub mod render;
pub mod secret;
pub mod session;
pub mod stream;
pub mod suggest;
pub mod tls;
