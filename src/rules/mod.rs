//! The rule catalogue. Each rule kind lives in its own module, which opens with the doc
//! comment that `dq rules`, `dq explain KIND` and `docs/RULES.md` print, its config struct,
//! its compilation to DataFusion expressions, and its tests. [`REGISTRY`] lists them all.

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, lit};
use datafusion::prelude::SessionContext;
use serde::de::DeserializeOwned;

use crate::facts::DatasetFacts;

pub mod accepted_values;
pub mod anomaly;
pub mod change;
pub mod column_count;
pub mod column_type;
pub mod columns_equal;
pub mod distinct_count;
pub mod distinct_values;
pub mod distribution;
pub mod expression;
pub mod forbidden_values;
pub mod freshness;
pub mod length;
pub mod monotonic;
pub mod most_common_value;
pub mod not_null;
pub mod parseable;
pub mod pattern;
pub mod patterns;
pub mod range;
pub mod reconciliation;
pub mod references;
pub mod row_count;
pub mod schema;
pub mod sql;
pub mod statistic;
pub mod sum_equals;
pub mod unique;
pub mod value_pairs;

/// Where a rule kind is written in a layer file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Under a dataset's `checks:`.
    Dataset,
    /// Under the file's `reconciliations:`.
    Reconciliation,
}

/// One entry of the catalogue.
pub struct RuleKind {
    pub name: &'static str,
    pub placement: Placement,
    /// Row-level kinds count failing rows and accept `max_failed` / `max_failed_fraction`.
    pub row_level: bool,
    /// The module source; its `//!` comment is the kind's documentation.
    source: &'static str,
    pub parse: fn(serde_json::Value) -> Result<Box<dyn Rule>, String>,
    /// The JSON Schema of its parameters, derived from the struct `parse` reads.
    pub schema: fn() -> serde_json::Value,
}

impl std::fmt::Debug for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl RuleKind {
    /// The module's doc comment, as Markdown.
    pub fn doc(&self) -> String {
        let mut lines = Vec::new();
        for line in self.source.lines() {
            if let Some(rest) = line.strip_prefix("//!") {
                lines.push(rest.strip_prefix(' ').unwrap_or(rest));
            } else if !lines.is_empty() {
                break;
            }
        }
        lines.join("\n").trim().to_string()
    }

    /// The first sentence of the doc.
    pub fn summary(&self) -> String {
        self.doc().lines().next().unwrap_or_default().to_string()
    }
}

/// Every rule kind, in the order the docs list them.
pub static REGISTRY: &[RuleKind] = &[
    row_count::KIND,
    not_null::KIND,
    unique::KIND,
    accepted_values::KIND,
    forbidden_values::KIND,
    distinct_values::KIND,
    distinct_count::KIND,
    most_common_value::KIND,
    pattern::KIND,
    patterns::KIND,
    parseable::KIND,
    range::KIND,
    length::KIND,
    freshness::KIND,
    expression::KIND,
    columns_equal::KIND,
    value_pairs::KIND,
    sum_equals::KIND,
    monotonic::KIND,
    statistic::KIND,
    distribution::KIND,
    schema::KIND,
    column_count::KIND,
    column_type::KIND,
    references::KIND,
    sql::KIND,
    change::KIND,
    anomaly::KIND,
    reconciliation::KIND,
];

pub fn kind(name: &str) -> Option<&'static RuleKind> {
    REGISTRY.iter().find(|k| k.name == name)
}

pub fn dataset_kind_names() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|k| k.placement == Placement::Dataset)
        .map(|k| k.name)
        .collect()
}

/// Deserialises a kind's parameters into its config struct.
/// Errors name the offending parameter (`min: invalid type: …`).
/// The JSON Schema of a rule's parameters (its own `$defs` inlined by reference).
pub fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default()
}

pub fn parse_as<T: Rule + DeserializeOwned + 'static>(
    value: serde_json::Value,
) -> Result<Box<dyn Rule>, String> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(rule) => Ok(Box::new(rule)),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." || inner.starts_with("unknown field") {
                Err(inner)
            } else {
                Err(format!("`{path}`: {inner}"))
            }
        }
    }
}

