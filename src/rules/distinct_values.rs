//! A column's set of distinct values is within, contains, or equals a given set (Great
//! Expectations' `expect_column_distinct_values_to_be_in_set`, `…_to_contain_set`,
//! `…_to_equal_set`).
//!
//! Parameters:
//! - `column` (name)
//! - exactly one of `within`, `contains`, `equals` (list of strings, numbers or booleans):
//!   - `within`: no value outside the set appears (every value of the set need not);
//!   - `contains`: every value of the set appears at least once (others may too);
//!   - `equals`: both — the distinct values are exactly the set.
//!
//! NULL is not a value here (it neither appears nor is unexpected). Answered in the fused
//! scan without collecting the distinct values: each expected value is one count of rows
//! equal to it, and the unexpected ones are the rows outside the set, whose first rows are
//! the examples. The report shows the missing values and the number of rows with
//! unexpected values. A set check: there is no `max_failed` — one unexpected value fails.
//!
//! Example:
//! ```yaml
//! - distinct_values: { column: currency, equals: [EUR, USD, GBP] }
//! - distinct_values: { column: status, contains: [placed, shipped] }
//! ```

use datafusion::logical_expr::{Expr, in_list};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, FailingRows, Outcome, Placement, Rule, RuleKind, as_u64, count_if,
    literal_for, parse_as, show,
};

pub const KIND: RuleKind = RuleKind {
    name: "distinct_values",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("distinct_values.rs"),
    parse: parse_as::<DistinctValues>,
    schema: schema_of::<DistinctValues>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistinctValues {
    pub column: String,
    pub within: Option<Vec<serde_json::Value>>,
    pub contains: Option<Vec<serde_json::Value>>,
    pub equals: Option<Vec<serde_json::Value>>,
}

impl DistinctValues {
    /// The set, whether values outside it fail, whether each of it must appear.
    fn relation(&self) -> Result<(&[serde_json::Value], &'static str, bool, bool), String> {
        match (&self.within, &self.contains, &self.equals) {
            (Some(v), None, None) => Ok((v, "within", true, false)),
            (None, Some(v), None) => Ok((v, "contains", false, true)),
            (None, None, Some(v)) => Ok((v, "equals", true, true)),
            _ => Err("distinct_values takes exactly one of `within`, `contains`, `equals`".into()),
        }
    }
}

impl Rule for DistinctValues {
    fn default_name(&self) -> String {
        let how = self.relation().map(|r| r.1).unwrap_or("set");
        format!("distinct_values({}, {how})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let (values, how, no_others, all_present) = self.relation()?;
        if values.is_empty() {
            return Err(format!(
                "distinct_values needs at least one value in `{how}`"
            ));
        }
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        let literals = values
            .iter()
            .map(|v| literal_for(v, &data_type, "value"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut measures: Vec<Expr> = Vec::new();
        // Measure 0: rows with a value outside the set (NOT IN is NULL for NULL).
        let unexpected = in_list(column.clone(), literals.clone(), true);
        measures.push(count_if(unexpected.clone())?);
        // Then one count per expected value.
        if all_present {
            for literal in &literals {
                measures.push(count_if(column.clone().eq(literal.clone()))?);
            }
        }
        let shown: Vec<String> = values.iter().map(show).collect();
        let threshold = format!("distinct values {how} [{}]", shown.join(", "));
        Ok(Compiled {
            measures,
            query: None,
            distinct_keys: None,
            failing_rows: no_others.then_some(FailingRows::Predicate(unexpected)),
            judge: Box::new(move |o| {
                let unexpected_rows = as_u64(o.measures.first());
                let missing: Vec<String> = if all_present {
                    shown
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| as_u64(o.measures.get(i + 1)) == 0)
                        .map(|(_, v)| v.clone())
                        .collect()
                } else {
                    vec![]
                };
                let passed = (!no_others || unexpected_rows == 0) && missing.is_empty();
                let mut problems = Vec::new();
                if !missing.is_empty() {
                    problems.push(format!("missing: {}", missing.join(", ")));
                }
                if no_others && unexpected_rows > 0 {
                    problems.push(format!(
                        "{unexpected_rows} row{} with a value outside the set",
                        if unexpected_rows == 1 { "" } else { "s" }
                    ));
                }
                Outcome {
                    passed,
                    observed: serde_json::json!({
                        "missing": missing,
                        "unexpected_rows": unexpected_rows,
                    }),
                    threshold: threshold.clone(),
                    failed_rows: no_others.then_some(unexpected_rows),
                    rows_checked: None,
                    message: (!problems.is_empty()).then(|| problems.join("; ")),
                }
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    // Statuses: placed, shipped, delivered, bogus, shipped, cancelled.

    #[test]
    fn within_fails_on_a_value_outside_the_set() {
        let o = check(
            orders(),
            "distinct_values: { column: status, within: [placed, shipped, delivered, cancelled, returned] }",
        );
        assert!(!o.passed, "{o:?}");
        assert_eq!(o.observed["unexpected_rows"], 1, "{o:?}");
        assert_eq!(o.samples[0]["status"], "bogus", "{o:?}");
        // `returned` never appears: within does not mind.
        assert_eq!(o.observed["missing"], serde_json::json!([]), "{o:?}");
    }

    #[test]
    fn contains_names_the_missing_values() {
        let o = check(
            orders(),
            "distinct_values: { column: status, contains: [placed, returned, lost] }",
        );
        assert!(!o.passed);
        assert_eq!(
            o.observed["missing"],
            serde_json::json!(["returned", "lost"]),
            "{o:?}"
        );
        let o = check(
            orders(),
            "distinct_values: { column: status, contains: [placed, bogus] }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn equals_needs_both() {
        let o = check(
            orders(),
            "distinct_values: { column: status, equals: [placed, shipped, delivered, bogus, cancelled] }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "distinct_values: { column: customer_id, equals: [10, 11, 12, 99, 7] }",
        );
        assert!(!o.passed);
        assert_eq!(o.observed["missing"], serde_json::json!(["7"]), "{o:?}");
        assert_eq!(
            o.observed["unexpected_rows"], 0,
            "NULL is not a value: {o:?}"
        );
    }

    #[test]
    fn exactly_one_relation() {
        let e = compile_error(
            orders(),
            "distinct_values: { column: status, within: [a], equals: [a] }",
        );
        assert!(e.contains("exactly one"), "{e}");
        let e = compile_error(orders(), "distinct_values: { column: status }");
        assert!(e.contains("exactly one"), "{e}");
    }
}
