//! Judging a metric against its own past: the statistics behind `change` and `anomaly`.
//!
//! The baseline is built from earlier runs only (the current run is never in its own
//! window), of the same environment, and leaves out the runs in which this check was
//! flagged or failed, so an incident does not become the normal it is compared with.
//!
//! `anomaly` uses a robust z-score by default: the median and the median absolute deviation
//! (MAD) of the window, z = 0.6745·(x − median)/MAD. One bad night moves a mean and a
//! standard deviation a lot (the next night then looks normal), the median and MAD hardly;
//! and data-quality metrics are rarely normal (counts jump, fractions sit at 0). `stddev`
//! (mean and sample standard deviation) is there for series known to be normal. When the
//! window has no spread at all (MAD 0, e.g. a fraction that is always 0), the mean absolute
//! deviation stands in (scaled by 1.2533 to be comparable); when that is 0 too, any other
//! value is an anomaly.

use chrono::{DateTime, Datelike, Utc};

use super::Point;

/// A value of the metric in one earlier run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Past {
    pub as_of: DateTime<Utc>,
    pub value: f64,
}

/// The recorded points of `subject`/`metric` in runs of `environment` evaluated before
/// `as_of`, in no particular order.
pub fn earlier<'a>(
    points: &'a [Point],
    environment: &'a str,
    subject: &'a str,
    metric: &'a str,
    as_of: DateTime<Utc>,
) -> impl Iterator<Item = &'a Point> {
    points.iter().filter(move |p| {
        &*p.environment == environment
            && &*p.subject == subject
            && &*p.metric == metric
            && p.as_of < as_of
    })
}

/// The earlier values of `subject`/`metric` usable as a baseline for the check `check_id`,
/// oldest first: runs of `environment` evaluated before `as_of`, with a value, in which
/// the check `check_id` did not warn or fail. When a run recorded the metric twice (two
/// runs at the same instant), each counts.
pub fn baseline(
    points: &[Point],
    environment: &str,
    subject: &str,
    metric: &str,
    check_id: &str,
    as_of: DateTime<Utc>,
) -> Vec<Past> {
    let flagged: std::collections::HashSet<&str> = points
        .iter()
        .filter(|p| {
            &*p.subject == check_id
                && &*p.metric == "observed"
                && matches!(p.status.as_deref(), Some("fail" | "warn"))
        })
        .map(|p| &*p.run_id)
        .collect();
    let mut out: Vec<Past> = earlier(points, environment, subject, metric, as_of)
        .filter(|p| p.status.as_deref() != Some("error") && !flagged.contains(&*p.run_id))
        .filter_map(|p| {
            p.value.map(|value| Past {
                as_of: p.as_of,
                value,
            })
        })
        .collect();
    out.sort_by_key(|p| p.as_of);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Median and median absolute deviation.
    #[default]
    Mad,
    /// Mean and sample standard deviation.
    Stddev,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Both,
    /// Only rises are anomalies.
    Up,
    /// Only falls are anomalies.
    Down,
}

/// Where a value sits against a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub z: f64,
    pub center: f64,
    pub spread: f64,
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The z-score of `value` against `window` (not empty).
pub fn score(window: &[f64], value: f64, method: Method) -> Score {
    let z_of = |center: f64, spread: f64| {
        if spread > 0.0 {
            (value - center) / spread
        } else if value == center {
            0.0
        } else {
            f64::INFINITY.copysign(value - center)
        }
    };
    match method {
        Method::Mad => {
            let mut sorted = window.to_vec();
            sorted.sort_by(f64::total_cmp);
            let center = median(&sorted);
            let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - center).abs()).collect();
            deviations.sort_by(f64::total_cmp);
            let mad = median(&deviations);
            let spread = if mad > 0.0 {
                mad / 0.6745
            } else {
                1.2533 * deviations.iter().sum::<f64>() / deviations.len() as f64
            };
            Score {
                z: z_of(center, spread),
                center,
                spread,
            }
        }
        Method::Stddev => {
            let n = window.len() as f64;
            let center = window.iter().sum::<f64>() / n;
            let spread = if window.len() > 1 {
                (window.iter().map(|v| (v - center).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                0.0
            };
            Score {
                z: z_of(center, spread),
                center,
                spread,
            }
        }
    }
}

