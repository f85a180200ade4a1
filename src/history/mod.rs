//! Metric history: what every run measured, kept so that checks can compare a metric with
//! its own past (`change`, `anomaly`) and `dq history` can show a series.
//!
//! The store is a folder (local, or an object-store URL shared by several machines) of
//! Parquet files, one per run, that any engine can read. A run writes its file once, whole
//! (a local write goes to a temporary name and is renamed; an object-store PUT is atomic):
//! there is no read-modify-write, two runs started at the same moment write two files, and
//! a run that crashes leaves nothing half-written. A file that cannot be read is a warning
//! naming it; the run goes on and records.
//!
//! Each row is one metric of one subject in one run:
//!
//! | column | |
//! |---|---|
//! | `run_id` | unique per run |
//! | `as_of` | the run's evaluation instant (a backfill with `--as-of` records the past) |
//! | `started_at` | wall-clock start |
//! | `environment`, `command` | |
//! | `subject` | a dataset (`silver.orders`), a check (`silver.orders.not_null(email)`), or `stream:NAME` |
//! | `metric` | `rows`, `files`, `bytes`, `delta_version`; `observed`, `failed_rows`, `failed_fraction`; `count:CATEGORY` (a categorical `distribution`'s counts); `latency_p50_ms` … |
//! | `value` | the number (NULL when the run had none, e.g. a failed scan) |
//! | `status` | the check's status in that run (NULL for dataset and stream metrics) |

pub mod checks;
pub mod judge;
pub mod store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::report::Report;

/// One measurement of one run.
#[derive(Debug, Clone, PartialEq)]
/// Text fields are shared (`Arc<str>`): a year of history repeats the same few strings
/// hundreds of thousands of times.
pub struct Point {
    pub run_id: Arc<str>,
    pub as_of: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub environment: Arc<str>,
    pub command: Arc<str>,
    pub subject: Arc<str>,
    pub metric: Arc<str>,
    pub value: Option<f64>,
    pub status: Option<Arc<str>>,
}

pub fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("as_of", ts.clone(), false),
        Field::new("started_at", ts, false),
        Field::new("environment", DataType::Utf8, false),
        Field::new("command", DataType::Utf8, false),
        Field::new("subject", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("status", DataType::Utf8, true),
    ]))
}

