//! The fused scan: every aggregate measure of a dataset's checks in one query.
//!
//! Each check's measures may contain aggregate functions; the check's `where` becomes a
//! `FILTER (WHERE …)` on each of them. Identical aggregates are computed once (many
//! row-level checks share `count(1)`), then a projection evaluates each measure over them.
//! Filtered row counts (`count(1) FILTER (WHERE p)`) are packed into one `dq_count_true` aggregate
//! over their predicates (see [`super::count_true`]), so a hundred row-level checks cost a
//! hundred predicate evaluations, not a hundred filtering accumulators.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::common::Column;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::execution::session_state::SessionState;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, and, col};

use super::samples::SampleCollector;

const COUNTS: &str = "__dq_counts";

#[derive(Debug, Default, Clone)]
pub struct FusedScan {
    aggregates: Vec<Expr>,
    index: HashMap<Expr, usize>,
    /// Predicates counted by the packed `dq_count_true` aggregate.
    predicates: Vec<Expr>,
    predicate_index: HashMap<Expr, usize>,
    outputs: Vec<Expr>,
    /// Keep every aggregate as written (for SQL meant to be read, e.g. per-check SQL).
    plain: bool,
}

/// `count(<non-null literal>)` without DISTINCT: a plain row count.
fn is_row_count(agg: &datafusion::logical_expr::expr::AggregateFunction) -> bool {
    agg.func.name() == "count"
        && !agg.params.distinct
        && agg.params.order_by.is_empty()
        && matches!(agg.params.args.as_slice(), [Expr::Literal(v, _)] if !v.is_null())
}

