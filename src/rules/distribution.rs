//! A column's distribution compared with a reference: a Kolmogorov-Smirnov statistic for
//! numbers, a chi-square statistic or a population-stability index for categories.
//!
//! Parameters:
//! - `column` (name)
//! - `test`: `ks` (numeric column; the two-sample statistic D, the largest distance between
//!   the two empirical distribution functions, as SciPy's `ks_2samp`), `chi_square`
//!   (categories; Pearson's statistic Σ (O − E)² / E with E from the reference's shares, as
//!   SciPy's `chisquare`), or `psi` (categories; Σ (p − q) · ln(p / q), shares below
//!   `epsilon` raised to it).
//! - `reference`, one of:
//!   - `{ dataset: layer.name, column: c, where: "…" }`: another dataset's column (default:
//!     the same column name), optionally filtered — last month's partition, a golden set;
//!   - `{ values: [...] }`: a sample written in the rules (`ks`), or
//!   - `{ frequencies: { EUR: 0.6, USD: 0.3, GBP: 0.1 } }`: expected shares or counts of
//!     each category (`chi_square`, `psi`; normalised to sum 1), or
//!   - `{ previous_runs: N }`: the category counts this same check recorded in its last N
//!     earlier runs of the environment (`chi_square`, `psi`), summed — runs in which it
//!     failed or warned are skipped, so a drift does not become the new normal. Judged
//!     once the run is done, as `change` is; the first run records and reports
//!     `insufficient_history`. Needs the metric history (not `--no-history`); at most
//!     1000 categories.
//! - `max_statistic` (number): the largest accepted statistic (D, chi-square, or PSI);
//! - `min_p_value` (`chi_square` only): the smallest accepted p-value (degrees of freedom:
//!   the reference's categories − 1).
//! - `epsilon` (`psi`, default 0.0001).
//!
//! NULLs (and NaN for `ks`) are left out of both sides. For categories, values are compared
//! as text. A category present in the data but absent from the reference makes the
//! chi-square statistic infinite (it cannot occur under the reference) and is named in the
//! message. Answered by one query that reads the column and the reference (`ks` sorts
//! both sides once; categories are grouped): `dq plan` shows it.
//!
//! Example:
//! ```yaml
//! - distribution:
//!     column: amount
//!     test: ks
//!     reference: { dataset: silver.orders_last_month, column: amount }
//!     max_statistic: 0.05
//! - distribution:
//!     column: currency
//!     test: chi_square
//!     reference: { frequencies: { EUR: 0.6, USD: 0.3, GBP: 0.1 } }
//!     min_p_value: 0.01
//! - distribution:
//!     column: status
//!     test: psi
//!     reference: { previous_runs: 7 }
//!     max_statistic: 0.1
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::functions_aggregate::expr_fn::{array_agg, count, max};
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, WindowFrame, WindowFunctionDefinition,
    cast, col, expr, lit,
};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, parse_as, trim_float};

pub const KIND: RuleKind = RuleKind {
    name: "distribution",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("distribution.rs"),
    parse: parse_as::<Distribution>,
    schema: schema_of::<Distribution>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    Ks,
    ChiSquare,
    Psi,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub dataset: Option<String>,
    pub column: Option<String>,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub values: Option<Vec<f64>>,
    pub frequencies: Option<BTreeMap<String, f64>>,
    /// Compare with the category counts this check recorded in its last N earlier runs
    /// (those in which it did not fail or warn), summed.
    pub previous_runs: Option<usize>,
}

/// The history metric prefix under which a categorical check's counts are recorded.
pub const COUNT_METRIC: &str = "count:";

