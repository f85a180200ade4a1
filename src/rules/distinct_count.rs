//! The number, or the proportion, of distinct values of a column is within bounds (Great
//! Expectations' `expect_column_unique_value_count_to_be_between` and
//! `expect_column_proportion_of_unique_values_to_be_between`; Soda's `distinct_count`).
//!
//! Parameters:
//! - `column` (name)
//! - `min`, `max` (integers): bounds on the number of distinct non-NULL values;
//! - `min_fraction`, `max_fraction` (0–1): bounds on distinct values ÷ non-NULL values.
//!
//! At least one bound; every bound is inclusive. NULL is not a value. An empty column has
//! 0 distinct values and a proportion of 0. Counted exactly in the fused scan
//! (`count(DISTINCT column)`), which holds each distinct value once in memory.
//!
//! Example:
//! ```yaml
//! - distinct_count: { column: country, min: 2, max: 250 }
//! - distinct_count: { column: session_id, min_fraction: 0.99 }
//! ```

use datafusion::functions_aggregate::expr_fn::{count, count_distinct};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, as_u64, fraction, parse_as,
    trim_float,
};

pub const KIND: RuleKind = RuleKind {
    name: "distinct_count",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("distinct_count.rs"),
    parse: parse_as::<DistinctCount>,
    schema: schema_of::<DistinctCount>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistinctCount {
    pub column: String,
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub min_fraction: Option<f64>,
    pub max_fraction: Option<f64>,
}

impl DistinctCount {
    fn validate(&self) -> Result<(), String> {
        if self.min.is_none()
            && self.max.is_none()
            && self.min_fraction.is_none()
            && self.max_fraction.is_none()
        {
            return Err(
                "distinct_count needs `min`, `max`, `min_fraction` or `max_fraction`".into(),
            );
        }
        for (name, f) in [
            ("min_fraction", self.min_fraction),
            ("max_fraction", self.max_fraction),
        ] {
            if let Some(f) = f {
                if !(0.0..=1.0).contains(&f) {
                    return Err(format!("`{name}` must be between 0 and 1, not {f}"));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            if lo > hi {
                return Err(format!("distinct_count min {lo} is above max {hi}"));
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_fraction, self.max_fraction) {
            if lo > hi {
                return Err(format!(
                    "distinct_count min_fraction {lo} is above max_fraction {hi}"
                ));
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => parts.push(format!("{lo} ≤ distinct ≤ {hi}")),
            (Some(lo), None) => parts.push(format!("distinct ≥ {lo}")),
            (None, Some(hi)) => parts.push(format!("distinct ≤ {hi}")),
            (None, None) => {}
        }
        match (self.min_fraction, self.max_fraction) {
            (Some(lo), Some(hi)) => parts.push(format!(
                "{} ≤ distinct fraction ≤ {}",
                trim_float(lo, 6),
                trim_float(hi, 6)
            )),
            (Some(lo), None) => parts.push(format!("distinct fraction ≥ {}", trim_float(lo, 6))),
            (None, Some(hi)) => parts.push(format!("distinct fraction ≤ {}", trim_float(hi, 6))),
            (None, None) => {}
        }
        parts.join(", ")
    }
}

impl Rule for DistinctCount {
    fn default_name(&self) -> String {
        format!("distinct_count({})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        self.validate()?;
        let column = cx.column(&self.column)?;
        let rule = self.clone();
        let threshold = self.describe();
        let mut compiled = Compiled::metadata(Box::new(move |o| {
            let distinct = as_u64(o.measures.first());
            let values = as_u64(o.measures.get(1));
            let share = fraction(distinct, values);
            let passed = rule.min.is_none_or(|m| distinct >= m)
                && rule.max.is_none_or(|m| distinct <= m)
                && rule.min_fraction.is_none_or(|m| share >= m)
                && rule.max_fraction.is_none_or(|m| share <= m);
            Outcome {
                passed,
                observed: serde_json::json!({ "distinct": distinct, "fraction": share }),
                threshold: threshold.clone(),
                failed_rows: None,
                rows_checked: Some(values),
                message: (!passed).then(|| {
                    format!(
                        "{distinct} distinct values in {values} ({})",
                        super::percent(share)
                    )
                }),
            }
        }));
        compiled.measures = vec![count_distinct(column.clone()), count(column)];
        Ok(compiled)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn counts_distinct_non_null_values() {
        // customer_id: 10, 11, 12, 10, 99, NULL: 4 distinct of 5 values.
        let o = check(orders(), "distinct_count: { column: customer_id, max: 3 }");
        assert!(!o.passed);
        assert_eq!(o.observed["distinct"], 4, "{o:?}");
        assert_eq!(o.observed["fraction"], 0.8, "{o:?}");
        let o = check(
            orders(),
            "distinct_count: { column: customer_id, min: 4, max_fraction: 0.8 }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "distinct_count: { column: customer_id, min_fraction: 0.81 }",
        );
        assert!(!o.passed, "{o:?}");
    }

    #[test]
    fn bounds_are_validated() {
        let e = compile_error(orders(), "distinct_count: { column: status }");
        assert!(e.contains("needs"), "{e}");
        let e = compile_error(
            orders(),
            "distinct_count: { column: status, max_fraction: 2 }",
        );
        assert!(e.contains("between 0 and 1"), "{e}");
        let e = compile_error(
            orders(),
            "distinct_count: { column: status, min: 5, max: 2 }",
        );
        assert!(e.contains("above"), "{e}");
    }
}
