//! The profile's own aggregates, so a dataset is profiled in one scan:
//!
//! - `dq_frequent(column)`: the most frequent values with their counts (a Misra-Gries
//!   summary of 1,024 counters, exact while the column holds at most 2,048 distinct
//!   values, which also makes the distinct count exact), and the first string values seen,
//!   for guessing named formats.
//! - `dq_quantiles(column)`: 21 quantiles (0 %, 5 % … 100 %) of a numeric column from one
//!   t-digest, for the quantiles and the histogram.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::compute::{cast, filter, is_not_null, sort};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::scalar::ScalarStructBuilder;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion_functions_aggregate_common::tdigest::TDigest;

pub const FREQUENT: &str = "dq_frequent";
pub const QUANTILES: &str = "dq_quantiles";

/// Counters kept by the frequent-values summary after each reduction.
pub const COUNTERS: usize = 1024;
/// String values kept for guessing formats.
pub const FORMAT_SAMPLE: usize = 1000;
/// The quantiles `dq_quantiles` returns: 0, 0.05, … 1.
pub const QUANTILE_STEPS: usize = 20;

/// `dq_frequent`, a fresh instance.
pub fn frequent() -> AggregateUDF {
    AggregateUDF::from(Frequent {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

/// `dq_quantiles`, a fresh instance.
pub fn quantiles() -> AggregateUDF {
    AggregateUDF::from(Quantiles {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Frequent {
    signature: Signature,
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

/// The result of `dq_frequent`: values as text, most frequent first.
pub fn frequent_fields() -> Fields {
    Fields::from(vec![
        Field::new("values", list_of(DataType::Utf8), true),
        Field::new("counts", list_of(DataType::UInt64), true),
        Field::new("decrement", DataType::UInt64, true),
        Field::new("tracked", DataType::UInt64, true),
        Field::new("sample", list_of(DataType::Utf8), true),
    ])
}

impl AggregateUDFImpl for Frequent {
    fn name(&self) -> &str {
        FREQUENT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(frequent_fields()))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let data_type = args.expr_fields[0].data_type().clone();
        Ok(Box::new(FrequentValues::new(data_type)?))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}_keys", args.name),
                list_of(DataType::Binary),
                true,
            )),
            Arc::new(Field::new(
                format!("{}_counts", args.name),
                list_of(DataType::UInt64),
                true,
            )),
            Arc::new(Field::new(
                format!("{}_decrement", args.name),
                DataType::UInt64,
                true,
            )),
            Arc::new(Field::new(
                format!("{}_sample", args.name),
                list_of(DataType::Utf8),
                true,
            )),
        ])
    }
}

/// A value in the row format: short ones (integers, dates, timestamps) inline, so a
/// high-cardinality column does not allocate per row.
#[derive(Debug, Clone)]
enum Key {
    Inline { len: u8, bytes: [u8; 23] },
    Heap(Box<[u8]>),
}

impl Key {
    fn new(v: &[u8]) -> Key {
        if v.len() <= 23 {
            let mut bytes = [0u8; 23];
            bytes[..v.len()].copy_from_slice(v);
            Key::Inline {
                len: v.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(v.into())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Key {}

/// Reductions after which a new value enters the summary from every 8th row only: the
/// column has many distinct values, and only values frequent enough to recur are wanted.
const SATURATED: u32 = 2;

/// A Misra-Gries summary over row-encoded values (any type the row format encodes).
///
/// Counters grow to twice [`COUNTERS`]; then every count is lowered by the
/// (COUNTERS+1)-th largest and those at zero are dropped. A kept count is then at most
/// `decrement` below the true one, and never above it. With `decrement == 0` the counts,
/// and the number of distinct values, are exact. Once the summary has been reduced twice
/// (a column of many distinct values) a value not yet counted enters from every 8th row
/// only, so a column of unique values costs a lookup per row, not an insertion; counts
/// stay lower bounds, and a value recurring more often than about 8 × rows / 1,024 times
/// is still found.
#[derive(Debug)]
struct FrequentValues {
    converter: RowConverter,
    counts: HashMap<Key, u64, ahash::RandomState>,
    decrement: u64,
    reductions: u32,
    rows_seen: u64,
    /// The first string values seen (strings only).
    sample: Vec<String>,
    strings: bool,
}

impl FrequentValues {
    fn new(data_type: DataType) -> Result<FrequentValues> {
        let strings = matches!(
            data_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        Ok(FrequentValues {
            converter: RowConverter::new(vec![SortField::new(data_type)])?,
            counts: HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)),
            decrement: 0,
            reductions: 0,
            rows_seen: 0,
            sample: Vec::new(),
            strings,
        })
    }

    fn add(&mut self, key: &[u8], n: u64) {
        self.rows_seen += 1;
        match self.counts.get_mut(key) {
            Some(c) => *c += n,
            None => {
                if self.reductions >= SATURATED && self.rows_seen % 8 != 0 {
                    return;
                }
                self.counts.insert(Key::new(key), n);
                if self.counts.len() > 2 * COUNTERS {
                    self.reduce();
                }
            }
        }
    }

    /// Reduces to COUNTERS counters once there are more than twice as many (so merged
    /// partial summaries stay exact up to 2 × COUNTERS distinct values too).
    fn reduce(&mut self) {
        if self.counts.len() <= 2 * COUNTERS {
            return;
        }
        let mut counts: Vec<u64> = self.counts.values().copied().collect();
        let (_, cut, _) = counts.select_nth_unstable_by(COUNTERS, |a, b| b.cmp(a));
        let cut = *cut;
        self.counts.retain(|_, c| *c > cut);
        for c in self.counts.values_mut() {
            *c -= cut;
        }
        self.decrement += cut;
        self.reductions += 1;
    }

    fn add_sample(&mut self, values: &ArrayRef) -> Result<()> {
        if !self.strings || self.sample.len() >= FORMAT_SAMPLE {
            return Ok(());
        }
        let text = cast(values, &DataType::Utf8)?;
        for v in text.as_string::<i32>().iter().flatten() {
            if self.sample.len() >= FORMAT_SAMPLE {
                break;
            }
            self.sample.push(v.to_string());
        }
        Ok(())
    }

    /// Values most frequent first (ties by value, for a stable report).
    fn ranked(&self) -> Vec<(&[u8], u64)> {
        let mut v: Vec<(&[u8], u64)> = self
            .counts
            .iter()
            .map(|(k, c)| (k.as_slice(), *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }
}

impl Accumulator for FrequentValues {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let column = &values[0];
        let column = if column.null_count() > 0 {
            filter(column, &is_not_null(column)?)?
        } else {
            Arc::clone(column)
        };
        if column.is_empty() {
            return Ok(());
        }
        self.add_sample(&column)?;
        let rows = self.converter.convert_columns(&[column])?;
        for row in rows.iter() {
            self.add(row.as_ref(), 1);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let keys = states[0].as_list::<i32>();
        let counts = states[1].as_list::<i32>();
        let decrements = states[2].as_primitive::<UInt64Type>();
        let samples = states[3].as_list::<i32>();
        for i in 0..keys.len() {
            if keys.is_null(i) {
                continue;
            }
            let k = keys.value(i);
            let c = counts.value(i);
            for (key, count) in k
                .as_binary::<i32>()
                .iter()
                .zip(c.as_primitive::<UInt64Type>().iter())
            {
                if let (Some(key), Some(count)) = (key, count) {
                    match self.counts.get_mut(key) {
                        Some(x) => *x += count,
                        None => {
                            self.counts.insert(Key::new(key), count);
                        }
                    }
                }
            }
            self.decrement += decrements.value(i);
            if !samples.is_null(i) && self.sample.len() < FORMAT_SAMPLE {
                let s = samples.value(i);
                for v in s.as_string::<i32>().iter().flatten() {
                    if self.sample.len() >= FORMAT_SAMPLE {
                        break;
                    }
                    self.sample.push(v.to_string());
                }
            }
            self.reduce();
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let ranked = self.ranked();
        let keys: Vec<ScalarValue> = ranked
            .iter()
            .map(|(k, _)| ScalarValue::Binary(Some(k.to_vec())))
            .collect();
        let counts: Vec<ScalarValue> = ranked
            .iter()
            .map(|(_, c)| ScalarValue::UInt64(Some(*c)))
            .collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&keys, &DataType::Binary)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::UInt64)),
            ScalarValue::UInt64(Some(self.decrement)),
            ScalarValue::List(ScalarValue::new_list_nullable(
                &strings(&self.sample),
                &DataType::Utf8,
            )),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let ranked = self.ranked();
        let parser = self.converter.parser();
        let decoded = self
            .converter
            .convert_rows(ranked.iter().map(|(k, _)| parser.parse(k)))?;
        let options = FormatOptions::default();
        let formatter = ArrayFormatter::try_new(decoded[0].as_ref(), &options)?;
        let shown: Vec<String> = (0..ranked.len())
            .map(|i| formatter.value(i).to_string())
            .collect();
        let counts: Vec<ScalarValue> = ranked
            .iter()
            .map(|(_, c)| ScalarValue::UInt64(Some(*c)))
            .collect();
        let fields = frequent_fields();
        ScalarStructBuilder::new()
            .with_scalar(
                fields[0].as_ref().clone(),
                ScalarValue::List(ScalarValue::new_list_nullable(
                    &strings(&shown),
                    &DataType::Utf8,
                )),
            )
            .with_scalar(
                fields[1].as_ref().clone(),
                ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::UInt64)),
            )
            .with_scalar(
                fields[2].as_ref().clone(),
                ScalarValue::UInt64(Some(self.decrement)),
            )
            .with_scalar(
                fields[3].as_ref().clone(),
                ScalarValue::UInt64(Some(self.counts.len() as u64)),
            )
            .with_scalar(
                fields[4].as_ref().clone(),
                ScalarValue::List(ScalarValue::new_list_nullable(
                    &strings(&self.sample),
                    &DataType::Utf8,
                )),
            )
            .build()
    }

    fn size(&self) -> usize {
        // Asked for after every batch: an estimate in constant time (the table's slots;
        // long keys are on the heap, at most 2 × COUNTERS of them).
        std::mem::size_of_val(self)
            + self.counts.capacity() * (std::mem::size_of::<Key>() + 16)
            + self.sample.capacity() * 48
    }
}

fn strings(values: &[String]) -> Vec<ScalarValue> {
    values
        .iter()
        .map(|s| ScalarValue::Utf8(Some(s.clone())))
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Quantiles {
    signature: Signature,
}

impl AggregateUDFImpl for Quantiles {
    fn name(&self) -> &str {
        QUANTILES
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(list_of(DataType::Float64))
    }

    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Digest(TDigest::new(
            datafusion_functions_aggregate_common::tdigest::DEFAULT_MAX_SIZE,
        ))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let f = |n: &str, t: DataType| Arc::new(Field::new(format!("{}_{n}", args.name), t, true));
        Ok(vec![
            f("max_size", DataType::UInt64),
            f("sum", DataType::Float64),
            f("count", DataType::Float64),
            f("max", DataType::Float64),
            f("min", DataType::Float64),
            f("centroids", list_of(DataType::Float64)),
        ])
    }
}

#[derive(Debug)]
struct Digest(TDigest);

impl Accumulator for Digest {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let v = cast(&values[0], &DataType::Float64)?;
        let v = v.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        // NaN has no rank: it is left out of the quantiles (the profile counts it apart).
        let finite: Float64Array = v
            .iter()
            .filter(|x| x.is_some_and(|x| !x.is_nan()))
            .collect();
        if finite.is_empty() {
            return Ok(());
        }
        let sorted = sort(&finite, None)?;
        let sorted: Vec<f64> = sorted
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .values()
            .to_vec();
        self.0 = self.0.merge_sorted_f64(&sorted);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.is_empty() {
            return Ok(());
        }
        let mut digests = vec![self.0.clone()];
        for i in 0..states[0].len() {
            let state = states
                .iter()
                .map(|a| ScalarValue::try_from_array(a, i))
                .collect::<Result<Vec<_>>>()?;
            digests.push(TDigest::from_scalar_state(&state));
        }
        self.0 = TDigest::merge_digests(&digests);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.0.to_scalar_state())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.0.count() == 0.0 {
            return Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                &[],
                &DataType::Float64,
            )));
        }
        let q: Vec<ScalarValue> = (0..=QUANTILE_STEPS)
            .map(|i| {
                let q = i as f64 / QUANTILE_STEPS as f64;
                // The ends are the exact extremes the digest keeps.
                let v = match i {
                    0 => self.0.min(),
                    i if i == QUANTILE_STEPS => self.0.max(),
                    _ => self.0.estimate_quantile(q),
                };
                ScalarValue::Float64(Some(v))
            })
            .collect();
        Ok(ScalarValue::List(ScalarValue::new_list_nullable(
            &q,
            &DataType::Float64,
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.0.size()
    }
}
