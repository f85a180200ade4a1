//! A statistic of a column lies within `min` / `max`.
//!
//! Parameters:
//! - `column` (name)
//! - `stat`: `min`, `max`, `mean`, `sum`, `stddev` (sample), `median`, `percentile`,
//!   `distinct_count`
//! - `percentile` (0..1, with `stat: percentile`): exact continuous percentile
//! - `min`, `max` (at least one): bounds for the statistic (inclusive)
//! - `approx` (bool, default false, `distinct_count` only): HyperLogLog estimate, labelled
//!   approximate in the report.
//!
//! Aggregates ignore NULLs, as in SQL. A statistic that is NULL (no non-NULL value in scope)
//! fails with a message. NaN poisons: a float column holding a NaN (of either sign) has NaN
//! for every statistic but `distinct_count`, and NaN is within no bounds, so the check
//! fails and the report shows `NaN`. An integer `sum` is exact (no 64-bit overflow). Bounds with `min`
//! above `max` are a rules error. Median and percentile of decimals are computed in double
//! precision (not truncated to the column's scale); dates and timestamps are compared as
//! exact instants at any date, `9999-12-31` included. Exact `distinct_count` runs as its own grouped pass (inside the fused
//! scan it would serialise the final merge); everything else is answered by the fused scan.
//!
//! Example:
//! ```yaml
//! - statistic: { column: amount, stat: mean, min: 20, max: 400 }
//! - statistic: { column: amount, stat: percentile, percentile: 0.99, max: 5000 }
//! - statistic: { column: customer_id, stat: distinct_count, min: 100 }
//! ```

use datafusion::arrow::datatypes::DataType;
use datafusion::functions_aggregate::expr_fn::{
    approx_distinct, avg, count, max, median, min, percentile_cont, stddev, sum,
};
use datafusion::logical_expr::{Expr, lit};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, as_f64, parse_as,
    row_count::bounds_text, show,
};

pub const KIND: RuleKind = RuleKind {
    name: "statistic",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("statistic.rs"),
    parse: parse_as::<Statistic>,
    schema: schema_of::<Statistic>,
};

pub const STATS: &[&str] = &[
    "min",
    "max",
    "mean",
    "sum",
    "stddev",
    "median",
    "percentile",
    "distinct_count",
];

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statistic {
    pub column: String,
    pub stat: String,
    pub percentile: Option<f64>,
    pub min: Option<serde_json::Value>,
    pub max: Option<serde_json::Value>,
    #[serde(default)]
    pub approx: bool,
}

