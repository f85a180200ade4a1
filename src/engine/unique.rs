//! Exact uniqueness without grouping, when the keys allow it.
//!
//! 1. A single integer-like key whose batches are each strictly increasing, with pairwise
//!    disjoint batch ranges, is unique: one sequential pass, almost no memory. Ids are
//!    usually written in order, so this is the common case; it gives up at the first
//!    batch that is not increasing.
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
        let started = std::time::Instant::now();
        if let Some(rows) = increasing(session, plan.clone()).await? {
            tracing::debug!(
                rows,
                ms = started.elapsed().as_millis() as u64,
                "unique: ordered runs prove distinct keys"
            );
            return Ok(Some(rows));
        }
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "unique: keys not in ordered runs"
        );
    }
    let started = std::time::Instant::now();
    let found = hashed(session, plan).await?;
    tracing::debug!(
        distinct = found.is_some(),
        ms = started.elapsed().as_millis() as u64,
        "unique: hashing pass"
    );
    Ok(found)
}

/// Batches a partition may contribute before the ordered path gives up.
const MAX_RUNS: usize = 1 << 20;

/// Some(rows) when every batch holds strictly increasing keys and the batches' ranges are
/// pairwise disjoint (ranges are taken per batch, not merged across batches: partitions
/// interleave files, so a merged range would overlap another partition's without sharing
/// any key).
async fn increasing(session: &SessionContext, plan: LogicalPlan) -> Result<Option<u64>, String> {
    let tasks: Vec<_> = streams(session, plan)
        .await?
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut runs: Vec<(i64, i64)> = Vec::new();
                let mut rows = 0u64;
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(df_err)?;
                    let column =
                        datafusion::arrow::compute::cast(batch.column(0), &DataType::Int64)
                            .map_err(|e| e.to_string())?;
                    let values = column.as_primitive::<Int64Type>();
                    let v = values.values();
                    if v.is_empty() {
                        continue;
                    }
                    if values.null_count() > 0
                        || v.windows(2).any(|w| w[1] <= w[0])
                        || runs.len() >= MAX_RUNS
                    {
                        return Ok::<_, String>(None);
                    }
                    runs.push((v[0], v[v.len() - 1]));
                    rows += v.len() as u64;
                }
                Ok(Some((runs, rows)))
            })
        })
        .collect();
    let mut ranges = Vec::new();
    let mut rows = 0;
    for t in tasks {
        match t.await.map_err(|e| e.to_string())?? {
            Some((r, n)) => {
                ranges.extend(r);
                rows += n;
            }
            None => return Ok(None),
        }
    }
    ranges.sort_unstable();
    if let Some(w) = ranges.windows(2).find(|w| w[1].0 <= w[0].1) {
        tracing::debug!(runs = ranges.len(), first = ?w[0], second = ?w[1], "unique: overlapping runs");
        return Ok(None);
    }
    Ok(Some(rows))
}

/// Some(rows) when no key hash repeats within or across partitions. The hash sets are
/// accounted in the session's memory pool: when `--memory-limit` leaves no room, the pass
/// gives up and the grouped query (which spills to disk) decides.
async fn hashed(session: &SessionContext, plan: LogicalPlan) -> Result<Option<u64>, String> {
    let pool = session.runtime_env().memory_pool.clone();
    let tasks: Vec<_> = streams(session, plan)
        .await?
        .into_iter()
        .map(|mut stream| {
            let reservation =
                datafusion::execution::memory_pool::MemoryConsumer::new("dq unique hashes")
                    .register(&pool);
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
                    // A hash set slot costs about 9 bytes; growth doubles the table.
                    let wanted = (seen.len() + hashes.len()) * 18;
                    if wanted > reservation.size()
                        && reservation.try_grow(wanted - reservation.size()).is_err()
                    {
                        tracing::debug!(
                            keys = seen.len(),
                            "unique: memory limit reached, leaving it to the grouped pass"
                        );
                        return Ok(None);
                    }
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