/// Whether a score is an anomaly for this direction and sensitivity.
pub fn flagged(score: &Score, sensitivity: f64, direction: Direction) -> bool {
    match direction {
        Direction::Both => score.z.abs() > sensitivity,
        Direction::Up => score.z > sensitivity,
        Direction::Down => score.z < -sensitivity,
    }
}

/// The training window: the last `size` values of `past`, on the same weekday as `as_of`
/// when `weekly`.
pub fn window(past: &[Past], size: usize, weekly: bool, as_of: DateTime<Utc>) -> Vec<f64> {
    let chosen: Vec<f64> = past
        .iter()
        .filter(|p| !weekly || p.as_of.weekday() == as_of.weekday())
        .map(|p| p.value)
        .collect();
    chosen[chosen.len().saturating_sub(size)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(
        run: &str,
        day: u32,
        subject: &str,
        metric: &str,
        value: f64,
        status: Option<&str>,
    ) -> Point {
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        Point {
            run_id: run.into(),
            as_of,
            started_at: as_of,
            environment: "prod".into(),
            command: "validate".into(),
            subject: subject.into(),
            metric: metric.into(),
            value: Some(value),
            status: status.map(Into::into),
        }
    }

    #[test]
    fn the_baseline_leaves_out_the_current_run_flagged_runs_and_other_environments() {
        let mut points = vec![];
        for (i, v) in [100.0, 101.0, 60.0, 99.0, 100.0].iter().enumerate() {
            let run = format!("r{i}");
            points.push(point(&run, i as u32 + 1, "s.o", "rows", *v, None));
            // Run 2 was flagged by the check itself.
            let status = if i == 2 { "fail" } else { "pass" };
            points.push(point(
                &run,
                i as u32 + 1,
                "s.o.anomaly(rows)",
                "observed",
                *v,
                Some(status),
            ));
        }
        let mut other = point("x", 3, "s.o", "rows", 5.0, None);
        other.environment = "dev".into();
        points.push(other);
        let at = points[8].as_of; // run 4 is the current one
        let past = baseline(&points, "prod", "s.o", "rows", "s.o.anomaly(rows)", at);
        let values: Vec<f64> = past.iter().map(|p| p.value).collect();
        assert_eq!(values, vec![100.0, 101.0, 99.0]);
    }

    #[test]
    fn robust_score_ignores_one_outlier_in_the_window() {
        let window = [100.0, 102.0, 98.0, 101.0, 99.0, 100.0, 400.0];
        let s = score(&window, 60.0, Method::Mad);
        assert_eq!(s.center, 100.0);
        assert!(flagged(&s, 3.5, Direction::Both), "{s:?}");
        assert!(!flagged(
            &score(&window, 103.0, Method::Mad),
            3.5,
            Direction::Both
        ));
        // The mean and standard deviation are dragged by the 400.
        let s = score(&window, 60.0, Method::Stddev);
        assert!(!flagged(&s, 3.5, Direction::Both), "{s:?}");
        assert!(!flagged(
            &score(&window, 60.0, Method::Mad),
            3.5,
            Direction::Up
        ));
    }

    #[test]
    fn a_window_without_spread_flags_any_other_value() {
        let s = score(&[0.0, 0.0, 0.0], 0.0, Method::Mad);
        assert_eq!(s.z, 0.0);
        let s = score(&[0.0, 0.0, 0.0], 0.001, Method::Mad);
        assert!(s.z.is_infinite() && flagged(&s, 3.5, Direction::Both));
        // MAD 0 with some spread: the mean absolute deviation stands in.
        let s = score(&[10.0, 10.0, 10.0, 10.0, 30.0], 12.0, Method::Mad);
        assert!(
            s.spread > 0.0 && !flagged(&s, 3.5, Direction::Both),
            "{s:?}"
        );
    }

    #[test]
    fn weekly_windows_compare_the_same_weekday() {
        let past: Vec<Past> = (1..=21)
            .map(|d| Past {
                as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, d)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    .and_utc(),
                value: d as f64,
            })
            .collect();
        let monday = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        assert_eq!(window(&past, 10, true, monday), vec![2.0, 9.0, 16.0]);
        assert_eq!(window(&past, 3, false, monday), vec![19.0, 20.0, 21.0]);
    }
}
