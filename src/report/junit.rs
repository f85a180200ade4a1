//! JUnit XML: one testsuite per dataset (and one for reconciliations), one testcase per
//! check. Failures are `<failure>`, runtime errors `<error>`, warnings `<skipped>` with the
//! warning as message (so CI shows them without failing the build).

use super::{CheckResult, Report, Status, observed_cell};

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

fn detail(c: &CheckResult) -> String {
    let mut lines = vec![
        format!("observed: {}", observed_cell(c)),
        format!("threshold: {}", c.threshold),
    ];
    if let Some(m) = &c.message {
        lines.push(m.clone());
    }
    for row in &c.sample_failures {
        lines.push(format!("e.g. {}", serde_json::Value::Object(row.clone())));
    }
    lines.push(format!("source: {}", c.source));
    lines.push(format!("sql: {}", c.sql));
    lines.join("\n")
}

pub fn render(report: &Report) -> String {
    let mut groups: Vec<(String, Vec<&CheckResult>)> = Vec::new();
    for c in &report.checks {
        let suite = c
            .dataset
            .clone()
            .unwrap_or_else(|| format!("{}.reconciliations", c.layer));
        match groups.iter_mut().find(|(name, _)| *name == suite) {
            Some((_, v)) => v.push(c),
            None => groups.push((suite, vec![c])),
        }
    }
    let count = |v: &[&CheckResult], s: Status| v.iter().filter(|c| c.status == s).count();
    let all: Vec<&CheckResult> = report.checks.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"dq {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
        escape(&report.command),
        all.len(),
        count(&all, Status::Fail),
        count(&all, Status::Error),
        count(&all, Status::Warn),
        report.duration_ms as f64 / 1000.0
    ));
    for (suite, checks) in &groups {
        let time: u64 = checks.iter().map(|c| c.duration_ms).max().unwrap_or(0);
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\">\n",
            escape(suite),
            checks.len(),
            count(checks, Status::Fail),
            count(checks, Status::Error),
            count(checks, Status::Warn),
            time as f64 / 1000.0,
            escape(&report.started_at)
        ));
        for c in checks {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(suite),
                escape(&c.name),
                c.duration_ms as f64 / 1000.0
            ));
            let message = c
                .message
                .clone()
                .unwrap_or_else(|| format!("{} (threshold {})", observed_cell(c), c.threshold));
            match c.status {
                Status::Pass => out.push_str("/>\n"),
                Status::Insufficient => out.push_str(&format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape(&message)
                )),
                Status::Fail => out.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(&message),
                    escape(&c.kind),
                    escape(&detail(c))
                )),
                Status::Error => out.push_str(&format!(
                    ">\n      <error message=\"{}\" type=\"runtime\">{}</error>\n    </testcase>\n",
                    escape(&message),
                    escape(&detail(c))
                )),
                Status::Warn => out.push_str(&format!(
                    ">\n      <skipped message=\"warning: {}\"/>\n      <system-out>{}</system-out>\n    </testcase>\n",
                    escape(&message),
                    escape(&detail(c))
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    if let Some(r) = &report.readiness {
        let failing = r
            .matrix
            .iter()
            .filter(|m| m.status == crate::report::verdict::RowStatus::NoGo)
            .count();
        let skipped = r
            .matrix
            .iter()
            .filter(|m| m.status == crate::report::verdict::RowStatus::NotRun)
            .count();
        out.push_str(&format!(
            "  <testsuite name=\"readiness\" tests=\"{}\" failures=\"{failing}\" errors=\"0\" skipped=\"{skipped}\">\n",
            r.matrix.len()
        ));
        for row in &r.matrix {
            out.push_str(&format!(
                "    <testcase classname=\"readiness.{}\" name=\"{}\"",
                escape(&row.kind),
                escape(&row.name)
            ));
            match row.status {
                crate::report::verdict::RowStatus::NoGo => out.push_str(&format!(
                    ">\n      <failure message=\"NO-GO\" type=\"readiness\">{}</failure>\n    </testcase>\n",
                    escape(&row.failed.join("\n"))
                )),
                crate::report::verdict::RowStatus::NotRun => out.push_str(&format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape(&row.failed.join("; "))
                )),
                _ => out.push_str("/>\n"),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