/// Categories a check reports (and records) its counts for, at most.
pub const MAX_COUNTED_CATEGORIES: usize = 1000;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    pub column: String,
    pub test: Test,
    pub reference: Reference,
    pub max_statistic: Option<f64>,
    pub min_p_value: Option<f64>,
    pub epsilon: Option<f64>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `aggregate(arg) OVER (ORDER BY x)` with the default frame (every row up to the current
/// one's last peer): a running total that includes ties, i.e. an empirical CDF's count.
fn running(
    aggregate: Arc<datafusion::logical_expr::AggregateUDF>,
    arg: Expr,
    x: &Expr,
) -> Result<Expr, String> {
    Expr::from(expr::WindowFunction::new(
        WindowFunctionDefinition::AggregateUDF(aggregate),
        vec![arg],
    ))
    .order_by(vec![x.clone().sort(true, false)])
    // RANGE, not ROWS: rows equal to the current one (its peers) are counted too.
    .window_frame(WindowFrame::new(Some(false)))
    .build()
    .map_err(err)
}

fn over_all(aggregate: Arc<datafusion::logical_expr::AggregateUDF>, arg: Expr) -> Expr {
    Expr::from(expr::WindowFunction::new(
        WindowFunctionDefinition::AggregateUDF(aggregate),
        vec![arg],
    ))
}

impl Rule for Distribution {
    fn default_name(&self) -> String {
        let test = match self.test {
            Test::Ks => "ks",
            Test::ChiSquare => "chi_square",
            Test::Psi => "psi",
        };
        format!("distribution({}, {test})", self.column)
    }

    fn depends_on(&self) -> Vec<String> {
        self.reference.dataset.iter().cloned().collect()
    }

    fn uses_history(&self) -> bool {
        self.reference.previous_runs.is_some()
    }

    fn judge_with_history(
        &self,
        c: &mut crate::report::CheckResult,
        earlier: &[&crate::history::Point],
    ) {
        use crate::report::Status;
        let Some(runs) = self.reference.previous_runs else {
            return;
        };
        let Some(counts) = c.observed.get("counts").and_then(|v| v.as_object()) else {
            return; // errored, or too many categories: already judged
        };
        let observed: BTreeMap<String, u64> = counts
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
            .collect();
        // The earlier runs' counts, by run (newest last), from runs where the check neither
        // failed nor warned: a drifted run does not become the new normal.
        let mut by_run: BTreeMap<(chrono::DateTime<chrono::Utc>, &str), BTreeMap<String, f64>> =
            BTreeMap::new();
        for p in earlier {
            let Some(category) = p.metric.strip_prefix(COUNT_METRIC) else {
                continue;
            };
            if matches!(p.status.as_deref(), Some("fail" | "warn" | "error")) {
                continue;
            }
            *by_run
                .entry((p.as_of, &p.run_id))
                .or_default()
                .entry(category.to_string())
                .or_default() += p.value.unwrap_or(0.0);
        }
        let usable = by_run.len();
        let chosen: Vec<&BTreeMap<String, f64>> = by_run.values().rev().take(runs).collect();
        if chosen.is_empty() {
            c.status = Status::Insufficient;
            c.message = Some(format!(
                "insufficient history: needs an earlier run of this check that recorded its counts (0 of {runs} usable); this run's counts are recorded"
            ));
            return;
        }
        let mut reference: BTreeMap<String, f64> = BTreeMap::new();
        for run in &chosen {
            for (k, n) in *run {
                *reference.entry(k.clone()).or_default() += n;
            }
        }
        let statistic = categorical_statistic(
            self.test,
            &observed,
            &reference,
            self.epsilon.unwrap_or(1e-4),
        );
        let o = self.outcome(statistic, &c.threshold, Some(&observed));
        c.status = crate::engine::status_of(&o, c.severity);
        c.observed = o.observed;
        c.rows_checked = o.rows_checked;
        let against = format!(
            "against the {} earlier run{} (of {usable} usable)",
            chosen.len(),
            if chosen.len() == 1 { "" } else { "s" }
        );
        c.message = Some(match o.message {
            Some(m) => format!("{m}; {against}"),
            None => against,
        });
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        self.validate()?;
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        let data = cx.filtered()?.build().map_err(err)?;
        match self.test {
            Test::Ks => {
                if !data_type.is_numeric() {
                    return Err(format!(
                        "distribution `ks` needs a numeric column; `{}` is {data_type}",
                        self.column
                    ));
                }
                let reference = self.reference_plan(cx, true)?;
                let query = ks_query(data, column, reference)?;
                Ok(self.judged(query))
            }
            Test::ChiSquare | Test::Psi => {
                let query = categories_query(data, column, self.reference_plan(cx, false)?)?;
                Ok(self.judged(query))
            }
        }
    }
}

impl Distribution {
    fn validate(&self) -> Result<(), String> {
        let r = &self.reference;
        let given = [
            r.dataset.is_some(),
            r.values.is_some(),
            r.frequencies.is_some(),
            r.previous_runs.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(
                "distribution `reference` takes exactly one of `dataset`, `values`, `frequencies`, `previous_runs`"
                    .into(),
            );
        }
        if r.previous_runs == Some(0) {
            return Err("`reference.previous_runs` must be at least 1".into());
        }
        if r.previous_runs.is_some() && self.test == Test::Ks {
            return Err(
                "`ks` cannot compare with earlier runs (the history keeps counts of categories, not samples): give a reference dataset, e.g. an earlier partition with `where`"
                    .into(),
            );
        }
        if r.dataset.is_none() && (r.column.is_some() || r.filter.is_some()) {
            return Err(
                "`reference.column` and `reference.where` go with `reference.dataset`".into(),
            );
        }
        match (self.test, r.values.is_some(), r.frequencies.is_some()) {
            (Test::Ks, _, true) => {
                return Err(
                    "`ks` compares numbers: give `reference.values` or a dataset, not frequencies"
                        .into(),
                );
            }
            (Test::ChiSquare | Test::Psi, true, _) => {
                return Err(
                    "categories are compared with `reference.frequencies` or a dataset, not values"
                        .into(),
                );
            }
            _ => {}
        }
        if r.values
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.iter().any(|x| !x.is_finite()))
        {
            return Err("`reference.values` needs at least one value, all finite".into());
        }
        if let Some(f) = &r.frequencies {
            if f.is_empty()
                || f.values().any(|w| !w.is_finite() || *w < 0.0)
                || f.values().sum::<f64>() <= 0.0
            {
                return Err("`reference.frequencies` needs shares ≥ 0 with a positive sum".into());
            }
        }
        if self.max_statistic.is_none() && self.min_p_value.is_none() {
            return Err(
                "distribution needs `max_statistic` (or `min_p_value` for chi_square)".into(),
            );
        }
        if self.min_p_value.is_some() && self.test != Test::ChiSquare {
            return Err("`min_p_value` is given for `chi_square` only".into());
        }
        if self.epsilon.is_some() && self.test != Test::Psi {
            return Err("`epsilon` goes with `psi` only".into());
        }
        if self.epsilon.is_some_and(|e| !(e > 0.0 && e < 1.0)) {
            return Err("`epsilon` must be between 0 and 1".into());
        }
        Ok(())
    }

    /// The reference as one column named `x`: numbers (`ks`) or text (categories), NULLs
    /// removed; None for `frequencies`, which the judge holds itself.
    fn reference_plan(
        &self,
        cx: &CompileContext<'_>,
        numeric: bool,
    ) -> Result<Option<LogicalPlan>, String> {
        let r = &self.reference;
        if let Some(values) = &r.values {
            let rows: Vec<Vec<Expr>> = values.iter().map(|v| vec![lit(*v)]).collect();
            let plan = LogicalPlanBuilder::values(rows)
                .map_err(err)?
                .project(vec![col("column1").alias("x")])
                .map_err(err)?
                .build()
                .map_err(err)?;
            return Ok(Some(plan));
        }
        let Some(dataset) = &r.dataset else {
            return Ok(None);
        };
        let (name, plan) = (cx.lookup)(dataset)?;
        let column_name = r.column.as_deref().unwrap_or(&self.column);
        let schema = plan.schema().clone();
        let field = schema
            .fields()
            .iter()
            .find(|f| f.name() == column_name)
            .ok_or_else(|| super::unknown_column(column_name, &schema, &name))?;
        if numeric && !field.data_type().is_numeric() {
            return Err(format!(
                "{name}.{column_name} is {}; `ks` needs numbers on both sides",
                field.data_type()
            ));
        }
        let reference_column =
            Expr::Column(datafusion::common::Column::new_unqualified(column_name));
        let mut builder = LogicalPlanBuilder::from(plan);
        if let Some(filter) = &r.filter {
            let f = (cx.parse_expr)(filter, &schema)
                .map_err(|e| format!("invalid reference `where` `{filter}`: {e}"))?;
            builder = builder.filter(f).map_err(err)?;
        }
        let target = if numeric {
            DataType::Float64
        } else {
            DataType::Utf8
        };
        let plan = builder
            .filter(reference_column.clone().is_not_null())
            .map_err(err)?
            .project(vec![cast(reference_column, target).alias("x")])
            .map_err(err)?
            .build()
            .map_err(err)?;
        Ok(Some(plan))
    }

    fn judged(&self, query: LogicalPlan) -> Compiled {
        let rule = self.clone();
        let threshold = self.describe();
        Compiled {
            measures: vec![],
            query: Some(query),
            distinct_keys: None,
            failing_rows: None,
            judge: Box::new(move |o| {
                if rule.reference.previous_runs.is_some() {
                    return rule.counted_for_history(o.query, &threshold);
                }
                match rule.test {
                    Test::Ks => {
                        let ks = Statistic {
                            value: super::as_f64(o.query.first()).unwrap_or(f64::NAN),
                            p_value: None,
                            sizes: (super::as_u64(o.query.get(1)), super::as_u64(o.query.get(2))),
                            unexpected: vec![],
                        };
                        rule.outcome(Ok(ks), &threshold, None)
                    }
                    Test::ChiSquare | Test::Psi => {
                        let (result, counts) = rule.categorical(o.query);
                        rule.outcome(result, &threshold, Some(&counts))
                    }
                }
            }),
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        let name = match self.test {
            Test::Ks => "KS D",
            Test::ChiSquare => "chi-square",
            Test::Psi => "PSI",
        };
        if let Some(m) = self.max_statistic {
            parts.push(format!("{name} ≤ {}", trim_float(m, 6)));
        }
        if let Some(p) = self.min_p_value {
            parts.push(format!("p ≥ {}", trim_float(p, 6)));
        }
        parts.join(", ")
    }

    /// Chi-square or PSI from the grouped counts of the data (and of the reference
    /// dataset), with the data's counts.
    fn categorical(
        &self,
        row: &[datafusion::common::ScalarValue],
    ) -> (Result<Statistic, String>, BTreeMap<String, u64>) {
        let observed = pairs(row.first(), row.get(1));
        let reference: BTreeMap<String, f64> = match &self.reference.frequencies {
            Some(f) => f.clone(),
            None => pairs(row.get(2), row.get(3))
                .into_iter()
                .map(|(k, n)| (k, n as f64))
                .collect(),
        };
        let statistic = categorical_statistic(
            self.test,
            &observed,
            &reference,
            self.epsilon.unwrap_or(1e-4),
        );
        (statistic, observed)
    }

    /// This run's category counts, to be judged against earlier runs once the history is
    /// loaded ([`Rule::judge_with_history`]).
    fn counted_for_history(
        &self,
        row: &[datafusion::common::ScalarValue],
        threshold: &str,
    ) -> Outcome {
        let counts = pairs(row.first(), row.get(1));
        let rows: u64 = counts.values().sum();
        if counts.len() > MAX_COUNTED_CATEGORIES {
            return Outcome {
                passed: false,
                observed: serde_json::Value::Null,
                threshold: threshold.to_string(),
                failed_rows: None,
                rows_checked: Some(rows),
                message: Some(format!(
                    "{} categories: more than the {MAX_COUNTED_CATEGORIES} a comparison with earlier runs keeps",
                    counts.len()
                )),
            };
        }
        Outcome {
            passed: true,
            observed: serde_json::json!({
                "test": self.test_name(),
                "counts": counts,
                "rows": rows,
            }),
            threshold: threshold.to_string(),
            failed_rows: None,
            rows_checked: Some(rows),
            message: Some("judged against this check's earlier runs after the run".into()),
        }
    }

    fn test_name(&self) -> &'static str {
        match self.test {
            Test::Ks => "ks",
            Test::ChiSquare => "chi_square",
            Test::Psi => "psi",
        }
    }

    fn outcome(
        &self,
        result: Result<Statistic, String>,
        threshold: &str,
        counts: Option<&BTreeMap<String, u64>>,
    ) -> Outcome {
        let s = match result {
            Ok(s) => s,
            Err(message) => return Outcome::unjudged(threshold, message),
        };
        let passed = !s.value.is_nan()
            && self.max_statistic.is_none_or(|m| s.value <= m)
            && self
                .min_p_value
                .is_none_or(|m| s.p_value.is_some_and(|p| p >= m));
        let mut message = Vec::new();
        if s.sizes.0 == 0 || s.sizes.1 == 0 {
            message.push("one side has no values".to_string());
        }
        if !s.unexpected.is_empty() {
            message.push(format!("not in the reference: {}", s.unexpected.join(", ")));
        }
        Outcome {
            passed,
            observed: {
                let mut o = serde_json::json!({
                    "test": self.test_name(),
                    "statistic": super::number_json(s.value),
                    "p_value": s.p_value.map(super::number_json),
                    "rows": s.sizes.0,
                    "reference_rows": s.sizes.1,
                });
                if let Some(c) = counts.filter(|c| c.len() <= MAX_COUNTED_CATEGORIES) {
                    o["counts"] = serde_json::json!(c);
                }
                o
            },
            threshold: threshold.to_string(),
            failed_rows: None,
            rows_checked: Some(s.sizes.0),
            message: (!message.is_empty()).then(|| message.join("; ")),
        }
    }
}

