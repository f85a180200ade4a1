//! The fused scan: every aggregate measure of a dataset's checks in one query.
//!
//! Each check's measures may contain aggregate functions; the check's `where` becomes a
//! `FILTER (WHERE …)` on each of them. Identical aggregates are computed once (many
//! row-level checks share `count(1)`), then a projection evaluates each measure over them.

use std::collections::HashMap;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, and, col};

#[derive(Debug, Default, Clone)]
pub struct FusedScan {
    aggregates: Vec<Expr>,
    index: HashMap<Expr, usize>,
    outputs: Vec<Expr>,
}

impl FusedScan {
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    pub fn aggregate_count(&self) -> usize {
        self.aggregates.len()
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
                if let Some(f) = filter {
                    agg.params.filter = Some(Box::new(match agg.params.filter.take() {
                        Some(own) => and(f.clone(), *own),
                        None => f.clone(),
                    }));
                }
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

    /// `SELECT <measures> FROM (SELECT <aggregates> FROM scoped)` — one scan.
    pub fn plan(&self, scoped: &LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
        let aggregates: Vec<Expr> = self
            .aggregates
            .iter()
            .enumerate()
            .map(|(i, a)| a.clone().alias(format!("__dq_a{i}")))
            .collect();
        LogicalPlanBuilder::from(scoped.clone())
            .aggregate(Vec::<Expr>::new(), aggregates)?
            .project(self.outputs.clone())?
            .build()
    }

    /// Only the aggregate part, which reads better as SQL in `dq plan`.
    pub fn aggregate_plan(&self, scoped: &LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
        let aggregates: Vec<Expr> = self
            .aggregates
            .iter()
            .enumerate()
            .map(|(i, a)| a.clone().alias(format!("a{i}")))
            .collect();
        LogicalPlanBuilder::from(scoped.clone())
            .aggregate(Vec::<Expr>::new(), aggregates)?
            .build()
    }
}
