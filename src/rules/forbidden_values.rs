//! Values that must not appear in a column (Great Expectations'
//! `expect_column_values_to_not_be_in_set`, Soda's `invalid_count` with `invalid values`).
//!
//! Parameters:
//! - `column` (name)
//! - `values` (list of strings, numbers or booleans): the forbidden ones.
//!
//! A row fails when its value is one of `values`. NULL is never a forbidden value (write
//! `not_null` for that). Values are compared as SQL literals of the column's type, never
//! spliced into SQL text. Row-level: accepts `max_failed` / `max_failed_fraction`, as a
//! fraction of the rows whose value is not NULL.
//!
//! Example:
//! ```yaml
//! - forbidden_values: { column: email, values: ["", "test@example.com", "n/a"] }
//! - forbidden_values: { column: customer_id, values: [0, -1], severity: warn }
//! ```

use datafusion::logical_expr::in_list;
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, Placement, Rule, RuleKind, literal_for, parse_as, value_level,
};

pub const KIND: RuleKind = RuleKind {
    name: "forbidden_values",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("forbidden_values.rs"),
    parse: parse_as::<ForbiddenValues>,
    schema: schema_of::<ForbiddenValues>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenValues {
    pub column: String,
    pub values: Vec<serde_json::Value>,
}

impl Rule for ForbiddenValues {
    fn default_name(&self) -> String {
        format!("forbidden_values({})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.values.is_empty() {
            return Err("forbidden_values needs at least one value in `values`".into());
        }
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        let list = self
            .values
            .iter()
            .map(|v| literal_for(v, &data_type, "forbidden value"))
            .collect::<Result<Vec<_>, _>>()?;
        // IN is NULL for a NULL value: NULL is never forbidden.
        let failing = in_list(column.clone(), list, false);
        value_level(failing, column, cx.thresholds)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn flags_forbidden_values_only() {
        let o = check(
            orders(),
            "forbidden_values: { column: status, values: [bogus, lost] }",
        );
        assert!(!o.passed);
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        assert_eq!(o.samples[0]["status"], "bogus", "{o:?}");
        let o = check(
            orders(),
            "forbidden_values: { column: status, values: [lost] }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn nulls_are_never_forbidden() {
        // customer_id holds 99 once and NULL once: only the 99 fails.
        let o = check(
            orders(),
            "forbidden_values: { column: customer_id, values: [99] }",
        );
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        assert_eq!(o.samples[0]["customer_id"], 99, "{o:?}");
    }

    #[test]
    fn rejects_strings_for_numeric_columns_and_empty_lists() {
        let e = compile_error(
            orders(),
            "forbidden_values: { column: amount, values: [abc] }",
        );
        assert!(e.contains("is a string but the column is"), "{e}");
        let e = compile_error(orders(), "forbidden_values: { column: status, values: [] }");
        assert!(e.contains("at least one"), "{e}");
    }
}
