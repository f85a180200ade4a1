//! Exact uniqueness without grouping, when the keys allow it.
//!
//! 1. A single integer-like key whose batches are each strictly increasing, with pairwise
//!    disjoint batch ranges, is unique: one sequential pass, almost no memory. Ids are
//!    usually written in order, so this is the common case; it gives up at the first
//!    batch that is not increasing.
//! 2. Otherwise every key is hashed, partition by partition: no repeated hash means no
//!    duplicate (equal keys hash equally).
//! 3. When hashes repeat (duplicates, or collisions), a second pass keeps only the rows
//!    whose hash is among the repeated ones — a few rows for a few duplicates — and groups
//!    those exactly: the duplicate keys, their rows, and the examples, without grouping
//!    every key of the dataset.
//! 4. Only when the hash sets do not fit the memory limit does the caller run the exact
//!    grouped query (which spills). The answer is always exact; the passes only decide how
//!    cheaply.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::df_err;

/// Key hashes are already uniformly spread 64-bit values (`create_hashes`): a set of them
/// needs no second hash function, and hashing each of ten million hashes again cost as
/// much as inserting it.
#[derive(Default, Clone, Copy)]
pub struct AlreadyHashed(u64);

impl std::hash::Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in, for completeness.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A set of key hashes.
pub type HashSet = std::collections::HashSet<u64, std::hash::BuildHasherDefault<AlreadyHashed>>;

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

/// What the passes found about a key.
#[derive(Debug)]
pub enum Keys {
    /// No key repeats; the rows checked.
    Distinct(u64),
    /// Some keys repeat: rows checked, rows carrying a repeated key, the repeated keys, and
    /// examples (the key columns and `occurrences`, first keys first).
    Duplicates {
        rows: u64,
        failed: u64,
        keys: u64,
        examples: Vec<datafusion::arrow::array::RecordBatch>,
    },
}

/// What the key passes prove, or None when the grouped query must decide (memory).
pub async fn distinct_rows(
    session: &SessionContext,
    plan: LogicalPlan,
    examples: usize,
) -> Result<Option<Keys>, String> {
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
            return Ok(Some(Keys::Distinct(rows)));
        }
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "unique: keys not in ordered runs"
        );
    }
    let started = std::time::Instant::now();
    let Some((rows, repeated)) = hashed(session, plan.clone()).await? else {
        return Ok(None);
    };
    tracing::debug!(
        repeated_hashes = repeated.len(),
        ms = started.elapsed().as_millis() as u64,
        "unique: hashing pass"
    );
    if repeated.is_empty() {
        return Ok(Some(Keys::Distinct(rows)));
    }
    let started = std::time::Instant::now();
    let found = duplicates(session, plan, &repeated, rows, examples).await?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "unique: exact pass over rows with repeated hashes"
    );
    Ok(Some(found))
}

/// The hashes of the key columns of `batch` (the same function in both passes).
fn key_hashes(
    batch: &datafusion::arrow::array::RecordBatch,
    hashes: &mut Vec<u64>,
) -> Result<(), String> {
    let state = RandomState::with_seed(0);
    hashes.clear();
    hashes.resize(batch.num_rows(), 0);
    create_hashes(batch.columns(), &state, hashes).map_err(df_err)?;
    Ok(())
}

