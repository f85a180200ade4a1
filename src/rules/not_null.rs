//! No (or few enough) NULL values in each listed column.
//!
//! Parameters:
//! - `columns` (list of names): every listed column is checked; a row fails when any of
//!   them is NULL. `column` (one name) is accepted as shorthand.
//!
//! Row-level: accepts `max_failed` / `max_failed_fraction` (default: no NULL allowed).
//! With `columns`, the failing-row count is the number of rows with at least one NULL.
//!
//! Example:
//! ```yaml
//! - not_null: { columns: [order_id, customer_id, amount] }
//! ```

use datafusion::logical_expr::{Expr, or};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as, row_level};

pub const KIND: RuleKind = RuleKind {
    name: "not_null",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("not_null.rs"),
    parse: parse_as::<NotNull>,
    schema: schema_of::<NotNull>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotNull {
    #[serde(default)]
    pub columns: Vec<String>,
    pub column: Option<String>,
}

impl NotNull {
    fn all_columns(&self) -> Vec<String> {
        let mut all = self.columns.clone();
        all.extend(self.column.clone());
        all
    }
}

impl Rule for NotNull {
    fn default_name(&self) -> String {
        format!("not_null({})", self.all_columns().join(", "))
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let columns = self.all_columns();
        super::require_columns(&columns, "not_null")?;
        let mut failing: Option<Expr> = None;
        for name in &columns {
            let is_null = cx.column(name)?.is_null();
            failing = Some(match failing {
                Some(f) => or(f, is_null),
                None => is_null,
            });
        }
        row_level(failing.expect("columns checked non-empty"), cx.thresholds)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn counts_rows_with_a_null() {
        let o = check(orders(), "not_null: { columns: [order_id] }");
        assert!(o.passed);
        let o = check(orders(), "not_null: { columns: [order_id, email] }");
        assert!(!o.passed);
        assert_eq!(o.failed_rows, Some(1));
        let o = check(orders(), "not_null: { columns: [email], max_failed: 1 }");
        assert!(o.passed);
    }

    #[test]
    fn unknown_column_lists_available_ones() {
        let e = compile_error(orders(), "not_null: { columns: [order_idd] }");
        assert!(e.contains("did you mean `order_id`"), "{e}");
        assert!(e.contains("available columns: order_id"), "{e}");
    }
}
