//! The sample lake's Delta table, `silver/payments`: one payment per order of the last three
//! days, partitioned by `date`, in two versions.
//!
//! - version 0 (an append): the payments as first loaded; on the last day one payment was
//!   loaded twice (a retried batch), so a `payment_id` repeats;
//! - version 1 (a MERGE that removed the duplicate): the last day's file is rewritten
//!   without it. The old file stays in the folder, as it does in every Delta table until
//!   VACUUM: read as a folder of Parquet the table has a duplicate, read as Delta it has none.
//!
//! The log is written here by hand (JSON commits as the Delta protocol specifies them), so
//! that the sample lake needs nothing but dq; the tests read tables written by delta-rs too.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use serde_json::json;

/// A payment: the order it pays and when.
pub struct Payment {
    pub payment_id: i64,
    pub order_id: i64,
    pub amount: f64,
    pub method: &'static str,
    pub paid_at: i64,
}

const TABLE: &str = "silver/payments";

fn batch(payments: &[&Payment]) -> Result<RecordBatch, String> {
    RecordBatch::try_from_iter(vec![
        (
            "payment_id",
            Arc::new(Int64Array::from_iter_values(
                payments.iter().map(|p| p.payment_id),
            )) as ArrayRef,
        ),
        (
            "order_id",
            Arc::new(Int64Array::from_iter_values(
                payments.iter().map(|p| p.order_id),
            )),
        ),
        (
            "amount",
            Arc::new(Float64Array::from_iter_values(
                payments.iter().map(|p| p.amount),
            )),
        ),
        (
            "method",
            super::sample::strings(payments.iter().map(|p| p.method.to_string()).collect()),
        ),
        (
            "paid_at",
            super::sample::ts(payments.iter().map(|p| p.paid_at).collect()),
        ),
    ])
    .map_err(|e| e.to_string())
}

fn schema_string() -> String {
    let field =
        |name: &str, t: &str| json!({"name": name, "type": t, "nullable": true, "metadata": {}});
    json!({
        "type": "struct",
        "fields": [
            field("payment_id", "long"),
            field("order_id", "long"),
            field("amount", "double"),
            field("method", "string"),
            field("paid_at", "timestamp"),
            field("date", "date"),
        ]
    })
    .to_string()
}

/// Writes one data file and returns its `add` action.
fn add(
    out: &Path,
    date: NaiveDate,
    name: &str,
    payments: &[&Payment],
    at: i64,
) -> Result<(serde_json::Value, std::path::PathBuf), String> {
    let day = date.format("%Y-%m-%d").to_string();
    let relative = format!("date={day}/{name}");
    let file = out.join(TABLE).join(&relative);
    super::sample::write_parquet(&file, &[batch(payments)?])?;
    let size = std::fs::metadata(&file).map_err(|e| e.to_string())?.len();
    let stats = json!({"numRecords": payments.len(), "nullCount": {"payment_id": 0, "order_id": 0, "amount": 0, "method": 0, "paid_at": 0}});
    Ok((
        json!({"add": {
            "path": relative,
            "partitionValues": {"date": day},
            "size": size,
            "modificationTime": at,
            "dataChange": true,
            "stats": stats.to_string(),
        }}),
        file,
    ))
}

/// Writes a commit file dated `at` (milliseconds since the epoch).
fn commit(
    out: &Path,
    version: u64,
    actions: &[serde_json::Value],
    at: i64,
) -> Result<std::path::PathBuf, String> {
    let path = out
        .join(TABLE)
        .join("_delta_log")
        .join(format!("{version:020}.json"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let text: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    std::fs::write(&path, text.join("\n") + "\n").map_err(|e| e.to_string())?;
    // Without in-commit timestamps a Delta version is as old as its commit file.
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at as u64);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(when))
        .map_err(|e| e.to_string())?;
    Ok(path)
}

/// Writes the table for `days` (date, payments) and returns the files written.
pub fn write(
    out: &Path,
    days: &[(NaiveDate, Vec<Payment>)],
    committed: [i64; 2],
) -> Result<Vec<std::path::PathBuf>, String> {
    let mut written = Vec::new();
    let Some((last_date, last_payments)) = days.last() else {
        return Ok(written);
    };
    let mut v0 = vec![
        json!({"commitInfo": {"timestamp": committed[0], "operation": "WRITE", "operationParameters": {"mode": "Append", "partitionBy": "[\"date\"]"}, "engineInfo": "dq sample-lake"}}),
        json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}),
        json!({"metaData": {
            "id": "5a3c1e2d-0000-4000-8000-00000000da7a",
            "format": {"provider": "parquet", "options": {}},
            "schemaString": schema_string(),
            "partitionColumns": ["date"],
            "configuration": {},
            "createdTime": committed[0],
        }}),
    ];
    for (date, payments) in days {
        let mut rows: Vec<&Payment> = payments.iter().collect();
        if date == last_date {
            if let Some(first) = payments.first() {
                rows.push(first); // the retried batch: one payment twice
            }
        }
        let (action, file) = add(
            out,
            *date,
            "part-00000-v0.snappy.parquet",
            &rows,
            committed[0],
        )?;
        v0.push(action);
        written.push(file);
    }
    written.push(commit(out, 0, &v0, committed[0])?);

    let day = last_date.format("%Y-%m-%d").to_string();
    let rows: Vec<&Payment> = last_payments.iter().collect();
    let (action, file) = add(
        out,
        *last_date,
        "part-00000-v1.snappy.parquet",
        &rows,
        committed[1],
    )?;
    let removed_size = std::fs::metadata(
        out.join(TABLE)
            .join(format!("date={day}/part-00000-v0.snappy.parquet")),
    )
    .map_err(|e| e.to_string())?
    .len();
    let v1 = vec![
        json!({"commitInfo": {"timestamp": committed[1], "operation": "MERGE", "operationParameters": {"predicate": "target.payment_id = source.payment_id"}, "engineInfo": "dq sample-lake"}}),
        json!({"remove": {
            "path": format!("date={day}/part-00000-v0.snappy.parquet"),
            "deletionTimestamp": committed[1],
            "dataChange": true,
            "extendedFileMetadata": true,
            "partitionValues": {"date": day},
            "size": removed_size,
        }}),
        action,
    ];
    written.push(file);
    written.push(commit(out, 1, &v1, committed[1])?);
    Ok(written)
}
