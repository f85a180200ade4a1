//! The report: one model, several renderers (text, JSON, JUnit XML, Markdown).

use serde::Serialize;

use crate::config::rules::Severity;
use crate::facts::DatasetFacts;

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod metrics;
pub mod streams;
pub mod text;
pub mod verdict;

pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Error,
    /// A history check with too few earlier runs to judge: neither pass nor fail.
    #[serde(rename = "insufficient_history")]
    Insufficient,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Insufficient => "insufficient_history",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// `layer.dataset.name` (reconciliations: `layer.reconciliation.name`).
    pub id: String,
    pub layer: String,
    /// `layer.name` of the dataset, or null for reconciliations.
    pub dataset: Option<String>,
    pub name: String,
    pub kind: String,
    pub severity: Severity,
    pub status: Status,
    pub observed: serde_json::Value,
    pub threshold: String,
    pub failed_rows: Option<u64>,
    pub rows_checked: Option<u64>,
    pub failed_fraction: Option<f64>,
    pub message: Option<String>,
    pub description: Option<String>,
    pub sample_failures: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The SQL that answered the check.
    pub sql: String,
    pub duration_ms: u64,
    /// Where the check is written, `file:line:column`.
    pub source: String,
    /// The check's observed value in the previous recorded run of this environment, and
    /// the change since (absent without history).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
}

/// The series a history check judged.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Trend {
    /// The `change` / `anomaly` check's id.
    pub check: String,
    pub subject: String,
    pub metric: String,
    pub points: Vec<TrendPoint>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub as_of: String,
    pub value: Option<f64>,
    /// The history check's status in that run (`fail`/`warn` mark an anomaly), when it ran.
    pub status: Option<String>,
}

/// A check's value in the previous recorded run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Previous {
    pub as_of: String,
    pub value: f64,
    /// This run's value minus the previous one (null when this run has no number).
    pub change: Option<f64>,
}

/// One dataset's listing and scan figures.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetResult {
    pub id: String,
    pub layer: String,
    pub name: String,
    #[serde(flatten)]
    pub facts: DatasetFacts,
    /// Rows in scope, when the fused scan ran.
    pub rows_in_scope: Option<u64>,
    pub scan_ms: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub warned: usize,
    pub failed: usize,
    pub errored: usize,
    /// History checks that had too few earlier runs to judge.
    #[serde(skip_serializing_if = "is_zero")]
    pub insufficient: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Pass,
    Fail,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub report_version: u32,
    pub tool: Tool,
    pub command: String,
    pub environment: String,
    pub lake: String,
    pub as_of: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub fail_on: Severity,
    pub outcome: RunOutcome,
    pub exit_code: i32,
    pub summary: Summary,
    pub datasets: Vec<DatasetResult>,
    pub checks: Vec<CheckResult>,
    /// Per-stream figures (`dq streams`, `dq readiness`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<streams::StreamResult>,
    /// The recorded series each `change` / `anomaly` check judged, this run's point last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trends: Vec<Trend>,
    /// What went wrong beside the checks without failing the run (a history file that
    /// cannot be read, history that cannot be recorded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Runtime errors not tied to one check.
    pub errors: Vec<String>,
    /// The verdict and decision matrix (`dq readiness` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness: Option<crate::report::verdict::Readiness>,
}

impl Report {
    /// Fills summary, outcome and exit code from the checks (SPEC §6).
    pub fn finish(&mut self) {
        let mut s = Summary {
            total: self.checks.len(),
            ..Default::default()
        };
        for c in &self.checks {
            match c.status {
                Status::Pass => s.passed += 1,
                Status::Warn => s.warned += 1,
                Status::Fail => s.failed += 1,
                Status::Error => s.errored += 1,
                Status::Insufficient => s.insufficient += 1,
            }
        }
        let failing = s.failed > 0 || (self.fail_on == Severity::Warn && s.warned > 0);
        let (outcome, code) = if s.errored > 0 || !self.errors.is_empty() {
            (RunOutcome::Error, 3)
        } else if failing {
            (RunOutcome::Fail, 1)
        } else {
            (RunOutcome::Pass, 0)
        };
        self.summary = s;
        self.outcome = outcome;
        self.exit_code = code;
    }

