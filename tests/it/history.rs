//! Metric history through the real binary: each run records into a real history folder,
//! and `change` / `anomaly` checks judge generated series with known answers. The flagged
//! runs are compared with a plain Python implementation of the same statistic over the same
//! history files (`tests/history/reference.py`).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};

use crate::common::{Run, assert_valid_report, dq, repo};

/// A project with one dataset, `silver.events`, whose rows the test sets before each run.
fn project(checks: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("dq.yaml"),
        "default_env: t\nenvironments:\n  t: { lake: ./lake }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules/silver.yaml"),
        format!("layer: silver\ndatasets:\n  - name: events\n    checks:\n{checks}"),
    )
    .unwrap();
    dir
}

/// `rows` events, every `null_every`-th without an e-mail.
fn set_rows(dir: &Path, rows: i64, null_every: i64) {
    let ids: Vec<i64> = (0..rows).collect();
    let emails: Vec<Option<String>> = ids
        .iter()
        .map(|i| (i % null_every != 0).then(|| format!("u{i}@example.com")))
        .collect();
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("email", Arc::new(StringArray::from(emails)) as ArrayRef),
    ])
    .unwrap();
    dq::sample::write_parquet(&dir.join("lake/silver/events/part-0.parquet"), &[batch]).unwrap();
}

fn day(n: i64) -> String {
    // 2026-11-02 is a Monday.
    (chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap() + chrono::Duration::days(n))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string()
}

fn validate(dir: &Path, as_of: &str) -> (Run, serde_json::Value) {
    let run = dq(dir, &["validate", "--format", "json", "--as-of", as_of]);
    let report = run.json();
    assert_valid_report(&report);
    (run, report)
}

fn status<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"));
    &c["status"]
}

