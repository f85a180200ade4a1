//! One self-contained HTML page: verdict, decision matrix, every check with its failing
//! examples and SQL. No network assets; a few lines of script only filter the table.

use super::{CheckResult, Report, RunOutcome, Status, observed_cell};
use crate::report::junit::escape;

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#1d2430;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
.verdict{display:inline-block;padding:.4rem 1rem;border-radius:6px;font-weight:700;font-size:1.2rem;color:#fff}
.go,.pass{background:#1f883d}.no_go,.fail{background:#cf222e}.error{background:#8250df}.warn{background:#bf8700}.not_run{background:#6e7781}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.badge{color:#fff;border-radius:4px;padding:0 .4rem;font-size:.8rem;font-weight:600}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;white-space:pre-wrap}details summary{cursor:pointer;color:#0969da}
.muted{color:#57606a}.insufficient_history{background:#6e7781}
circle.point{fill:#1f883d}circle.fail{fill:#cf222e}circle.warn{fill:#bf8700}circle.insufficient_history,circle.none{fill:#6e7781}circle.anomaly{stroke:#000;stroke-width:2}
figure.trend{margin:1rem 0}figure.trend figcaption{font-weight:600}";

const SCRIPT: &str = "document.getElementById('only-problems').addEventListener('change',function(e){
document.querySelectorAll('tr.check').forEach(function(r){r.hidden=e.target.checked&&r.dataset.status==='pass';});});";

fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {class}\">{}</span>", escape(text))
}

fn check_row(c: &CheckResult) -> String {
    let mut details = String::new();
    if let Some(m) = &c.message {
        details.push_str(&format!("<div>{}</div>", escape(m)));
    }
    if !c.sample_failures.is_empty() {
        let rows: Vec<String> = c
            .sample_failures
            .iter()
            .map(|r| escape(&serde_json::Value::Object(r.clone()).to_string()))
            .collect();
        details.push_str(&format!(
            "<details><summary>{} failing example(s)</summary><pre>{}</pre></details>",
            rows.len(),
            rows.join("\n")
        ));
    }
    details.push_str(&format!(
        "<details><summary>SQL</summary><pre>{}</pre></details>",
        escape(&c.sql)
    ));
    format!(
        "<tr class=\"check\" data-status=\"{st}\" id=\"{id}\"><td>{badge}</td><td>{dataset}</td><td><code>{name}</code><div class=\"muted\">{kind} · {sev}</div></td><td>{obs}</td><td>{thr}</td><td>{details}</td></tr>\n",
        st = c.status.as_str(),
        id = escape(&c.id),
        badge = badge(c.status.as_str(), c.status.as_str()),
        dataset = escape(c.dataset.as_deref().unwrap_or("reconciliation")),
        name = escape(&c.name),
        kind = escape(&c.kind),
        sev = c.severity.as_str(),
        obs = escape(&observed_cell(c)),
        thr = escape(&c.threshold),
    )
}

/// A history check's series as an inline SVG line, each run a dot coloured by the check's
/// status in it; a run the check flagged (`fail` / `warn`) is marked as an anomaly.
fn trend_chart(t: &crate::report::Trend) -> String {
    const W: f64 = 480.0;
    const H: f64 = 120.0;
    const PAD: f64 = 10.0;
    let known: Vec<f64> = t.points.iter().filter_map(|p| p.value).collect();
    let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let n = t.points.len().max(2) as f64 - 1.0;
    let x = |i: usize| PAD + (W - 2.0 * PAD) * i as f64 / n;
    let y = |v: f64| {
        if hi > lo {
            H - PAD - (H - 2.0 * PAD) * (v - lo) / (hi - lo)
        } else {
            H / 2.0
        }
    };
    let line: Vec<String> = t
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.value.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
        .collect();
    let mut dots = String::new();
    for (i, p) in t.points.iter().enumerate() {
        let Some(v) = p.value else { continue };
        let status = p.status.as_deref().unwrap_or("none");
        let class = match status {
            "fail" | "warn" => format!("point {status} anomaly"),
            other => format!("point {other}"),
        };
        dots.push_str(&format!(
            "<circle class=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{} · {} · {}</title></circle>",
            escape(&class),
            x(i),
            y(v),
            escape(&p.as_of),
            v,
            escape(status)
        ));
    }
    format!(
        "<figure class=\"trend\" id=\"trend-{}\"><figcaption>{} — {} of {}</figcaption><svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\"><polyline fill=\"none\" stroke=\"#888\" points=\"{}\"/>{dots}</svg></figure>\n",
        escape(&t.check),
        escape(&t.check),
        escape(&t.metric),
        escape(&t.subject),
        line.join(" ")
    )
}

