//! Failing-row examples collected during the fused scan.
//!
//! The fused aggregate ([`super::row_checks`]) already evaluates every row-level predicate
//! over every batch. When a predicate holds on some rows of a batch, those rows (the
//! columns the dataset's checks read) are offered here, and each check keeps its first
//! `limit` failing rows in value order (the columns in schema order, ascending, NULLs
//! last). The order makes the examples the same on every run and every store, whatever
//! the order in which threads and I/O deliver batches; collecting them in the scan makes
//! them cost no extra query.

use std::sync::Mutex;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::{HashMap, Result};

/// Examples for several predicates (keyed by the predicate's index in the fused scan).
#[derive(Debug)]
pub struct SampleCollector {
    limit: usize,
    /// The sample columns, as the aggregate receives them.
    schema: SchemaRef,
    /// Positions (in `schema`) of the columns that order the examples.
    keys: Vec<usize>,
    converter: RowConverter,
    kept: Mutex<HashMap<usize, Vec<(OwnedRow, RecordBatch)>>>,
}

/// Types the examples are ordered by (others are shown, not compared).
fn orderable(t: &DataType) -> bool {
    t.is_primitive()
        || t.is_temporal()
        || matches!(
            t,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean
        )
}

#[cfg(test)]
pub fn tests_orderable(t: &DataType) -> bool {
    orderable(t)
}

/// A float column as an ORDER BY compares it: `-0.0` as `0.0`, every NaN as one NaN.
fn canonical(column: &ArrayRef) -> Result<ArrayRef> {
    use datafusion::arrow::array::{AsArray, PrimitiveArray};
    use datafusion::arrow::datatypes::{Float32Type, Float64Type};
    use std::sync::Arc;
    Ok(match column.data_type() {
        DataType::Float64 => {
            let a: PrimitiveArray<Float64Type> = column.as_primitive::<Float64Type>().unary(|v| {
                if v.is_nan() {
                    f64::NAN
                } else if v == 0.0 {
                    0.0
                } else {
                    v
                }
            });
            Arc::new(a)
        }
        DataType::Float32 => {
            let a: PrimitiveArray<Float32Type> = column.as_primitive::<Float32Type>().unary(|v| {
                if v.is_nan() {
                    f32::NAN
                } else if v == 0.0 {
                    0.0
                } else {
                    v
                }
            });
            Arc::new(a)
        }
        _ => ArrayRef::clone(column),
    })
}

const ORDER: SortOptions = SortOptions {
    descending: false,
    nulls_first: false,
};

