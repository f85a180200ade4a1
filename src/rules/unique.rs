//! No duplicate values of one column, or of a tuple of columns.
//!
//! Parameters:
//! - `columns` (list of names) or `column` (one name): the key.
//!
//! Rows where any key column is NULL are ignored, as in SQL's UNIQUE constraint.
//! Answered outside the fused scan (an exact distinct count inside a wide aggregate would
//! serialise its final merge): one pass hashes every key per partition; when no hash repeats
//! the keys are distinct, exactly. Only when a hash repeats does a grouped pass count the
//! duplicates. The observed value is the number of key values that occur more than once;
//! failing rows are all rows carrying such a key. Row-level: accepts `max_failed` /
//! `max_failed_fraction`.
//!
//! Example:
//! ```yaml
//! - unique: { columns: [order_id] }
//! - unique: { columns: [customer_id, created_at], severity: warn }
//! ```

use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::{Expr, and, col, lit, when};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, FailingRows, Placement, Rule, RuleKind, Thresholds, as_u64, parse_as,
};

pub const KIND: RuleKind = RuleKind {
    name: "unique",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("unique.rs"),
    parse: parse_as::<Unique>,
    schema: schema_of::<Unique>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unique {
    #[serde(default)]
    pub columns: Vec<String>,
    pub column: Option<String>,
}

impl Unique {
    fn key(&self) -> Vec<String> {
        let mut all = self.columns.clone();
        all.extend(self.column.clone());
        all
    }
}

impl Rule for Unique {
    fn default_name(&self) -> String {
        format!("unique({})", self.key().join(", "))
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let key = self.key();
        super::require_columns(&key, "unique")?;
        let mut key_exprs = Vec::new();
        let mut not_null: Option<Expr> = None;
        for name in &key {
            let c = cx.column(name)?;
            let nn = c.clone().is_not_null();
            not_null = Some(match not_null {
                Some(acc) => and(acc, nn),
                None => nn,
            });
            key_exprs.push(c);
        }
        let err = |e: datafusion::error::DataFusionError| e.to_string();
        let keys = cx
            .filtered()?
            .filter(not_null.unwrap_or(lit(true)))
            .map_err(err)?;
        let distinct_keys = keys
            .clone()
            .project(key_exprs.clone())
            .map_err(err)?
            .build()
            .map_err(err)?;
        let grouped = keys
            .aggregate(
                key_exprs.clone(),
                vec![count(lit(1i64)).alias("occurrences")],
            )
            .map_err(err)?;
        let dup = col("occurrences").gt(lit(1i64));
        // The alias keeps the grouped pass a derived table when the plan is shown as SQL.
        let query = grouped
            .clone()
            .alias("key_counts")
            .map_err(err)?
            .aggregate(
                Vec::<Expr>::new(),
                vec![
                    sum(col("occurrences")).alias("rows_checked"),
                    sum(when(dup.clone(), col("occurrences"))
                        .otherwise(lit(0i64))
                        .map_err(err)?)
                    .alias("failed_rows"),
                    super::count_if(dup.clone())?.alias("duplicate_keys"),
                ],
            )
            .map_err(err)?
            .build()
            .map_err(err)?;
        let samples = grouped.filter(dup).map_err(err)?.build().map_err(err)?;
        let thresholds: Thresholds = cx.thresholds;
        Ok(Compiled {
            measures: vec![],
            query: Some(query),
            distinct_keys: Some(distinct_keys),
            failing_rows: Some(FailingRows::Plan(samples)),
            judge: Box::new(move |o| {
                let checked = as_u64(o.query.first());
                let failed = as_u64(o.query.get(1));
                let keys = as_u64(o.query.get(2));
                let mut outcome = super::failed_rows_outcome(failed, checked, thresholds);
                outcome.observed = serde_json::json!(keys);
                if keys > 0 {
                    outcome.message = Some(format!(
                        "{keys} duplicated key value{} on {failed} rows",
                        if keys == 1 { "" } else { "s" }
                    ));
                }
                outcome
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, orders};

    #[test]
    fn finds_duplicate_keys() {
        let o = check(orders(), "unique: { columns: [order_id] }");
        assert!(o.passed, "{o:?}");
        let o = check(orders(), "unique: { columns: [customer_id] }");
        assert!(!o.passed);
        // customer 10 appears twice; NULL customer ids are ignored.
        assert_eq!(o.observed, serde_json::json!(1));
        assert_eq!(o.failed_rows, Some(2));
        assert_eq!(o.rows_checked, Some(5));
    }

    #[test]
    fn tuple_keys() {
        let o = check(orders(), "unique: { columns: [customer_id, status] }");
        assert!(o.passed, "{o:?}");
    }
}