/// A test's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistic {
    pub value: f64,
    pub p_value: Option<f64>,
    /// Values compared on each side (for frequencies, the reference's total weight).
    pub sizes: (u64, u64),
    /// Categories in the data that the reference does not have.
    pub unexpected: Vec<String>,
}

/// `SELECT max(|F1(x) − F2(x)|), n1, n2` over the union of both samples, the CDFs counted
/// with ties (peers) included, as `ks_2samp` evaluates them at every observed value.
fn ks_query(
    data: LogicalPlan,
    column: Expr,
    reference: Option<LogicalPlan>,
) -> Result<LogicalPlan, String> {
    use datafusion::functions::math::expr_fn::{abs, isnan};
    use datafusion::functions_aggregate::sum::sum_udaf;
    let reference = reference.ok_or("`ks` needs a reference sample")?;
    let x = col("x");
    let side = |plan: LogicalPlan, value: Expr, first: bool| -> Result<LogicalPlan, String> {
        LogicalPlanBuilder::from(plan)
            .project(vec![
                cast(value, DataType::Float64).alias("x"),
                lit(if first { 1i64 } else { 0 }).alias("a"),
                lit(if first { 0i64 } else { 1 }).alias("b"),
            ])
            .map_err(err)?
            // Derived tables here and below keep the SQL that `dq plan` prints faithful:
            // the unparser folds a filter, a window or an aggregate into the SELECT under it.
            .alias(if first { "data_side" } else { "reference_side" })
            .map_err(err)?
            .filter(
                col("x")
                    .is_not_null()
                    .and(datafusion::logical_expr::not(isnan(col("x")))),
            )
            .map_err(err)?
            .build()
            .map_err(err)
    };
    let both = LogicalPlanBuilder::from(side(data, column, true)?)
        .union(side(reference, col("x"), false)?)
        .map_err(err)?
        .window(vec![
            over_all(sum_udaf(), col("a")).alias("n1"),
            over_all(sum_udaf(), col("b")).alias("n2"),
        ])
        .map_err(err)?
        .project(vec![col("x"), col("a"), col("b"), col("n1"), col("n2")])
        .map_err(err)?
        .alias("sides")
        .map_err(err)?
        .window(vec![
            running(sum_udaf(), col("a"), &x)?.alias("c1"),
            running(sum_udaf(), col("b"), &x)?.alias("c2"),
        ])
        .map_err(err)?
        .project(vec![col("n1"), col("n2"), col("c1"), col("c2")])
        .map_err(err)?
        .alias("cdfs")
        .map_err(err)?;
    let f = |c: &str, n: &str| cast(col(c), DataType::Float64) / cast(col(n), DataType::Float64);
    both.aggregate(
        Vec::<Expr>::new(),
        vec![
            max(abs(f("c1", "n1") - f("c2", "n2"))).alias("statistic"),
            max(col("n1")).alias("n1"),
            max(col("n2")).alias("n2"),
        ],
    )
    .map_err(err)?
    .build()
    .map_err(err)
}

