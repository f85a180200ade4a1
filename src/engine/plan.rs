//! Planning a run: every check compiled against the datasets' registered tables into one
//! fused scan per dataset plus the grouped passes and joins that need their own query.
//! Pure: it reads no file and lists nothing (the tables are registered by
//! [`super::prepare`], which did the IO), so it can be tested on in-memory tables.

use std::collections::{BTreeSet, HashMap};

use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::SessionContext;

use super::fused::FusedScan;
use super::{
    CheckMeta, Prepared, PreparedCheck, PreparedDataset, PreparedReconciliation, RunOptions,
    check_sql, plan_read_only_sql, scoped_plan, source_of, sql_of, sqlexpr, table_plan,
};
use crate::config::rules::{DatasetSpec, RuleSet};
use crate::error::{Diagnostic, DqError};
use crate::facts::DatasetFacts;
use crate::report::DatasetResult;
use crate::rules::CompileContext;

/// What a run covers: the selected datasets and reconciliations, and every dataset they read.
pub struct Selection<'a> {
    pub datasets: Vec<&'a DatasetSpec>,
    /// Indexes into the rule set's reconciliations.
    pub reconciliations: Vec<usize>,
    /// The selected datasets and the datasets their checks and reconciliations read.
    pub needed: BTreeSet<String>,
}

