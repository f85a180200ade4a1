//! Numeric or temporal values lie within `min` / `max`.
//!
//! Parameters:
//! - `column` (name of a numeric, date or timestamp column)
//! - `min`, `max` (at least one): numbers, or dates/timestamps written as strings
//! - `inclusive` (bool, default true): whether the bounds themselves are allowed.
//! - `min_inclusive`, `max_inclusive` (bool, default `inclusive`): the same for one bound,
//!   for mixed ranges such as (0, 1] (Great Expectations' `strict_min` / `strict_max`).
//!
//! NULL values are not checked. NaN is never inside a range: a NaN in a float column is a
//! failing row. A `min` above `max` (or equal to it with `inclusive: false`) admits no
//! value and is a rules error. Row-level: accepts `max_failed` / `max_failed_fraction`.
//!
//! Example:
//! ```yaml
//! - range: { column: amount, min: 0, max: 100000 }
//! - range: { column: created_at, min: "2020-01-01T00:00:00Z" }
//! - range: { column: discount, min: 0, max: 1, min_inclusive: false }
//! ```

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, or};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, Placement, Rule, RuleKind, literal_for, parse_as, show, value_level,
};

pub const KIND: RuleKind = RuleKind {
    name: "range",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("range.rs"),
    parse: parse_as::<Range>,
    schema: schema_of::<Range>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub column: String,
    pub min: Option<serde_json::Value>,
    pub max: Option<serde_json::Value>,
    #[serde(default = "yes")]
    pub inclusive: bool,
    pub min_inclusive: Option<bool>,
    pub max_inclusive: Option<bool>,
}

fn yes() -> bool {
    true
}

impl Rule for Range {
    fn default_name(&self) -> String {
        format!("range({})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.min.is_none() && self.max.is_none() {
            return Err("range needs `min` or `max`".into());
        }
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        let min_inclusive = self.min_inclusive.unwrap_or(self.inclusive);
        let max_inclusive = self.max_inclusive.unwrap_or(self.inclusive);
        if !(data_type.is_numeric() || data_type.is_temporal()) {
            return Err(format!(
                "range needs a numeric or temporal column; `{}` is {data_type} (use `length` for strings)",
                self.column
            ));
        }
        if let (Some(lo), Some(hi)) = (&self.min, &self.max) {
            let order = match (lo, hi) {
                (serde_json::Value::Number(a), serde_json::Value::Number(b)) => {
                    a.as_f64().partial_cmp(&b.as_f64())
                }
                _ => match (
                    crate::time::parse_instant(&show(lo)),
                    crate::time::parse_instant(&show(hi)),
                ) {
                    (Ok(a), Ok(b)) => Some(a.cmp(&b)),
                    _ => None,
                },
            };
            let empty = match order {
                Some(std::cmp::Ordering::Greater) => true,
                Some(std::cmp::Ordering::Equal) => !(min_inclusive && max_inclusive),
                _ => false,
            };
            if empty {
                return Err(format!(
                    "range min {} and max {} admit no value",
                    show(lo),
                    show(hi)
                ));
            }
        }
        let mut failing: Option<Expr> = None;
        if let Some(min) = &self.min {
            let bound = literal_for(min, &data_type, "min")?;
            let below = if min_inclusive {
                column.clone().lt(bound)
            } else {
                column.clone().lt_eq(bound)
            };
            failing = Some(below);
        }
        if let Some(max) = &self.max {
            let bound = literal_for(max, &data_type, "max")?;
            let above = if max_inclusive {
                column.clone().gt(bound)
            } else {
                column.clone().gt_eq(bound)
            };
            failing = Some(match failing {
                Some(f) => or(f, above),
                None => above,
            });
        }
        let mut failing = failing.expect("a bound was checked");
        if matches!(
            data_type,
            DataType::Float16 | DataType::Float32 | DataType::Float64
        ) {
            // NaN is never inside a range (whichever way a comparison orders it).
            failing = or(
                failing,
                datafusion::functions::math::expr_fn::isnan(column.clone()),
            );
        }
        let mut compiled = value_level(failing, column, cx.thresholds)?;
        let bounds = describe(
            self.min.as_ref(),
            self.max.as_ref(),
            min_inclusive,
            max_inclusive,
        );
        let judge = compiled.judge;
        compiled.judge = Box::new(move |o| {
            let mut outcome = judge(o);
            outcome.threshold = format!("{bounds}, {}", outcome.threshold);
            outcome
        });
        Ok(compiled)
    }
}

fn describe(
    min: Option<&serde_json::Value>,
    max: Option<&serde_json::Value>,
    min_inclusive: bool,
    max_inclusive: bool,
) -> String {
    let lo = if min_inclusive { "[" } else { "(" };
    let hi = if max_inclusive { "]" } else { ")" };
    format!(
        "{lo}{}, {}{hi}",
        min.map(show).unwrap_or_else(|| "-∞".into()),
        max.map(show).unwrap_or_else(|| "∞".into())
    )
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn numeric_bounds() {
        let o = check(orders(), "range: { column: amount, min: 0, max: 1000 }");
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        let o = check(
            orders(),
            "range: { column: amount, min: -1, max: 300, inclusive: true }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "range: { column: amount, min: -1, max: 300, inclusive: false }",
        );
        assert_eq!(o.failed_rows, Some(2));
    }

    #[test]
    fn each_bound_may_have_its_own_strictness() {
        // amounts: 10, 20.5, -1, 300, 50, NULL.
        let o = check(
            orders(),
            "range: { column: amount, min: -1, max: 300, min_inclusive: false }",
        );
        assert_eq!(o.failed_rows, Some(1), "only -1 fails: {o:?}");
        assert_eq!(o.samples[0]["amount"], -1.0, "{o:?}");
        let o = check(
            orders(),
            "range: { column: amount, min: -1, max: 300, inclusive: false, max_inclusive: true }",
        );
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        assert_eq!(o.samples[0]["amount"], -1.0, "{o:?}");
        let e = compile_error(
            orders(),
            "range: { column: amount, min: 1, max: 1, max_inclusive: false }",
        );
        assert!(e.contains("admit no value"), "{e}");
    }

    #[test]
    fn temporal_bounds() {
        let o = check(
            orders(),
            "range: { column: created_at, min: '2026-11-01', max: '2026-11-30' }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "range: { column: created_at, min: '2026-11-03T00:00:00Z' }",
        );
        assert_eq!(o.failed_rows, Some(2), "{o:?}");
    }

    #[test]
    fn wrong_types_are_rules_errors() {
        let e = compile_error(orders(), "range: { column: created_at, min: 'not a date' }");
        assert!(e.contains("cannot be read as"), "{e}");
        let e = compile_error(orders(), "range: { column: status, min: 1 }");
        assert!(e.contains("use `length` for strings"), "{e}");
    }
}
