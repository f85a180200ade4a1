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
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

pub const NAME: &str = "dq_count_true";

#[derive(Debug, PartialEq, Eq, Hash)]
struct CountTrue {
    signature: Signature,
}

fn fields(n: usize) -> Fields {
    (0..n)
        .map(|i| Field::new(format!("c{i}"), DataType::Int64, false))
        .collect()
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
        Ok(DataType::Struct(fields(arg_types.len())))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Counts {
            counts: vec![0; args.exprs.len()],
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok((0..args.input_fields.len())
            .map(|i| Arc::new(Field::new(format!("c{i}"), DataType::Int64, false)))
            .collect())
    }
}

#[derive(Debug)]
struct Counts {
    counts: Vec<i64>,
}

impl Accumulator for Counts {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for (count, v) in self.counts.iter_mut().zip(values) {
            match v.as_boolean_opt() {
                Some(b) => *count += b.true_count() as i64,
                None if v.data_type() == &DataType::Null => {}
                None => return internal_err!("{NAME}: argument is {}, not boolean", v.data_type()),
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for (count, s) in self.counts.iter_mut().zip(states) {
            *count += s.as_primitive::<Int64Type>().values().iter().sum::<i64>();
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self
            .counts
            .iter()
            .map(|c| ScalarValue::Int64(Some(*c)))
            .collect())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut builder = ScalarStructBuilder::new();
        for (i, c) in self.counts.iter().enumerate() {
            builder = builder.with_scalar(
                Field::new(format!("c{i}"), DataType::Int64, false),
                ScalarValue::Int64(Some(*c)),
            );
        }
        builder.build()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.capacity() * 8
    }
}

pub fn udaf() -> AggregateUDF {
    AggregateUDF::from(CountTrue {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}