/// One row: the data's categories and counts, and the reference dataset's (if any).
fn categories_query(
    data: LogicalPlan,
    column: Expr,
    reference: Option<LogicalPlan>,
) -> Result<LogicalPlan, String> {
    let counted = |plan: LogicalPlan, value: Expr, prefix: &str| -> Result<LogicalPlan, String> {
        LogicalPlanBuilder::from(plan)
            .project(vec![cast(value, DataType::Utf8).alias("x")])
            .map_err(err)?
            .alias(format!("{prefix}_values"))
            .map_err(err)?
            .filter(col("x").is_not_null())
            .map_err(err)?
            .aggregate(vec![col("x")], vec![count(lit(1i64)).alias("n")])
            .map_err(err)?
            // A derived table of its own, so that `dq plan` prints the grouping (the SQL
            // unparser folds two stacked aggregates into one).
            .alias(format!("{prefix}_by_value"))
            .map_err(err)?
            .aggregate(
                Vec::<Expr>::new(),
                vec![
                    array_agg(col("x")).alias(format!("{prefix}_values")),
                    array_agg(col("n")).alias(format!("{prefix}_counts")),
                ],
            )
            .map_err(err)?
            .build()
            .map_err(err)
    };
    let observed = counted(data, column, "data")?;
    match reference {
        None => Ok(observed),
        Some(r) => LogicalPlanBuilder::from(observed)
            .cross_join(counted(r, col("x"), "reference")?)
            .map_err(err)?
            .build()
            .map_err(err),
    }
}

