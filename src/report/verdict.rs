//! The readiness verdict as reports carry it: GO or NO-GO, and its decision matrix. The
//! judging lives in [`crate::readiness`]; reports only show what it decided.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Go,
    NoGo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    Go,
    NoGo,
    /// Problems in a part the policy does not block on.
    Warn,
    NotRun,
}

impl RowStatus {
    pub fn label(&self) -> &'static str {
        match self {
            RowStatus::Go => "GO",
            RowStatus::NoGo => "NO-GO",
            RowStatus::Warn => "WARN",
            RowStatus::NotRun => "NOT RUN",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    /// `layer`, `reconciliations` or `stream`.
    pub kind: String,
    pub name: String,
    pub status: RowStatus,
    pub blocking: bool,
    /// Share of checks passed, weighted by severity (error 3, warn 1); null when nothing ran.
    pub score: Option<f64>,
    pub passed: usize,
    pub total: usize,
    /// Names of the checks that did not pass, and coverage problems.
    pub failed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub verdict: Verdict,
    /// Why the verdict is NO-GO, in plain words (empty for GO).
    pub reasons: Vec<String>,
    pub matrix: Vec<MatrixRow>,
    pub policy: crate::config::project::ReadinessPolicy,
}
