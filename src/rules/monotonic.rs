//! Values increase (or decrease) along an ordering column, optionally within groups (Great
//! Expectations' `expect_column_values_to_be_increasing` / `…_decreasing`).
//!
//! Parameters:
//! - `column` (numeric, temporal or string column): the values that must be ordered
//! - `by` (column): the order of the rows — an event time, a sequence number. Rows are
//!   compared with the row just before them in this order. Data spread over many files
//!   has no other order dq could trust: file and row order depend on the writer.
//! - `partition_by` (list of columns, optional): compare only within each group, e.g.
//!   `[device_id]` for per-device counters, or a Hive partition column.
//! - `direction`: `increasing` (default) or `decreasing`
//! - `strict` (bool, default false): equal consecutive values fail too.
//!
//! A row fails when its value breaks the order against the previous row of its group.
//! Rows whose `column` or `by` is NULL are not checked (and are not anyone's previous
//! row). Rows with equal `by` are taken in the order that favours the check (the values
//! sorted the same way), so ties in `by` alone never fail a non-strict check. Answered by a
//! query of its own that sorts the dataset (`dq plan` shows it). Row-level: accepts
//! `max_failed` / `max_failed_fraction`.
//!
//! Example:
//! ```yaml
//! - monotonic: { column: odometer_km, by: reading_at, partition_by: [vehicle_id] }
//! - monotonic: { column: sequence_no, by: sequence_no, strict: true }
//! ```

use datafusion::functions_aggregate::expr_fn::count;
use datafusion::functions_window::expr_fn::lag;
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlanBuilder, col, lit};
use serde::Deserialize;

use super::schema_of;
use super::{
    CompileContext, Compiled, FailingRows, Placement, Rule, RuleKind, as_u64, count_if,
    failed_rows_outcome, parse_as,
};

pub const KIND: RuleKind = RuleKind {
    name: "monotonic",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("monotonic.rs"),
    parse: parse_as::<Monotonic>,
    schema: schema_of::<Monotonic>,
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Increasing,
    Decreasing,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monotonic {
    pub column: String,
    pub by: String,
    #[serde(default)]
    pub partition_by: Vec<String>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub strict: bool,
}

const PREVIOUS: &str = "__dq_previous";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Rule for Monotonic {
    fn default_name(&self) -> String {
        let how = match self.direction {
            Direction::Increasing => "increasing",
            Direction::Decreasing => "decreasing",
        };
        format!("monotonic({}, {how})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        if !(data_type.is_numeric() || data_type.is_temporal() || super::is_string(&data_type)) {
            return Err(format!(
                "monotonic needs a numeric, temporal or string column; `{}` is {data_type}",
                self.column
            ));
        }
        let by = cx.column(&self.by)?;
        let mut partition = Vec::new();
        for p in &self.partition_by {
            partition.push(cx.column(p)?);
        }
        let ascending = self.direction == Direction::Increasing;
        let mut order = vec![by.clone().sort(true, false)];
        if self.by != self.column {
            order.push(column.clone().sort(ascending, false));
        }
        let previous = lag(column.clone(), Some(1), None)
            .partition_by(partition.clone())
            .order_by(order)
            .build()
            .map_err(err)?
            .alias(PREVIOUS);
        // The columns the examples show: the groups, the order, the value, the previous.
        let mut shown: Vec<Expr> = partition.clone();
        for c in [&by, &column] {
            if !shown.contains(c) {
                shown.push(c.clone());
            }
        }
        let windowed = cx
            .filtered()?
            .filter(column.clone().is_not_null().and(by.is_not_null()))
            .map_err(err)?
            .project(shown.clone())
            .map_err(err)?
            .window(vec![previous])
            .map_err(err)?
            // A derived table, so that the SQL `dq plan` prints keeps the window (the
            // unparser would fold it into the aggregate above).
            .alias(ORDERED)
            .map_err(err)?;
        let column = under_ordered(&column);
        let shown: Vec<Expr> = shown.iter().map(under_ordered).collect();
        let prev = col(PREVIOUS);
        let breaks = match (ascending, self.strict) {
            (true, false) => column.clone().lt(prev.clone()),
            (true, true) => column.clone().lt_eq(prev.clone()),
            (false, false) => column.clone().gt(prev.clone()),
            (false, true) => column.clone().gt_eq(prev.clone()),
        };
        // The first row of a group has no previous value: `breaks` is NULL there.
        let failing = prev.clone().is_not_null().and(breaks);
        let query = windowed
            .clone()
            .aggregate(
                Vec::<Expr>::new(),
                vec![
                    count_if(failing.clone())?.alias("failed_rows"),
                    count(lit(1i64)).alias("rows_checked"),
                ],
            )
            .map_err(err)?
            .build()
            .map_err(err)?;
        let mut example_columns = shown;
        example_columns.push(prev.alias("previous"));
        let examples = LogicalPlanBuilder::from(windowed.build().map_err(err)?)
            .filter(failing)
            .map_err(err)?
            .project(example_columns)
            .map_err(err)?
            .build()
            .map_err(err)?;
        let thresholds = cx.thresholds;
        Ok(Compiled {
            measures: vec![],
            query: Some(query),
            distinct_keys: None,
            failing_rows: Some(FailingRows::Plan(examples)),
            judge: Box::new(move |o| {
                failed_rows_outcome(as_u64(o.query.first()), as_u64(o.query.get(1)), thresholds)
            }),
        })
    }
}

/// The derived table of the rows with their previous value.
const ORDERED: &str = "ordered";

/// `column` as the derived table [`ORDERED`] names it.
fn under_ordered(column: &Expr) -> Expr {
    match column {
        Expr::Column(c) => Expr::Column(datafusion::common::Column::new(
            Some(ORDERED),
            c.name.clone(),
        )),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    // By created_at: order_id 1..6, amount 10, 20.5, -1, 300, 50, NULL,
    // customer_id 10, 11, 12, 10, 99, NULL.

    #[test]
    fn a_value_below_the_previous_one_fails() {
        let o = check(orders(), "monotonic: { column: order_id, by: created_at }");
        assert!(o.passed, "{o:?}");
        assert_eq!(o.rows_checked, Some(6), "{o:?}");
        let o = check(orders(), "monotonic: { column: amount, by: created_at }");
        // -1 after 20.5 and 50 after 300; the NULL row is not checked.
        assert_eq!(o.failed_rows, Some(2), "{o:?}");
        assert_eq!(o.rows_checked, Some(5), "{o:?}");
        assert_eq!(o.samples[0]["previous"], 20.5, "{o:?}");
        let o = check(
            orders(),
            "monotonic: { column: order_id, by: created_at, direction: decreasing }",
        );
        assert_eq!(o.failed_rows, Some(5), "{o:?}");
    }

    #[test]
    fn groups_and_strictness() {
        // Within each status, a single row or shipped (11 then 99): increasing.
        let o = check(
            orders(),
            "monotonic: { column: customer_id, by: created_at, partition_by: [status] }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "monotonic: { column: customer_id, by: created_at }",
        );
        // 10 after 12.
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        // order_id by itself: equal `by` and value would fail only when strict; ids are
        // distinct, so strict passes too.
        let o = check(
            orders(),
            "monotonic: { column: order_id, by: order_id, strict: true }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn unknown_columns_are_rules_errors() {
        let e = compile_error(orders(), "monotonic: { column: amount, by: nope }");
        assert!(e.contains("not in dataset"), "{e}");
    }
}