fn reference(
    dir: &Path,
    check: &str,
    window: usize,
    min_history: usize,
    weekly: bool,
) -> serde_json::Value {
    let out = std::process::Command::new(crate::common::python())
        .arg(repo().join("tests/history/reference.py"))
        .arg(dir.join(".dq/history"))
        .args(["silver.events", "rows", &format!("silver.events.{check}")])
        .args([
            window.to_string(),
            min_history.to_string(),
            "3.5".into(),
            weekly.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_drop_is_flagged_the_first_runs_wait_and_a_failed_run_is_never_the_baseline() {
    let dir = project(
        "      - anomaly: { metric: row_count, min_history: 5, window: 10 }\n      - change: { metric: row_count, max_drop: 0.2 }\n",
    );
    // Day 8 loses 40 % of its rows, day 12 a little; the rest is noise around 1000.
    let rows = [
        1000, 1012, 991, 1005, 998, 1003, 1009, 995, 600, 1001, 997, 1004, 930, 1002,
    ];
    let mut dq_verdicts = serde_json::Map::new();
    for (i, n) in rows.iter().enumerate() {
        set_rows(dir.path(), *n, 10);
        let (run, report) = validate(dir.path(), &day(i as i64));
        let anomaly = status(&report, "anomaly(row_count)")
            .as_str()
            .unwrap()
            .to_string();
        if i < 5 {
            // Too little history: neither pass nor fail, and the run does not fail for it.
            assert_eq!(anomaly, "insufficient_history", "run {i}");
            assert_eq!(
                run.code,
                if i == 0 { 0 } else { run.code },
                "{}",
                run.stdout
            );
        }
        if i == 0 {
            assert_eq!(status(&report, "change(row_count)"), "insufficient_history");
            assert_eq!(run.code, 0, "{}", run.stdout);
            assert_eq!(report["summary"]["insufficient"], 2);
        }
        let verdict = match anomaly.as_str() {
            "fail" => "flagged",
            "pass" => "normal",
            _ => "insufficient",
        };
        dq_verdicts.insert(day(i as i64), verdict.into());
        if i == 8 {
            assert_eq!(status(&report, "change(row_count)"), "fail", "a 40 % drop");
            assert_eq!(anomaly, "fail", "a 40 % drop is an anomaly");
        }
        if i == 9 {
            // Day 8 failed: day 9 is compared with day 7, not with the drop.
            assert_eq!(status(&report, "change(row_count)"), "pass");
            let c = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "change(row_count)")
                .unwrap();
            assert!(
                c["message"].as_str().unwrap().contains(&day(7)[..10]),
                "{c}"
            );
        }
    }
    let expected = reference(dir.path(), "anomaly(row_count)", 10, 5, false);
    assert_eq!(serde_json::Value::Object(dq_verdicts), expected);

    // `dq history` shows the series, as text and as JSON.
    let text = dq(
        dir.path(),
        &["history", "silver.events", "--metric", "rows"],
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("silver.events  rows  14 runs"),
        "{}",
        text.stdout
    );
    let json = dq(
        dir.path(),
        &[
            "history",
            "silver.events.anomaly(row_count)",
            "--format",
            "json",
        ],
    );
    let series: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let observed = series
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "observed")
        .unwrap();
    assert_eq!(observed["points"].as_array().unwrap().len(), 14);
    assert_eq!(observed["points"][8]["status"], "fail");
    assert_eq!(observed["points"][8]["value"], 600.0);
}

#[test]
fn weekly_seasonality_expects_the_quiet_mondays() {
    let checks = "      - anomaly: { name: plain, metric: row_count, min_history: 3, window: 30 }\n      - anomaly: { name: weekly, metric: row_count, min_history: 3, window: 30, seasonality: weekly }\n";
    let dir = project(checks);
    let mut last = serde_json::Value::Null;
    for i in 0..36 {
        // Mondays (i % 7 == 0) are always 30 % lower.
        let n = if i % 7 == 0 { 700 } else { 1000 + (i % 3) * 5 };
        set_rows(dir.path(), n, 10);
        let (_, report) = validate(dir.path(), &day(i));
        last = report;
    }
    // Day 35 is a Monday: normal for the weekly check, an anomaly without seasonality.
    assert_eq!(status(&last, "weekly"), "pass", "{last}");
    assert_eq!(status(&last, "plain"), "fail", "{last}");
    let weekly = reference(dir.path(), "weekly", 30, 3, true);
    assert_eq!(weekly[day(35)], "normal");
}

#[test]
fn a_slow_drift_is_caught_against_a_week_ago_not_against_yesterday() {
    let dir = project(
        "      - change: { name: daily, metric: not_null(email).failed_fraction, max_increase: 0.001 }\n      - change: { name: weekly, metric: not_null(email).failed_fraction, compare_to: { ago: 7d }, max_increase: 0.001 }\n      - not_null: { columns: [email], max_failed_fraction: 1 }\n",
    );
    // The NULL share creeps up by ~0.25 point a day.
    let mut report = serde_json::Value::Null;
    for i in 0..12 {
        set_rows(dir.path(), 4000, 100 - i * 2);
        report = validate(dir.path(), &day(i)).1;
        if i < 7 {
            assert_eq!(status(&report, "weekly"), "insufficient_history", "day {i}");
        }
    }
    assert_eq!(status(&report, "daily"), "pass", "{report}");
    assert_eq!(status(&report, "weekly"), "fail", "{report}");
}

#[test]
fn concurrent_runs_both_record_and_a_broken_file_is_a_warning() {
    let dir = project("      - row_count: { min: 1 }\n");
    set_rows(dir.path(), 10, 10);
    let spawn = || {
        let mut c = std::process::Command::new(crate::common::DQ);
        c.args(["validate", "-q", "--as-of", "2026-11-02"])
            .current_dir(dir.path());
        c.spawn().unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let history = dir.path().join(".dq/history");
    let files = || std::fs::read_dir(&history).unwrap().count();
    assert_eq!(files(), 2, "two runs at the same moment are both recorded");

    std::fs::write(
        history.join("20261101T000000Z_x_broken.parquet"),
        b"not parquet",
    )
    .unwrap();
    // A history check reads the history: the broken file is a warning that names it.
    std::fs::write(
        dir.path().join("rules/silver.yaml"),
        "layer: silver\ndatasets:\n  - name: events\n    checks:\n      - change: { metric: row_count, max_drop: 0.5 }\n",
    )
    .unwrap();
    let (run, report) = validate(dir.path(), "2026-11-04");
    assert_eq!(run.code, 0, "{}", run.stdout);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("20261101T000000Z_x_broken.parquet"),
        "{warnings}"
    );
    assert_eq!(status(&report, "change(row_count)"), "pass");
    assert_eq!(files(), 4, "the run recorded; nothing was lost");
    // The check is new: no earlier value of its own to show.
    assert!(report["checks"][0]["previous"].is_null());

    // --no-history records nothing.
    let run = dq(
        dir.path(),
        &["validate", "-q", "--no-history", "--as-of", "2026-11-05"],
    );
    assert_eq!(run.code, 0);
    assert_eq!(files(), 4);
}

#[test]
fn retention_deletes_runs_evaluated_too_long_before() {
    let dir = project("      - row_count: { min: 1 }\n");
    set_rows(dir.path(), 10, 10);
    std::fs::write(
        dir.path().join("dq.yaml"),
        "default_env: t\nenvironments:\n  t: { lake: ./lake, history: { retention: 2d } }\n",
    )
    .unwrap();
    for i in 0..5 {
        validate(dir.path(), &day(i));
    }
    let mut kept: Vec<String> = std::fs::read_dir(dir.path().join(".dq/history"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy()[..8].to_string())
        .collect();
    kept.sort();
    // Days 2, 3 and 4 are within two days of day 4.
    assert_eq!(kept, ["20261104", "20261105", "20261106"]);

    // A retention that is not a duration is a config error (exit 2), before any scan.
    std::fs::write(
        dir.path().join("dq.yaml"),
        "default_env: t\nenvironments:\n  t: { lake: ./lake, history: { retention: forever } }\n",
    )
    .unwrap();
    let run = dq(dir.path(), &["validate"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("history.retention `forever` is not a duration"),
        "{}",
        run.stderr
    );
}

#[test]
fn history_is_never_kept_inside_a_dataset() {
    let dir = project("      - row_count: { min: 1 }\n");
    set_rows(dir.path(), 10, 10);
    std::fs::write(
        dir.path().join("dq.yaml"),
        "default_env: t\nenvironments:\n  t: { lake: ./lake, history: { path: lake/silver/events/_history } }\n",
    )
    .unwrap();
    let (_, report) = validate(dir.path(), "2026-11-02");
    assert!(
        report["warnings"]
            .to_string()
            .contains("is inside dataset silver.events"),
        "{report}"
    );
    assert!(!dir.path().join("lake/silver/events/_history").exists());
}

#[test]
#[ignore = "needs the headless Chromium that `make test` installs"]
fn the_html_report_draws_the_trend_with_the_anomaly_marked() {
    let dir = project("      - anomaly: { metric: row_count, min_history: 3 }\n");
    for (i, n) in [1000, 1004, 998, 1002, 500].iter().enumerate() {
        set_rows(dir.path(), *n, 10);
        validate(dir.path(), &day(i as i64));
    }
    let page = dir.path().join("dq.html");
    let run = dq(
        dir.path(),
        &[
            "validate",
            "--format",
            "html",
            "--output",
            page.to_str().unwrap(),
            "--as-of",
            &day(4),
            "--no-history",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let chromium = std::env::var("DQ_TEST_CHROMIUM").expect("run through `make test`");
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=2000", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("id=\"trend-silver.events.anomaly(row_count)\""),
        "no trend chart"
    );
    // The four runs evaluated before this one (the first three without enough history)
    // and this run, which is the anomaly.
    assert_eq!(dom.matches("<circle class=\"point").count(), 5, "{dom}");
    assert_eq!(
        dom.matches("<circle class=\"point insufficient_history")
            .count(),
        3,
        "{dom}"
    );
    assert_eq!(dom.matches("anomaly\" cx=").count(), 1, "{dom}");
}

/// `events.status` with `shares` rows of each status.
fn set_statuses(dir: &Path, shares: &[(&str, usize)]) {
    let statuses: Vec<&str> = shares
        .iter()
        .flat_map(|(s, n)| std::iter::repeat_n(*s, *n))
        .collect();
    let ids: Vec<i64> = (0..statuses.len() as i64).collect();
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("status", Arc::new(StringArray::from(statuses)) as ArrayRef),
    ])
    .unwrap();
    dq::sample::write_parquet(&dir.join("lake/silver/events/part-0.parquet"), &[batch]).unwrap();
}

fn observed<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["observed"]
}

