//! The newest data is at most `max_age` old at the evaluation instant.
//!
//! Parameters:
//! - `max_age` (duration: `90m`, `24h`, `7d`, …)
//! - `column` (optional; a timestamp or date column): judge the newest value of the
//!   column. Without it, judge the newest object's last-modified time in the dataset's
//!   listing (no scan at all).
//!
//! Age is measured at `--as-of` (or the environment's `as_of`, default now). Timestamps
//! without a time zone are read as UTC. No value at all (empty scope, or only NULLs) fails.
//! A newest value in the future counts as age 0.
//!
//! Example:
//! ```yaml
//! - freshness: { column: created_at, max_age: 24h }
//! - freshness: { max_age: 2h }    # newest file
//! ```

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn::max;
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, parse_as};
use crate::duration::{format_duration, parse_duration};

pub const KIND: RuleKind = RuleKind {
    name: "freshness",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("freshness.rs"),
    parse: parse_as::<Freshness>,
    schema: schema_of::<Freshness>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    pub column: Option<String>,
    pub max_age: String,
}

impl Rule for Freshness {
    fn default_name(&self) -> String {
        match &self.column {
            Some(c) => format!("freshness({c})"),
            None => "freshness(objects)".into(),
        }
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let max_age = parse_duration(&self.max_age).map_err(|e| format!("max_age: {e}"))?;
        let threshold = format!("age ≤ {}", format_duration(max_age));
        let Some(column) = &self.column else {
            return Ok(Compiled::metadata(Box::new(move |o| {
                judge(
                    o.facts.newest_object,
                    o.as_of,
                    max_age,
                    &threshold,
                    "object",
                )
            })));
        };
        let data_type = cx.data_type(column)?;
        if !data_type.is_temporal() {
            return Err(format!(
                "freshness needs a timestamp or date column; `{column}` is {data_type}"
            ));
        }
        let expr = max(cx.column(column)?);
        Ok(Compiled {
            measures: vec![expr],
            query: None,
            distinct_keys: None,
            failing_rows: None,
            judge: Box::new(move |o| {
                let newest = o.measures.first().and_then(to_instant);
                judge(newest, o.as_of, max_age, &threshold, "value")
            }),
        })
    }
}

fn judge(
    newest: Option<DateTime<Utc>>,
    as_of: DateTime<Utc>,
    max_age: std::time::Duration,
    threshold: &str,
    what: &str,
) -> Outcome {
    let Some(newest) = newest else {
        return Outcome::unjudged(
            threshold,
            format!("no {what} to judge: the dataset has no data in scope"),
        );
    };
    let age = (as_of - newest).to_std().unwrap_or_default();
    Outcome {
        passed: age <= max_age,
        observed: serde_json::json!(age.as_secs()),
        threshold: threshold.to_string(),
        failed_rows: None,
        rows_checked: None,
        message: Some(format!(
            "newest {what} {} is {} old",
            newest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            format_duration(age)
        )),
    }
}

/// A date or timestamp scalar as a UTC instant, exactly, at any date chrono can hold
/// (a cast to nanoseconds would lose everything after 2262-04-11, `9999-12-31` included).
pub fn to_instant(v: &ScalarValue) -> Option<DateTime<Utc>> {
    use ScalarValue as S;
    match v {
        S::TimestampNanosecond(Some(n), _) => Some(DateTime::from_timestamp_nanos(*n)),
        S::TimestampMicrosecond(Some(n), _) => DateTime::from_timestamp_micros(*n),
        S::TimestampMillisecond(Some(n), _) => DateTime::from_timestamp_millis(*n),
        S::TimestampSecond(Some(n), _) => DateTime::from_timestamp(*n, 0),
        S::Date32(Some(days)) => DateTime::from_timestamp(i64::from(*days) * 86_400, 0),
        S::Date64(Some(ms)) => DateTime::from_timestamp_millis(*ms),
        other if other.is_null() => None,
        other => match other
            .cast_to(&DataType::Timestamp(TimeUnit::Microsecond, None))
            .ok()?
        {
            S::TimestampMicrosecond(Some(n), _) => DateTime::from_timestamp_micros(n),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn newest_value_age() {
        // testing::AS_OF is 2026-11-07T00:00:00Z; newest created_at is 2026-11-06T05:00:00Z.
        let o = check(orders(), "freshness: { column: created_at, max_age: 24h }");
        assert!(o.passed, "{o:?}");
        assert_eq!(o.observed, serde_json::json!(19 * 3600));
        let o = check(orders(), "freshness: { column: created_at, max_age: 12h }");
        assert!(!o.passed);
    }

    #[test]
    fn nothing_in_scope_fails() {
        let o = check(
            orders(),
            "freshness: { column: created_at, max_age: 24h, where: \"status = 'nope'\" }",
        );
        assert!(!o.passed);
        assert!(o.message.unwrap().contains("no value"));
    }

    #[test]
    fn instants_past_2262_are_exact() {
        use datafusion::common::ScalarValue as S;
        let end = "9999-12-31T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let days = (end.timestamp() / 86_400) as i32;
        assert_eq!(super::to_instant(&S::Date32(Some(days))), Some(end));
        assert_eq!(
            super::to_instant(&S::TimestampMicrosecond(Some(end.timestamp_micros()), None)),
            Some(end)
        );
        assert_eq!(
            super::to_instant(&S::TimestampMillisecond(
                Some(end.timestamp_millis()),
                Some("UTC".into())
            )),
            Some(end)
        );
        assert_eq!(super::to_instant(&S::Date32(None)), None);
    }

    #[test]
    fn bad_duration_and_type() {
        let e = compile_error(orders(), "freshness: { column: created_at, max_age: 24x }");
        assert!(e.contains("unknown unit"), "{e}");
        let e = compile_error(orders(), "freshness: { column: status, max_age: 1h }");
        assert!(e.contains("timestamp or date"), "{e}");
    }
}