impl FusedScan {
    /// A scan that writes every aggregate as is: the same results, SQL a person reads.
    pub fn plain() -> FusedScan {
        FusedScan {
            plain: true,
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    pub fn has_row_predicates(&self) -> bool {
        !self.predicates.is_empty()
    }

    pub fn aggregate_count(&self) -> usize {
        self.aggregates.len() + self.predicates.len()
    }

    /// Adds a measure, applying `filter` to its aggregates; returns its output column index.
    pub fn add(&mut self, measure: Expr, filter: Option<&Expr>) -> Result<usize, String> {
        let mut found_aggregate = false;
        let rebased = measure
            .transform_up(|e| {
                let Expr::AggregateFunction(mut agg) = e else {
                    return Ok(Transformed::no(e));
                };
                found_aggregate = true;
                let combined = match (filter, agg.params.filter.take()) {
                    (Some(f), Some(own)) => Some(and(f.clone(), *own)),
                    (Some(f), None) => Some(f.clone()),
                    (None, own) => own.map(|o| *o),
                };
                // Unfiltered counts stay plain: Parquet statistics can answer them.
                if let (false, true, Some(predicate)) =
                    (self.plain, is_row_count(&agg), combined.clone())
                {
                    let next = self.predicates.len();
                    let idx = *self
                        .predicate_index
                        .entry(predicate.clone())
                        .or_insert(next);
                    if idx == next {
                        self.predicates.push(predicate);
                    }
                    return Ok(Transformed::yes(get_field(col(COUNTS), format!("c{idx}"))));
                }
                agg.params.filter = combined.map(Box::new);
                let agg = Expr::AggregateFunction(agg);
                let next = self.aggregates.len();
                let idx = *self.index.entry(agg.clone()).or_insert(next);
                if idx == next {
                    self.aggregates.push(agg);
                }
                Ok(Transformed::yes(col(format!("__dq_a{idx}"))))
            })
            .map_err(|e| e.to_string())?
            .data;
        if !found_aggregate {
            return Err("a measure must contain an aggregate function (e.g. sum(x))".into());
        }
        let n = self.outputs.len();
        self.outputs.push(rebased.alias(format!("m{n}")));
        Ok(n)
    }

    /// The aggregates, the packed counts last (`counts` counts the predicates).
    fn aggregate_exprs(&self, prefix: &str, counts: Option<Expr>) -> Vec<Expr> {
        let mut exprs: Vec<Expr> = self
            .aggregates
            .iter()
            .enumerate()
            .map(|(i, a)| a.clone().alias(format!("{prefix}{i}")))
            .collect();
        if !self.predicates.is_empty() {
            let counts =
                counts.unwrap_or_else(|| super::count_true::udaf().call(self.predicates.clone()));
            exprs.push(counts.alias(COUNTS));
        }
        exprs
    }

    /// `SELECT <measures> FROM (SELECT <aggregates> FROM scoped)` — one scan. The predicates
    /// are counted by [`super::row_checks`], which skips work per batch; a predicate it
    /// cannot compile (e.g. one with a subquery) leaves them all to `dq_count_true`.
    /// `null_free` names columns statistics prove to hold no NULL, so that NULL tests on
    /// them are known false and need not read the column. With `samples` > 0 the scan also
    /// keeps each predicate's first failing rows (of the columns the scan reads anyway), in
    /// the returned collector, keyed by [`Self::predicate_of`]. Without `in_process` (a
    /// cluster runs the plan) the predicates are counted by `dq_count_true`, which any node
    /// decodes by name, and no examples are kept (they are queried for).
    pub fn plan(
        &self,
        state: &SessionState,
        scoped: &LogicalPlan,
        null_free: &[String],
        samples: usize,
        in_process: bool,
    ) -> datafusion::error::Result<(LogicalPlan, Option<Arc<SampleCollector>>)> {
        let shown = self.columns_read(scoped);
        let (counts, collector) = if self.predicates.is_empty() || !in_process {
            (None, None)
        } else {
            match super::row_checks::call(
                state,
                scoped.schema(),
                &self.predicates,
                null_free,
                (samples > 0).then_some((shown.as_slice(), samples)),
            ) {
                Ok((expr, collector)) => (Some(expr), collector),
                Err(e) => {
                    tracing::debug!("row-level predicates counted by DataFusion: {e}");
                    (None, None)
                }
            }
        };
        let plan = LogicalPlanBuilder::from(scoped.clone())
            .aggregate(Vec::<Expr>::new(), self.aggregate_exprs("__dq_a", counts))?
            .project(self.outputs.clone())?
            .build()?;
        Ok((plan, collector))
    }

    /// The columns the in-process scan shows in its failing-row examples (see
    /// [`super::row_checks`]), in schema order; None when it would keep none. A cluster
    /// queries its examples with exactly these columns, so both engines show the same rows.
    pub fn example_columns(
        &self,
        state: &SessionState,
        scoped: &LogicalPlan,
        null_free: &[String],
    ) -> Option<Vec<String>> {
        if self.predicates.is_empty() {
            return None;
        }
        let shown = self.columns_read(scoped);
        let (_, collector) = super::row_checks::call(
            state,
            scoped.schema(),
            &self.predicates,
            null_free,
            Some((shown.as_slice(), 1)),
        )
        .ok()?;
        collector.map(|c| {
            c.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
    }

    /// The columns the scan's other aggregates read (`mean(amount)`): decoded anyway, so
    /// examples show them beside the columns the predicates read, at no extra cost.
    fn columns_read(&self, scoped: &LogicalPlan) -> Vec<Column> {
        let read: HashSet<String> = self
            .aggregates
            .iter()
            .flat_map(|e| e.column_refs().into_iter().map(|c| c.name.clone()))
            .collect();
        scoped
            .schema()
            .columns()
            .into_iter()
            .filter(|c| read.contains(&c.name))
            .collect()
    }

    /// The index of the packed predicate that counts `count(1) FILTER (WHERE filter AND
    /// failing)`, as [`Self::add`] packed it.
    pub fn predicate_of(&self, filter: Option<&Expr>, failing: &Expr) -> Option<usize> {
        let combined = match filter {
            Some(f) => and(f.clone(), failing.clone()),
            None => failing.clone(),
        };
        self.predicate_index.get(&combined).copied()
    }

    /// Only the aggregate part, which reads better as SQL in `dq plan`.
    pub fn aggregate_plan(&self, scoped: &LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
        LogicalPlanBuilder::from(scoped.clone())
            .aggregate(Vec::<Expr>::new(), self.aggregate_exprs("a", None))?
            .build()
    }
}
