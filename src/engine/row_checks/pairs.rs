//! Predicates over two string columns — `value_pairs`' `CASE currency WHEN 'EUR' THEN
//! status IN (…) … END`, or any comparison of two categorical columns — evaluated on the
//! batch's distinct pairs of values, each weighted by how many rows hold it, instead of row
//! by row. Each column's distinct values are the ones the one-column path finds (shared
//! with every check on the column); a row's pair is then one multiplication away, and a
//! pair met in an earlier batch is answered from memory.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{HashMap, Result};
use datafusion::physical_expr::PhysicalExpr;

use super::{Distinct, NULL_ROW, Slot, verdicts};

/// At most this many combinations of the two columns' distinct values per batch; beyond,
/// the batch is evaluated row by row.
const MAX_COMBINATIONS: usize = 1 << 16;

/// At most this many pairs are remembered per check.
const MAX_REMEMBERED: usize = 1 << 16;

/// A predicate's verdict on pairs of numbered values (see [`super::ValueIds`]) met so far.
pub(super) type PairMemo = HashMap<(u32, u32), bool>;

/// A batch's distinct pairs of values of two string columns.
#[derive(Debug)]
pub(super) struct Pairs {
    /// For each row, its pair's code: the first value's slot × `width` + the second's.
    codes: Vec<u32>,
    /// The codes that occur, and how many rows hold each.
    present: Vec<u32>,
    weights: Vec<i64>,
    /// The number of slots of the second column (its distinct values, NULL included).
    width: u32,
    combinations: usize,
}

/// A row's slot among `d`'s values (a NULL row's is the last, NULL, value).
fn slot(d: &Distinct, row: u32) -> u32 {
    if row == NULL_ROW {
        d.weights.len() as u32 - 1
    } else {
        row
    }
}

/// How the memo names a value: its number, or `u32::MAX` for NULL; None if unnumbered.
fn memo_id(s: Slot) -> Option<u32> {
    match s {
        Slot::Value(id) => Some(id),
        Slot::Null => Some(u32::MAX),
        Slot::Unnumbered => None,
    }
}

impl Pairs {
    /// None when the two columns' distinct values have too many combinations.
    pub(super) fn of(first: &Distinct, second: &Distinct) -> Option<Pairs> {
        let (n1, n2) = (first.weights.len(), second.weights.len());
        let combinations = n1.checked_mul(n2).filter(|c| *c <= MAX_COMBINATIONS)?;
        let width = n2 as u32;
        let mut counts = vec![0i64; combinations];
        let codes: Vec<u32> = first
            .rows
            .iter()
            .zip(&second.rows)
            .map(|(&a, &b)| {
                let code = slot(first, a) * width + slot(second, b);
                counts[code as usize] += 1;
                code
            })
            .collect();
        let present: Vec<u32> = (0..combinations as u32)
            .filter(|c| counts[*c as usize] > 0)
            .collect();
        let weights = present.iter().map(|c| counts[*c as usize]).collect();
        Some(Pairs {
            codes,
            present,
            weights,
            width,
            combinations,
        })
    }

    /// How many rows `expr` (reading the first column as column 0 and the second as
    /// column 1 of `schema`) holds on, and whether it holds, by pair code.
    pub(super) fn truth(
        &self,
        first: &Distinct,
        second: &Distinct,
        schema: &SchemaRef,
        expr: &Arc<dyn PhysicalExpr>,
        memo: &mut PairMemo,
    ) -> Result<(i64, Vec<bool>)> {
        let split = |code: u32| ((code / self.width) as usize, (code % self.width) as usize);
        let key = |code: u32| {
            let (a, b) = split(code);
            Some((memo_id(first.ids[a])?, memo_id(second.ids[b])?))
        };
        let mut holds = vec![false; self.combinations];
        let mut pending: Vec<u32> = Vec::new();
        for &code in &self.present {
            match key(code).and_then(|k| memo.get(&k)) {
                Some(t) => holds[code as usize] = *t,
                None => pending.push(code),
            }
        }
        if !pending.is_empty() {
            let pick = |d: &Distinct, part: fn((usize, usize)) -> usize| -> Result<ArrayRef> {
                let at: UInt32Array = pending.iter().map(|c| part(split(*c)) as u32).collect();
                Ok(take(d.values.as_ref(), &at, None)?)
            };
            let batch = RecordBatch::try_new(
                Arc::clone(schema),
                vec![pick(first, |(a, _)| a)?, pick(second, |(_, b)| b)?],
            )?;
            let verdicts = verdicts(&expr.evaluate(&batch)?.into_array(pending.len())?)?;
            for (j, &code) in pending.iter().enumerate() {
                let t = verdicts[j];
                holds[code as usize] = t;
                if let Some(k) = key(code)
                    && memo.len() < MAX_REMEMBERED
                {
                    memo.insert(k, t);
                }
            }
        }
        let n = self
            .present
            .iter()
            .zip(&self.weights)
            .filter(|(c, _)| holds[**c as usize])
            .map(|(_, w)| *w)
            .sum();
        Ok((n, holds))
    }

    /// The rows whose pair `holds` (by code): the failing rows, without evaluating again.
    pub(super) fn row_mask(&self, holds: &[bool]) -> ArrayRef {
        let bits = BooleanBuffer::collect_bool(self.codes.len(), |i| holds[self.codes[i] as usize]);
        Arc::new(BooleanArray::new(bits, None))
    }
}
