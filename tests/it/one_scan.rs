//! All aggregate checks of a dataset are answered by one scan, reading only the columns
//! they need and only the partitions in scope.

use std::sync::Arc;

use datafusion::physical_plan::{ExecutionPlan, displayable};

use crate::common::{Project, prepare_rules, silver_orders};

fn count_scans(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let own = usize::from(plan.name() == "DataSourceExec");
    own + plan
        .children()
        .iter()
        .map(|c| count_scans(c))
        .sum::<usize>()
}

#[test]
fn aggregate_checks_share_one_scan_with_pruning() {
    let mut rules = silver_orders(&[
        "row_count: { min: 1 }",
        "not_null: { columns: [order_id, amount] }",
        "accepted_values: { column: status, values: [placed, shipped, delivered, cancelled, returned] }",
        "range: { column: amount, min: 0, max: 100000, where: \"status <> 'cancelled'\" }",
        "pattern: { column: status, regex: '^[a-z]+$' }",
        "length: { column: status, max: 12 }",
        "expression: { condition: \"amount >= 0\" }",
        "statistic: { column: amount, stat: mean, min: 1, max: 1000 }",
        "statistic: { column: amount, stat: stddev, max: 10000 }",
        "freshness: { column: created_at, max_age: 2d }",
        "unique: { columns: [order_id] }",
    ]);
    rules = rules.replace(
        "    partitioning: [{ name: date, type: date }]\n",
        "    partitioning: [{ name: date, type: date }]\n    scope: \"date >= current_date - interval '3 days'\"\n",
    );
    let p = Project::new(&[("silver.yaml", &rules)]);
    let project = dq::config::project::Project::load(&p.path().join("dq.yaml")).unwrap();
    let cx = dq::run::Context::load(project, None, None).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let session = cx.session().await.unwrap();
        let prepared = cx.prepare(&session).await.unwrap();
        let d = prepared
            .datasets
            .iter()
            .find(|d| d.qualified == "silver.orders")
            .unwrap();
        // Ten aggregate checks, one grouped pass for uniqueness.
        assert_eq!(d.checks.iter().filter(|c| !c.slots.is_empty()).count(), 10);
        assert_eq!(
            d.checks
                .iter()
                .filter(|c| c.compiled.query.is_some())
                .count(),
            1
        );
        let plan = d
            .fused
            // With failing-row examples kept: still one scan.
            .plan(
                &session.state(),
                &d.scoped,
                &d.facts.null_free_columns,
                5,
                true,
            )
            .unwrap()
            .0;
        let physical = session.state().create_physical_plan(&plan).await.unwrap();
        assert_eq!(
            count_scans(&physical),
            1,
            "{}",
            displayable(physical.as_ref()).indent(true)
        );
        let text = displayable(physical.as_ref()).indent(true).to_string();
        // Partition pruning: the scope keeps 2026-11-18..20 of 10 days.
        assert!(text.contains("date=2026-11-20"), "{text}");
        assert!(!text.contains("date=2026-11-17"), "{text}");
        // Projection: only the columns the checks read.
        let scan_line = text.lines().find(|l| l.contains("DataSourceExec")).unwrap();
        for unused in ["email", "country", "currency", "customer_id", "updated_at"] {
            assert!(
                !scan_line.contains(unused),
                "reads unused column {unused}: {scan_line}"
            );
        }
        // And the whole run agrees with the plan: every check answered.
        let (_, results) = dq::engine::execute(&session, prepared).await;
        assert_eq!(results.len(), 12);
        assert!(
            results
                .iter()
                .all(|r| r.status != dq::report::Status::Error),
            "{results:?}"
        );
    });
}

/// A column declared nullable whose Parquet statistics count no NULL in any file: its
/// NULL test is answered from the statistics, and the column is not read for it. A column
/// with NULLs is still read and counted.
#[test]
fn not_null_on_a_column_without_nulls_is_answered_by_statistics() {
    use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let dir = tempfile::tempdir().unwrap();
    for part in 0..2 {
        let batch = RecordBatch::try_from_iter_with_nullable(vec![
            (
                "full",
                Arc::new(StringArray::from(vec![Some("a"), Some("b"), Some("c")])) as ArrayRef,
                true,
            ),
            (
                "holey",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
                true,
            ),
        ])
        .unwrap();
        assert!(batch.schema().field(0).is_nullable());
        dq::sample::write_parquet(
            &dir.path().join(format!("lake/test/t/part-{part}.parquet")),
            &[batch],
        )
        .unwrap();
    }
    let text = "layer: test\ndatasets:\n  - name: t\n    checks:\n      - not_null: { name: full, columns: [full] }\n      - not_null: { name: holey, columns: [holey], max_failed: 10 }\n";
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (session, prepared) = prepare_rules(dir.path(), text).await;
        let d = &prepared.datasets[0];
        assert_eq!(d.facts.null_free_columns, vec!["full".to_string()]);
        let scan_line = |null_free: &[String]| {
            let plan = d
                .fused
                .plan(&session.state(), &d.scoped, null_free, 0, true)
                .unwrap()
                .0;
            let state = session.state();
            let physical = futures::executor::block_on(state.create_physical_plan(&plan)).unwrap();
            let text = displayable(physical.as_ref()).indent(true).to_string();
            text.lines()
                .find(|l| l.contains("DataSourceExec"))
                .unwrap()
                .to_string()
        };
        assert!(scan_line(&[]).contains("full"));
        let with_statistics = scan_line(&d.facts.null_free_columns);
        assert!(!with_statistics.contains("full"), "{with_statistics}");
        assert!(with_statistics.contains("holey"), "{with_statistics}");
        let (_, results) = dq::engine::execute(&session, prepared).await;
        let by_name = |n: &str| results.iter().find(|r| r.name == n).unwrap();
        assert_eq!(by_name("full").failed_rows, Some(0));
        assert_eq!(by_name("full").rows_checked, Some(6));
        assert_eq!(by_name("holey").failed_rows, Some(2));
    });
}