pub fn render(report: &Report) -> String {
    let mut body = String::new();
    let (class, verdict) = match (&report.readiness, report.outcome) {
        (Some(r), _) if r.verdict == crate::report::verdict::Verdict::Go => ("go", "GO"),
        (Some(_), _) => ("no_go", "NO-GO"),
        (None, RunOutcome::Pass) => ("pass", "PASS"),
        (None, RunOutcome::Fail) => ("fail", "FAIL"),
        (None, RunOutcome::Error) => ("error", "ERROR"),
    };
    body.push_str(&format!(
        "<h1>dq {cmd}</h1><p><span class=\"verdict {class}\" id=\"verdict\">{verdict}</span></p>\n<p class=\"muted\">environment <b>{env}</b> · lake {lake} · as of {as_of} · {total} checks: {p} passed, {w} warnings, {f} failed, {e} errors · {secs:.2} s</p>\n",
        cmd = escape(&report.command),
        env = escape(&report.environment),
        lake = escape(&report.lake),
        as_of = escape(&report.as_of),
        total = report.summary.total,
        p = report.summary.passed,
        w = report.summary.warned,
        f = report.summary.failed,
        e = report.summary.errored,
        secs = report.duration_ms as f64 / 1000.0,
    ));
    if let Some(r) = &report.readiness {
        if !r.reasons.is_empty() {
            body.push_str("<h2>Why NO-GO</h2><ul id=\"reasons\">");
            for reason in &r.reasons {
                body.push_str(&format!("<li>{}</li>", escape(reason)));
            }
            body.push_str("</ul>\n");
        }
        body.push_str("<h2>Decision matrix</h2><table id=\"matrix\"><tr><th>part</th><th>status</th><th>score</th><th>checks</th><th>what failed</th></tr>\n");
        for row in &r.matrix {
            let class = match row.status {
                crate::report::verdict::RowStatus::Go => "go",
                crate::report::verdict::RowStatus::NoGo => "no_go",
                crate::report::verdict::RowStatus::Warn => "warn",
                crate::report::verdict::RowStatus::NotRun => "not_run",
            };
            body.push_str(&format!(
                "<tr><td>{} <span class=\"muted\">{}{}</span></td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td></tr>\n",
                escape(&row.name),
                escape(&row.kind),
                if row.blocking { "" } else { ", non-blocking" },
                badge(class, row.status.label()),
                row.score.map(|s| format!("{:.0}%", s * 100.0)).unwrap_or_else(|| "—".into()),
                row.passed,
                row.total,
                escape(&row.failed.join("; "))
            ));
        }
        body.push_str("</table>\n");
    }
    for e in &report.errors {
        body.push_str(&format!("<p>{} {}</p>", badge("error", "error"), escape(e)));
    }
    body.push_str("<h2>Checks</h2><label><input type=\"checkbox\" id=\"only-problems\"> only checks that did not pass</label>\n<table id=\"checks\"><tr><th>status</th><th>dataset</th><th>check</th><th>observed</th><th>threshold</th><th>details</th></tr>\n");
    let mut ordered: Vec<&CheckResult> = report.checks.iter().collect();
    ordered.sort_by_key(|c| match c.status {
        Status::Error => 0,
        Status::Fail => 1,
        Status::Warn => 2,
        Status::Insufficient => 3,
        Status::Pass => 4,
    });
    for c in ordered {
        body.push_str(&check_row(c));
    }
    body.push_str("</table>\n<h2>Datasets</h2><table><tr><th>dataset</th><th>location</th><th>files</th><th>rows in scope</th><th>scan</th></tr>\n");
    for d in &report.datasets {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&d.id),
            escape(&match &d.facts.delta {
                Some(v) => format!("{} (Delta version {})", d.facts.url, v.version),
                None => d.facts.url.clone(),
            }),
            d.facts.files,
            d.rows_in_scope
                .map(|n| n.to_string())
                .unwrap_or_else(|| "—".into()),
            d.scan_ms
                .map(|m| format!("{m} ms"))
                .unwrap_or_else(|| "—".into())
        ));
    }
    body.push_str("</table>\n");
    if !report.trends.is_empty() {
        body.push_str("<h2>Trends</h2>\n");
        for t in &report.trends {
            body.push_str(&trend_chart(t));
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>dq {} — {}</title><style>{STYLE}</style></head>\n<body>\n{body}<script>{SCRIPT}</script>\n</body></html>\n",
        escape(&report.command),
        verdict
    )
}
