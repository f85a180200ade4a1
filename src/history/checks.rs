//! Judging a run's `change` and `anomaly` checks, once its other checks are done, against
//! the recorded history.

use chrono::{DateTime, Utc};

use super::Point;
use super::judge::{self, Past};
use crate::config::rules::RuleSet;
use crate::report::{CheckResult, Report, Status};
use crate::rules::anomaly::{Anomaly, Seasonality};
use crate::rules::change::{Change, CompareTo};
use crate::rules::{HistoryMetric, HistoryRule, history_metric};

/// Whether the rules hold a check judged against history.
pub fn any(rules: &RuleSet) -> bool {
    rules
        .datasets
        .iter()
        .any(|d| d.checks.iter().any(|c| c.rule.uses_history()))
        || rules.streams.iter().any(|s| {
            s.checks
                .iter()
                .any(|c| matches!(c, crate::config::streams::StreamCheck::History(_)))
        })
}

/// A stream's history check behind a result (`streams.NAME.change`), and the stream's name.
fn stream_rule<'a>(rules: &'a RuleSet, c: &CheckResult) -> Option<(&'a str, HistoryRule)> {
    let name = c.dataset.as_deref()?.strip_prefix("streams.")?;
    let spec = rules.streams.iter().find(|s| s.name == name)?;
    spec.checks
        .iter()
        .enumerate()
        .find_map(|(i, check)| match check {
            crate::config::streams::StreamCheck::History(rule)
                if crate::streams::check_name(spec, i) == c.name =>
            {
                Some((spec.name.as_str(), rule.clone()))
            }
            _ => None,
        })
}

/// A stream figure in this run.
fn stream_value(report: &Report, stream: &str, metric: &str) -> Result<f64, String> {
    let s = report
        .streams
        .iter()
        .find(|s| s.name == stream)
        .ok_or_else(|| format!("stream {stream} did not run"))?;
    let v = match metric {
        "latency_p50_ms" => s.latency.p50_ms,
        "latency_p95_ms" => s.latency.p95_ms,
        "latency_p99_ms" => s.latency.p99_ms,
        "latency_max_ms" => s.latency.max_ms,
        _ => s
            .partitions
            .iter()
            .filter_map(|p| p.offset_lag)
            .reduce(|a, b| a + b)
            .map(|l| l as f64),
    };
    v.ok_or_else(|| format!("stream {stream} has no {metric} in this run"))
}

/// What a history check watches: its rule, the recorded subject and metric, and the
/// metric's value in this run. None for other checks.
struct Watched {
    rule: HistoryRule,
    subject: String,
    metric: String,
    value: Result<f64, String>,
}

fn watched(report: &Report, rules: &RuleSet, c: &CheckResult) -> Option<Watched> {
    if let Some((stream, rule)) = stream_rule(rules, c) {
        let metric = match &rule {
            HistoryRule::Change(r) => r.metric.clone(),
            HistoryRule::Anomaly(r) => r.metric.clone(),
        };
        return Some(Watched {
            value: stream_value(report, stream, &metric),
            subject: format!("stream:{stream}"),
            metric,
            rule,
        });
    }
    let dataset = c.dataset.as_deref()?;
    let rule = rules
        .dataset(dataset)
        .and_then(|d| d.checks.iter().find(|s| s.name == c.name))
        .and_then(|s| s.rule.history())?;
    let target = history_metric(match &rule {
        HistoryRule::Change(r) => &r.metric,
        HistoryRule::Anomaly(r) => &r.metric,
    })
    .ok()?;
    let (subject, figure) = match &target {
        HistoryMetric::Dataset(figure) => (dataset.to_string(), *figure),
        HistoryMetric::Check { name, figure } => (format!("{dataset}.{name}"), *figure),
    };
    Some(Watched {
        value: current_value(report, dataset, &target),
        subject,
        metric: figure.to_string(),
        rule,
    })
}