    /// Attaches the readiness verdict; the exit code becomes 0 for GO, 1 for NO-GO, and
    /// stays 3 when something could not run.
    pub fn set_readiness(&mut self, readiness: crate::report::verdict::Readiness) {
        if self.exit_code != 3 {
            self.exit_code = match readiness.verdict {
                crate::report::verdict::Verdict::Go => 0,
                crate::report::verdict::Verdict::NoGo => 1,
            };
        }
        self.readiness = Some(readiness);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
    Markdown,
    /// One self-contained HTML file (no network assets).
    Html,
}

pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Text => text::render(report, color),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

/// A compact one-line rendering of an observed value.
pub fn show_observed(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => crate::rules::trim_float(f, 4),
            _ => n.to_string(),
        },
        serde_json::Value::Array(a) => format!("{} items", a.len()),
        serde_json::Value::Object(m) if m.contains_key("left") => format!(
            "{} vs {}",
            m.get("left").map(show_observed).unwrap_or_default(),
            m.get("right").map(show_observed).unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

/// What the text and Markdown renderers show as the observed value of a check.
pub fn observed_cell(c: &CheckResult) -> String {
    match (c.failed_rows, c.rows_checked) {
        (Some(f), Some(n)) if c.kind != "unique" => {
            if f == 0 {
                format!("0 of {n}")
            } else {
                format!(
                    "{f} of {n} ({})",
                    crate::rules::percent(c.failed_fraction.unwrap_or(0.0))
                )
            }
        }
        _ if c.kind == "freshness" => match c.observed.as_u64() {
            Some(secs) => format!(
                "age {}",
                crate::duration::format_duration(std::time::Duration::from_secs(secs))
            ),
            None => "—".into(),
        },
        _ if c.kind == "latency" => match c.observed.get("p99_ms").and_then(|v| v.as_f64()) {
            Some(p99) => format!("p99 {p99:.0} ms"),
            None => "no samples".into(),
        },
        _ if c.kind == "consumer_lag" => match c.observed.get("offset_lag") {
            Some(lag) => format!("lag {lag} msgs"),
            None => "—".into(),
        },
        _ if c.kind == "schema" => match &c.message {
            None => "as expected".into(),
            Some(_) => "differs".into(),
        },
        _ if c.kind == "unique" => format!(
            "{} dup keys{}",
            show_observed(&c.observed),
            c.failed_rows
                .filter(|f| *f > 0)
                .map(|f| format!(" / {f} rows"))
                .unwrap_or_default()
        ),
        _ if c.kind == "distinct_values" => {
            let missing = names(&c.observed["missing"]);
            let outside = c.observed["unexpected_rows"].as_u64().unwrap_or(0);
            match (missing.is_empty(), outside) {
                (true, 0) => "as expected".into(),
                (true, n) => format!("{n} rows outside"),
                (false, 0) => format!("missing {missing}"),
                (false, n) => format!("missing {missing}, {n} rows outside"),
            }
        }
        _ if c.kind == "most_common_value" => match c.observed["occurrences"].as_u64() {
            Some(n) => format!("{} ×{n}", names(&c.observed["values"])),
            None => "no values".into(),
        },
        _ if c.kind == "distinct_count" => match c.observed["distinct"].as_u64() {
            Some(n) => format!(
                "{n} distinct ({})",
                crate::rules::percent(c.observed["fraction"].as_f64().unwrap_or(0.0))
            ),
            None => "—".into(),
        },
        _ if c.kind == "distribution" => {
            let statistic = show_observed(&c.observed["statistic"]);
            match c.observed["test"].as_str() {
                Some("ks") => format!("D {statistic}"),
                Some("psi") => format!("PSI {statistic}"),
                _ => match c.observed["p_value"].as_f64() {
                    Some(p) => format!("χ² {statistic}, p {}", crate::rules::trim_float(p, 4)),
                    None => format!("χ² {statistic}"),
                },
            }
        }
        _ => show_observed(&c.observed),
    }
}

/// The values of a JSON list as `a, b, c` (strings unquoted).
fn names(list: &serde_json::Value) -> String {
    list.as_array()
        .map(|a| a.iter().map(show_observed).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}
