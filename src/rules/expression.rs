//! A SQL boolean row condition holds for every row in scope.
//!
//! Parameters:
//! - `condition` (SQL boolean expression over the dataset's columns)
//!
//! A row fails when the condition is false **or NULL**: "holds" means known to be true, so
//! a condition over a missing value does not silently pass. Write
//! `coalesce(cond, true)` to let NULLs pass. Row-level: accepts `max_failed` /
//! `max_failed_fraction`. An invalid condition is a rules error found before any scan.
//!
//! Example:
//! ```yaml
//! - expression: { name: updated_after_created, condition: "updated_at >= created_at" }
//! ```

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ExprSchemable, utils::find_aggregate_exprs};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as, row_level};

pub const KIND: RuleKind = RuleKind {
    name: "expression",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("expression.rs"),
    parse: parse_as::<Expression>,
    schema: schema_of::<Expression>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expression {
    pub condition: String,
}

impl Rule for Expression {
    fn default_name(&self) -> String {
        format!("expression({})", self.condition)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let condition = cx.parse_sql(&self.condition, "condition")?;
        if !find_aggregate_exprs([&condition]).is_empty() {
            return Err(format!(
                "condition `{}` uses an aggregate function; use `statistic` or `sql` for aggregates",
                self.condition
            ));
        }
        let data_type = condition
            .get_type(cx.schema)
            .map_err(|e| format!("invalid condition `{}`: {e}", self.condition))?;
        if data_type != DataType::Boolean {
            return Err(format!(
                "condition `{}` is {data_type}, not a boolean",
                self.condition
            ));
        }
        row_level(condition.is_not_true(), cx.thresholds)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn null_results_fail() {
        let o = check(
            orders(),
            "expression: { condition: \"updated_at >= created_at\" }",
        );
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        // amount is NULL in one row: NULL > 0 is not true.
        let o = check(orders(), "expression: { condition: \"amount > -10\" }");
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        let o = check(
            orders(),
            "expression: { condition: \"coalesce(amount > -10, true)\" }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn invalid_conditions() {
        let e = compile_error(orders(), "expression: { condition: \"amount >>> 1\" }");
        assert!(e.contains("invalid condition"), "{e}");
        let e = compile_error(orders(), "expression: { condition: \"amount + 1\" }");
        assert!(e.contains("not a boolean"), "{e}");
        let e = compile_error(orders(), "expression: { condition: \"amount_x > 1\" }");
        assert!(e.contains("amount_x"), "{e}");
    }
}
