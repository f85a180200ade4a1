//! `dq_count_true(p1, …, pn)`: one aggregate that counts, per argument, the rows for which
//! a boolean predicate is true (NULL counts as not true, as in `count(*) FILTER (WHERE p)`).
//!
//! Row-level checks are counts of rows matching a predicate. Written as one filtered
//! `count` each, a dataset with a hundred checks carries a hundred accumulators that each
//! filter their input; packed into this one aggregate, each predicate costs one vectorised
//! evaluation and a popcount per batch.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::scalar::ScalarStructBuilder;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Signature, Volatility,
};

pub const NAME: &str = "dq_count_true";

#[derive(Debug, PartialEq, Eq, Hash)]
struct CountTrue {
    signature: Signature,
}

impl AggregateUDFImpl for CountTrue {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if arg_types
            .iter()
            .any(|t| t != &DataType::Boolean && t != &DataType::Null)
        {
            return internal_err!("{NAME} takes boolean predicates, got {arg_types:?}");
        }
        Ok(DataType::Struct(PackedCounts::fields(arg_types.len())))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Counts(PackedCounts::new(args.exprs.len()))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(PackedCounts::fields(args.input_fields.len())
            .iter()
            .cloned()
            .collect())
    }
}

/// Per-predicate row counts: the state and the result (a struct of Int64 fields `c0…cn`)
/// of both `dq_count_true` and [`super::row_checks`], so the fused scan reads either alike.
#[derive(Debug)]
pub struct PackedCounts(pub Vec<i64>);

impl PackedCounts {
    pub fn new(n: usize) -> PackedCounts {
        PackedCounts(vec![0; n])
    }

    pub fn fields(n: usize) -> Fields {
        (0..n)
            .map(|i| Field::new(format!("c{i}"), DataType::Int64, false))
            .collect()
    }

    pub fn merge(&mut self, states: &[ArrayRef]) {
        for (count, s) in self.0.iter_mut().zip(states) {
            *count += s.as_primitive::<Int64Type>().values().iter().sum::<i64>();
        }
    }

    pub fn state(&self) -> Vec<ScalarValue> {
        self.0
            .iter()
            .map(|c| ScalarValue::Int64(Some(*c)))
            .collect()
    }

    pub fn evaluate(&self) -> Result<ScalarValue> {
        let mut builder = ScalarStructBuilder::new();
        for (field, c) in Self::fields(self.0.len()).iter().zip(&self.0) {
            builder = builder.with_scalar(field.as_ref().clone(), ScalarValue::Int64(Some(*c)));
        }
        builder.build()
    }

    pub fn size(&self) -> usize {
        self.0.capacity() * 8
    }
}

/// Rows for which a predicate's value is true (NULL is not true).
pub fn true_rows(value: ColumnarValue, rows: usize) -> Result<i64> {
    match value {
        ColumnarValue::Array(a) => match a.as_boolean_opt() {
            Some(b) => Ok(b.true_count() as i64),
            None if a.data_type() == &DataType::Null => Ok(0),
            None => internal_err!("predicate is {}, not boolean", a.data_type()),
        },
        ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => Ok(rows as i64),
        ColumnarValue::Scalar(ScalarValue::Boolean(_) | ScalarValue::Null) => Ok(0),
        ColumnarValue::Scalar(s) => internal_err!("predicate is {}, not boolean", s.data_type()),
    }
}

#[derive(Debug)]
struct Counts(PackedCounts);

impl Accumulator for Counts {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for (count, v) in self.0.0.iter_mut().zip(values) {
            *count += true_rows(ColumnarValue::Array(Arc::clone(v)), v.len())?;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge(states);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.0.state())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.evaluate()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.0.size()
    }
}

pub fn udaf() -> AggregateUDF {
    AggregateUDF::from(CountTrue {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}
