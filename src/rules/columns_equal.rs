//! Two columns hold the same value on every row (Great Expectations'
//! `expect_column_pair_values_to_be_equal`).
//!
//! Parameters:
//! - `left`, `right` (column names of comparable types)
//!
//! A row fails when the values differ, or when exactly one of them is NULL; a row where
//! both are NULL is not checked (as GX's default `ignore_row_if: both_values_are_missing`).
//! Row-level: accepts `max_failed` / `max_failed_fraction`, as a fraction of the rows
//! checked.
//!
//! Example:
//! ```yaml
//! - columns_equal: { left: billing_country, right: shipping_country, max_failed_fraction: 0.05 }
//! ```

use datafusion::logical_expr::{Expr, Operator, binary_expr};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as};

pub const KIND: RuleKind = RuleKind {
    name: "columns_equal",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("columns_equal.rs"),
    parse: parse_as::<ColumnsEqual>,
    schema: schema_of::<ColumnsEqual>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnsEqual {
    pub left: String,
    pub right: String,
}

/// Whether values of the two types can be compared for equality.
pub fn comparable(
    a: &datafusion::arrow::datatypes::DataType,
    b: &datafusion::arrow::datatypes::DataType,
) -> bool {
    a == b
        || (a.is_numeric() && b.is_numeric())
        || (super::is_string(a) && super::is_string(b))
        || (a.is_temporal() && b.is_temporal())
}

impl Rule for ColumnsEqual {
    fn default_name(&self) -> String {
        format!("columns_equal({}, {})", self.left, self.right)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let (left, right) = (cx.column(&self.left)?, cx.column(&self.right)?);
        let (lt, rt) = (cx.data_type(&self.left)?, cx.data_type(&self.right)?);
        if !comparable(&lt, &rt) {
            return Err(format!(
                "`{}` is {lt} and `{}` is {rt}; they cannot be compared",
                self.left, self.right
            ));
        }
        // IS DISTINCT FROM: one NULL differs, two NULLs do not.
        let failing: Expr = binary_expr(left.clone(), Operator::IsDistinctFrom, right.clone());
        let checked: Expr = left.is_not_null().or(right.is_not_null());
        super::judged_where(failing, checked, cx.thresholds)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn unequal_and_half_null_rows_fail() {
        // order_id 1..6 against customer_id 10, 11, 12, 10, 99, NULL: all differ.
        let o = check(
            orders(),
            "columns_equal: { left: order_id, right: customer_id }",
        );
        assert_eq!(o.failed_rows, Some(6), "{o:?}");
        assert_eq!(o.rows_checked, Some(6), "{o:?}");
        let o = check(orders(), "columns_equal: { left: amount, right: amount }");
        assert!(o.passed, "{o:?}");
        // amount has one NULL: compared with itself, that row is not checked.
        assert_eq!(o.rows_checked, Some(5), "{o:?}");
        let o = check(
            orders(),
            "columns_equal: { left: created_at, right: updated_at }",
        );
        assert_eq!(o.failed_rows, Some(6), "{o:?}");
    }

    #[test]
    fn incomparable_types_are_rules_errors() {
        let e = compile_error(orders(), "columns_equal: { left: status, right: amount }");
        assert!(e.contains("cannot be compared"), "{e}");
    }
}