impl Rule for Statistic {
    fn default_name(&self) -> String {
        match (self.stat.as_str(), self.percentile) {
            ("percentile", Some(p)) => {
                format!("p{}({})", super::trim_float(p * 100.0, 2), self.column)
            }
            (stat, _) => format!("{stat}({})", self.column),
        }
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if !STATS.contains(&self.stat.as_str()) {
            let hint = crate::error::closest(&self.stat, STATS.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown stat `{}`; {hint}stats: {}",
                self.stat,
                STATS.join(", ")
            ));
        }
        if self.min.is_none() && self.max.is_none() {
            return Err("statistic needs `min` or `max`".into());
        }
        if self.approx && self.stat != "distinct_count" {
            return Err("`approx` applies to `stat: distinct_count` only".into());
        }
        if self.percentile.is_some() != (self.stat == "percentile") {
            return Err(
                "`percentile` (0..1) goes with `stat: percentile`, and only with it".into(),
            );
        }
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        let numeric_only = !matches!(self.stat.as_str(), "min" | "max" | "distinct_count");
        if numeric_only && !data_type.is_numeric() {
            return Err(format!(
                "stat `{}` needs a numeric column; `{}` is {data_type}",
                self.stat, self.column
            ));
        }
        if matches!(self.stat.as_str(), "min" | "max")
            && !(data_type.is_numeric() || data_type.is_temporal())
        {
            return Err(format!(
                "stat `{}` needs a numeric, date or timestamp column; `{}` is {data_type}",
                self.stat, self.column
            ));
        }
        // Bounds of temporal min/max are compared as instants (exactly, at any date); all
        // else as numbers.
        let temporal = data_type.is_temporal() && matches!(self.stat.as_str(), "min" | "max");
        let bound = |v: &Option<serde_json::Value>, what: &str| -> Result<Option<Bound>, String> {
            match v {
                None => Ok(None),
                Some(value) if temporal => crate::time::parse_instant(&show(value))
                    .map(|t| Some(Bound::Instant(t)))
                    .map_err(|e| format!("{what}: {e}")),
                Some(serde_json::Value::Number(n)) => Ok(n.as_f64().map(Bound::Number)),
                Some(other) => Err(format!("{what} must be a number, not {other}")),
            }
        };
        let (lo, hi) = (bound(&self.min, "min")?, bound(&self.max, "max")?);
        if let (Some(l), Some(h)) = (&lo, &hi) {
            if l.above(h) {
                return Err(format!(
                    "statistic min {} is greater than max {}: no value could pass",
                    show(self.min.as_ref().expect("set")),
                    show(self.max.as_ref().expect("set"))
                ));
            }
        }
        // A decimal's median would keep the column's scale (1.6787 for [2.2345, 1.123]
        // where the mean says 1.67875): computed in double precision instead.
        let column = match self.stat.as_str() {
            "median" | "percentile" if data_type.is_decimal() => {
                datafusion::logical_expr::cast(column, DataType::Float64)
            }
            _ => column,
        };
        let fused = |expr: Expr| (vec![expr], None);
        let exact_mean = self.stat == "mean" && (data_type.is_integer() || data_type.is_decimal());
        let (measures, query) = match self.stat.as_str() {
            "min" => fused(min(column)),
            "max" => fused(max(column)),
            // The mean of integers and decimals is their exact sum (a 38-digit decimal)
            // over their count: a running f64 sum cancels catastrophically on 64-bit
            // extremes (a mean of 0.0 for 7.25 was seen).
            "mean" if exact_mean => (
                vec![
                    sum(datafusion::logical_expr::cast(
                        column.clone(),
                        match &data_type {
                            DataType::Decimal32(_, s)
                            | DataType::Decimal64(_, s)
                            | DataType::Decimal128(_, s)
                            | DataType::Decimal256(_, s) => DataType::Decimal128(38, *s),
                            _ => DataType::Decimal128(38, 0),
                        },
                    )),
                    count(column),
                ],
                None,
            ),
            "mean" => fused(avg(column)),
            // An integer sum is exact: summed as a 38-digit decimal (Int64 would wrap).
            "sum" if data_type.is_integer() => fused(sum(datafusion::logical_expr::cast(
                column,
                DataType::Decimal128(38, 0),
            ))),
            "sum" => fused(sum(column)),
            "stddev" => fused(stddev(column)),
            "median" => fused(median(column)),
            "percentile" => {
                let p = self.percentile.unwrap_or_default();
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("percentile must be within 0..1, not {p}"));
                }
                fused(percentile_cont(column.sort(true, false), lit(p)))
            }
            "distinct_count" if self.approx => fused(approx_distinct(column)),
            _ => {
                let err = |e: datafusion::error::DataFusionError| e.to_string();
                let plan = cx
                    .filtered()?
                    .aggregate(vec![column], Vec::<Expr>::new())
                    .map_err(err)?
                    .aggregate(
                        Vec::<Expr>::new(),
                        vec![count(lit(1i64)).alias("distinct_count")],
                    )
                    .map_err(err)?
                    .build()
                    .map_err(err)?;
                // NULL forms a group of its own in GROUP BY; subtract it below.
                (vec![], Some(plan))
            }
        };
        let null_group = query.is_some();
        let nullable_column = cx.column(&self.column)?;
        let float = matches!(
            data_type,
            DataType::Float16 | DataType::Float32 | DataType::Float64
        );
        let poisoned_by_nan = float && self.stat != "distinct_count";
        let measures = if null_group {
            // count of NULLs, to drop the NULL group from the distinct count.
            vec![super::count_if(nullable_column.is_null())?]
        } else if poisoned_by_nan {
            // NaN makes every statistic of the column NaN. Left to the kernels, the answer
            // would depend on NaN's sign bit (min/max order a negative NaN below every
            // number and a positive one above).
            let mut m = measures;
            m.push(super::count_if(
                datafusion::functions::math::expr_fn::isnan(nullable_column),
            )?);
            m
        } else {
            measures
        };
        let stat = self.stat.clone();
        let label = if self.approx { " (approximate)" } else { "" }.to_string();
        let threshold = bounds_text(self.min.as_ref().map(show), self.max.as_ref().map(show), "");
        Ok(Compiled {
            measures,
            query,
            distinct_keys: None,
            failing_rows: None,
            judge: Box::new(move |o| {
                let (value, shown) = if null_group {
                    let groups = as_f64(o.query.first()).unwrap_or(0.0);
                    let nulls = as_f64(o.measures.first()).unwrap_or(0.0);
                    let distinct = groups - if nulls > 0.0 { 1.0 } else { 0.0 };
                    (
                        Some(Bound::Number(distinct)),
                        serde_json::json!(distinct as u64),
                    )
                } else if temporal {
                    let t = o.measures.first().and_then(super::freshness::to_instant);
                    (
                        t.map(Bound::Instant),
                        t.map(|t| serde_json::json!(t.to_rfc3339()))
                            .unwrap_or_default(),
                    )
                } else {
                    let nans = super::as_u64(o.measures.get(1));
                    let v = if poisoned_by_nan && nans > 0 {
                        Some(f64::NAN)
                    } else if exact_mean {
                        match super::as_u64(o.measures.get(1)) {
                            0 => None,
                            n => as_f64(o.measures.first()).map(|total| total / n as f64),
                        }
                    } else {
                        as_f64(o.measures.first())
                    };
                    (
                        v.map(Bound::Number),
                        v.map(super::number_json).unwrap_or_default(),
                    )
                };
                let Some(value) = value else {
                    return Outcome {
                        passed: false,
                        observed: serde_json::Value::Null,
                        threshold: threshold.clone(),
                        failed_rows: None,
                        rows_checked: None,
                        message: Some(format!("{stat} is NULL: no non-NULL value in scope")),
                    };
                };
                Outcome {
                    // NaN is within no bounds: `above` and `below` are false for it, and so
                    // is `within`.
                    passed: value.within(lo.as_ref(), hi.as_ref()),
                    observed: shown,
                    threshold: threshold.clone(),
                    failed_rows: None,
                    rows_checked: None,
                    message: if label.is_empty() {
                        None
                    } else {
                        Some(format!("{stat}{label}"))
                    },
                }
            }),
        })
    }
}