/// The measurements of a finished run, ready to record.
pub fn points_of(report: &Report, run_id: &str) -> Vec<Point> {
    let as_of = DateTime::parse_from_rfc3339(&report.as_of)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let started_at = DateTime::parse_from_rfc3339(&report.started_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(as_of);
    let (run, environment, command): (Arc<str>, Arc<str>, Arc<str>) = (
        run_id.into(),
        report.environment.as_str().into(),
        report.command.as_str().into(),
    );
    let point = |subject: &str, metric: &str, value: Option<f64>, status: Option<&str>| Point {
        run_id: Arc::clone(&run),
        as_of,
        started_at,
        environment: Arc::clone(&environment),
        command: Arc::clone(&command),
        subject: subject.into(),
        metric: metric.into(),
        value,
        status: status.map(Into::into),
    };
    let mut out = Vec::new();
    for d in &report.datasets {
        if d.error.is_some() {
            continue;
        }
        out.push(point(
            &d.id,
            "rows",
            d.rows_in_scope.map(|n| n as f64),
            None,
        ));
        out.push(point(&d.id, "files", Some(d.facts.files as f64), None));
        out.push(point(&d.id, "bytes", Some(d.facts.bytes as f64), None));
        if let Some(v) = &d.facts.delta {
            out.push(point(&d.id, "delta_version", Some(v.version as f64), None));
        }
    }
    for c in &report.checks {
        let status = Some(c.status.as_str());
        out.push(point(&c.id, "observed", numeric(&c.observed), status));
        if let Some(n) = c.failed_rows {
            out.push(point(&c.id, "failed_rows", Some(n as f64), status));
        }
        if let Some(f) = c.failed_fraction {
            out.push(point(&c.id, "failed_fraction", Some(f), status));
        }
        // A categorical distribution's counts: what a later run's `previous_runs` compares with.
        if let Some(counts) = c.observed.get("counts").and_then(|v| v.as_object()) {
            for (category, n) in counts {
                let metric = format!("{}{category}", crate::rules::distribution::COUNT_METRIC);
                out.push(point(&c.id, &metric, n.as_f64(), status));
            }
        }
    }
    for s in &report.streams {
        let subject = format!("stream:{}", s.name);
        let status = Some(s.status.as_str());
        for (metric, value) in [
            ("latency_p50_ms", s.latency.p50_ms),
            ("latency_p95_ms", s.latency.p95_ms),
            ("latency_p99_ms", s.latency.p99_ms),
            ("latency_max_ms", s.latency.max_ms),
        ] {
            out.push(point(&subject, metric, value, status));
        }
        let lag: Option<i64> = s
            .partitions
            .iter()
            .filter_map(|p| p.offset_lag)
            .reduce(|a, b| a + b);
        out.push(point(&subject, "offset_lag", lag.map(|l| l as f64), status));
    }
    out
}

/// A check's observed value as a number: a number, or a freshness age in seconds.
fn numeric(observed: &serde_json::Value) -> Option<f64> {
    match observed {
        serde_json::Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

pub fn to_batch(points: &[Point]) -> Result<RecordBatch, String> {
    let strings = |f: &dyn Fn(&Point) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(points.iter().map(f)))
    };
    let times = |f: &dyn Fn(&Point) -> i64| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(points.iter().map(f)).with_timezone("UTC"),
        )
    };
    RecordBatch::try_new(
        schema(),
        vec![
            strings(&|p| &p.run_id),
            times(&|p| p.as_of.timestamp_micros()),
            times(&|p| p.started_at.timestamp_micros()),
            strings(&|p| &p.environment),
            strings(&|p| &p.command),
            strings(&|p| &p.subject),
            strings(&|p| &p.metric),
            Arc::new(Float64Array::from_iter(points.iter().map(|p| p.value))),
            Arc::new(StringArray::from_iter(
                points.iter().map(|p| p.status.as_deref()),
            )),
        ],
    )
    .map_err(|e| e.to_string())
}

pub fn from_batch(batch: &RecordBatch) -> Result<Vec<Point>, String> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| format!("no column `{name}`"))
    };
    // Each distinct string once, shared by every row that holds it.
    let mut interned: std::collections::HashMap<String, Arc<str>> = Default::default();
    let mut text = |name: &str| -> Result<Vec<Option<Arc<str>>>, String> {
        let c = datafusion::arrow::compute::cast(column(name)?, &DataType::Utf8)
            .map_err(|e| e.to_string())?;
        let c = c.as_string::<i32>();
        Ok((0..c.len())
            .map(|i| {
                c.is_valid(i).then(|| {
                    let v = c.value(i);
                    match interned.get(v) {
                        Some(a) => Arc::clone(a),
                        None => {
                            let a: Arc<str> = v.into();
                            interned.insert(v.to_string(), Arc::clone(&a));
                            a
                        }
                    }
                })
            })
            .collect())
    };
    let (run_id, environment, command) = (text("run_id")?, text("environment")?, text("command")?);
    let (subject, metric, status) = (text("subject")?, text("metric")?, text("status")?);
    let time = |name: &str| -> Result<Vec<Option<DateTime<Utc>>>, String> {
        let c = datafusion::arrow::compute::cast(
            column(name)?,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .map_err(|e| e.to_string())?;
        let c = c.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
        Ok((0..c.len())
            .map(|i| {
                c.is_valid(i)
                    .then(|| DateTime::from_timestamp_micros(c.value(i)))
                    .flatten()
            })
            .collect())
    };
    let (as_of, started_at) = (time("as_of")?, time("started_at")?);
    let value = {
        let c = datafusion::arrow::compute::cast(column("value")?, &DataType::Float64)
            .map_err(|e| e.to_string())?;
        let c = c
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .clone();
        (0..c.len())
            .map(|i| c.is_valid(i).then(|| c.value(i)))
            .collect::<Vec<_>>()
    };
    let empty: Arc<str> = "".into();
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let (Some(run_id), Some(as_of), Some(subject), Some(metric)) = (
            run_id[i].clone(),
            as_of[i],
            subject[i].clone(),
            metric[i].clone(),
        ) else {
            return Err(format!("row {i} lacks run_id, as_of, subject or metric"));
        };
        out.push(Point {
            run_id,
            as_of,
            started_at: started_at[i].unwrap_or(as_of),
            environment: environment[i].clone().unwrap_or_else(|| Arc::clone(&empty)),
            command: command[i].clone().unwrap_or_else(|| Arc::clone(&empty)),
            subject,
            metric,
            value: value[i].filter(|v| v.is_finite()),
            status: status[i].clone(),
        });
    }
    Ok(out)
}