impl SampleCollector {
    pub fn new(schema: SchemaRef, limit: usize) -> Result<SampleCollector> {
        let keys: Vec<usize> = (0..schema.fields().len())
            .filter(|i| orderable(schema.field(*i).data_type()))
            .collect();
        let converter = RowConverter::new(
            keys.iter()
                .map(|i| SortField::new_with_options(schema.field(*i).data_type().clone(), ORDER))
                .collect(),
        )?;
        Ok(SampleCollector {
            limit,
            schema,
            keys,
            converter,
            kept: Mutex::new(HashMap::new()),
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Offers the failing rows `rows` (columns as in [`Self::schema`]) of predicate `check`.
    pub fn offer(&self, check: usize, rows: &RecordBatch) -> Result<()> {
        self.offer_where(check, rows, None)
    }

    /// Offers the rows of `batch` (columns as in [`Self::schema`]) where `failing` is true
    /// (all of them without a mask) as failing rows of predicate `check`.
    pub fn offer_where(
        &self,
        check: usize,
        batch: &RecordBatch,
        failing: Option<&BooleanArray>,
    ) -> Result<()> {
        if batch.num_rows() == 0 || self.limit == 0 {
            return Ok(());
        }
        // A few failing rows (the usual case): their positions, then only their values.
        if let Some(f) = failing {
            let selected = f.true_count();
            if selected == 0 {
                return Ok(());
            }
            if selected * 16 < batch.num_rows() {
                return self.offer_rows(check, batch, f);
            }
        }
        // Once `limit` rows are kept, a row whose first ordering value sorts after the worst
        // kept row's cannot enter: one vectorised comparison of that column drops those
        // before any other column is copied or sorted (a check failing on most rows
        // otherwise copied and sorted every row of every batch).
        let entering = match self.keys.first() {
            Some(&first) => self.may_enter(check, batch.column(first))?,
            None => None,
        };
        let mask = match (failing, entering) {
            (Some(f), Some(e)) => Some(datafusion::arrow::compute::and(f, &e)?),
            (Some(f), None) => Some(f.clone()),
            (None, e) => e,
        };
        let narrowed;
        let rows = match mask {
            Some(mask) => {
                if mask.true_count() == 0 {
                    return Ok(());
                }
                narrowed = datafusion::arrow::compute::filter_record_batch(batch, &mask)?;
                &narrowed
            }
            None => batch,
        };
        self.merge(check, rows)
    }

    /// [`Self::offer_where`] for a sparse `failing` mask: the failing rows' positions are
    /// taken first, and the first ordering column is read at those positions only, so a
    /// batch with a handful of failing rows costs a handful of values, not a pass over every
    /// column of the batch.
    fn offer_rows(&self, check: usize, batch: &RecordBatch, failing: &BooleanArray) -> Result<()> {
        use datafusion::arrow::array::UInt32Array;
        use datafusion::arrow::compute::{filter, take};
        // A NULL verdict is not failing: only valid true bits count.
        let bits = match failing.nulls() {
            Some(n) => failing.values() & n.inner(),
            None => failing.values().clone(),
        };
        let mut positions = UInt32Array::from_iter_values(bits.set_indices().map(|i| i as u32));
        if let Some(&first) = self.keys.first()
            && let Some(entering) =
                self.may_enter(check, &take(batch.column(first), &positions, None)?)?
        {
            let kept = filter(&positions, &entering)?;
            positions = kept
                .as_primitive::<datafusion::arrow::datatypes::UInt32Type>()
                .clone();
        }
        if positions.is_empty() {
            return Ok(());
        }
        self.merge(check, &take_record_batch(batch, &positions)?)
    }

    /// Which values of `first` (the first ordering column of some rows) sort no later
    /// than the worst row kept for `check`; None while any row may still enter, or for a
    /// type the comparison kernel does not order (an interval).
    fn may_enter(&self, check: usize, first: &ArrayRef) -> Result<Option<BooleanArray>> {
        let Some(bound) = self.first_key_bound(check)? else {
            return Ok(None);
        };
        Ok(datafusion::arrow::compute::kernels::cmp::lt_eq(
            &canonical(first)?,
            &datafusion::arrow::array::Scalar::new(bound),
        )
        .ok())
    }

    /// Merges `rows` (failing rows of predicate `check`) into what it keeps.
    fn merge(&self, check: usize, rows: &RecordBatch) -> Result<()> {
        // The batch's own first `limit` rows, then a merge with what is kept.
        let candidates = if self.keys.is_empty() {
            rows.slice(0, rows.num_rows().min(self.limit))
        } else {
            let sort: Vec<SortColumn> = self
                .keys
                .iter()
                .map(|i| {
                    Ok(SortColumn {
                        values: canonical(rows.column(*i))?,
                        options: Some(ORDER),
                    })
                })
                .collect::<Result<_>>()?;
            let order = lexsort_to_indices(&sort, Some(self.limit))?;
            take_record_batch(rows, &order)?
        };
        let key_columns: Vec<ArrayRef> = self
            .keys
            .iter()
            .map(|i| canonical(candidates.column(*i)))
            .collect::<Result<_>>()?;
        let converted = self.converter.convert_columns(&key_columns)?;
        let mut kept = self.kept.lock().map_err(|_| {
            datafusion::error::DataFusionError::Internal("sample collector poisoned".into())
        })?;
        let entry = kept.entry(check).or_default();
        for i in 0..candidates.num_rows() {
            let row = converted.row(i);
            if entry.len() >= self.limit
                && entry.last().is_some_and(|(worst, _)| row >= worst.row())
            {
                continue;
            }
            let at = entry.partition_point(|(r, _)| r.row() <= row);
            entry.insert(at, (row.owned(), candidates.slice(i, 1)));
            entry.truncate(self.limit);
        }
        Ok(())
    }

    /// The first ordering value of the worst row kept for `check`, once `limit` rows are
    /// kept and that value is not NULL (NULLs sort last: below a NULL, any row may enter).
    fn first_key_bound(&self, check: usize) -> Result<Option<ArrayRef>> {
        let Some(&first) = self.keys.first() else {
            return Ok(None);
        };
        let kept = self.kept.lock().map_err(|_| {
            datafusion::error::DataFusionError::Internal("sample collector poisoned".into())
        })?;
        let Some(entry) = kept.get(&check).filter(|e| e.len() >= self.limit) else {
            return Ok(None);
        };
        let Some((_, worst)) = entry.last() else {
            return Ok(None);
        };
        let value = worst.column(first);
        if value.is_null(0) {
            return Ok(None);
        }
        Ok(Some(canonical(value)?))
    }

    /// The examples kept for predicate `check`, first first; None if it had no failing row
    /// in any batch the aggregate saw.
    pub fn take(&self, check: usize) -> Option<Vec<RecordBatch>> {
        let kept = self.kept.lock().ok()?;
        kept.get(&check)
            .map(|rows| rows.iter().map(|(_, b)| b.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    fn batch(ids: Vec<Option<i64>>, names: Vec<&str>) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("name", Arc::new(StringArray::from(names))),
        ])
        .unwrap()
    }

    #[test]
    fn keeps_the_first_rows_in_value_order_whatever_the_batch_order() {
        let a = batch(vec![Some(9), None, Some(4)], vec!["i", "n", "d"]);
        let b = batch(vec![Some(1), Some(7), Some(4)], vec!["a", "g", "c"]);
        let ids = |c: &SampleCollector| -> Vec<String> {
            c.take(0)
                .unwrap()
                .iter()
                .map(|r| {
                    let name = r.column(1).as_any().downcast_ref::<StringArray>().unwrap();
                    name.value(0).to_string()
                })
                .collect()
        };
        let one = SampleCollector::new(a.schema(), 3).unwrap();
        one.offer(0, &a).unwrap();
        one.offer(0, &b).unwrap();
        let two = SampleCollector::new(a.schema(), 3).unwrap();
        two.offer(0, &b).unwrap();
        two.offer(0, &a).unwrap();
        assert_eq!(ids(&one), vec!["a", "c", "d"]);
        assert_eq!(ids(&one), ids(&two));
        assert!(one.take(1).is_none());
    }

    /// The kept rows equal the first rows of all batches sorted together, with ties on the
    /// first column, NULLs, -0.0 and NaN: narrowing by the worst kept row's first value
    /// never drops a row that belongs.
    #[test]
    fn narrowing_keeps_exactly_the_first_rows_of_a_full_sort() {
        use datafusion::arrow::array::Float64Array;
        let mut rng = crate::sample::Rng::new(7);
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("x", DataType::Float64, true),
            datafusion::arrow::datatypes::Field::new("n", DataType::Int64, true),
        ]));
        for limit in [1, 3, 5] {
            let collector = SampleCollector::new(schema.clone(), limit).unwrap();
            // The same batches offered with a mask of failing rows (sparse or dense, with
            // NULL verdicts), against the rows the mask selects offered unmasked.
            let masked = SampleCollector::new(schema.clone(), limit).unwrap();
            let mut all = Vec::new();
            let mut selected = Vec::new();
            for _ in 0..40 {
                let rows = 1 + rng.below(200) as usize;
                let x: Vec<Option<f64>> = (0..rows)
                    .map(|_| match rng.below(8) {
                        0 => None,
                        1 => Some(-0.0),
                        2 => Some(f64::NAN),
                        _ => Some(rng.below(6) as f64 - 2.0),
                    })
                    .collect();
                let n: Vec<Option<i64>> = (0..rows)
                    .map(|_| (!rng.chance(0.1)).then(|| rng.below(50) as i64))
                    .collect();
                let b = RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(Float64Array::from(x)) as ArrayRef,
                        Arc::new(Int64Array::from(n)),
                    ],
                )
                .unwrap();
                collector.offer(0, &b).unwrap();
                let density = [0.01, 0.05, 0.5, 1.0][rng.below(4) as usize];
                let mask: BooleanArray = (0..rows)
                    .map(|_| (!rng.chance(0.05)).then(|| rng.chance(density)))
                    .collect();
                masked.offer_where(0, &b, Some(&mask)).unwrap();
                selected.push(datafusion::arrow::compute::filter_record_batch(&b, &mask).unwrap());
                all.push(b);
            }
            let plain = SampleCollector::new(schema.clone(), limit).unwrap();
            for b in &selected {
                plain.offer(0, b).unwrap();
            }
            let as_rows = |c: &SampleCollector| {
                let kept = c.take(0).unwrap_or_default();
                crate::engine::values::rows_as_json(&kept).unwrap()
            };
            assert_eq!(as_rows(&masked), as_rows(&plain), "masked, limit {limit}");
            let all = datafusion::arrow::compute::concat_batches(&schema, &all).unwrap();
            let sort: Vec<SortColumn> = (0..2)
                .map(|i| SortColumn {
                    values: canonical(all.column(i)).unwrap(),
                    options: Some(ORDER),
                })
                .collect();
            let order = lexsort_to_indices(&sort, Some(limit)).unwrap();
            let expected = take_record_batch(&all, &order).unwrap();
            let kept =
                datafusion::arrow::compute::concat_batches(&schema, &collector.take(0).unwrap())
                    .unwrap();
            let canon = |b: &RecordBatch| -> Vec<String> {
                let x = canonical(b.column(0)).unwrap();
                (0..b.num_rows())
                    .map(|i| {
                        format!(
                            "{:?}/{:?}",
                            x.as_any()
                                .downcast_ref::<Float64Array>()
                                .unwrap()
                                .iter()
                                .nth(i)
                                .unwrap()
                                .map(f64::to_bits),
                            b.column(1)
                                .as_any()
                                .downcast_ref::<Int64Array>()
                                .unwrap()
                                .iter()
                                .nth(i)
                                .unwrap()
                        )
                    })
                    .collect()
            };
            assert_eq!(canon(&kept), canon(&expected), "limit {limit}");
        }
    }
}
