//! Typed configuration: `dq.yaml` (environments) and `rules/*.yaml` (layers).

pub mod project;
pub mod rules;
pub mod yaml;
