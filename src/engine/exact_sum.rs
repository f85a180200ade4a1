//! Exact sums of integer columns, added natively inside the row-check aggregate.
//!
//! `sum_equals` over 64-bit integers compiles to `CAST(a AS DECIMAL(38, 0)) + CAST(b AS
//! DECIMAL(38, 0)) <> v`: Int64 addition would wrap around, and decimal(38, 0) holds any sum
//! of fewer than 10^19 such values. DataFusion answers it with a checked cast and a checked
//! decimal addition per column, each validating precision row by row. Inside the aggregate
//! such a sum is computed once, as i128, which gives the same values (no sum of the kind
//! can reach 38 digits); the SQL dq shows keeps the casts.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, PrimitiveArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type, Schema, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr};

/// The type the exact sum has (and `sum_equals` casts to).
const EXACT: DataType = DataType::Decimal128(38, 0);

/// The sum of integer `parts`, as decimal(38, 0); NULL where any part is NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExactIntSum {
    parts: Vec<Arc<dyn PhysicalExpr>>,
}

impl fmt::Display for ExactIntSum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.parts.iter().map(|p| p.to_string()).collect();
        write!(f, "exact_sum({})", parts.join(", "))
    }
}

fn add_into<T: ArrowPrimitiveType>(sums: &mut [i128], part: &ArrayRef)
where
    T::Native: Into<i128>,
{
    let values: &PrimitiveArray<T> = part.as_primitive::<T>();
    // NULL slots hold some value; the result's NULL buffer masks them.
    for (s, v) in sums.iter_mut().zip(values.values().iter()) {
        *s += (*v).into();
    }
}

