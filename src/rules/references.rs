//! Every non-NULL value (or tuple) of a column exists as a key in another dataset.
//!
//! Parameters:
//! - `column` / `columns`: the referencing column(s) of this dataset
//! - `dataset`: the referenced dataset, `layer.name` (any layer) or `name` (same layer)
//! - `key` / `keys`: its key column(s), in the same order (default: the same names)
//! - `condition` (optional SQL): must also hold on each row joined to its parent; qualify
//!   columns as `child.col` / `parent.col` where names clash, e.g.
//!   `child.shipped_at >= parent.created_at`. A NULL result fails, as in `expression`.
//!   A child row fails once if any parent row with its key fails the condition (parents
//!   need not have unique keys; failing child rows are counted, never joined pairs).
//!
//! Rows whose referencing columns contain a NULL are not checked (SQL foreign-key rule).
//! The referenced dataset is read whole (its own `scope` does not apply: a parent may be
//! older than the child rows in scope). Answered by one anti-join (plus one inner join
//! when a `condition` is given: a semi-join). Row-level: accepts `max_failed` / `max_failed_fraction`.
//!
//! Example:
//! ```yaml
//! - references: { column: customer_id, dataset: silver.customers, key: customer_id }
//! ```

use datafusion::common::Column;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlanBuilder, and, lit};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, FailingRows, Placement, Rule, RuleKind, as_u64, count_if,
    failed_rows_outcome, parse_as,
};

