//! The single integration-test binary (one link instead of one per file).

mod bad_input;
mod cloud;
mod cluster;
mod common;
mod delta;
mod differential;
mod distribution;
mod docs;
mod history;
mod onboarding;
mod one_scan;
mod readiness;
mod sample_lake;
mod secrets;
mod stores;
mod streams;
mod trust;
mod writers;