/// Category → count from two parallel list scalars.
fn pairs(
    values: Option<&datafusion::common::ScalarValue>,
    counts: Option<&datafusion::common::ScalarValue>,
) -> BTreeMap<String, u64> {
    use datafusion::common::ScalarValue;
    let list = |v: Option<&ScalarValue>| -> Vec<ScalarValue> {
        match v {
            Some(ScalarValue::List(l)) => ScalarValue::convert_array_to_scalar_vec(l.as_ref())
                .ok()
                .into_iter()
                .flatten()
                .flatten()
                .flatten()
                .collect(),
            _ => vec![],
        }
    };
    list(values)
        .into_iter()
        .zip(list(counts))
        .filter_map(|(v, n)| {
            let key = match v {
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)) => s,
                _ => return None,
            };
            Some((key, super::as_u64(Some(&n))))
        })
        .collect()
}

/// Pearson's chi-square (with its p-value) or the PSI of observed counts against reference
/// weights (normalised to shares).
pub fn categorical_statistic(
    test: Test,
    observed: &BTreeMap<String, u64>,
    reference: &BTreeMap<String, f64>,
    epsilon: f64,
) -> Result<Statistic, String> {
    let n: u64 = observed.values().sum();
    let total: f64 = reference.values().sum();
    let unexpected: Vec<String> = observed
        .iter()
        .filter(|(k, c)| **c > 0 && reference.get(*k).is_none_or(|w| *w == 0.0))
        .map(|(k, _)| k.clone())
        .collect();
    let sizes = (n, total.round() as u64);
    if n == 0 || total <= 0.0 {
        return Ok(Statistic {
            value: f64::NAN,
            p_value: None,
            sizes,
            unexpected,
        });
    }
    let value = match test {
        Test::ChiSquare => {
            if !unexpected.is_empty() {
                f64::INFINITY
            } else {
                reference
                    .iter()
                    .map(|(k, w)| {
                        let expected = n as f64 * (w / total);
                        let o = *observed.get(k).unwrap_or(&0) as f64;
                        if expected == 0.0 {
                            0.0
                        } else {
                            (o - expected).powi(2) / expected
                        }
                    })
                    .sum()
            }
        }
        Test::Psi => {
            let mut keys: Vec<&String> = reference.keys().collect();
            for k in observed.keys() {
                if !reference.contains_key(k) {
                    keys.push(k);
                }
            }
            keys.into_iter()
                .map(|k| {
                    let p = (*observed.get(k).unwrap_or(&0) as f64 / n as f64).max(epsilon);
                    let q = (reference.get(k).copied().unwrap_or(0.0) / total).max(epsilon);
                    (p - q) * (p / q).ln()
                })
                .sum()
        }
        Test::Ks => return Err("ks is not a categorical test".into()),
    };
    let p_value = (test == Test::ChiSquare).then(|| {
        let categories = reference.values().filter(|w| **w > 0.0).count();
        if value.is_infinite() {
            0.0
        } else {
            chi_square_survival(value, categories.saturating_sub(1) as f64)
        }
    });
    Ok(Statistic {
        value,
        p_value,
        sizes,
        unexpected,
    })
}