/// Re-reads the keys, keeps the rows whose hash repeated, and groups those exactly.
async fn duplicates(
    session: &SessionContext,
    plan: LogicalPlan,
    repeated: &HashSet,
    rows: u64,
    examples: usize,
) -> Result<Keys, String> {
    use datafusion::arrow::array::BooleanArray;
    let schema = plan.schema().inner().clone();
    let tasks: Vec<_> = streams(session, plan)
        .await?
        .into_iter()
        .map(|mut stream| {
            let repeated = repeated.clone();
            tokio::spawn(async move {
                let mut kept = Vec::new();
                let mut hashes = Vec::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(df_err)?;
                    key_hashes(&batch, &mut hashes)?;
                    let mask: BooleanArray =
                        hashes.iter().map(|h| Some(repeated.contains(h))).collect();
                    if mask.true_count() > 0 {
                        kept.push(
                            datafusion::arrow::compute::filter_record_batch(&batch, &mask)
                                .map_err(|e| e.to_string())?,
                        );
                    }
                }
                Ok::<_, String>(kept)
            })
        })
        .collect();
    let mut candidates = Vec::new();
    for t in tasks {
        candidates.extend(t.await.map_err(|e| e.to_string())??);
    }
    // The candidates are few: group them exactly in a small query of their own.
    let ctx = SessionContext::new();
    let table = datafusion::datasource::MemTable::try_new(schema.clone(), vec![candidates])
        .map_err(df_err)?;
    ctx.register_table("candidates", std::sync::Arc::new(table))
        .map_err(df_err)?;
    let keys: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name().replace('"', "\"\"")))
        .collect();
    let keys = keys.join(", ");
    let grouped = format!(
        "SELECT {keys}, count(*) AS occurrences FROM candidates GROUP BY {keys} HAVING count(*) > 1"
    );
    let totals = ctx
        .sql(&format!(
            "SELECT coalesce(sum(occurrences), 0), count(*) FROM ({grouped}) AS d"
        ))
        .await
        .map_err(df_err)?
        .collect()
        .await
        .map_err(df_err)?;
    let total = |i: usize| -> u64 {
        totals
            .first()
            .and_then(|b| {
                crate::rules::as_f64(
                    datafusion::common::ScalarValue::try_from_array(b.column(i), 0)
                        .ok()
                        .as_ref(),
                )
            })
            .unwrap_or(0.0) as u64
    };
    let examples = if examples == 0 {
        vec![]
    } else {
        ctx.sql(&format!(
            "{grouped} ORDER BY {} LIMIT {examples}",
            schema
                .fields()
                .iter()
                .map(|f| format!("\"{}\" ASC NULLS LAST", f.name().replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .await
        .map_err(df_err)?
        .collect()
        .await
        .map_err(df_err)?
    };
    Ok(Keys::Duplicates {
        rows,
        failed: total(0),
        keys: total(1),
        examples,
    })
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

/// Hashes are spread over this many buckets by their top bits, so that finding the
/// repeated ones works on one cache-sized bucket at a time.
const BUCKET_BITS: u32 = 10;

/// One partition's key hashes, by bucket.
type Buckets = Vec<Vec<u64>>;

/// The rows hashed and the hashes that repeat within or across partitions; None when the
/// hashes do not fit. The hashes are accounted in the session's memory pool: when
/// `--memory-limit` leaves no room, the pass gives up and the grouped query (which spills
/// to disk) decides.
///
/// Each partition appends its hashes to buckets by their top bits (sequential writes,
/// 8 bytes a row); then each bucket, across partitions, goes through a set small enough
/// to stay in cache. One set of every hash of the dataset cost a cache miss per row and
/// more than twice the memory.
async fn hashed(
    session: &SessionContext,
    plan: LogicalPlan,
) -> Result<Option<(u64, HashSet)>, String> {
    let pool = session.runtime_env().memory_pool.clone();
    let tasks: Vec<_> = streams(session, plan)
        .await?
        .into_iter()
        .map(|mut stream| {
            let reservation =
                datafusion::execution::memory_pool::MemoryConsumer::new("dq unique hashes")
                    .register(&pool);
            tokio::spawn(async move {
                let mut buckets: Buckets = vec![Vec::new(); 1 << BUCKET_BITS];
                let mut rows = 0u64;
                let mut hashes = Vec::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(df_err)?;
                    key_hashes(&batch, &mut hashes)?;
                    rows += batch.num_rows() as u64;
                    // 8 bytes a hash, and up to as much again while a bucket grows.
                    let wanted = rows as usize * 16;
                    if wanted > reservation.size()
                        && reservation.try_grow(wanted - reservation.size()).is_err()
                    {
                        tracing::debug!(
                            rows,
                            "unique: memory limit reached, leaving it to the grouped pass"
                        );
                        return Ok(None);
                    }
                    for h in &hashes {
                        buckets[(h >> (64 - BUCKET_BITS)) as usize].push(*h);
                    }
                }
                Ok::<_, String>(Some((buckets, rows, reservation)))
            })
        })
        .collect();
    let mut partitions = Vec::new();
    let mut reservations = Vec::new();
    let mut rows = 0;
    for t in tasks {
        match t.await.map_err(|e| e.to_string())?? {
            Some((buckets, n, reservation)) => {
                partitions.push(buckets);
                rows += n;
                reservations.push(reservation);
            }
            None => return Ok(None),
        }
    }
    let repeated = repeated_hashes(&partitions);
    drop(reservations);
    Ok(Some((rows, repeated)))
}

/// The hashes that occur more than once in `partitions`, bucket by bucket, on as many
/// threads as the machine has.
fn repeated_hashes(partitions: &[Buckets]) -> HashSet {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let buckets = 1usize << BUCKET_BITS;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    let mut repeated: HashSet = Default::default();
                    let mut seen: HashSet = Default::default();
                    for b in (w..buckets).step_by(workers) {
                        seen.clear();
                        let len = partitions.iter().map(|p| p[b].len()).sum::<usize>();
                        seen.reserve(len.min(1 << 20));
                        for p in partitions {
                            for h in &p[b] {
                                // The top bits are the bucket's, the same for every hash in
                                // it, and the set takes its tag from the top bits: with the
                                // halves swapped, tag and slot both come from spread bits.
                                if !seen.insert(h.rotate_left(32)) {
                                    repeated.insert(*h);
                                }
                            }
                        }
                    }
                    repeated
                })
            })
            .collect();
        let mut all: HashSet = Default::default();
        for h in handles {
            all.extend(h.join().expect("a bucket worker panicked"));
        }
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Rng;

    #[test]
    fn repeated_hashes_are_found_within_and_across_partitions() {
        let mut rng = Rng::new(5);
        for partitions in [1usize, 2, 3] {
            let mut all: Vec<u64> = Vec::new();
            let mut split: Vec<Buckets> = (0..partitions)
                .map(|_| vec![Vec::new(); 1 << BUCKET_BITS])
                .collect();
            for i in 0..60_000 {
                // Mostly fresh hashes; some repeat earlier ones (possibly from another
                // partition); some share a bucket's top bits, and one value fills a bucket.
                let h = match rng.below(20) {
                    0 if !all.is_empty() => all[rng.below(all.len() as u64) as usize],
                    1 => (7u64 << (64 - BUCKET_BITS)) | rng.below(1000),
                    2 => 42,
                    _ => rng.below(u64::MAX),
                };
                all.push(h);
                split[i % partitions][(h >> (64 - BUCKET_BITS)) as usize].push(h);
            }
            let mut counts: std::collections::HashMap<u64, u32> = Default::default();
            for h in &all {
                *counts.entry(*h).or_default() += 1;
            }
            let mut want: Vec<u64> = counts
                .into_iter()
                .filter(|(_, n)| *n > 1)
                .map(|(h, _)| h)
                .collect();
            let mut got: Vec<u64> = repeated_hashes(&split).into_iter().collect();
            want.sort_unstable();
            got.sort_unstable();
            assert!(want.len() > 100, "{}", want.len());
            assert_eq!(got, want, "{partitions} partitions");
        }
    }
}
