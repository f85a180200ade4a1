//! The readiness verdict: GO or NO-GO, with a decision matrix per layer, for
//! reconciliations and per stream, judged against the project's readiness policy.

use crate::config::rules::Severity;
use crate::report::{CheckResult, Report, Status};

pub use crate::config::project::ReadinessPolicy as Policy;
pub use crate::report::verdict::{MatrixRow, Readiness, RowStatus, Verdict};

impl Policy {
    fn blocks(&self, layer: &str, dataset: Option<&str>) -> bool {
        match &self.blocking {
            None => true,
            Some(list) => list
                .iter()
                .any(|b| b == layer || Some(b.as_str()) == dataset),
        }
    }
}

fn weight(c: &CheckResult) -> f64 {
    match c.severity {
        Severity::Error => 3.0,
        Severity::Warn => 1.0,
    }
}

/// Share of judged checks passed, by weight: a history check without enough history is
/// not judged yet and counts neither way.
fn score(checks: &[&CheckResult]) -> Option<f64> {
    let total: f64 = checks
        .iter()
        .filter(|c| c.status != Status::Insufficient)
        .map(|c| weight(c))
        .sum();
    if total == 0.0 {
        return None;
    }
    let passed: f64 = checks
        .iter()
        .filter(|c| c.status == Status::Pass)
        .map(|c| weight(c))
        .sum();
    Some(passed / total)
}

