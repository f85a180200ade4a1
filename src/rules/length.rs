//! String length (in characters) lies within `min` / `max`.
//!
//! Parameters:
//! - `column` (name of a string column)
//! - `min`, `max` (integers, at least one; inclusive)
//!
//! NULL values are not checked. Row-level: accepts `max_failed` / `max_failed_fraction`.
//!
//! Example:
//! ```yaml
//! - length: { column: country, min: 2, max: 2 }
//! ```

use datafusion::arrow::datatypes::DataType;
use datafusion::functions::unicode::expr_fn::character_length;
use datafusion::logical_expr::{Expr, lit, or};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as, value_level};

pub const KIND: RuleKind = RuleKind {
    name: "length",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("length.rs"),
    parse: parse_as::<Length>,
    schema: schema_of::<Length>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Length {
    pub column: String,
    pub min: Option<u64>,
    pub max: Option<u64>,
}

impl Rule for Length {
    fn default_name(&self) -> String {
        format!("length({})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.min.is_none() && self.max.is_none() {
            return Err("length needs `min` or `max`".into());
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            if lo > hi {
                return Err(format!("length min {lo} is greater than max {hi}"));
            }
        }
        let data_type = cx.data_type(&self.column)?;
        if !matches!(
            data_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return Err(format!(
                "length needs a string column; `{}` is {data_type}",
                self.column
            ));
        }
        let len = character_length(cx.column(&self.column)?);
        let mut failing: Option<Expr> = None;
        if let Some(min) = self.min {
            failing = Some(len.clone().lt(lit(min as i64)));
        }
        if let Some(max) = self.max {
            let above = len.gt(lit(max as i64));
            failing = Some(match failing {
                Some(f) => or(f, above),
                None => above,
            });
        }
        let mut compiled = value_level(
            failing.expect("a bound was checked"),
            cx.column(&self.column)?,
            cx.thresholds,
        )?;
        let bounds = super::row_count::bounds_text(self.min, self.max, "chars");
        let judge = compiled.judge;
        compiled.judge = Box::new(move |o| {
            let mut outcome = judge(o);
            outcome.threshold = format!("{bounds}, {}", outcome.threshold);
            outcome
        });
        Ok(compiled)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, orders};

    #[test]
    fn string_lengths() {
        let o = check(orders(), "length: { column: status, min: 6, max: 9 }");
        assert_eq!(o.failed_rows, Some(1), "{o:?}"); // "bogus"
        let o = check(orders(), "length: { column: status, max: 9 }");
        assert!(o.passed);
    }
}