/// P(X ≥ x) for a chi-square variable with `df` degrees of freedom: the regularised upper
/// incomplete gamma function Q(df/2, x/2) (series below a+1, continued fraction above).
pub fn chi_square_survival(x: f64, df: f64) -> f64 {
    if df <= 0.0 {
        return if x > 0.0 { 0.0 } else { 1.0 };
    }
    if x <= 0.0 {
        return 1.0;
    }
    let (a, x) = (df / 2.0, x / 2.0);
    let ln_gamma_a = ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) by its series; Q = 1 − P.
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        1.0 - sum * (-x + a * x.ln() - ln_gamma_a).exp()
    } else {
        // Q(a, x) by Lentz's continued fraction.
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x + a * x.ln() - ln_gamma_a).exp() * h
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn survival_function_of_chi_square() {
        // Closed forms for even degrees of freedom: Q(k, y) = e^-y Σ_{i<k} y^i / i!.
        for x in [0.1, 1.0, 3.5, 10.0, 40.0, 150.0] {
            let y: f64 = x / 2.0;
            let q2 = (-y).exp();
            let q4 = (-y).exp() * (1.0 + y);
            let q6 = (-y).exp() * (1.0 + y + y * y / 2.0);
            for (df, q) in [(2.0, q2), (4.0, q4), (6.0, q6)] {
                let got = chi_square_survival(x, df);
                assert!(
                    (got - q).abs() <= 1e-13 + 1e-12 * q,
                    "x {x} df {df}: {got} vs {q}"
                );
            }
        }
        // The 95th percentile of chi-square(1).
        assert!((chi_square_survival(3.841458820694124, 1.0) - 0.05).abs() < 1e-12);
    }

    #[test]
    fn ks_against_a_sample_in_the_rules() {
        // amount (non-NULL): -1, 10, 20.5, 50, 300 against 10, 20.5, 50: the CDFs are
        // 0.2 vs 0 at -1 and 0.8 vs 1 at 50, closer elsewhere: D = 0.2.
        let o = check(
            orders(),
            "distribution: { column: amount, test: ks, reference: { values: [10, 20.5, 50] }, max_statistic: 0.1 }",
        );
        assert!(!o.passed, "{o:?}");
        assert!(
            (o.observed["statistic"].as_f64().unwrap() - 0.2).abs() < 1e-12,
            "{o:?}"
        );
        assert_eq!(o.observed["rows"], 5, "{o:?}");
        assert_eq!(o.observed["reference_rows"], 3, "{o:?}");
    }

    #[test]
    fn chi_square_against_frequencies() {
        // statuses: placed 1, shipped 2, delivered 1, bogus 1, cancelled 1.
        let o = check(
            orders(),
            "distribution: { column: status, test: chi_square, reference: { frequencies: { placed: 1, shipped: 1, delivered: 1, cancelled: 1 } }, max_statistic: 100 }",
        );
        assert!(!o.passed, "bogus is not in the reference: {o:?}");
        assert!(o.message.as_deref().unwrap().contains("bogus"), "{o:?}");
        let o = check(
            orders(),
            "distribution: { column: status, test: psi, reference: { frequencies: { placed: 1, shipped: 2, delivered: 1, bogus: 1, cancelled: 1 } }, max_statistic: 0.0001 }",
        );
        assert!(o.passed, "the same shares: {o:?}");
        assert!(
            o.observed["statistic"].as_f64().unwrap().abs() < 1e-12,
            "{o:?}"
        );
    }

    #[test]
    fn parameters_are_validated() {
        let e = compile_error(
            orders(),
            "distribution: { column: amount, test: ks, reference: { frequencies: { a: 1 } }, max_statistic: 0.1 }",
        );
        assert!(e.contains("not frequencies"), "{e}");
        let e = compile_error(
            orders(),
            "distribution: { column: amount, test: ks, reference: { values: [1] } }",
        );
        assert!(e.contains("max_statistic"), "{e}");
        let e = compile_error(
            orders(),
            "distribution: { column: status, test: ks, reference: { values: [1] }, max_statistic: 0.1 }",
        );
        assert!(e.contains("numeric column"), "{e}");
        let e = compile_error(
            orders(),
            "distribution: { column: amount, test: psi, reference: { frequencies: { a: 1 } }, min_p_value: 0.1 }",
        );
        assert!(e.contains("`chi_square` only"), "{e}");
        let e = compile_error(
            orders(),
            "distribution: { column: amount, test: ks, reference: { previous_runs: 3 }, max_statistic: 0.1 }",
        );
        assert!(e.contains("cannot compare with earlier runs"), "{e}");
        let e = compile_error(
            orders(),
            "distribution: { column: status, test: psi, reference: { previous_runs: 0 }, max_statistic: 0.1 }",
        );
        assert!(e.contains("at least 1"), "{e}");
        let e = compile_error(
            orders(),
            "distribution: { column: status, test: psi, reference: { previous_runs: 1, frequencies: { a: 1 } }, max_statistic: 0.1 }",
        );
        assert!(e.contains("exactly one"), "{e}");
    }

    #[test]
    fn counts_wait_for_the_history_when_compared_with_earlier_runs() {
        // Judged after the run; the run itself reports the counts it will record.
        let o = check(
            orders(),
            "distribution: { column: status, test: psi, reference: { previous_runs: 1 }, max_statistic: 0.1 }",
        );
        assert!(o.passed, "{o:?}");
        assert_eq!(o.observed["counts"]["shipped"], 2, "{o:?}");
        assert!(o.message.unwrap().contains("earlier runs"));
    }
}
