//! Values of a column belong to a fixed set.
//!
//! Parameters:
//! - `column` (name)
//! - `values` (list of strings, numbers or booleans)
//! - `allow_null` (bool, default true): whether NULL counts as accepted.
//!
//! Values are compared as SQL literals of the column's type, never spliced into SQL text.
//! Row-level: accepts `max_failed` / `max_failed_fraction`.
//!
//! Example:
//! ```yaml
//! - accepted_values: { column: status, values: [placed, shipped, delivered, cancelled] }
//! ```

use datafusion::logical_expr::{in_list, or};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, Placement, Rule, RuleKind, literal_for, parse_as, row_level,
    value_level,
};

pub const KIND: RuleKind = RuleKind {
    name: "accepted_values",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("accepted_values.rs"),
    parse: parse_as::<AcceptedValues>,
    schema: schema_of::<AcceptedValues>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptedValues {
    pub column: String,
    pub values: Vec<serde_json::Value>,
    #[serde(default = "yes")]
    pub allow_null: bool,
}

fn yes() -> bool {
    true
}

impl Rule for AcceptedValues {
    fn default_name(&self) -> String {
        format!("accepted_values({})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.values.is_empty() {
            return Err("accepted_values needs at least one value in `values`".into());
        }
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        let list = self
            .values
            .iter()
            .map(|v| literal_for(v, &data_type, "accepted value"))
            .collect::<Result<Vec<_>, _>>()?;
        // NOT IN is NULL for a NULL value, so NULLs pass unless allow_null is false.
        let mut failing = in_list(column.clone(), list, true);
        if !self.allow_null {
            // NULLs are judged too: every row is checked.
            failing = or(failing, column.is_null());
            return row_level(failing, cx.thresholds);
        }
        value_level(failing, column, cx.thresholds)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn flags_values_outside_the_set() {
        let o = check(
            orders(),
            "accepted_values: { column: status, values: [placed, shipped, delivered, cancelled] }",
        );
        assert!(!o.passed);
        assert_eq!(o.failed_rows, Some(1));
        // The example is the failing row itself (found through the column's distinct values).
        assert_eq!(o.samples.len(), 1, "{o:?}");
        assert_eq!(o.samples[0]["status"], "bogus", "{o:?}");
        // Several failing values: the first failing rows in value order, and only those.
        let o = check(
            orders(),
            "accepted_values: { column: status, values: [placed, delivered], allow_null: false }",
        );
        assert_eq!(o.failed_rows, Some(4), "{o:?}");
        let shown: Vec<&str> = o
            .samples
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert_eq!(shown, ["bogus", "cancelled", "shipped"], "{o:?}");
    }

    #[test]
    fn nulls_pass_unless_disallowed() {
        let o = check(
            orders(),
            "accepted_values: { column: customer_id, values: [10, 11, 12, 99] }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "accepted_values: { column: customer_id, values: [10, 11, 12, 99], allow_null: false }",
        );
        assert_eq!(o.failed_rows, Some(1));
    }

    #[test]
    fn rejects_strings_for_numeric_columns() {
        let e = compile_error(
            orders(),
            "accepted_values: { column: amount, values: [abc] }",
        );
        assert!(e.contains("is a string but the column is"), "{e}");
    }
}