/// One metric of one subject over runs, oldest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    pub subject: String,
    pub metric: String,
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SeriesPoint {
    pub as_of: String,
    pub value: Option<f64>,
    /// The check's status in that run (null for dataset metrics).
    pub status: Option<String>,
    pub run_id: String,
}

/// The series of `environment` whose subject starts with `subject` (all without one).
pub fn series(
    points: &[Point],
    environment: &str,
    subject: Option<&str>,
    metric: Option<&str>,
    last: usize,
) -> Vec<Series> {
    let mut by: std::collections::BTreeMap<(Arc<str>, Arc<str>), Vec<&Point>> = Default::default();
    for p in points.iter().filter(|p| {
        &*p.environment == environment
            && subject.is_none_or(|s| p.subject.starts_with(s))
            && metric.is_none_or(|m| &*p.metric == m)
    }) {
        by.entry((Arc::clone(&p.subject), Arc::clone(&p.metric)))
            .or_default()
            .push(p);
    }
    by.into_iter()
        .map(|((subject, metric), mut ps)| {
            ps.sort_by_key(|p| (p.as_of, p.started_at));
            let skip = ps.len().saturating_sub(last);
            Series {
                subject: subject.to_string(),
                metric: metric.to_string(),
                points: ps[skip..]
                    .iter()
                    .map(|p| SeriesPoint {
                        as_of: p.as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        value: p.value,
                        status: p.status.as_deref().map(str::to_string),
                        run_id: p.run_id.to_string(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A line of block characters, one per value (a gap for a missing one).
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let (lo, hi) = known
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(v) if hi > lo => BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize],
            Some(_) => BARS[3],
        })
        .collect()
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v:.4}"),
    }
}

/// The series as a compact terminal table: a sparkline and the latest points.
pub fn render_text(series: &[Series]) -> String {
    let mut out = String::new();
    for s in series {
        let values: Vec<Option<f64>> = s.points.iter().map(|p| p.value).collect();
        let known: Vec<f64> = values.iter().flatten().copied().collect();
        let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        out.push_str(&format!(
            "{}  {}  {} runs  {}  min {}  max {}\n",
            s.subject,
            s.metric,
            s.points.len(),
            sparkline(&values),
            number(lo.is_finite().then_some(lo)),
            number(hi.is_finite().then_some(hi)),
        ));
        for p in s.points.iter().rev().take(3).rev() {
            out.push_str(&format!(
                "    {}  {:>14}  {}\n",
                p.as_of,
                number(p.value),
                p.status.as_deref().unwrap_or("")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_survive_a_parquet_round_trip_and_series_are_ordered() {
        let at = |d: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, d)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
        };
        let point = |run: &str, d: u32, value: Option<f64>, status: Option<&str>| Point {
            run_id: run.into(),
            as_of: at(d),
            started_at: at(d),
            environment: "prod".into(),
            command: "validate".into(),
            subject: "silver.orders".into(),
            metric: "rows".into(),
            value,
            status: status.map(Into::into),
        };
        let points = vec![
            point("b", 2, Some(20.0), Some("fail")),
            point("a", 1, Some(10.0), None),
            point("c", 3, None, Some("error")),
        ];
        let back = from_batch(&to_batch(&points).unwrap()).unwrap();
        assert_eq!(back, points);
        let series = series(&back, "prod", Some("silver."), Some("rows"), 2);
        assert_eq!(series.len(), 1);
        let values: Vec<Option<f64>> = series[0].points.iter().map(|p| p.value).collect();
        assert_eq!(values, vec![Some(20.0), None], "the last two, oldest first");
        assert_eq!(sparkline(&[Some(1.0), None, Some(8.0)]), "▁ █");
    }
}