/// A configured check of one kind.
pub trait Rule: Send + Sync + Debug {
    /// The name used when the rule file gives none, e.g. `not_null(order_id)`.
    fn default_name(&self) -> String;
    /// Other datasets this check reads (`layer.name` or `name`), resolved before compiling.
    fn depends_on(&self) -> Vec<String> {
        Vec::new()
    }
    /// Turns the check into DataFusion expressions and plans, validating columns, types,
    /// regexes and SQL snippets; an error here is a rules error (exit 2).
    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String>;

    /// For checks judged against metric history after the run (`change`, `anomaly`).
    fn history(&self) -> Option<HistoryRule> {
        None
    }
    /// Whether the check needs the metric history loaded (to judge against earlier runs).
    fn uses_history(&self) -> bool {
        self.history().is_some()
    }
    /// For a check that compares itself with its own earlier runs (other than `change` and
    /// `anomaly`): finishes `result` once the run is done, from `earlier`, the recorded
    /// points of this check in runs of this environment evaluated before this one.
    fn judge_with_history(
        &self,
        _result: &mut crate::report::CheckResult,
        _earlier: &[&crate::history::Point],
    ) {
    }
}

/// A check judged against the metric history once the run's other checks are done.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryRule {
    Change(change::Change),
    Anomaly(anomaly::Anomaly),
}

/// What a history check's `metric` names: a dataset figure, or another check's figure.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryMetric {
    /// `rows`, `bytes` or `files` of the check's dataset.
    Dataset(&'static str),
    /// A figure (`observed`, `failed_fraction`, `failed_rows`) of the dataset's check `name`.
    Check { name: String, figure: &'static str },
}

/// A history check as the engine sees it: nothing to judge now (the history judges it after
/// the run), but a dataset's row count must be counted by the fused scan.
pub fn history_compiled(metric: &str) -> Result<Compiled, String> {
    let mut compiled = Compiled::metadata(Box::new(|_| Outcome::judged_later()));
    if history_metric(metric)? == HistoryMetric::Dataset("rows") {
        compiled.measures = vec![count(lit(1i64))];
    }
    Ok(compiled)
}

/// Parses a history check's `metric`.
pub fn history_metric(metric: &str) -> Result<HistoryMetric, String> {
    let metric = metric.trim();
    match metric {
        "" => Err("`metric` is empty".into()),
        "row_count" | "rows" => Ok(HistoryMetric::Dataset("rows")),
        "bytes" => Ok(HistoryMetric::Dataset("bytes")),
        "files" => Ok(HistoryMetric::Dataset("files")),
        _ => {
            for figure in ["failed_fraction", "failed_rows", "observed"] {
                if let Some(name) = metric.strip_suffix(&format!(".{figure}")) {
                    return Ok(HistoryMetric::Check {
                        name: name.to_string(),
                        figure,
                    });
                }
            }
            Ok(HistoryMetric::Check {
                name: metric.to_string(),
                figure: "observed",
            })
        }
    }
}

/// Resolves a dataset name to its qualified name and its full scan.
pub type DatasetLookup<'a> = dyn Fn(&str) -> Result<(String, LogicalPlan), String> + 'a;

/// How much a failing check matters: `error` fails the run, `warn` is reported.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Error,
    Warn,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        }
    }
}

/// What a rule sees while it compiles.
pub struct CompileContext<'a> {
    pub session: &'a SessionContext,
    /// The dataset's schema, partition columns included.
    pub schema: &'a DFSchema,
    /// `layer.dataset`.
    pub dataset: &'a str,
    pub layer: &'a str,
    /// The dataset's scan with its `scope` applied.
    pub scoped: &'a LogicalPlan,
    /// The check's own `where`, already parsed.
    pub check_filter: Option<&'a Expr>,
    pub as_of: DateTime<Utc>,
    pub thresholds: Thresholds,
    /// Resolves another dataset (`layer.name`, or `name` in the same layer) for references.
    pub lookup: &'a DatasetLookup<'a>,
    /// Plans a read-only SQL query against the session's datasets.
    pub plan_sql: &'a dyn Fn(&str) -> Result<LogicalPlan, String>,
    /// Parses a SQL expression against a schema (`now()` is the evaluation instant).
    pub parse_expr: &'a dyn Fn(&str, &DFSchema) -> Result<Expr, String>,
}