/// A statistic or a bound: a number, or an instant for min/max of dates and timestamps.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    Number(f64),
    Instant(chrono::DateTime<chrono::Utc>),
}

impl Bound {
    fn above(&self, other: &Bound) -> bool {
        match (self, other) {
            (Bound::Number(a), Bound::Number(b)) => a > b,
            (Bound::Instant(a), Bound::Instant(b)) => a > b,
            _ => false,
        }
    }

    fn within(&self, lo: Option<&Bound>, hi: Option<&Bound>) -> bool {
        if let Bound::Number(v) = self {
            if v.is_nan() {
                return false;
            }
        }
        lo.is_none_or(|l| !l.above(self)) && hi.is_none_or(|h| !self.above(h))
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn numeric_stats() {
        // amounts: 10, 20.5, -1, 300, 50, NULL
        let o = check(
            orders(),
            "statistic: { column: amount, stat: mean, min: 75, max: 76 }",
        );
        assert!(o.passed, "{o:?}");
        assert_eq!(o.observed, serde_json::json!(75.9));
        let o = check(
            orders(),
            "statistic: { column: amount, stat: median, max: 20 }",
        );
        assert!(!o.passed, "{o:?}");
        let o = check(
            orders(),
            "statistic: { column: amount, stat: sum, min: 379.5, max: 379.5 }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "statistic: { column: amount, stat: percentile, percentile: 1.0, max: 300 }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn distinct_counts_exclude_null() {
        // customer ids: 10, 11, 12, 10, 99, NULL -> 4 distinct
        let o = check(
            orders(),
            "statistic: { column: customer_id, stat: distinct_count, min: 4, max: 4 }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "statistic: { column: customer_id, stat: distinct_count, approx: true, min: 4, max: 4 }",
        );
        assert!(o.passed, "{o:?}");
        assert!(o.message.unwrap().contains("approximate"));
    }

    #[test]
    fn impossible_bounds_and_string_min_are_rules_errors() {
        let e = compile_error(
            orders(),
            "statistic: { column: amount, stat: mean, min: 10, max: 5 }",
        );
        assert!(e.contains("greater than max"), "{e}");
        let e = compile_error(
            orders(),
            "statistic: { column: status, stat: min, min: 'a' }",
        );
        assert!(
            e.contains("needs a numeric, date or timestamp column"),
            "{e}"
        );
    }

    #[test]
    fn temporal_min_max() {
        let o = check(
            orders(),
            "statistic: { column: created_at, stat: max, max: '2026-11-07' }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn invalid_stats() {
        let e = compile_error(
            orders(),
            "statistic: { column: amount, stat: meen, min: 1 }",
        );
        assert!(e.contains("did you mean `mean`"), "{e}");
        let e = compile_error(
            orders(),
            "statistic: { column: status, stat: mean, min: 1 }",
        );
        assert!(e.contains("needs a numeric column"), "{e}");
    }
}
