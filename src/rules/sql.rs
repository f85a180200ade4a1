//! A custom SQL query returns one number within `min` / `max`.
//!
//! Parameters:
//! - `query`: a read-only SELECT returning one row with one numeric column. Datasets are
//!   tables named `layer.dataset` (e.g. `silver.orders`), read whole (no `scope`).
//! - `min`, `max` (at least one), or `equals`.
//!
//! The query is planned (and its tables and columns resolved) before any scan; DDL, DML and
//! other statements are refused. No row, or a NULL, fails. `where` does not apply: write it
//! in the query.
//!
//! Example:
//! ```yaml
//! - sql:
//!     name: no_orders_from_the_future
//!     query: "SELECT count(*) FROM silver.orders WHERE created_at > now()"
//!     max: 0
//! ```

use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, as_f64, parse_as,
    row_count::bounds_text, trim_float,
};

pub const KIND: RuleKind = RuleKind {
    name: "sql",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("sql.rs"),
    parse: parse_as::<Sql>,
    schema: schema_of::<Sql>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sql {
    pub query: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub equals: Option<f64>,
}

impl Rule for Sql {
    fn default_name(&self) -> String {
        "sql".into()
    }

    fn depends_on(&self) -> Vec<String> {
        let Ok(mut statements) = DFParser::parse_sql(&self.query) else {
            return vec![];
        };
        let Some(statement) = statements.pop_front() else {
            return vec![];
        };
        match resolve_table_references(&statement, true) {
            Ok((tables, _ctes)) => tables.iter().map(|t| t.to_string()).collect(),
            Err(_) => vec![],
        }
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let (min, max) = match (self.equals, self.min, self.max) {
            (Some(v), None, None) => (Some(v), Some(v)),
            (None, None, None) => return Err("sql needs `min`, `max` or `equals`".into()),
            (None, lo, hi) => (lo, hi),
            (Some(_), _, _) => return Err("sql takes `equals` or `min`/`max`, not both".into()),
        };
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                return Err(format!(
                    "sql min {lo} is greater than max {hi}: no value could pass"
                ));
            }
        }
        let plan = (cx.plan_sql)(&self.query)?;
        let fields = plan.schema().fields();
        if fields.len() != 1 || !fields[0].data_type().is_numeric() {
            return Err(format!(
                "the query must return one numeric column; it returns {}",
                fields
                    .iter()
                    .map(|f| format!("{}: {}", f.name(), f.data_type()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let threshold = bounds_text(
            min.map(|v| trim_float(v, 6)),
            max.map(|v| trim_float(v, 6)),
            "",
        );
        Ok(Compiled {
            measures: vec![],
            query: Some(plan),
            distinct_keys: None,
            failing_rows: None,
            judge: Box::new(move |o| {
                let value = as_f64(o.query.first());
                Outcome {
                    passed: value
                        .is_some_and(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)),
                    observed: value.map(super::number_json).unwrap_or_default(),
                    threshold: threshold.clone(),
                    failed_rows: None,
                    rows_checked: None,
                    message: value
                        .is_none()
                        .then(|| "the query returned no row or NULL".to_string()),
                }
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn one_number_within_bounds() {
        let o = check(
            orders(),
            "sql: { query: \"SELECT count(*) FROM test.orders WHERE amount < 0\", max: 0 }",
        );
        assert!(!o.passed);
        assert_eq!(o.observed, serde_json::json!(1.0));
        let o = check(
            orders(),
            "sql: { query: \"SELECT count(*) FROM test.customers\", equals: 3 }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn invalid_queries() {
        let e = compile_error(orders(), "sql: { query: \"SELEC 1\", max: 0 }");
        assert!(e.contains("invalid query"), "{e}");
        let e = compile_error(
            orders(),
            "sql: { query: \"SELECT status FROM test.orders\", max: 0 }",
        );
        assert!(e.contains("one numeric column"), "{e}");
        let e = compile_error(
            orders(),
            "sql: { query: \"DROP TABLE test.orders\", max: 0 }",
        );
        assert!(e.contains("invalid query"), "{e}");
    }
}
