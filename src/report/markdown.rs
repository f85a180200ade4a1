//! Markdown that fits a pull-request comment: a verdict line, a table of the checks that
//! did not pass, and every check folded away beneath.

use super::{CheckResult, Report, RunOutcome, Status, observed_cell};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn icon(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅",
        Status::Warn => "⚠️",
        Status::Fail => "❌",
        Status::Error => "💥",
        Status::Insufficient => "⏳",
    }
}

fn row(c: &CheckResult) -> String {
    format!(
        "| {} {} | {} | `{}` | {} | {} | {} |\n",
        icon(c.status),
        c.status.as_str(),
        cell(c.dataset.as_deref().unwrap_or("reconciliation")),
        cell(&c.name),
        cell(&observed_cell(c)),
        cell(&c.threshold),
        cell(c.message.as_deref().unwrap_or(""))
    )
}

const HEADER: &str =
    "| status | dataset | check | observed | threshold | details |\n|---|---|---|---|---|---|\n";

pub fn render(report: &Report) -> String {
    let verdict = match (&report.readiness, report.outcome) {
        (Some(r), _) if r.verdict == crate::report::verdict::Verdict::Go => "✅ GO",
        (Some(_), _) => "❌ NO-GO",
        (None, RunOutcome::Pass) => "✅ PASS",
        (None, RunOutcome::Fail) => "❌ FAIL",
        (None, RunOutcome::Error) => "💥 ERROR",
    };
    let s = &report.summary;
    let mut out = format!(
        "### dq {} — {verdict}\n\n**{}** checks: {} passed · {} warnings · {} failed · {} errors — env `{}`, as of {}, {:.2} s\n\n",
        report.command,
        s.total,
        s.passed,
        s.warned,
        s.failed,
        s.errored,
        report.environment,
        report.as_of,
        report.duration_ms as f64 / 1000.0
    );
    if let Some(r) = &report.readiness {
        let verdict = match r.verdict {
            crate::report::verdict::Verdict::Go => "✅ **GO**",
            crate::report::verdict::Verdict::NoGo => "❌ **NO-GO**",
        };
        out.push_str(&format!(
            "Readiness: {verdict}\n\n| part | status | score | checks | what failed |\n|---|---|---|---|---|\n"
        ));
        for row in &r.matrix {
            out.push_str(&format!(
                "| {}{} | {} | {} | {}/{} | {} |\n",
                cell(&row.name),
                if row.blocking { "" } else { " (info)" },
                row.status.label(),
                row.score
                    .map(|s| format!("{:.0}%", s * 100.0))
                    .unwrap_or_else(|| "—".into()),
                row.passed,
                row.total,
                cell(&row.failed.join("; "))
            ));
        }
        out.push('\n');
        for reason in &r.reasons {
            out.push_str(&format!("- {}\n", cell(reason)));
        }
        if !r.reasons.is_empty() {
            out.push('\n');
        }
    }
    let not_passed: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .collect();
    if !not_passed.is_empty() {
        out.push_str(HEADER);
        for c in &not_passed {
            out.push_str(&row(c));
        }
        out.push('\n');
    }
    for e in &report.errors {
        out.push_str(&format!("> 💥 {}\n\n", cell(e)));
    }
    out.push_str(&format!(
        "<details><summary>All {} checks</summary>\n\n{HEADER}",
        s.total
    ));
    for c in &report.checks {
        out.push_str(&row(c));
    }
    out.push_str("\n</details>\n");
    out
}