/// Judges every history check of `report` against `points` (earlier runs).
pub fn judge_all(report: &mut Report, rules: &RuleSet, points: &[Point]) {
    let as_of = DateTime::parse_from_rfc3339(&report.as_of)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    // What each history check watches, read from the run before any result changes.
    let watched: Vec<Option<Watched>> = report
        .checks
        .iter()
        .map(|c| {
            (c.status != Status::Error)
                .then(|| watched(report, rules, c))
                .flatten()
        })
        .collect();
    let mut trends = Vec::new();
    for (c, w) in report.checks.iter_mut().zip(watched) {
        let Some(w) = w else { continue };
        let value = match w.value {
            Ok(v) => v,
            Err(e) => {
                set(c, Status::Error, serde_json::Value::Null, String::new(), e);
                continue;
            }
        };
        let past = judge::baseline(
            points,
            &report.environment,
            &w.subject,
            &w.metric,
            &c.id,
            as_of,
        );
        match &w.rule {
            HistoryRule::Change(r) => change(c, r, value, &past, as_of),
            HistoryRule::Anomaly(r) => anomaly(c, r, value, &past, as_of),
        }
        trends.push(trend(
            points,
            &report.environment,
            &w.subject,
            &w.metric,
            c,
            value,
            as_of,
        ));
    }
    report.trends = trends;
    // Checks that compare themselves with their own earlier runs (a distribution against
    // the category counts it recorded before).
    for c in report.checks.iter_mut() {
        let Some(spec) = c.dataset.as_deref().and_then(|d| {
            rules
                .dataset(d)
                .and_then(|d| d.checks.iter().find(|s| s.name == c.name))
        }) else {
            continue;
        };
        if !spec.rule.uses_history() || spec.rule.history().is_some() {
            continue;
        }
        let earlier: Vec<&Point> = points
            .iter()
            .filter(|p| {
                *p.environment == *report.environment && *p.subject == *c.id && p.as_of < as_of
            })
            .collect();
        spec.rule.judge_with_history(c, &earlier);
    }
    report.finish();
}

/// Gives every check with a number its value in the previous recorded run of this
/// environment (evaluated before this one), and the change since.
pub fn attach_previous(report: &mut Report, points: &[Point]) {
    let as_of = DateTime::parse_from_rfc3339(&report.as_of)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let mut latest: std::collections::HashMap<&str, (DateTime<Utc>, f64)> = Default::default();
    for p in points.iter().filter(|p| {
        *p.environment == *report.environment && &*p.metric == "observed" && p.as_of < as_of
    }) {
        let Some(v) = p.value else { continue };
        let entry = latest.entry(&*p.subject).or_insert((p.as_of, v));
        if p.as_of >= entry.0 {
            *entry = (p.as_of, v);
        }
    }
    for c in report.checks.iter_mut() {
        if let Some((at, value)) = latest.get(c.id.as_str()) {
            c.previous = Some(crate::report::Previous {
                as_of: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                value: *value,
                change: c.observed.as_f64().map(|now| now - value),
            });
        }
    }
}

/// The last 30 recorded values of the metric a history check watches, each with the check's
/// status in that run, and this run's value last.
fn trend(
    points: &[Point],
    environment: &str,
    subject: &str,
    metric: &str,
    c: &CheckResult,
    value: f64,
    as_of: DateTime<Utc>,
) -> crate::report::Trend {
    let status_in: std::collections::HashMap<&str, &str> = points
        .iter()
        .filter(|p| *p.subject == *c.id && &*p.metric == "observed")
        .filter_map(|p| p.status.as_deref().map(|s| (&*p.run_id, s)))
        .collect();
    let mut past: Vec<&Point> =
        judge::earlier(points, environment, subject, metric, as_of).collect();
    past.sort_by_key(|p| (p.as_of, p.started_at));
    let skip = past.len().saturating_sub(30);
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out: Vec<crate::report::TrendPoint> = past[skip..]
        .iter()
        .map(|p| crate::report::TrendPoint {
            as_of: stamp(p.as_of),
            value: p.value,
            status: status_in.get(&*p.run_id).map(|s| s.to_string()),
        })
        .collect();
    out.push(crate::report::TrendPoint {
        as_of: stamp(as_of),
        value: Some(value),
        status: Some(c.status.as_str().to_string()),
    });
    crate::report::Trend {
        check: c.id.clone(),
        subject: subject.to_string(),
        metric: metric.to_string(),
        points: out,
    }
}

/// The metric's value in this run.
fn current_value(report: &Report, dataset: &str, target: &HistoryMetric) -> Result<f64, String> {
    match target {
        HistoryMetric::Dataset(figure) => {
            let d = report
                .datasets
                .iter()
                .find(|d| d.id == dataset)
                .ok_or_else(|| format!("dataset {dataset} did not run"))?;
            match *figure {
                "rows" => d
                    .rows_in_scope
                    .map(|n| n as f64)
                    .ok_or_else(|| format!("no row count for {dataset} in this run")),
                "files" => Ok(d.facts.files as f64),
                _ => Ok(d.facts.bytes as f64),
            }
        }
        HistoryMetric::Check { name, figure } => {
            let c = report
                .checks
                .iter()
                .find(|c| c.dataset.as_deref() == Some(dataset) && &c.name == name)
                .ok_or_else(|| format!("dataset {dataset} has no check named `{name}`"))?;
            let v = match *figure {
                "failed_rows" => c.failed_rows.map(|n| n as f64),
                "failed_fraction" => c.failed_fraction,
                _ => c.observed.as_f64(),
            };
            v.ok_or_else(|| format!("check `{name}` has no numeric {figure} in this run"))
        }
    }
}

