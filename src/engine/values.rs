//! Arrow values as JSON, for observed values and failing-row samples.

use datafusion::arrow::array::RecordBatch;
use datafusion::common::ScalarValue;

/// Rows of record batches as JSON objects (column name → value).
pub fn rows_as_json(
    batches: &[RecordBatch],
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    let mut buf = Vec::new();
    {
        // NULLs written as `null`: a row failing `not_null` shows the NULL it fails on.
        let mut writer = datafusion::arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, datafusion::arrow::json::writer::JsonArray>(&mut buf);
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        writer.write_batches(&refs).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    if buf.is_empty() {
        return Ok(vec![]);
    }
    let value: serde_json::Value = serde_json::from_slice(&buf).map_err(|e| e.to_string())?;
    Ok(match value {
        serde_json::Value::Array(rows) => rows
            .into_iter()
            .filter_map(|r| match r {
                serde_json::Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => vec![],
    })
}

/// The values of the first row, column by column; None when there is no row.
pub fn first_row(batches: &[RecordBatch]) -> Result<Option<Vec<ScalarValue>>, String> {
    for batch in batches {
        if batch.num_rows() > 0 {
            return batch
                .columns()
                .iter()
                .map(|c| ScalarValue::try_from_array(c, 0).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
                .map(Some);
        }
    }
    Ok(None)
}

pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}
