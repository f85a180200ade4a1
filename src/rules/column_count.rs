//! The number of columns is within bounds (Great Expectations'
//! `expect_table_column_count_to_equal` / `…_to_be_between`).
//!
//! Parameters:
//! - `min`, `max` (at least one; inclusive), or `equals`.
//!
//! Columns are the dataset's schema as dq reads it: the Parquet footers' columns and the
//! partition columns. Judged on the schema alone: no scan.
//!
//! Example:
//! ```yaml
//! - column_count: { equals: 10 }
//! - column_count: { min: 5, max: 40 }
//! ```

use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, parse_as};

pub const KIND: RuleKind = RuleKind {
    name: "column_count",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("column_count.rs"),
    parse: parse_as::<ColumnCount>,
    schema: schema_of::<ColumnCount>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnCount {
    pub min: Option<usize>,
    pub max: Option<usize>,
    pub equals: Option<usize>,
}

impl Rule for ColumnCount {
    fn default_name(&self) -> String {
        "column_count".into()
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let (min, max) = match (self.equals, self.min, self.max) {
            (Some(n), None, None) => (Some(n), Some(n)),
            (Some(_), _, _) => {
                return Err("column_count takes `equals`, or `min` / `max`, not both".into());
            }
            (None, None, None) => return Err("column_count needs `equals`, `min` or `max`".into()),
            (None, lo, hi) => (lo, hi),
        };
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                return Err(format!("column_count min {lo} is above max {hi}"));
            }
        }
        let columns = cx.schema.fields().len();
        let passed = min.is_none_or(|m| columns >= m) && max.is_none_or(|m| columns <= m);
        let threshold = match (min, max) {
            (Some(lo), Some(hi)) if lo == hi => format!("{lo} columns"),
            (Some(lo), Some(hi)) => format!("{lo}–{hi} columns"),
            (Some(lo), None) => format!("≥ {lo} columns"),
            (None, Some(hi)) => format!("≤ {hi} columns"),
            (None, None) => unreachable!("a bound was required"),
        };
        Ok(Compiled::metadata(Box::new(move |_| Outcome {
            passed,
            observed: serde_json::json!(columns),
            threshold: threshold.clone(),
            failed_rows: None,
            rows_checked: None,
            message: (!passed).then(|| format!("{columns} columns")),
        })))
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn counts_the_columns() {
        // orders has 7 columns.
        assert!(check(orders(), "column_count: { equals: 7 }").passed);
        let o = check(orders(), "column_count: { max: 6 }");
        assert!(!o.passed);
        assert_eq!(o.observed, 7, "{o:?}");
        assert!(check(orders(), "column_count: { min: 7, max: 9 }").passed);
    }

    #[test]
    fn bounds_are_validated() {
        let e = compile_error(orders(), "column_count: {}");
        assert!(e.contains("needs"), "{e}");
        let e = compile_error(orders(), "column_count: { equals: 3, max: 4 }");
        assert!(e.contains("not both"), "{e}");
    }
}
