//! dq checks a medallion lake (bronze / silver / gold Parquet datasets) against declarative
//! YAML rules compiled to Apache DataFusion queries, and reports whether it is fit for
//! production. The `dq` binary is a thin layer over this library.

pub mod cli;
pub mod config;
pub mod duration;
pub mod engine;
pub mod error;
pub mod facts;
#[cfg(test)]
mod fuzz;
pub mod history;
pub mod odcs;
pub mod onboarding;
pub mod profile;
pub mod readiness;
pub mod report;
pub mod rules;
pub mod run;
pub mod sample;
mod sample_delta;
pub mod streams;
pub mod suggest;
pub mod time;

pub use error::{Diagnostic, DqError};
