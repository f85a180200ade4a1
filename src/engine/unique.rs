//! Exact uniqueness without grouping, when the keys allow it.
//!
//! 1. A single integer-like key that is strictly increasing within each partition, with
//!    partitions covering disjoint ranges, is unique: one sequential pass, no memory.
//!    (Ids are usually written in order, so this is the common case.)
//! 2. Otherwise every key is hashed, partition by partition: no repeated hash means no
//!    duplicate (equal keys hash equally).
//! 3. Only when a hash repeats (a duplicate, or a collision) does the caller run the exact
//!    grouped query. So the answer is always exact; the passes only decide how cheaply.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::df_err;

async fn streams(
    session: &SessionContext,
    plan: LogicalPlan,
) -> Result<Vec<SendableRecordBatchStream>, String> {
    session
        .execute_logical_plan(plan)
        .await
        .map_err(df_err)?
        .execute_stream_partitioned()
        .await
        .map_err(df_err)
}

/// Rows checked when the keys are certainly distinct; None when a grouped pass must decide.
pub async fn distinct_rows(
    session: &SessionContext,
    plan: LogicalPlan,
) -> Result<Option<u64>, String> {
    let fields = plan.schema().fields();
    let ordered_key = fields.len() == 1
        && matches!(
            fields[0].data_type(),
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(_, _)
        );
    if ordered_key {
        if let Some(rows) = increasing(session, plan.clone()).await? {
            return Ok(Some(rows));
        }
    }
    hashed(session, plan).await
}

/// Some(rows) when every partition is strictly increasing and their ranges are disjoint.
async fn increasing(session: &SessionContext, plan: LogicalPlan) -> Result<Option<u64>, String> {
    let tasks: Vec<_> = streams(session, plan)
        .await?
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let (mut first, mut last, mut rows): (Option<i64>, Option<i64>, u64) =
                    (None, None, 0);
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(df_err)?;
                    let column =
                        datafusion::arrow::compute::cast(batch.column(0), &DataType::Int64)
                            .map_err(|e| e.to_string())?;
                    let values = column.as_primitive::<Int64Type>();
                    if values.null_count() > 0 {
                        return Ok::<_, String>(None);
                    }
                    let v = values.values();
                    if v.is_empty() {
                        continue;
                    }
                    if last.is_some_and(|l| v[0] <= l) || v.windows(2).any(|w| w[1] <= w[0]) {
                        return Ok(None);
                    }
                    first.get_or_insert(v[0]);
                    last = v.last().copied();
                    rows += v.len() as u64;
                }
                Ok(Some((first, last, rows)))
            })
        })
        .collect();
    let mut ranges = Vec::new();
    let mut rows = 0;
    for t in tasks {
        match t.await.map_err(|e| e.to_string())?? {
            Some((Some(lo), Some(hi), n)) => {
                ranges.push((lo, hi));
                rows += n;
            }
            Some(_) => {}
            None => return Ok(None),
        }
    }
    ranges.sort();
    if ranges.windows(2).any(|w| w[1].0 <= w[0].1) {
        return Ok(None);
    }
    Ok(Some(rows))
}

/// Some(rows) when no key hash repeats within or across partitions.
async fn hashed(session: &SessionContext, plan: LogicalPlan) -> Result<Option<u64>, String> {
    let tasks: Vec<_> = streams(session, plan)
        .await?
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let state = RandomState::with_seed(0);
                let mut seen: datafusion::common::HashSet<u64> = Default::default();
                let mut rows = 0u64;
                let mut hashes = Vec::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(df_err)?;
                    hashes.clear();
                    hashes.resize(batch.num_rows(), 0);
                    create_hashes(batch.columns(), &state, &mut hashes).map_err(df_err)?;
                    rows += batch.num_rows() as u64;
                    seen.reserve(hashes.len());
                    for h in &hashes {
                        if !seen.insert(*h) {
                            return Ok::<_, String>(None);
                        }
                    }
                }
                Ok(Some((seen, rows)))
            })
        })
        .collect();
    let mut sets = Vec::new();
    for t in tasks {
        match t.await.map_err(|e| e.to_string())?? {
            Some(found) => sets.push(found),
            None => return Ok(None),
        }
    }
    sets.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
    let rows = sets.iter().map(|(_, r)| r).sum();
    for (i, (small, _)) in sets.iter().enumerate().skip(1) {
        if sets[..i]
            .iter()
            .any(|(big, _)| small.iter().any(|h| big.contains(h)))
        {
            return Ok(None);
        }
    }
    Ok(Some(rows))
}