/// Judges a finished run. `layers` are the layers the run covered; `streams` the configured
/// streams that did not run, with why.
pub fn decide(
    report: &Report,
    policy: &Policy,
    layers: &[String],
    streams: &[(String, String)],
) -> Readiness {
    let mut matrix = Vec::new();
    let mut reasons = Vec::new();
    for layer in layers {
        let checks: Vec<&CheckResult> = report
            .checks
            .iter()
            .filter(|c| &c.layer == layer && c.kind != "reconciliation")
            .collect();
        let blocking = policy.blocks(layer, None)
            || checks
                .iter()
                .any(|c| policy.blocks(layer, c.dataset.as_deref()));
        let mut failed: Vec<String> = Vec::new();
        let mut blocking_problem = false;
        for c in &checks {
            if c.status == Status::Pass {
                continue;
            }
            let label = format!("{} {}", c.status.as_str(), short_id(c));
            let blocks = policy.blocks(layer, c.dataset.as_deref());
            match c.status {
                Status::Fail if blocks => {
                    blocking_problem = true;
                    reasons.push(format!(
                        "{}: check {} failed{}",
                        layer,
                        short_id(c),
                        detail(c)
                    ));
                }
                Status::Error => {
                    blocking_problem = true;
                    reasons.push(format!(
                        "{}: check {} could not run: {}",
                        layer,
                        short_id(c),
                        c.message.clone().unwrap_or_default()
                    ));
                }
                Status::Insufficient if blocks && policy.require_history => {
                    blocking_problem = true;
                    reasons.push(format!(
                        "{}: check {} has {} (readiness.require_history)",
                        layer,
                        short_id(c),
                        c.message.clone().unwrap_or_default()
                    ));
                }
                _ => {}
            }
            failed.push(label);
        }
        if policy.require_checks && checks.is_empty() && blocking {
            blocking_problem = true;
            failed.push("no checks".into());
            reasons.push(format!(
                "{layer}: the layer has no checks (readiness.require_checks)"
            ));
        }
        if policy.require_rows {
            for d in report.datasets.iter().filter(|d| &d.layer == layer) {
                if d.rows_in_scope == Some(0) && policy.blocks(layer, Some(&d.id)) {
                    blocking_problem = true;
                    failed.push(format!("{}: no rows in scope", d.id));
                    reasons.push(format!(
                        "{}: no rows in scope (readiness.require_rows)",
                        d.id
                    ));
                }
            }
        }
        let s = score(&checks);
        if let (Some(min), Some(s)) = (policy.min_score, s) {
            if blocking && s < min {
                blocking_problem = true;
                reasons.push(format!(
                    "{layer}: score {:.0}% is below readiness.min_score {:.0}%",
                    s * 100.0,
                    min * 100.0
                ));
            }
        }
        let status = if blocking_problem {
            RowStatus::NoGo
        } else if failed.is_empty() {
            RowStatus::Go
        } else {
            RowStatus::Warn
        };
        matrix.push(MatrixRow {
            kind: "layer".into(),
            name: layer.clone(),
            status,
            blocking,
            score: s,
            passed: checks.iter().filter(|c| c.status == Status::Pass).count(),
            total: checks.len(),
            failed,
        });
    }
    let recs: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| c.kind == "reconciliation")
        .collect();
    if !recs.is_empty() {
        let mut failed = Vec::new();
        let mut blocking_problem = false;
        for c in &recs {
            if c.status == Status::Pass {
                continue;
            }
            failed.push(format!("{} {}", c.status.as_str(), c.name));
            if c.status == Status::Error
                || (c.status == Status::Fail && policy.blocks(&c.layer, None))
            {
                blocking_problem = true;
                reasons.push(format!(
                    "reconciliation {} {}{}",
                    c.name,
                    if c.status == Status::Error {
                        "could not run"
                    } else {
                        "failed"
                    },
                    detail(c)
                ));
            }
        }
        matrix.push(MatrixRow {
            kind: "reconciliations".into(),
            name: "reconciliations".into(),
            status: if blocking_problem {
                RowStatus::NoGo
            } else if failed.is_empty() {
                RowStatus::Go
            } else {
                RowStatus::Warn
            },
            blocking: true,
            score: score(&recs),
            passed: recs.iter().filter(|c| c.status == Status::Pass).count(),
            total: recs.len(),
            failed,
        });
    }
    for r in &report.streams {
        let checks: Vec<&CheckResult> = report
            .checks
            .iter()
            .filter(|c| {
                c.layer == "streams"
                    && c.dataset.as_deref() == Some(format!("streams.{}", r.name).as_str())
            })
            .collect();
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| c.status != Status::Pass)
            .map(|c| {
                format!(
                    "{} {}{}",
                    c.status.as_str(),
                    c.name,
                    c.message
                        .as_ref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let blocking = policy.blocks("streams", Some(&format!("streams.{}", r.name)))
            || policy.require_streams;
        let broken = checks
            .iter()
            .any(|c| c.status == Status::Error || (c.status == Status::Fail && blocking));
        for c in checks
            .iter()
            .filter(|c| c.status == Status::Error || (c.status == Status::Fail && blocking))
        {
            reasons.push(format!(
                "stream {}: {} {}{}",
                r.name,
                c.name,
                if c.status == Status::Error {
                    "could not run"
                } else {
                    "failed"
                },
                c.message
                    .as_ref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ));
        }
        matrix.push(MatrixRow {
            kind: "stream".into(),
            name: r.name.clone(),
            status: if broken {
                RowStatus::NoGo
            } else if failed.is_empty() {
                RowStatus::Go
            } else {
                RowStatus::Warn
            },
            blocking,
            score: score(&checks),
            passed: checks.iter().filter(|c| c.status == Status::Pass).count(),
            total: checks.len(),
            failed,
        });
    }
    for (stream, why) in streams {
        matrix.push(MatrixRow {
            kind: "stream".into(),
            name: stream.clone(),
            status: RowStatus::NotRun,
            blocking: policy.require_streams,
            score: None,
            passed: 0,
            total: 0,
            failed: vec![why.clone()],
        });
        if policy.require_streams {
            reasons.push(format!(
                "stream {stream}: {why}, and readiness.require_streams is set"
            ));
        }
    }
    if streams.is_empty() && report.streams.is_empty() && policy.require_streams {
        reasons.push("no streams are configured, and readiness.require_streams is set".into());
    }
    for e in &report.errors {
        reasons.push(format!("runtime error: {e}"));
    }
    if let Some(max) = policy.max_warnings {
        if report.summary.warned > max {
            reasons.push(format!(
                "{} warnings exceed the budget of {max} (readiness.max_warnings)",
                report.summary.warned
            ));
        }
    }
    Readiness {
        verdict: if reasons.is_empty() {
            Verdict::Go
        } else {
            Verdict::NoGo
        },
        reasons,
        matrix,
        policy: policy.clone(),
    }
}

fn short_id(c: &CheckResult) -> String {
    match &c.dataset {
        Some(d) => format!(
            "{}.{}",
            d.split_once('.').map(|(_, n)| n).unwrap_or(d),
            c.name
        ),
        None => c.name.clone(),
    }
}

fn detail(c: &CheckResult) -> String {
    match (&c.message, c.failed_rows, c.rows_checked) {
        (Some(m), _, _) => format!(" ({m})"),
        (None, Some(f), Some(n)) => format!(" ({f} of {n} rows)"),
        _ => format!(
            " (observed {}, expected {})",
            crate::report::show_observed(&c.observed),
            c.threshold
        ),
    }
}