/// A categorical distribution against the counts the same check recorded in earlier runs:
/// the first run records and waits, the same shares pass, shifted shares fail with the PSI
/// of the formula, and the failed run is never the reference.
#[test]
fn a_distribution_against_earlier_runs_records_waits_and_judges() {
    let dir = project(
        "      - distribution: { name: status_drift, column: status, test: psi, reference: { previous_runs: 2 }, max_statistic: 0.05 }\n",
    );
    let usual = [("placed", 50), ("shipped", 30), ("cancelled", 20)];
    set_statuses(dir.path(), &usual);
    let (_, first) = validate(dir.path(), &day(0));
    assert_eq!(status(&first, "status_drift"), "insufficient_history");
    assert_eq!(observed(&first, "status_drift")["counts"]["placed"], 50);

    let (_, same) = validate(dir.path(), &day(1));
    assert_eq!(status(&same, "status_drift"), "pass", "{same}");
    assert_eq!(observed(&same, "status_drift")["statistic"], 0.0);
    // One earlier run so far: its 100 rows are the reference.
    assert_eq!(observed(&same, "status_drift")["reference_rows"], 100);

    set_statuses(
        dir.path(),
        &[("placed", 20), ("shipped", 30), ("cancelled", 50)],
    );
    let (run, shifted) = validate(dir.path(), &day(2));
    assert_eq!(run.code, 1);
    assert_eq!(status(&shifted, "status_drift"), "fail");
    // Σ (p − q) ln(p / q) with p = (.2, .3, .5), q = (.5, .3, .2): 0.3 ln 6.25.
    let psi = observed(&shifted, "status_drift")["statistic"]
        .as_f64()
        .unwrap();
    assert!((psi - 0.3 * 6.25f64.ln()).abs() < 1e-12, "{psi}");

    // Back to the usual shares: compared with the two runs before the failed one.
    set_statuses(dir.path(), &usual);
    let (_, back) = validate(dir.path(), &day(3));
    assert_eq!(status(&back, "status_drift"), "pass", "{back}");
    assert_eq!(observed(&back, "status_drift")["statistic"], 0.0);
    // The reference is the last two usable runs (days 0 and 1), 100 rows each.
    assert_eq!(observed(&back, "status_drift")["reference_rows"], 200);
}
