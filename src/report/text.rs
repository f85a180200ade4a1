//! The terminal report: one aligned table per dataset, failing examples beneath the
//! checks that failed, and a summary line.

use super::{CheckResult, Report, RunOutcome, Status, observed_cell};

const NAME_WIDTH: usize = 46;
const OBSERVED_WIDTH: usize = 26;

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn status_label(s: Status, color: bool) -> String {
    let (label, code) = match s {
        Status::Pass => ("PASS ", "32"),
        Status::Warn => ("WARN ", "33"),
        Status::Fail => ("FAIL ", "1;31"),
        Status::Error => ("ERROR", "1;35"),
        Status::Insufficient => ("WAIT ", "36"),
    };
    paint(label, code, color)
}

fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        format!("{s}{}", " ".repeat(width - n))
    } else {
        let cut: String = s.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

pub fn human_bytes(b: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

fn line(c: &CheckResult, color: bool, out: &mut String) {
    out.push_str(&format!(
        "  {}  {}  {}  {}\n",
        status_label(c.status, color),
        fit(&c.name, NAME_WIDTH),
        fit(&observed_cell(c), OBSERVED_WIDTH),
        c.threshold
    ));
    if c.status != Status::Pass {
        if let Some(m) = &c.message {
            out.push_str(&format!("         {}\n", paint(m, "2", color)));
        }
        for row in c.sample_failures.iter().take(3) {
            let cells: Vec<String> = row
                .iter()
                .map(|(k, v)| format!("{k}={}", super::show_observed(v)))
                .collect();
            let text = cells.join(" ");
            out.push_str(&format!(
                "         {} {}\n",
                paint("e.g.", "2", color),
                fit(&text, 110).trim_end()
            ));
        }
    }
}

/// `56 checks: 48 passed, 3 warnings, 5 failed, 0 errors · 0.57 s`
fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let waiting = if s.insufficient > 0 {
        format!(", {} without enough history", s.insufficient)
    } else {
        String::new()
    };
    format!(
        "{} checks: {} passed, {} warning{}, {} failed, {} error{}{waiting} · {:.2} s",
        s.total,
        s.passed,
        s.warned,
        plural(s.warned),
        s.failed,
        s.errored,
        plural(s.errored),
        report.duration_ms as f64 / 1000.0
    )
}

/// `dq readiness`: the decision matrix, the reasons, the verdict.
fn render_readiness(report: &Report, r: &crate::report::verdict::Readiness, color: bool) -> String {
    use crate::report::verdict::{RowStatus, Verdict};
    let mut out = format!(
        "dq {} · env {} · lake {} · as of {}\n\n",
        report.command, report.environment, report.lake, report.as_of
    );
    out.push_str(&format!(
        "  {:<28} {:<8} {:>6}  {:>7}  {}\n",
        "PART", "STATUS", "SCORE", "CHECKS", "WHAT FAILED"
    ));
    for row in &r.matrix {
        let (label, code) = match row.status {
            RowStatus::Go => ("GO", "1;32"),
            RowStatus::NoGo => ("NO-GO", "1;31"),
            RowStatus::Warn => ("WARN", "33"),
            RowStatus::NotRun => ("NOT RUN", "2"),
        };
        let name = match row.kind.as_str() {
            "stream" => format!("stream {}", row.name),
            _ => row.name.clone(),
        };
        let name = if row.blocking {
            name
        } else {
            format!("{name} (info)")
        };
        let score = row
            .score
            .map(|s| format!("{:.0}%", s * 100.0))
            .unwrap_or_else(|| "—".into());
        let checks = if row.total > 0 {
            format!("{}/{}", row.passed, row.total)
        } else {
            "—".into()
        };
        let mut failed = row.failed.join(", ");
        if failed.chars().count() > 90 {
            failed = format!("{}…", failed.chars().take(89).collect::<String>());
        }
        out.push_str(&format!(
            "  {:<28} {} {:>6}  {:>7}  {}\n",
            fit(&name, 28),
            paint(&format!("{label:<8}"), code, color),
            score,
            checks,
            failed
        ));
    }
    out.push('\n');
    match r.verdict {
        Verdict::Go => out.push_str(&format!(
            "{} — every blocking check passed\n",
            paint("GO", "1;32", color)
        )),
        Verdict::NoGo => {
            out.push_str(&format!(
                "{} — {} reason{}:\n",
                paint("NO-GO", "1;31", color),
                r.reasons.len(),
                if r.reasons.len() == 1 { "" } else { "s" }
            ));
            for reason in &r.reasons {
                out.push_str(&format!("  • {reason}\n"));
            }
        }
    }
    out.push_str(&format!(
        "\n{} · exit {}\n",
        summary_line(report),
        report.exit_code
    ));
    out
}

pub fn render(report: &Report, color: bool) -> String {
    if let Some(r) = &report.readiness {
        return render_readiness(report, r, color);
    }
    let mut out = String::new();
    out.push_str(&format!(
        "dq {} · env {} · lake {} · as of {}\n",
        report.command, report.environment, report.lake, report.as_of
    ));
    for d in &report.datasets {
        out.push('\n');
        let mut facts = Vec::new();
        if let Some(n) = d.rows_in_scope {
            facts.push(format!("{n} rows in scope"));
        }
        if d.facts.files > 0 {
            facts.push(format!(
                "{} files, {}",
                d.facts.files,
                human_bytes(d.facts.bytes)
            ));
        }
        if let Some(v) = &d.facts.delta {
            let when = v
                .committed_at
                .map(|t| format!(", committed {}", t.format("%Y-%m-%dT%H:%M:%SZ")))
                .unwrap_or_default();
            let of = if v.snapshot_files != d.facts.files {
                format!(
                    " ({} of its {} files in scope)",
                    d.facts.files, v.snapshot_files
                )
            } else {
                String::new()
            };
            facts.push(format!("Delta version {}{when}{of}", v.version));
        }
        let skipped = d.facts.skipped_files();
        if skipped > 0 {
            let reasons: Vec<&str> = d.facts.skipped.keys().map(String::as_str).collect();
            facts.push(format!("{skipped} skipped: {}", reasons.join("; ")));
        }
        if let Some(ms) = d.scan_ms {
            facts.push(format!("scan {ms} ms"));
        }
        out.push_str(&format!(
            "{}  {}\n",
            paint(&d.id, "1", color),
            paint(&facts.join(" · "), "2", color)
        ));
        if let Some(e) = &d.error {
            out.push_str(&format!("  {}  {e}\n", status_label(Status::Error, color)));
        }
        for w in &d.facts.warnings {
            out.push_str(&format!("  {}  {w}\n", paint("note", "33", color)));
        }
        for c in report
            .checks
            .iter()
            .filter(|c| c.dataset.as_deref() == Some(d.id.as_str()))
        {
            line(c, color, &mut out);
        }
    }
    for st in &report.streams {
        out.push('\n');
        let mut facts = vec![format!("topic {}", st.topic)];
        if let Some(g) = &st.group {
            facts.push(format!(
                "group {g} ({})",
                st.group_state.as_deref().unwrap_or("unknown")
            ));
        }
        facts.push(format!("{:.0} s window", st.sample_seconds));
        let l = &st.latency;
        let ms = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "{}  {}\n",
            paint(&format!("stream {}", st.name), "1", color),
            paint(&facts.join(" · "), "2", color)
        ));
        if let Some(e) = &st.error {
            out.push_str(&format!("  {}  {e}\n", status_label(Status::Error, color)));
        } else if st.probe || l.count > 0 {
            out.push_str(&format!(
                "  latency ms  p50 {} · p95 {} · p99 {} · max {} · {} samples{}{}\n",
                ms(l.p50_ms),
                ms(l.p95_ms),
                ms(l.p99_ms),
                ms(l.max_ms),
                l.count,
                st.probes_sent
                    .map(|s| format!(" of {s} probes ({} lost)", st.probes_lost.unwrap_or(0)))
                    .unwrap_or_default(),
                st.timestamp_type
                    .as_deref()
                    .filter(|_| !st.probe)
                    .map(|t| format!(" · {t}"))
                    .unwrap_or_default()
            ));
        }
        if st.group.is_some() && st.error.is_none() {
            for p in &st.partitions {
                out.push_str(&format!(
                    "  partition {:<3} lag {:>8} msgs · {:>7} s · {:<7} committed {} · watermark {}\n",
                    p.partition,
                    p.offset_lag.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into()),
                    p.time_lag_ms.map(|v| format!("{:.1}", v / 1000.0)).unwrap_or_else(|| "—".into()),
                    p.verdict.map(|v| v.as_str()).unwrap_or("—"),
                    p.committed.map(|v| v.to_string()).unwrap_or_else(|| "none".into()),
                    p.high_watermark.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
                ));
            }
        }
        let key = format!("streams.{}", st.name);
        for c in report
            .checks
            .iter()
            .filter(|c| c.dataset.as_deref() == Some(key.as_str()))
        {
            line(c, color, &mut out);
        }
    }
    let recs: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| c.dataset.is_none())
        .collect();
    if !recs.is_empty() {
        out.push_str(&format!("\n{}\n", paint("reconciliations", "1", color)));
        for c in recs {
            line(c, color, &mut out);
        }
    }
    for e in &report.errors {
        out.push_str(&format!("\n{} {e}\n", status_label(Status::Error, color)));
    }
    for w in &report.warnings {
        out.push_str(&format!("\n{}  {w}\n", paint("note", "33", color)));
    }
    out.push_str(&format!("\n{}\n", summary_line(report)));
    let verdict = match report.outcome {
        RunOutcome::Pass => paint("PASS", "1;32", color),
        RunOutcome::Fail => paint("FAIL", "1;31", color),
        RunOutcome::Error => paint("ERROR", "1;35", color),
    };
    out.push_str(&format!("{verdict} (exit {})\n", report.exit_code));
    out
}