fn set(
    c: &mut CheckResult,
    status: Status,
    observed: serde_json::Value,
    threshold: String,
    message: String,
) {
    c.status = status;
    c.observed = observed;
    c.threshold = threshold;
    c.message = Some(message);
}

fn failing(c: &CheckResult) -> Status {
    match c.severity {
        crate::config::rules::Severity::Error => Status::Fail,
        crate::config::rules::Severity::Warn => Status::Warn,
    }
}

fn shown(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.6}")
    }
}

fn change(c: &mut CheckResult, r: &Change, value: f64, past: &[Past], as_of: DateTime<Utc>) {
    let base = match &r.compare_to {
        CompareTo::Previous | CompareTo::Named(_) => past.last(),
        CompareTo::RunsAgo { runs_ago } => past.len().checked_sub(*runs_ago).map(|i| &past[i]),
        CompareTo::Ago { ago } => {
            let back = crate::duration::parse_duration(ago)
                .ok()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .unwrap_or_default();
            past.iter().rev().find(|p| p.as_of <= as_of - back)
        }
    };
    let Some(base) = base else {
        let need = match &r.compare_to {
            CompareTo::RunsAgo { runs_ago } => format!("{runs_ago} earlier runs"),
            CompareTo::Ago { ago } => format!("a run at least {ago} earlier"),
            _ => "one earlier run".into(),
        };
        set(
            c,
            Status::Insufficient,
            serde_json::json!(value),
            String::new(),
            format!(
                "insufficient history: needs {need} to compare with ({} usable)",
                past.len()
            ),
        );
        return;
    };
    let delta = value - base.value;
    let relative = if base.value != 0.0 {
        delta / base.value.abs()
    } else if delta == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(delta)
    };
    let mut problems = Vec::new();
    let mut bounds = Vec::new();
    if let Some(m) = r.max_drop {
        bounds.push(format!("drop ≤ {:.1}%", m * 100.0));
        if -relative > m {
            problems.push(format!("fell {:.1}%", -relative * 100.0));
        }
    }
    if let Some(m) = r.max_growth {
        bounds.push(format!("growth ≤ {:.1}%", m * 100.0));
        if relative > m {
            problems.push(format!("grew {:.1}%", relative * 100.0));
        }
    }
    if let Some(m) = r.max_decrease {
        bounds.push(format!("decrease ≤ {}", shown(m)));
        if -delta > m {
            problems.push(format!("decreased by {}", shown(-delta)));
        }
    }
    if let Some(m) = r.max_increase {
        bounds.push(format!("increase ≤ {}", shown(m)));
        if delta > m {
            problems.push(format!("increased by {}", shown(delta)));
        }
    }
    let since = format!(
        "{} → {} since the run as of {}",
        shown(base.value),
        shown(value),
        base.as_of.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let status = if problems.is_empty() {
        Status::Pass
    } else {
        failing(c)
    };
    let message = if problems.is_empty() {
        since
    } else {
        format!("{}: {since}", problems.join(", "))
    };
    set(
        c,
        status,
        serde_json::json!(value),
        bounds.join(", "),
        message,
    );
}

fn anomaly(c: &mut CheckResult, r: &Anomaly, value: f64, past: &[Past], as_of: DateTime<Utc>) {
    let weekly = r.seasonality == Seasonality::Weekly;
    let window = judge::window(past, r.window, weekly, as_of);
    let threshold = format!(
        "|z| ≤ {} ({}, {} runs{})",
        r.sensitivity,
        match r.method {
            judge::Method::Mad => "median/MAD",
            judge::Method::Stddev => "mean/stddev",
        },
        r.window,
        if weekly { ", same weekday" } else { "" }
    );
    if window.len() < r.min_history {
        set(
            c,
            Status::Insufficient,
            serde_json::json!(value),
            threshold,
            format!(
                "insufficient history: {} of {} runs",
                window.len(),
                r.min_history
            ),
        );
        return;
    }
    let s = judge::score(&window, value, r.method);
    let flagged = judge::flagged(&s, r.sensitivity, r.direction);
    let message = format!(
        "{} against a baseline of {} (spread {}) over {} runs: z = {}",
        shown(value),
        shown(s.center),
        shown(s.spread),
        window.len(),
        if s.z.is_finite() {
            format!("{:.2}", s.z)
        } else {
            "∞".into()
        }
    );
    set(
        c,
        if flagged { failing(c) } else { Status::Pass },
        serde_json::json!(value),
        threshold,
        if flagged {
            format!("anomaly: {message}")
        } else {
            message
        },
    );
}