impl CompileContext<'_> {
    /// A column of the dataset, or an error listing the available ones.
    pub fn column(&self, name: &str) -> Result<Expr, String> {
        self.data_type(name)?;
        Ok(Expr::Column(Column::new_unqualified(name)))
    }

    pub fn data_type(&self, name: &str) -> Result<DataType, String> {
        match self.schema.fields().iter().find(|f| f.name() == name) {
            Some(f) => Ok(f.data_type().clone()),
            None => Err(unknown_column(name, self.schema, self.dataset)),
        }
    }

    /// Parses a SQL snippet (a row condition or expression) against the dataset's columns.
    pub fn parse_sql(&self, sql: &str, what: &str) -> Result<Expr, String> {
        (self.parse_expr)(sql, self.schema).map_err(|e| format!("invalid {what} `{sql}`: {e}"))
    }

    /// The rows this check looks at: the dataset in scope, narrowed by the check's `where`.
    pub fn filtered(&self) -> Result<LogicalPlanBuilder, String> {
        let builder = LogicalPlanBuilder::from(self.scoped.clone());
        match self.check_filter {
            Some(f) => builder.filter(f.clone()).map_err(|e| e.to_string()),
            None => Ok(builder),
        }
    }
}

/// The error for a column that is not in the dataset.
pub fn unknown_column(name: &str, schema: &DFSchema, dataset: &str) -> String {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let hint = crate::error::closest(name, names.iter().copied())
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    format!(
        "column `{name}` is not in dataset {dataset}; {hint}available columns: {}",
        names.join(", ")
    )
}

/// Thresholds for row-level checks: how many failing rows are tolerated.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thresholds {
    pub max_failed: Option<u64>,
    pub max_failed_fraction: Option<f64>,
}

impl Thresholds {
    pub fn passes(&self, failed: u64, checked: u64) -> bool {
        let fraction = fraction(failed, checked);
        match (self.max_failed, self.max_failed_fraction) {
            (None, None) => failed == 0,
            (count, frac) => {
                count.is_none_or(|m| failed <= m) && frac.is_none_or(|m| fraction <= m)
            }
        }
    }

    pub fn describe(&self) -> String {
        match (self.max_failed, self.max_failed_fraction) {
            (None, None) => "0 failing rows".into(),
            (Some(c), None) => format!("≤ {c} failing rows"),
            (None, Some(f)) => format!("≤ {} failing", percent(f)),
            (Some(c), Some(f)) => format!("≤ {c} and ≤ {} failing", percent(f)),
        }
    }
}

pub fn fraction(failed: u64, checked: u64) -> f64 {
    if checked == 0 {
        0.0
    } else {
        failed as f64 / checked as f64
    }
}

pub fn percent(f: f64) -> String {
    let p = f * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p >= 1.0 {
        format!("{}%", trim_float(p, 2))
    } else {
        format!("{}%", trim_float(p, 4))
    }
}

pub fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The values a compiled check is judged on.
pub struct Observed<'a> {
    /// One value per entry of [`Compiled::measures`], in order.
    pub measures: &'a [ScalarValue],
    /// The single row of [`Compiled::query`], column by column.
    pub query: &'a [ScalarValue],
    pub facts: &'a DatasetFacts,
    pub as_of: DateTime<Utc>,
}

/// The result of judging a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub passed: bool,
    pub observed: serde_json::Value,
    pub threshold: String,
    pub failed_rows: Option<u64>,
    pub rows_checked: Option<u64>,
    pub message: Option<String>,
}

