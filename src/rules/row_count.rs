//! Rows in scope are within `min` / `max`.
//!
//! Parameters:
//! - `min` (integer, optional): fewest rows allowed.
//! - `max` (integer, optional): most rows allowed.
//!
//! At least one bound is required. Counts rows after the dataset's `scope` and the
//! check's `where`. An empty dataset (no rows in scope) has a count of 0.
//!
//! Example:
//! ```yaml
//! - row_count: { min: 1, max: 5000000 }
//! ```

use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::lit;
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, as_u64, parse_as};

pub const KIND: RuleKind = RuleKind {
    name: "row_count",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("row_count.rs"),
    parse: parse_as::<RowCount>,
    schema: schema_of::<RowCount>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowCount {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

impl Rule for RowCount {
    fn default_name(&self) -> String {
        "row_count".into()
    }

    fn compile(&self, _cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.min.is_none() && self.max.is_none() {
            return Err("row_count needs `min` or `max`".into());
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            if lo > hi {
                return Err(format!("row_count min {lo} is greater than max {hi}"));
            }
        }
        let (min, max) = (self.min, self.max);
        Ok(Compiled {
            measures: vec![count(lit(1i64))],
            query: None,
            distinct_keys: None,
            failing_rows: None,
            judge: Box::new(move |o| {
                let n = as_u64(o.measures.first());
                Outcome {
                    passed: min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m),
                    observed: serde_json::json!(n),
                    threshold: bounds_text(min, max, "rows"),
                    failed_rows: None,
                    rows_checked: Some(n),
                    message: None,
                }
            }),
        })
    }
}

pub fn bounds_text<T: std::fmt::Display>(min: Option<T>, max: Option<T>, unit: &str) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("{lo}..{hi} {unit}"),
        (Some(lo), None) => format!("≥ {lo} {unit}"),
        (None, Some(hi)) => format!("≤ {hi} {unit}"),
        (None, None) => String::new(),
    }
    .trim()
    .to_string()
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, orders};

    #[test]
    fn counts_rows_in_scope() {
        let o = check(orders(), "row_count: { min: 1, max: 6 }");
        assert!(o.passed);
        assert_eq!(o.observed, serde_json::json!(6));
        let o = check(orders(), "row_count: { min: 7 }");
        assert!(!o.passed);
        let o = check(
            orders(),
            "row_count: { max: 2, where: \"status = 'shipped'\" }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn needs_a_bound() {
        let e = crate::rules::testing::compile_error(orders(), "row_count: {}");
        assert!(e.contains("needs `min` or `max`"), "{e}");
    }
}
