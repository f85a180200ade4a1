//! A column's type is one of a list (Great Expectations'
//! `expect_column_values_to_be_in_type_list` / `…_to_be_of_type`).
//!
//! Parameters:
//! - `column` (name)
//! - `types` (list of type names, as in `schema`: `string`, `int64`, `double`,
//!   `decimal(10,2)`, `timestamp`, `timestamp(us, UTC)`, …)
//!
//! Useful where a writer may legitimately change a type (int32 → int64, float → double)
//! and a `schema` check would pin one. Judged on the schema alone: no scan.
//!
//! Example:
//! ```yaml
//! - column_type: { column: amount, types: [double, "decimal(12,2)"] }
//! ```

use serde::Deserialize;

use super::schema::type_matches;
use super::schema_of;
use super::{CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, parse_as};

pub const KIND: RuleKind = RuleKind {
    name: "column_type",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("column_type.rs"),
    parse: parse_as::<ColumnType>,
    schema: schema_of::<ColumnType>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnType {
    pub column: String,
    pub types: Vec<String>,
}

impl Rule for ColumnType {
    fn default_name(&self) -> String {
        format!("column_type({})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.types.is_empty() {
            return Err("column_type needs at least one type in `types`".into());
        }
        let actual = cx.data_type(&self.column)?;
        let mut passed = false;
        for t in &self.types {
            // Every name is validated, even after a match: a typo must not hide.
            passed |= type_matches(t, &actual)?;
        }
        let threshold = format!("one of {}", self.types.join(", "));
        let observed = actual.to_string();
        Ok(Compiled::metadata(Box::new(move |_| Outcome {
            passed,
            observed: serde_json::json!(observed),
            threshold: threshold.clone(),
            failed_rows: None,
            rows_checked: None,
            message: (!passed).then(|| format!("the column is {observed}")),
        })))
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn one_of_the_types() {
        assert!(
            check(
                orders(),
                "column_type: { column: amount, types: [float, double] }"
            )
            .passed
        );
        let o = check(
            orders(),
            "column_type: { column: order_id, types: [int32, string] }",
        );
        assert!(!o.passed);
        assert_eq!(o.observed, "Int64", "{o:?}");
        assert!(
            check(
                orders(),
                "column_type: { column: created_at, types: ['timestamp(us, UTC)'] }"
            )
            .passed
        );
    }

    #[test]
    fn unknown_types_and_columns_are_rules_errors() {
        let e = compile_error(
            orders(),
            "column_type: { column: amount, types: [double, dubble] }",
        );
        assert!(e.contains("unknown type `dubble`"), "{e}");
        let e = compile_error(orders(), "column_type: { column: nope, types: [double] }");
        assert!(e.contains("not in dataset"), "{e}");
    }
}