pub const KIND: RuleKind = RuleKind {
    name: "references",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("references.rs"),
    parse: parse_as::<References>,
    schema: schema_of::<References>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct References {
    pub column: Option<String>,
    #[serde(default)]
    pub columns: Vec<String>,
    pub dataset: String,
    pub key: Option<String>,
    #[serde(default)]
    pub keys: Vec<String>,
    pub condition: Option<String>,
}

impl References {
    fn child_columns(&self) -> Vec<String> {
        let mut all = self.columns.clone();
        all.extend(self.column.clone());
        all
    }

    fn parent_columns(&self) -> Vec<String> {
        let mut all = self.keys.clone();
        all.extend(self.key.clone());
        if all.is_empty() {
            self.child_columns()
        } else {
            all
        }
    }
}

fn err(e: datafusion::error::DataFusionError) -> String {
    e.to_string()
}

impl Rule for References {
    fn default_name(&self) -> String {
        format!(
            "references({} -> {})",
            self.child_columns().join(", "),
            self.dataset
        )
    }

    fn depends_on(&self) -> Vec<String> {
        vec![self.dataset.clone()]
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let child_cols = self.child_columns();
        let parent_cols = self.parent_columns();
        super::require_columns(&child_cols, "references")?;
        if child_cols.len() != parent_cols.len() {
            return Err(format!(
                "references has {} column(s) but {} key(s)",
                child_cols.len(),
                parent_cols.len()
            ));
        }
        let (parent_name, parent_plan) = (cx.lookup)(&self.dataset)?;
        let parent_schema = parent_plan.schema().clone();
        let mut not_null: Option<Expr> = None;
        for (c, p) in child_cols.iter().zip(&parent_cols) {
            let child_type = cx.data_type(c)?;
            let parent_type = parent_schema
                .fields()
                .iter()
                .find(|f| f.name() == p)
                .map(|f| f.data_type().clone())
                .ok_or_else(|| super::unknown_column(p, &parent_schema, &parent_name))?;
            let compatible = child_type == parent_type
                || (child_type.is_numeric() && parent_type.is_numeric())
                || (super::is_string(&child_type) && super::is_string(&parent_type));
            if !compatible {
                return Err(format!(
                    "`{c}` is {child_type} but {parent_name}.{p} is {parent_type}; they cannot be compared"
                ));
            }
            let nn = cx.column(c)?.is_not_null();
            not_null = Some(match not_null {
                Some(acc) => and(acc, nn),
                None => nn,
            });
        }
        let not_null = not_null.unwrap_or(lit(true));
        let left_keys: Vec<Column> = child_cols
            .iter()
            .map(|c| Column::new(Some("child"), c))
            .collect();
        let right_keys: Vec<Column> = parent_cols
            .iter()
            .map(|c| Column::new(Some("parent"), c))
            .collect();
        // The child rows as a derived table: projected before the alias, so that the SQL
        // shown for the check keeps the scope and the NULL-key filter (the unparser drops a
        // filter directly under an alias, and the SQL a user re-runs would count more).
        let filtered = cx.filtered()?.filter(not_null.clone()).map_err(err)?;
        let all: Vec<Expr> = filtered
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        let child = filtered
            .project(all)
            .map_err(err)?
            .alias("child")
            .map_err(err)?;
        let parent = LogicalPlanBuilder::from(parent_plan)
            .alias("parent")
            .map_err(err)?
            .build()
            .map_err(err)?;
        // The parent is the join's build side (it is usually the smaller, and the child's
        // rows stream through): written parent-first, as a right anti-join, so that the
        // plan does not depend on statistics dq does not trust (see engine::footers).
        let orphans = LogicalPlanBuilder::from(parent.clone())
            .join(
                child.clone().build().map_err(err)?,
                JoinType::RightAnti,
                (right_keys.clone(), left_keys.clone()),
                None,
            )
            .map_err(err)?;
        let mut query = orphans
            .clone()
            .aggregate(
                Vec::<Expr>::new(),
                vec![count(lit(1i64)).alias("orphan_rows")],
            )
            .map_err(err)?;
        // Examples show the referencing columns (and the child columns a condition reads):
        // the anti-join then reads only those, not every column of the child a second time.
        let mut shown: Vec<Column> = left_keys.clone();
        let mut violating_rows = None;
        if let Some(condition) = &self.condition {
            // Parse the condition against the joined schema (child and parent columns).
            let joined_schema = child
                .clone()
                .join(
                    parent.clone(),
                    JoinType::Inner,
                    (left_keys.clone(), right_keys.clone()),
                    None,
                )
                .map_err(err)?;
            let cond = (cx.parse_expr)(condition, joined_schema.schema())
                .map_err(|e| format!("invalid condition `{condition}`: {e}"))?;
            // A child row fails when a parent row it joins fails the condition. Counted
            // with a semi-join, so each child row counts once however many parent rows
            // share its key (an inner join would count joined pairs).
            let violating = LogicalPlanBuilder::from(parent)
                .join(
                    child.clone().build().map_err(err)?,
                    JoinType::RightSemi,
                    (right_keys, left_keys),
                    Some(cond.clone().is_not_true()),
                )
                .map_err(err)?;
            let failed = violating
                .clone()
                .aggregate(
                    Vec::<Expr>::new(),
                    vec![count(lit(1i64)).alias("condition_failed")],
                )
                .map_err(err)?
                .build()
                .map_err(err)?;
            query = query.cross_join(failed).map_err(err)?;
            for c in cond.column_refs() {
                let from_child = c.relation.as_ref().is_some_and(|r| r.table() == "child")
                    || (c.relation.is_none()
                        && child.schema().has_column_with_unqualified_name(&c.name));
                let column = Column::new(Some("child"), &c.name);
                if from_child && !shown.contains(&column) {
                    shown.push(column);
                }
            }
            violating_rows = Some(violating);
        }
        let project = |rows: LogicalPlanBuilder| {
            rows.project(shown.iter().cloned().map(Expr::Column))
                .map_err(err)
        };
        let mut samples = project(orphans)?.build().map_err(err)?;
        if let Some(violating) = violating_rows {
            samples = LogicalPlanBuilder::from(samples)
                .union(project(violating)?.build().map_err(err)?)
                .map_err(err)?
                .build()
                .map_err(err)?;
        }
        let query = query.build().map_err(err)?;
        let thresholds = cx.thresholds;
        // Without a condition the query is just the count of these rows: the engine can
        // count them and keep the examples in one anti-join instead of two.
        let failing_rows = if self.condition.is_none() {
            FailingRows::CountedPlan(samples)
        } else {
            FailingRows::Plan(samples)
        };
        Ok(Compiled {
            measures: vec![count_if(not_null)?],
            query: Some(query),
            distinct_keys: None,
            failing_rows: Some(failing_rows),
            judge: Box::new(move |o| {
                let checked = as_u64(o.measures.first());
                let orphans = as_u64(o.query.first());
                let condition_failed = as_u64(o.query.get(1));
                let failed = orphans + condition_failed;
                let mut outcome = failed_rows_outcome(failed, checked, thresholds);
                let mut parts = Vec::new();
                if orphans > 0 {
                    parts.push(format!(
                        "{orphans} rows reference keys missing from {parent_name}"
                    ));
                }
                if condition_failed > 0 {
                    parts.push(format!(
                        "{condition_failed} rows join a {parent_name} row that fails the condition"
                    ));
                }
                if !parts.is_empty() {
                    outcome.message = Some(parts.join("; "));
                }
                outcome
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn finds_orphans() {
        // customer 99 is not in customers; NULL customer ids are not checked.
        let o = check(
            orders(),
            "references: { column: customer_id, dataset: customers, key: id }",
        );
        assert!(!o.passed);
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        assert_eq!(o.rows_checked, Some(5));
        // The example shows the referencing column only: the anti-join reads no other.
        assert_eq!(o.samples.len(), 1, "{o:?}");
        let shown: Vec<&String> = o.samples[0].keys().collect();
        assert_eq!(shown, ["customer_id"], "{o:?}");
        assert_eq!(o.samples[0]["customer_id"], 99);
    }

    #[test]
    fn many_orphans_are_all_counted_and_the_first_are_shown() {
        // Counted and sampled in one pass: every orphan counts, the examples (3 kept) are
        // the smallest keys, whatever order the files deliver them in.
        let child = crate::rules::testing::ints(&[(
            "parent_id",
            [40, 7, 1, 33, 9, 2, 12].map(Some).to_vec(),
        )]);
        let parent = crate::rules::testing::ints(&[("id", vec![Some(1), Some(2)])]);
        let o = crate::rules::testing::check_tables(
            &[("child", &child), ("parent", &parent)],
            "references: { column: parent_id, dataset: parent, key: id }",
        );
        assert_eq!((o.failed_rows, o.rows_checked), (Some(5), Some(7)), "{o:?}");
        let shown: Vec<&serde_json::Value> = o.samples.iter().map(|r| &r["parent_id"]).collect();
        assert_eq!(shown, [7, 9, 12], "{o:?}");
    }

    #[test]
    fn join_condition() {
        let o = check(
            orders(),
            "references: { column: customer_id, dataset: test.customers, key: id, condition: \"child.created_at >= parent.signup_at\", max_failed: 1 }",
        );
        // one orphan plus one order placed before its customer signed up
        assert_eq!(o.failed_rows, Some(2), "{o:?}");
        // Both examples show the key and the child column the condition reads.
        assert_eq!(o.samples.len(), 2, "{o:?}");
        for row in &o.samples {
            let shown: Vec<&String> = row.keys().collect();
            assert_eq!(shown, ["customer_id", "created_at"], "{o:?}");
        }
    }

    #[test]
    fn join_condition_counts_child_rows_when_parent_keys_repeat() {
        use crate::rules::testing::{check_tables, ints};
        let children = ints(&[
            ("id", vec![Some(1), Some(2), Some(3), Some(4)]),
            ("pid", vec![Some(10), Some(10), Some(20), Some(30)]),
            ("v", vec![Some(5), Some(5), Some(1), Some(9)]),
        ]);
        // Parent 10 appears three times, 20 twice: an inner join would make 6 + 2 pairs.
        let parents = ints(&[
            (
                "pid",
                vec![Some(10), Some(10), Some(10), Some(20), Some(20)],
            ),
            ("floor", vec![Some(1), Some(2), Some(3), Some(0), Some(5)]),
        ]);
        let tables = [("child", &children), ("parents", &parents)];
        let o = check_tables(
            &tables,
            "references: { column: pid, dataset: parents, condition: \"child.v > parent.floor\" }",
        );
        // Row 3 joins parent (20, 5) and fails; row 4 is an orphan; rows 1, 2 hold for all.
        assert_eq!(o.failed_rows, Some(2), "{o:?}");
        assert_eq!(o.rows_checked, Some(4));
        let o = check_tables(
            &tables,
            "references: { column: pid, dataset: parents, condition: \"child.v >= 1\" }",
        );
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
    }

    #[test]
    fn bad_references() {
        let e = compile_error(
            orders(),
            "references: { column: customer_id, dataset: customers, key: nope }",
        );
        assert!(
            e.contains("column `nope` is not in dataset test.customers"),
            "{e}"
        );
        let e = compile_error(
            orders(),
            "references: { column: status, dataset: customers, key: id }",
        );
        assert!(e.contains("cannot be compared"), "{e}");
    }
}