pub type Judge = Box<dyn Fn(&Observed<'_>) -> Outcome + Send + Sync>;

impl Outcome {
    /// A check that could not be judged (no data, an impossible statistic): a failure
    /// with `message`, nothing observed.
    pub fn unjudged(threshold: &str, message: String) -> Outcome {
        Outcome {
            passed: false,
            observed: serde_json::Value::Null,
            threshold: threshold.to_string(),
            failed_rows: None,
            rows_checked: None,
            message: Some(message),
        }
    }

    /// The stand-in result of a history check until the history judges it.
    pub fn judged_later() -> Outcome {
        Outcome {
            passed: true,
            observed: serde_json::Value::Null,
            threshold: String::new(),
            failed_rows: None,
            rows_checked: None,
            message: Some("judged against metric history after the run".into()),
        }
    }
}

/// Which rows to show as examples when a check fails.
#[derive(Debug, Clone)]
pub enum FailingRows {
    /// Rows of the filtered dataset for which this predicate is true.
    Predicate(Expr),
    /// A plan of its own (duplicate keys, orphan rows, …).
    Plan(LogicalPlan),
    /// The failing rows themselves, of which the check's query is the count (its only
    /// value): on the local engine, with examples wanted, one pass over this plan gives
    /// the count and the examples, instead of a count query and then an examples query.
    CountedPlan(LogicalPlan),
}

/// A check turned into work for the engine.
pub struct Compiled {
    /// Scalar measures answered by the dataset's single fused scan. Each contains aggregate
    /// functions; the engine adds the check's `where` to them as a FILTER clause.
    pub measures: Vec<Expr>,
    /// A query of its own (a grouped pass, a join, custom SQL) returning exactly one row;
    /// it must already apply the check's `where` (see [`CompileContext::filtered`]).
    pub query: Option<LogicalPlan>,
    /// Key columns (NULL keys removed) for a fast exact uniqueness pass: the engine hashes
    /// every key; when no hash repeats the keys are distinct and `query` need not run (it
    /// then answers `[rows_checked, 0, 0]`); otherwise `query` gives the exact counts.
    pub distinct_keys: Option<LogicalPlan>,
    pub failing_rows: Option<FailingRows>,
    pub judge: Judge,
}

impl Compiled {
    /// A check that needs no data at all (it is judged on schema or listing facts).
    pub fn metadata(judge: Judge) -> Compiled {
        Compiled {
            measures: vec![],
            query: None,
            distinct_keys: None,
            failing_rows: None,
            judge,
        }
    }
}

/// `count(1) FILTER (WHERE predicate)`.
pub fn count_if(predicate: Expr) -> Result<Expr, String> {
    count(lit(1i64))
        .filter(predicate)
        .build()
        .map_err(|e| e.to_string())
}

/// The usual shape of a row-level check: count the rows for which `failing` is true (NULL
/// counts as not failing) next to the rows checked, and compare with the thresholds.
/// Every row is checked: for checks that judge rows (`not_null`, `expression`).
pub fn row_level(failing: Expr, thresholds: Thresholds) -> Result<Compiled, String> {
    judged_rows(failing, None, thresholds)
}

/// [`row_level`] for a check that judges only the rows where `checked` holds (both
/// columns of a pair present, every term of a sum present): those are its rows checked.
pub fn judged_where(
    failing: Expr,
    checked: Expr,
    thresholds: Thresholds,
) -> Result<Compiled, String> {
    judged_rows(failing, Some(checked), thresholds)
}

/// [`row_level`] for a check that judges a column's values (`range`, `pattern`, `length`,
/// `accepted_values`): the rows checked — the denominator of `max_failed_fraction` and of
/// the failed fraction in the report — are the rows where `column` is not NULL, as for
/// `unique` and as Great Expectations' `mostly` counts.
pub fn value_level(
    failing: Expr,
    column: Expr,
    thresholds: Thresholds,
) -> Result<Compiled, String> {
    judged_rows(failing, Some(column.is_not_null()), thresholds)
}

/// Failing rows over the rows where `checked` holds (every row when None).
fn judged_rows(
    failing: Expr,
    checked: Option<Expr>,
    thresholds: Thresholds,
) -> Result<Compiled, String> {
    let checked = match checked {
        Some(c) => count_if(c)?,
        None => count(lit(1i64)),
    };
    let measures = vec![count_if(failing.clone())?, checked];
    Ok(Compiled {
        measures,
        query: None,
        distinct_keys: None,
        failing_rows: Some(FailingRows::Predicate(failing)),
        judge: Box::new(move |o| {
            let failed = as_u64(o.measures.first());
            let checked = as_u64(o.measures.get(1));
            failed_rows_outcome(failed, checked, thresholds)
        }),
    })
}

pub fn failed_rows_outcome(failed: u64, checked: u64, thresholds: Thresholds) -> Outcome {
    Outcome {
        passed: thresholds.passes(failed, checked),
        observed: serde_json::json!(failed),
        threshold: thresholds.describe(),
        failed_rows: Some(failed),
        rows_checked: Some(checked),
        message: None,
    }
}

pub fn as_u64(v: Option<&ScalarValue>) -> u64 {
    as_f64(v).map(|f| f.max(0.0) as u64).unwrap_or(0)
}

/// A numeric scalar as f64; None for NULL or non-numeric values.
pub fn as_f64(v: Option<&ScalarValue>) -> Option<f64> {
    let v = v?;
    if v.is_null() {
        return None;
    }
    match v.cast_to(&DataType::Float64) {
        Ok(ScalarValue::Float64(f)) => f,
        _ => None,
    }
}

/// A YAML value as a literal comparable with a column of type `data_type`: numbers stay
/// numbers, strings for temporal columns are cast (and validated now, not at scan time).
pub fn literal_for(
    value: &serde_json::Value,
    data_type: &DataType,
    what: &str,
) -> Result<Expr, String> {
    use serde_json::Value as V;
    let scalar = match value {
        V::Bool(b) => ScalarValue::Boolean(Some(*b)),
        V::Number(n) if n.is_i64() => ScalarValue::Int64(n.as_i64()),
        V::Number(n) if n.is_u64() => ScalarValue::UInt64(n.as_u64()),
        V::Number(n) => ScalarValue::Float64(n.as_f64()),
        V::String(s) => ScalarValue::Utf8(Some(s.clone())),
        V::Null => return Err(format!("{what} must not be null")),
        other => return Err(format!("{what} must be a scalar, not {other}")),
    };
    let temporal = data_type.is_temporal();
    let stringy = matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    if temporal || (stringy && !matches!(scalar, ScalarValue::Utf8(_))) {
        let target = if stringy {
            DataType::Utf8
        } else {
            data_type.clone()
        };
        let cast_value = scalar
            .cast_to(&target)
            .map_err(|_| format!("{what} `{value}` cannot be read as {data_type}"))?;
        return Ok(lit(cast_value));
    }
    if data_type.is_numeric() && matches!(scalar, ScalarValue::Utf8(_)) {
        return Err(format!(
            "{what} `{value}` is a string but the column is {data_type}"
        ));
    }
    Ok(lit(scalar))
}

/// Check common parameters shared by several kinds: a non-empty column list.
pub fn require_columns(columns: &[String], kind: &str) -> Result<(), String> {
    if columns.is_empty() {
        return Err(format!("{kind} needs at least one column in `columns`"));
    }
    Ok(())
}

pub fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// A JSON value rendered compactly for names and messages.
/// A measured number as JSON: `-0.0` shown as 0, and NaN and the infinities (which JSON
/// cannot hold) as the strings `NaN`, `inf`, `-inf` rather than a silent null.
pub fn number_json(v: f64) -> serde_json::Value {
    if v == 0.0 {
        serde_json::json!(0.0)
    } else if v.is_nan() {
        serde_json::json!("NaN")
    } else if v.is_infinite() {
        serde_json::json!(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        serde_json::json!(v)
    }
}

pub fn show(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod documented_examples;
#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod number_tests {
    #[test]
    fn measured_numbers_read_as_numbers() {
        assert_eq!(super::number_json(-0.0).to_string(), "0.0");
        assert_eq!(super::number_json(f64::NAN), serde_json::json!("NaN"));
        assert_eq!(super::number_json(-f64::NAN), serde_json::json!("NaN"));
        assert_eq!(
            super::number_json(f64::NEG_INFINITY),
            serde_json::json!("-inf")
        );
        assert_eq!(super::number_json(1.5), serde_json::json!(1.5));
    }
}