impl PhysicalExpr for ExactIntSum {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(EXACT)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        for p in &self.parts {
            if p.nullable(input_schema)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let mut sums = vec![0i128; rows];
        let mut nulls: Option<NullBuffer> = None;
        for p in &self.parts {
            let part = p.evaluate(batch)?.into_array(rows)?;
            nulls = NullBuffer::union(nulls.as_ref(), part.logical_nulls().as_ref());
            match part.data_type() {
                DataType::Int8 => add_into::<Int8Type>(&mut sums, &part),
                DataType::Int16 => add_into::<Int16Type>(&mut sums, &part),
                DataType::Int32 => add_into::<Int32Type>(&mut sums, &part),
                DataType::Int64 => add_into::<Int64Type>(&mut sums, &part),
                DataType::UInt8 => add_into::<UInt8Type>(&mut sums, &part),
                DataType::UInt16 => add_into::<UInt16Type>(&mut sums, &part),
                DataType::UInt32 => add_into::<UInt32Type>(&mut sums, &part),
                DataType::UInt64 => add_into::<UInt64Type>(&mut sums, &part),
                other => return internal_err!("exact sum of {other}"),
            }
        }
        let sum = Decimal128Array::new(sums.into(), nulls).with_precision_and_scale(38, 0)?;
        Ok(ColumnarValue::Array(Arc::new(sum)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.parts.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(ExactIntSum { parts: children }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// The integer expressions `e` adds exactly, if it is an exact sum or a cast of an
/// integer to decimal(38, 0) (the leaves of a `sum_equals` over integers).
fn exact_parts(
    e: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Option<Vec<Arc<dyn PhysicalExpr>>>> {
    if let Some(s) = e.downcast_ref::<ExactIntSum>() {
        return Ok(Some(s.parts.clone()));
    }
    if let Some(c) = e.downcast_ref::<CastExpr>()
        && *c.cast_type() == EXACT
        && c.expr().data_type(schema)?.is_integer()
    {
        return Ok(Some(vec![Arc::clone(c.expr())]));
    }
    Ok(None)
}

/// `expr` (over `schema`) with every sum of integers cast to decimal(38, 0) added natively.
pub fn rewrite(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
    Ok(expr
        .transform_up(|e| {
            let Some(b) = e.downcast_ref::<BinaryExpr>() else {
                return Ok(Transformed::no(e));
            };
            if *b.op() != Operator::Plus || b.data_type(schema)? != EXACT {
                return Ok(Transformed::no(e));
            }
            match (
                exact_parts(b.left(), schema)?,
                exact_parts(b.right(), schema)?,
            ) {
                (Some(mut parts), Some(right)) => {
                    parts.extend(right);
                    Ok(Transformed::yes(
                        Arc::new(ExactIntSum { parts }) as Arc<dyn PhysicalExpr>
                    ))
                }
                _ => Ok(Transformed::no(e)),
            }
        })?
        .data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, UInt64Array};
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::DFSchema;
    use datafusion::prelude::SessionContext;

    use crate::sample::Rng;

    /// Random integers biased to the types' extremes, with NULLs.
    fn column(rng: &mut Rng, n: usize, extremes: [i64; 4]) -> Vec<Option<i64>> {
        (0..n)
            .map(|_| match rng.below(8) {
                0 => None,
                1..=4 => Some(extremes[rng.below(4) as usize]),
                _ => Some(rng.below(2000) as i64 - 1000),
            })
            .collect()
    }

    #[test]
    fn native_sums_equal_decimal_arithmetic_at_the_extremes() {
        let mut rng = Rng::new(11);
        let n = 4000;
        let big = [i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1];
        let a = column(&mut rng, n, big);
        let b = column(&mut rng, n, big);
        let c: Vec<Option<i32>> = column(&mut rng, n, [i32::MAX as i64, i32::MIN as i64, 1, -1])
            .into_iter()
            .map(|v| v.map(|v| v as i32))
            .collect();
        let d: Vec<Option<u64>> = (0..n)
            .map(|i| match i % 5 {
                0 => None,
                1 => Some(u64::MAX),
                _ => Some(rng.below(1 << 40)),
            })
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
            Field::new("c", DataType::Int32, true),
            Field::new("d", DataType::UInt64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(a)),
                Arc::new(Int64Array::from(b)),
                Arc::new(Int32Array::from(c)),
                Arc::new(UInt64Array::from(d)),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).unwrap();
        let cast = |c: &str| format!("CAST({c} AS DECIMAL(38, 0))");
        for sql in [
            format!("{} + {}", cast("a"), cast("b")),
            format!("{} + {} + {}", cast("a"), cast("b"), cast("c")),
            format!(
                "{} + {} + {} + {}",
                cast("d"),
                cast("a"),
                cast("b"),
                cast("c")
            ),
            format!(
                "{} + {} <> CAST(-2 AS DECIMAL(38, 0))",
                cast("a"),
                cast("b")
            ),
        ] {
            let expr = ctx.parse_sql_expr(&sql, &df_schema).unwrap();
            let expr = crate::engine::sqlexpr::simplify(&ctx.state(), &df_schema, expr).unwrap();
            let physical = ctx.create_physical_expr(expr, &df_schema).unwrap();
            let rewritten = rewrite(Arc::clone(&physical), &schema).unwrap();
            assert!(
                rewritten.to_string().contains("exact_sum"),
                "{sql}: {rewritten}"
            );
            let expected = physical.evaluate(&batch).unwrap().into_array(n).unwrap();
            let got = rewritten.evaluate(&batch).unwrap().into_array(n).unwrap();
            assert_eq!(got.data_type(), expected.data_type(), "{sql}");
            assert_eq!(&got, &expected, "{sql}");
        }
        // A sum that is not of integers cast to decimal(38, 0) is left alone.
        for sql in [
            "a + b",
            "CAST(a AS DECIMAL(20, 0)) + CAST(b AS DECIMAL(20, 0))",
        ] {
            let expr = ctx.parse_sql_expr(sql, &df_schema).unwrap();
            let physical = ctx.create_physical_expr(expr, &df_schema).unwrap();
            let rewritten = rewrite(Arc::clone(&physical), &schema).unwrap();
            assert_eq!(rewritten.to_string(), physical.to_string(), "{sql}");
        }
    }
}
