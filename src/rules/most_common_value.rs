//! The most common value of a column is one of a set (Great Expectations'
//! `expect_column_most_common_value_to_be_in_set`).
//!
//! Parameters:
//! - `column` (name)
//! - `values` (list of strings, numbers or booleans)
//! - `ties_okay` (bool, default false): when several values are equally most common,
//!   pass if one of them is in the set; by default all of them must be.
//!
//! NULL is not a value. A column without values fails (it has no most common value). The
//! report shows the most common values (up to 10, smallest first) and how often each
//! occurs. Answered by a grouped query of its own (`dq plan` shows it).
//!
//! Example:
//! ```yaml
//! - most_common_value: { column: currency, values: [EUR] }
//! ```

use datafusion::functions_aggregate::expr_fn::{array_agg, count, max};
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, LogicalPlanBuilder, WindowFunctionDefinition, case, col, expr, in_list,
    lit,
};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, as_u64, literal_for, parse_as,
    show,
};

pub const KIND: RuleKind = RuleKind {
    name: "most_common_value",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("most_common_value.rs"),
    parse: parse_as::<MostCommonValue>,
    schema: schema_of::<MostCommonValue>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MostCommonValue {
    pub column: String,
    pub values: Vec<serde_json::Value>,
    #[serde(default)]
    pub ties_okay: bool,
}

/// How many of the tied most common values the report lists.
const SHOWN: usize = 10;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `aggregate(args) OVER ()`.
fn over_all(aggregate: std::sync::Arc<datafusion::logical_expr::AggregateUDF>, arg: Expr) -> Expr {
    Expr::from(expr::WindowFunction::new(
        WindowFunctionDefinition::AggregateUDF(aggregate),
        vec![arg],
    ))
}

impl Rule for MostCommonValue {
    fn default_name(&self) -> String {
        format!("most_common_value({})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.values.is_empty() {
            return Err("most_common_value needs at least one value in `values`".into());
        }
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        let set = self
            .values
            .iter()
            .map(|v| literal_for(v, &data_type, "value"))
            .collect::<Result<Vec<_>, _>>()?;
        use datafusion::functions_aggregate::{
            count::count_udaf, min_max::max_udaf, sum::sum_udaf,
        };
        // Each value's count; the largest count; the values that have it.
        let grouped = cx
            .filtered()?
            .filter(column.clone().is_not_null())
            .map_err(err)?
            .aggregate(vec![column.clone()], vec![count(lit(1i64)).alias("n")])
            .map_err(err)?
            .window(vec![over_all(max_udaf(), col("n")).alias("top")])
            .map_err(err)?
            .filter(col("n").eq(col("top")))
            .map_err(err)?;
        let in_set = case(in_list(column.clone(), set, false))
            .when(lit(true), lit(1i64))
            .otherwise(lit(0i64))
            .map_err(err)?;
        let modes = grouped
            .window(vec![
                over_all(count_udaf(), lit(1i64)).alias("ties"),
                over_all(sum_udaf(), in_set).alias("in_set"),
            ])
            .map_err(err)?
            .sort(vec![column.clone().sort(true, false)])
            .map_err(err)?
            .limit(0, Some(SHOWN))
            .map_err(err)?;
        let query = LogicalPlanBuilder::from(modes.build().map_err(err)?)
            .aggregate(
                Vec::<Expr>::new(),
                vec![
                    array_agg(column.clone())
                        .order_by(vec![column.sort(true, false)])
                        .build()
                        .map_err(err)?
                        .alias("modes"),
                    max(col("top")).alias("occurrences"),
                    max(col("ties")).alias("ties"),
                    max(col("in_set")).alias("in_set"),
                ],
            )
            .map_err(err)?
            .build()
            .map_err(err)?;
        let expected: Vec<String> = self.values.iter().map(show).collect();
        let threshold = if self.ties_okay {
            format!("a most common value in [{}]", expected.join(", "))
        } else {
            format!("most common value in [{}]", expected.join(", "))
        };
        let ties_okay = self.ties_okay;
        Ok(Compiled {
            measures: vec![],
            query: Some(query),
            distinct_keys: None,
            failing_rows: None,
            judge: Box::new(move |o| {
                let modes = list_json(o.query.first());
                let occurrences = as_u64(o.query.get(1));
                let ties = as_u64(o.query.get(2));
                let in_set = as_u64(o.query.get(3));
                let passed = in_set > 0 && (ties_okay || in_set == ties);
                let message = if ties == 0 {
                    Some("the column has no values".to_string())
                } else if !passed {
                    Some(format!(
                        "most common: {} ({occurrences} rows each{})",
                        modes.iter().map(show).collect::<Vec<_>>().join(", "),
                        if ties > SHOWN as u64 {
                            format!(", {ties} values tied")
                        } else {
                            String::new()
                        }
                    ))
                } else {
                    None
                };
                Outcome {
                    passed,
                    observed: serde_json::json!({
                        "values": modes,
                        "occurrences": occurrences,
                        "tied": ties,
                    }),
                    threshold: threshold.clone(),
                    failed_rows: None,
                    rows_checked: None,
                    message,
                }
            }),
        })
    }
}

/// A list scalar's elements as JSON values.
fn list_json(v: Option<&datafusion::common::ScalarValue>) -> Vec<serde_json::Value> {
    use datafusion::common::ScalarValue;
    let Some(ScalarValue::List(list)) = v else {
        return vec![];
    };
    let Ok(values) = ScalarValue::convert_array_to_scalar_vec(list.as_ref()) else {
        return vec![];
    };
    values
        .into_iter()
        .flatten()
        .flatten()
        .map(|s| scalar_json(&s))
        .collect()
}

/// A value as the report shows it: numbers as numbers, the rest as text.
fn scalar_json(v: &datafusion::common::ScalarValue) -> serde_json::Value {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::common::ScalarValue as S;
    match v {
        _ if v.is_null() => serde_json::Value::Null,
        S::Utf8(Some(s)) | S::LargeUtf8(Some(s)) | S::Utf8View(Some(s)) => serde_json::json!(s),
        S::Boolean(Some(b)) => serde_json::json!(b),
        _ if v.data_type().is_integer() => match v.cast_to(&DataType::Int64) {
            Ok(S::Int64(Some(i))) => serde_json::json!(i),
            _ => serde_json::json!(v.to_string()),
        },
        S::Float16(_) | S::Float32(_) | S::Float64(_) => {
            super::number_json(super::as_f64(Some(v)).unwrap_or(f64::NAN))
        }
        _ => serde_json::json!(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn the_most_common_value_must_be_in_the_set() {
        // Statuses: shipped twice, the others once.
        let o = check(
            orders(),
            "most_common_value: { column: status, values: [shipped] }",
        );
        assert!(o.passed, "{o:?}");
        assert_eq!(
            o.observed["values"],
            serde_json::json!(["shipped"]),
            "{o:?}"
        );
        assert_eq!(o.observed["occurrences"], 2, "{o:?}");
        let o = check(
            orders(),
            "most_common_value: { column: status, values: [placed] }",
        );
        assert!(!o.passed, "{o:?}");
    }

    #[test]
    fn ties_need_every_value_unless_ties_okay() {
        // amount: every value once, so all five are tied.
        let o = check(
            orders(),
            "most_common_value: { column: amount, values: [10] }",
        );
        assert!(!o.passed, "{o:?}");
        assert_eq!(o.observed["tied"], 5, "{o:?}");
        let o = check(
            orders(),
            "most_common_value: { column: amount, values: [10], ties_okay: true }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn an_empty_set_is_a_rules_error() {
        let e = compile_error(
            orders(),
            "most_common_value: { column: status, values: [] }",
        );
        assert!(e.contains("at least one"), "{e}");
    }
}
