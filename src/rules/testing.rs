//! Helpers for the rule modules' tests: a tiny orders/customers lake written as real
//! Parquet, and a one-check run through the real engine.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};

use crate::config::rules::load_sources;
use crate::engine::{self, RunOptions};
use crate::error::DqError;
use crate::report::{CheckResult, Status};

pub const AS_OF: &str = "2026-11-07T00:00:00Z";

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
/// 2026-11-01T00:00:00Z in microseconds.
const NOV_1: i64 = 1_793_491_200_000_000;

fn ts(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

/// Six orders with one defect of each sort (see each rule's tests for the expectations).
pub fn orders() -> RecordBatch {
    let created: Vec<i64> = (0..6).map(|i| NOV_1 + i * DAY).collect();
    let mut created_at = created.clone();
    created_at[5] += 5 * HOUR;
    let updated: Vec<Option<i64>> = created_at
        .iter()
        .enumerate()
        .map(|(i, c)| Some(if i == 2 { c - HOUR } else { c + HOUR }))
        .collect();
    RecordBatch::try_from_iter(vec![
        (
            "order_id",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])) as ArrayRef,
        ),
        (
            "customer_id",
            Arc::new(Int64Array::from(vec![
                Some(10),
                Some(11),
                Some(12),
                Some(10),
                Some(99),
                None,
            ])),
        ),
        (
            "amount",
            Arc::new(Float64Array::from(vec![
                Some(10.0),
                Some(20.5),
                Some(-1.0),
                Some(300.0),
                Some(50.0),
                None,
            ])),
        ),
        (
            "status",
            Arc::new(StringArray::from(vec![
                "placed",
                "shipped",
                "delivered",
                "bogus",
                "shipped",
                "cancelled",
            ])),
        ),
        (
            "email",
            Arc::new(StringArray::from(vec![
                Some("a@example.com"),
                Some("b@example.com"),
                Some("bad"),
                Some("d@example.com"),
                None,
                Some("f@example.org"),
            ])),
        ),
        ("created_at", ts(created_at.into_iter().map(Some).collect())),
        ("updated_at", ts(updated)),
    ])
    .expect("valid batch")
}

pub fn customers() -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![10, 11, 12])) as ArrayRef,
        ),
        (
            "signup_at",
            ts(vec![
                Some(NOV_1 - 31 * DAY),
                Some(NOV_1 - 31 * DAY),
                Some(NOV_1 + 4 * DAY),
            ]),
        ),
    ])
    .expect("valid batch")
}

/// The parts of a result the rule tests look at.
#[derive(Debug)]
pub struct TestOutcome {
    pub passed: bool,
    pub observed: serde_json::Value,
    pub failed_rows: Option<u64>,
    pub rows_checked: Option<u64>,
    pub message: Option<String>,
    /// The failing-row examples (at most 3).
    pub samples: Vec<serde_json::Map<String, serde_json::Value>>,
}

fn write(dir: &std::path::Path, name: &str, batch: &RecordBatch) {
    let path = dir.join("test").join(name);
    std::fs::create_dir_all(&path).expect("temp dir");
    crate::sample::write_parquet(&path.join("part-0.parquet"), std::slice::from_ref(batch))
        .expect("write parquet");
}

fn run(orders: RecordBatch, check: &str) -> Result<Vec<CheckResult>, DqError> {
    run_on(&[("orders", &orders), ("customers", &customers())], check)
}

/// Runs `check` on the first of `tables` (each written as dataset `test.<name>`).
fn run_on(tables: &[(&str, &RecordBatch)], check: &str) -> Result<Vec<CheckResult>, DqError> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, batch) in tables {
        write(dir.path(), name, batch);
    }
    let indented: String = check
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect::<String>();
    let mut text = format!(
        "layer: test\ndatasets:\n  - name: {}\n    checks:\n      - {}\n",
        tables[0].0,
        indented.trim_start()
    );
    for (name, _) in &tables[1..] {
        text.push_str(&format!("  - name: {name}\n"));
    }
    let rules = load_sources(&[(dir.path().join("test.yaml"), text)]).map_err(DqError::Config)?;
    let options = RunOptions {
        datasets: vec![format!("test.{}", tables[0].0)],
        as_of: crate::time::parse_instant(AS_OF).expect("valid"),
        sample_failures: 3,
        ..RunOptions::new(dir.path(), ".")
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(crate::engine::THREAD_STACK)
        .enable_all()
        .build()
        .expect("runtime");
    // Planned on a thread with the stack dq's main thread has, not on the test harness's
    // smaller one: a debug build's optimizer recursion is deep.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(crate::engine::THREAD_STACK)
            .spawn_scoped(scope, || {
                runtime.block_on(async {
                    let session = engine::session(None)?;
                    let prepared = engine::prepare(&session, &rules, &options).await?;
                    let (_, checks) = engine::execute(&session, prepared).await;
                    Ok(checks)
                })
            })
            .expect("a thread for the check")
            .join()
            .expect("the check's thread")
    })
}

/// Runs one check on the first of `tables` (named datasets of layer `test`).
pub fn check_tables(tables: &[(&str, &RecordBatch)], check: &str) -> TestOutcome {
    outcome(run_on(tables, check), check)
}

/// A batch of Int64 columns (None is NULL), for small hand-made tables.
pub fn ints(columns: &[(&str, Vec<Option<i64>>)]) -> RecordBatch {
    RecordBatch::try_from_iter(columns.iter().map(|(name, values)| {
        (
            *name,
            Arc::new(Int64Array::from(values.clone())) as ArrayRef,
        )
    }))
    .expect("valid batch")
}

/// Runs one check (YAML, e.g. `not_null: { columns: [id] }`) on `orders`.
pub fn check(orders: RecordBatch, check: &str) -> TestOutcome {
    outcome(run(orders, check), check)
}

fn outcome(results: Result<Vec<CheckResult>, DqError>, check: &str) -> TestOutcome {
    let mut results = match results {
        Ok(r) => r,
        Err(e) => panic!("check `{check}` did not compile: {e}"),
    };
    assert_eq!(results.len(), 1, "{results:?}");
    let r = results.remove(0);
    assert_ne!(r.status, Status::Error, "check errored: {r:?}");
    TestOutcome {
        passed: r.status == Status::Pass,
        observed: r.observed.clone(),
        failed_rows: r.failed_rows,
        rows_checked: r.rows_checked,
        message: r.message.clone(),
        samples: r.sample_failures.clone(),
    }
}

/// The rules error a check produces (panics if it compiles).
pub fn compile_error(orders: RecordBatch, check: &str) -> String {
    match run(orders, check) {
        Err(DqError::Config(d)) => d
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        Err(other) => panic!("expected a rules error for `{check}`, got {other}"),
        Ok(r) => panic!("expected a rules error for `{check}`, got {r:?}"),
    }
}