/// Compiles the selection against the registered tables. `facts` holds each needed
/// dataset's resolution: a dataset that could not be read makes its checks runtime errors;
/// problems in the rules are returned together (exit 2).
pub fn plan(
    session: &SessionContext,
    rules: &RuleSet,
    options: &RunOptions,
    selection: &Selection<'_>,
    mut facts: HashMap<String, Result<DatasetFacts, String>>,
) -> Result<Prepared, DqError> {
    let mut problems: Vec<Diagnostic> = Vec::new();
    let mut prepared = Prepared {
        datasets: vec![],
        reconciliations: vec![],
        errored: vec![],
        failed_datasets: vec![],
        as_of: options.as_of,
        sample_failures: options.sample_failures,
        distributed: options.engine.is_distributed(),
    };
    let lookup = |reference: &str, layer: &str| -> Result<(String, LogicalPlan), String> {
        let q = rules.resolve_name(reference, layer)?;
        let plan = table_plan(session, &q)?;
        Ok((q, plan))
    };
    let plan_sql = |sql: &str| -> Result<LogicalPlan, String> {
        plan_read_only_sql(session, sql, options.as_of)
    };
    let parse_expr = |sql: &str, schema: &datafusion::common::DFSchema| {
        sqlexpr::parse(session, sql, schema, options.as_of)
    };

    let mut scoped_plans: HashMap<String, LogicalPlan> = HashMap::new();
    // Scoped plans for every resolved dataset (scope errors are rules errors).
    for q in &selection.needed {
        let spec = rules.dataset(q).expect("declared");
        if let Some(Ok(_)) = facts.get(q) {
            match scoped_plan(session, spec, options.as_of) {
                Ok(plan) => {
                    scoped_plans.insert(q.clone(), plan);
                }
                Err(e) => problems.push(
                    spec.at
                        .diagnostic(format!("dataset {q}: invalid scope: {e}")),
                ),
            }
        }
    }

    for spec in &selection.datasets {
        let q = spec.qualified();
        let dataset_facts = match facts.get(&q) {
            Some(Ok(f)) => f.clone(),
            Some(Err(e)) => {
                let message = format!("dataset {q}: {e}");
                for c in &spec.checks {
                    prepared
                        .errored
                        .push(CheckMeta::of(c, spec).error(message.clone(), String::new()));
                }
                prepared.failed_datasets.push(DatasetResult {
                    id: q.clone(),
                    layer: spec.layer.clone(),
                    name: spec.name.clone(),
                    facts: DatasetFacts::default(),
                    rows_in_scope: None,
                    scan_ms: None,
                    error: Some(e.clone()),
                });
                continue;
            }
            None => continue,
        };
        let Some(scoped) = scoped_plans.get(&q).cloned() else {
            continue;
        };
        let schema = scoped.schema().clone();
        let mut fused = FusedScan::default();
        let mut checks = Vec::new();
        for c in &spec.checks {
            let meta = CheckMeta::of(c, spec);
            // A check whose other dataset could not be read is a runtime error, not a rules one.
            let broken_dep = c.rule.depends_on().into_iter().find_map(|dep| {
                let dq = rules.resolve_name(&dep, &spec.layer).ok()?;
                match facts.get(&dq) {
                    Some(Err(e)) => Some(format!("dataset {dq}: {e}")),
                    _ => None,
                }
            });
            if let Some(message) = broken_dep {
                prepared.errored.push(meta.error(message, String::new()));
                continue;
            }
            let filter = match &c.filter {
                Some(w) => match sqlexpr::parse(session, w, &schema, options.as_of) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        problems
                            .push(c.at.diagnostic(format!("{}: invalid where `{w}`: {e}", c.name)));
                        continue;
                    }
                },
                None => None,
            };
            let layer = spec.layer.clone();
            let lookup_here = |r: &str| lookup(r, &layer);
            let cx = CompileContext {
                session,
                schema: &schema,
                dataset: &q,
                layer: &spec.layer,
                scoped: &scoped,
                check_filter: filter.as_ref(),
                as_of: options.as_of,
                thresholds: c.thresholds,
                lookup: &lookup_here,
                plan_sql: &plan_sql,
                parse_expr: &parse_expr,
            };
            let compiled = match c.rule.compile(&cx) {
                Ok(compiled) => compiled,
                Err(e) => {
                    problems.push(c.at.diagnostic(format!("{}: {e}", c.name)));
                    continue;
                }
            };
            let mut slots = Vec::new();
            for m in &compiled.measures {
                match fused.add(m.clone(), filter.as_ref()) {
                    Ok(slot) => slots.push(slot),
                    Err(e) => problems.push(c.at.diagnostic(format!("{}: {e}", c.name))),
                }
            }
            let sql = check_sql(&compiled, filter.as_ref(), &scoped);
            checks.push(PreparedCheck {
                meta,
                compiled,
                slots,
                filter,
                sql,
            });
        }
        if options.verify_files && !fused.is_empty() {
            // count(column) decodes every page of the column (its validity at least).
            for (q, f) in schema.iter() {
                let column = Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()));
                let _ = fused.add(
                    datafusion::functions_aggregate::expr_fn::count(column),
                    None,
                );
            }
        }
        let rows_slot = if fused.is_empty() {
            None
        } else {
            fused
                .add(
                    datafusion::functions_aggregate::expr_fn::count(datafusion::logical_expr::lit(
                        1i64,
                    )),
                    None,
                )
                .ok()
        };
        prepared.datasets.push(PreparedDataset {
            qualified: q.clone(),
            layer: spec.layer.clone(),
            name: spec.name.clone(),
            facts: dataset_facts,
            scoped,
            fused,
            rows_slot,
            checks,
            reported: true,
        });
    }

    for &i in &selection.reconciliations {
        let r = &rules.reconciliations[i];
        let meta = CheckMeta {
            id: format!("{}.reconciliation.{}", r.layer, r.spec.name),
            layer: r.layer.clone(),
            dataset: None,
            name: r.spec.name.clone(),
            kind: "reconciliation".into(),
            severity: r.spec.severity,
            description: r.spec.description.clone(),
            source: source_of(&r.at),
        };
        let mut sides = Vec::new();
        let mut sql = Vec::new();
        let mut failure = None;
        for side in [&r.spec.left, &r.spec.right] {
            let q = match rules.resolve_name(&side.dataset, &r.layer) {
                Ok(q) => q,
                Err(e) => {
                    problems.push(r.at.diagnostic(e));
                    break;
                }
            };
            if let Some(Err(e)) = facts.get(&q) {
                failure = Some(format!("dataset {q}: {e}"));
                break;
            }
            let Some(scoped) = scoped_plans.get(&q).cloned() else {
                break;
            };
            let position = match prepared.datasets.iter().position(|d| d.qualified == q) {
                Some(p) => p,
                None => {
                    let spec = rules.dataset(&q).expect("declared");
                    prepared.datasets.push(PreparedDataset {
                        qualified: q.clone(),
                        layer: spec.layer.clone(),
                        name: spec.name.clone(),
                        facts: facts
                            .get(&q)
                            .and_then(|f| f.as_ref().ok())
                            .cloned()
                            .unwrap_or_default(),
                        scoped: scoped.clone(),
                        fused: FusedScan::default(),
                        rows_slot: None,
                        checks: vec![],
                        reported: false,
                    });
                    prepared.datasets.len() - 1
                }
            };
            let schema = scoped.schema().clone();
            let what = format!("reconciliation `{}`", r.spec.name);
            let expr = match sqlexpr::parse(session, &side.expr, &schema, options.as_of) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(
                        r.at.diagnostic(format!("{what}: invalid expr `{}`: {e}", side.expr)),
                    );
                    break;
                }
            };
            let filter = match &side.filter {
                Some(w) => match sqlexpr::parse(session, w, &schema, options.as_of) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        problems.push(r.at.diagnostic(format!("{what}: invalid where `{w}`: {e}")));
                        break;
                    }
                },
                None => None,
            };
            let target = &mut prepared.datasets[position];
            match target.fused.add(expr.clone(), filter.as_ref()) {
                Ok(slot) => {
                    let mut one = FusedScan::plain();
                    let _ = one.add(expr, filter.as_ref());
                    if let Ok(plan) = one.aggregate_plan(&scoped) {
                        sql.push(sql_of(&plan));
                    }
                    sides.push((q.clone(), slot));
                }
                Err(e) => {
                    problems.push(r.at.diagnostic(format!("{what}: {e}")));
                    break;
                }
            }
        }
        if let Some(message) = failure {
            prepared.errored.push(meta.error(message, String::new()));
        } else if sides.len() == 2 {
            let right = sides.pop().expect("two sides");
            let left = sides.pop().expect("two sides");
            prepared.reconciliations.push(PreparedReconciliation {
                meta,
                left,
                right,
                tolerance: r.spec.tolerance,
                sql: sql.join(";\n"),
            });
        }
    }
    // Rows in scope for datasets only read by reconciliations.
    for d in &mut prepared.datasets {
        if d.rows_slot.is_none() && !d.fused.is_empty() {
            d.rows_slot = d
                .fused
                .add(
                    datafusion::functions_aggregate::expr_fn::count(datafusion::logical_expr::lit(
                        1i64,
                    )),
                    None,
                )
                .ok();
        }
    }
    facts.clear();
    if problems.is_empty() {
        Ok(prepared)
    } else {
        Err(DqError::Config(problems))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::datasource::MemTable;

    use super::*;

    /// A session with in-memory tables `silver.orders` and `silver.customers`: planning needs
    /// registered tables, never files.
    fn session() -> SessionContext {
        let session = SessionContext::new();
        let catalog = session.catalog("datafusion").unwrap();
        catalog
            .register_schema(
                "silver",
                Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
            )
            .unwrap();
        let orders = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
            ("customer_id", Arc::new(Int64Array::from(vec![7, 8])) as _),
            (
                "email",
                Arc::new(StringArray::from(vec![Some("a@b.c"), None])) as _,
            ),
        ])
        .unwrap();
        let customers =
            RecordBatch::try_from_iter([("customer_id", Arc::new(Int64Array::from(vec![7])) as _)])
                .unwrap();
        for (name, batch) in [("orders", orders), ("customers", customers)] {
            let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
            session
                .register_table(
                    datafusion::common::TableReference::partial("silver", name),
                    Arc::new(table),
                )
                .unwrap();
        }
        session
    }

    fn rules() -> RuleSet {
        crate::config::rules::load_sources(&[(
            std::path::PathBuf::from("silver.yaml"),
            "layer: silver\ndatasets:\n  - name: orders\n    checks:\n      - not_null: { columns: [email] }\n      - row_count: { min: 1 }\n      - unique: { columns: [id] }\n      - references: { column: customer_id, dataset: customers, key: customer_id }\n  - name: customers\n".to_string(),
        )])
        .unwrap()
    }

    fn selection(rules: &RuleSet) -> Selection<'_> {
        Selection {
            datasets: vec![rules.dataset("silver.orders").unwrap()],
            reconciliations: vec![],
            needed: ["silver.orders".to_string(), "silver.customers".to_string()].into(),
        }
    }

    #[test]
    fn checks_compile_into_one_fused_scan_without_io() {
        let rules = rules();
        let facts = [
            ("silver.orders".to_string(), Ok(DatasetFacts::default())),
            ("silver.customers".to_string(), Ok(DatasetFacts::default())),
        ]
        .into();
        let options = RunOptions::new(".", ".");
        let prepared = plan(&session(), &rules, &options, &selection(&rules), facts).unwrap();
        assert_eq!(prepared.datasets.len(), 1);
        let orders = &prepared.datasets[0];
        assert_eq!(orders.checks.len(), 4);
        // not_null and row_count are measures of the fused scan; unique and references
        // run their own passes.
        assert!(!orders.checks[0].slots.is_empty() && !orders.checks[1].slots.is_empty());
        assert!(orders.checks[2].compiled.distinct_keys.is_some());
        assert!(orders.checks[3].compiled.query.is_some());
        assert!(orders.rows_slot.is_some());
        assert!(prepared.errored.is_empty());
    }

    #[test]
    fn a_check_on_an_unreadable_dataset_is_a_runtime_error_and_rules_errors_come_together() {
        let rules = rules();
        let facts = [
            ("silver.orders".to_string(), Ok(DatasetFacts::default())),
            (
                "silver.customers".to_string(),
                Err("cannot list it".to_string()),
            ),
        ]
        .into();
        let options = RunOptions::new(".", ".");
        let prepared = plan(&session(), &rules, &options, &selection(&rules), facts).unwrap();
        assert_eq!(prepared.errored.len(), 1, "the references check");
        assert!(
            prepared.errored[0]
                .message
                .as_deref()
                .unwrap()
                .contains("cannot list it")
        );
        assert_eq!(prepared.datasets[0].checks.len(), 3);

        let bad = crate::config::rules::load_sources(&[(
            std::path::PathBuf::from("silver.yaml"),
            "layer: silver\ndatasets:\n  - name: orders\n    checks:\n      - not_null: { columns: [nope] }\n      - range: { column: email, min: 1, where: \"id >\" }\n".to_string(),
        )])
        .unwrap();
        let selection = Selection {
            datasets: vec![bad.dataset("silver.orders").unwrap()],
            reconciliations: vec![],
            needed: ["silver.orders".to_string()].into(),
        };
        let facts = [("silver.orders".to_string(), Ok(DatasetFacts::default()))].into();
        match plan(&session(), &bad, &options, &selection, facts) {
            Err(DqError::Config(problems)) => assert_eq!(problems.len(), 2, "{problems:?}"),
            other => panic!(
                "expected two rules errors, got {:?}",
                other.map(|p| p.check_count())
            ),
        }
    }
}
