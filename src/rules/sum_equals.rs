//! Several numeric columns sum to a given value on every row (Great Expectations'
//! `expect_multicolumn_sum_to_equal`), e.g. shares that add up to 100.
//!
//! Parameters:
//! - `columns` (two or more numeric column names)
//! - `value` (number): the sum each row must have
//! - `tolerance` (number, default 0): the largest accepted |sum − value|, for float columns
//!   whose parts are rounded
//!
//! A row with a NULL in any of the columns is not checked; a NaN sum fails. Sums are
//! computed in double precision unless every column is an integer. Row-level: accepts
//! `max_failed` / `max_failed_fraction`, as a fraction of the rows checked.
//!
//! Example:
//! ```yaml
//! - sum_equals: { columns: [share_a, share_b, share_c], value: 100, tolerance: 0.01 }
//! ```

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, cast, lit};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as};

pub const KIND: RuleKind = RuleKind {
    name: "sum_equals",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("sum_equals.rs"),
    parse: parse_as::<SumEquals>,
    schema: schema_of::<SumEquals>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SumEquals {
    pub columns: Vec<String>,
    pub value: f64,
    #[serde(default)]
    pub tolerance: f64,
}

impl Rule for SumEquals {
    fn default_name(&self) -> String {
        format!("sum_equals({})", self.columns.join(" + "))
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.columns.len() < 2 {
            return Err("sum_equals needs at least two `columns`".into());
        }
        if self.tolerance.is_nan() || self.tolerance < 0.0 || !self.value.is_finite() {
            return Err("sum_equals needs a finite `value` and a `tolerance` ≥ 0".into());
        }
        let mut integers = true;
        // Whether every column fits 32 bits: their Int64 sum cannot overflow.
        let mut narrow = true;
        let mut parts: Vec<Expr> = Vec::new();
        for name in &self.columns {
            let column = cx.column(name)?;
            let data_type = cx.data_type(name)?;
            if !data_type.is_numeric() {
                return Err(format!(
                    "sum_equals needs numeric columns; `{name}` is {data_type}"
                ));
            }
            integers &= data_type.is_integer();
            narrow &= matches!(
                data_type,
                DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::UInt8
                    | DataType::UInt16
                    | DataType::UInt32
            );
            parts.push(column);
        }
        // Integers add exactly as decimal(38, 0) — Int64 addition wraps around, and
        // i64::MAX + 1 must not pass for i64::MIN — with the value compared exactly unless a
        // tolerance is given; anything else adds as double.
        let exact = integers
            && self.tolerance == 0.0
            && self.value.fract() == 0.0
            && self.value.abs() < 1e37;
        // 32-bit columns add as Int64 (fewer than 2^31 columns cannot overflow it, and it is
        // several times cheaper than decimal arithmetic).
        let int64 = exact && narrow && self.value.abs() < 9.0e18;
        let target = if int64 {
            DataType::Int64
        } else if exact {
            DataType::Decimal128(38, 0)
        } else {
            DataType::Float64
        };
        let sum = parts
            .iter()
            .map(|c| cast(c.clone(), target.clone()))
            .reduce(|a, b| a + b)
            .expect("two columns or more");
        let all_present = parts
            .iter()
            .map(|c| c.clone().is_not_null())
            .reduce(Expr::and)
            .expect("two columns or more");
        let failing = if int64 {
            sum.not_eq(lit(self.value as i64))
        } else if exact {
            sum.not_eq(lit(datafusion::common::ScalarValue::Decimal128(
                Some(self.value as i128),
                38,
                0,
            )))
        } else {
            // NOT (|sum - value| <= tolerance): a NaN sum compares false, so it fails.
            datafusion::logical_expr::not(
                datafusion::functions::math::expr_fn::abs(sum - lit(self.value))
                    .lt_eq(lit(self.tolerance)),
            )
        };
        let failing = all_present.clone().and(failing);
        super::judged_where(failing, all_present, cx.thresholds)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, ints, orders};

    #[test]
    fn rows_whose_sum_differs_fail() {
        // order_id + customer_id: 11, 13, 15, 14, 104, NULL.
        let o = check(
            orders(),
            "sum_equals: { columns: [order_id, customer_id], value: 14 }",
        );
        assert_eq!(o.failed_rows, Some(4), "{o:?}");
        assert_eq!(o.rows_checked, Some(5), "{o:?}");
        let o = check(
            orders(),
            "sum_equals: { columns: [order_id, customer_id], value: 13, tolerance: 2 }",
        );
        // |11-13|, |13-13|, |15-13|, |14-13| within 2; 104 is not.
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        assert_eq!(o.samples[0]["customer_id"], 99, "{o:?}");
    }

    #[test]
    fn integer_sums_do_not_wrap_around() {
        // i64::MAX + 1 is not i64::MIN, and i64::MAX + i64::MAX is not -2.
        let t = ints(&[
            (
                "a",
                vec![Some(i64::MAX), Some(i64::MAX), Some(i64::MIN), Some(1)],
            ),
            ("b", vec![Some(1), Some(i64::MAX), Some(-1), Some(-1)]),
        ]);
        let o = check(
            t.clone(),
            "sum_equals: { columns: [a, b], value: -9223372036854775808 }",
        );
        assert_eq!(o.failed_rows, Some(4), "{o:?}");
        let o = check(t, "sum_equals: { columns: [a, b], value: -2 }");
        assert_eq!(o.failed_rows, Some(4), "{o:?}");
    }

    #[test]
    fn narrow_integers_add_as_int64_without_overflow() {
        use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch};
        use std::sync::Arc;
        let col = |v: Vec<i32>| Arc::new(Int32Array::from(v)) as ArrayRef;
        let t = RecordBatch::try_from_iter([
            ("a", col(vec![i32::MAX, i32::MIN, 1])),
            ("b", col(vec![i32::MAX, i32::MIN, 1])),
        ])
        .unwrap();
        // 2 · (2^31 − 1) = 4294967294 holds only on the first row.
        let o = check(
            t.clone(),
            "sum_equals: { columns: [a, b], value: 4294967294 }",
        );
        assert_eq!((o.failed_rows, o.rows_checked), (Some(2), Some(3)), "{o:?}");
        let o = check(t, "sum_equals: { columns: [a, b], value: -4294967296 }");
        assert_eq!(o.failed_rows, Some(2), "{o:?}");
    }

    #[test]
    fn floats_and_integers_mix() {
        // amount + order_id: 11, 22.5, 2, 304, 55, NULL.
        let o = check(
            orders(),
            "sum_equals: { columns: [amount, order_id], value: 22.5 }",
        );
        assert_eq!(o.failed_rows, Some(4), "{o:?}");
    }

    #[test]
    fn parameters_are_validated() {
        let e = compile_error(orders(), "sum_equals: { columns: [amount], value: 1 }");
        assert!(e.contains("at least two"), "{e}");
        let e = compile_error(
            orders(),
            "sum_equals: { columns: [amount, status], value: 1 }",
        );
        assert!(e.contains("numeric columns"), "{e}");
        let e = compile_error(
            orders(),
            "sum_equals: { columns: [amount, order_id], value: 1, tolerance: -1 }",
        );
        assert!(e.contains("tolerance"), "{e}");
    }
}
