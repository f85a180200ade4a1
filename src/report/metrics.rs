//! Prometheus text exposition of a run, for node_exporter's textfile collector.

use std::fmt::Write;

use super::{Report, Status};

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let env = label(&report.environment);
    family(
        &mut out,
        "dq_check_passed",
        "gauge",
        "1 when the check passed, 0 otherwise.",
    );
    for c in &report.checks {
        let _ = writeln!(
            out,
            "dq_check_passed{{env=\"{env}\",check=\"{}\",layer=\"{}\",dataset=\"{}\",kind=\"{}\",severity=\"{}\",status=\"{}\"}} {}",
            label(&c.id),
            label(&c.layer),
            label(c.dataset.as_deref().unwrap_or("")),
            label(&c.kind),
            c.severity.as_str(),
            c.status.as_str(),
            u8::from(c.status == Status::Pass)
        );
    }
    family(
        &mut out,
        "dq_check_failed_rows",
        "gauge",
        "Rows that failed a row-level check.",
    );
    for c in report.checks.iter().filter(|c| c.failed_rows.is_some()) {
        let _ = writeln!(
            out,
            "dq_check_failed_rows{{env=\"{env}\",check=\"{}\"}} {}",
            label(&c.id),
            c.failed_rows.unwrap_or(0)
        );
    }
    family(
        &mut out,
        "dq_check_observed_value",
        "gauge",
        "The numeric value a check observed (count, statistic, age in seconds).",
    );
    for c in &report.checks {
        if let Some(v) = c.observed.as_f64() {
            let _ = writeln!(
                out,
                "dq_check_observed_value{{env=\"{env}\",check=\"{}\"}} {v}",
                label(&c.id)
            );
        }
    }
    family(
        &mut out,
        "dq_checks",
        "gauge",
        "Checks by status in the last run.",
    );
    let s = &report.summary;
    for (status, n) in [
        ("pass", s.passed),
        ("warn", s.warned),
        ("fail", s.failed),
        ("error", s.errored),
    ] {
        let _ = writeln!(out, "dq_checks{{env=\"{env}\",status=\"{status}\"}} {n}");
    }
    family(
        &mut out,
        "dq_dataset_rows_in_scope",
        "gauge",
        "Rows in scope of each dataset.",
    );
    for d in report.datasets.iter().filter(|d| d.rows_in_scope.is_some()) {
        let _ = writeln!(
            out,
            "dq_dataset_rows_in_scope{{env=\"{env}\",dataset=\"{}\"}} {}",
            label(&d.id),
            d.rows_in_scope.unwrap_or(0)
        );
    }
    family(
        &mut out,
        "dq_dataset_scan_seconds",
        "gauge",
        "Wall time of each dataset's fused scan.",
    );
    for d in report.datasets.iter().filter(|d| d.scan_ms.is_some()) {
        let _ = writeln!(
            out,
            "dq_dataset_scan_seconds{{env=\"{env}\",dataset=\"{}\"}} {}",
            label(&d.id),
            d.scan_ms.unwrap_or(0) as f64 / 1000.0
        );
    }
    if let Some(r) = &report.readiness {
        family(
            &mut out,
            "dq_readiness_go",
            "gauge",
            "1 when the readiness verdict is GO.",
        );
        let _ = writeln!(
            out,
            "dq_readiness_go{{env=\"{env}\"}} {}",
            u8::from(r.verdict == crate::report::verdict::Verdict::Go)
        );
        family(
            &mut out,
            "dq_readiness_score",
            "gauge",
            "Severity-weighted share of checks passed per matrix row.",
        );
        for row in r.matrix.iter().filter(|row| row.score.is_some()) {
            let _ = writeln!(
                out,
                "dq_readiness_score{{env=\"{env}\",kind=\"{}\",name=\"{}\"}} {}",
                label(&row.kind),
                label(&row.name),
                row.score.unwrap_or(0.0)
            );
        }
    }
    family(
        &mut out,
        "dq_run_success",
        "gauge",
        "1 when the run passed (exit code 0).",
    );
    let _ = writeln!(
        out,
        "dq_run_success{{env=\"{env}\"}} {}",
        u8::from(report.exit_code == 0)
    );
    family(
        &mut out,
        "dq_run_exit_code",
        "gauge",
        "The process exit code of the run.",
    );
    let _ = writeln!(
        out,
        "dq_run_exit_code{{env=\"{env}\"}} {}",
        report.exit_code
    );
    family(
        &mut out,
        "dq_run_duration_seconds",
        "gauge",
        "Wall time of the run.",
    );
    let _ = writeln!(
        out,
        "dq_run_duration_seconds{{env=\"{env}\"}} {}",
        report.duration_ms as f64 / 1000.0
    );
    family(
        &mut out,
        "dq_run_timestamp_seconds",
        "gauge",
        "When the run started, as a Unix time.",
    );
    let started = chrono::DateTime::parse_from_rfc3339(&report.started_at)
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let _ = writeln!(out, "dq_run_timestamp_seconds{{env=\"{env}\"}} {started}");
    out
}
