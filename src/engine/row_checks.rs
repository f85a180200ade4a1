//! `dq_row_checks`: every row-level predicate of a dataset counted in one aggregate that
//! evaluates the predicates itself, so that it can skip work DataFusion would do per check.
//!
//! Its arguments are the columns the predicates read; the predicates are compiled once, at
//! planning, against those columns. For each batch, each predicate's count of true rows is
//! found the cheapest exact way:
//!
//! 1. **Batch bounds** ([`Guard`]): a predicate made of comparisons with literals and NULL
//!    tests (`amount < 0 OR amount > 100000`, `order_id IS NULL`) is skipped when the batch's
//!    min/max and null count prove no row can satisfy it. Bounds are computed once per column
//!    and batch, shared by every check on that column.
//! 2. **Distinct values**: a predicate that reads one string column (`status NOT IN (…)`,
//!    `character_length(country) > 2`) is evaluated on the batch's distinct values, each
//!    weighted by how often it occurs, when the column has few distinct values. The
//!    distinct values are found once per column and batch, shared by every check on it; a
//!    column that turns out to have many distinct values is evaluated row by row.
//! 3. Otherwise the predicate is evaluated over the batch and its true values counted.
//!
//! The result has the shape of [`super::count_true`]'s (a struct of counts `c0…cn`), so the
//! fused scan reads either the same way.

use std::cmp::Ordering;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use super::count_true::{PackedCounts, true_rows};
use super::samples::SampleCollector;
use datafusion::arrow::array::{
    Array, ArrayAccessor, ArrayRef, AsArray, LargeStringArray, RecordBatch, RecordBatchOptions,
    StringArray, StringViewArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, HashMap, Result, ScalarValue, internal_err, plan_err};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Operator, Signature, Volatility, lit,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{self as phys, BinaryExpr, IsNotNullExpr, IsNullExpr};
use datafusion::physical_expr::utils::collect_columns;

mod pairs;

pub const NAME: &str = "dq_row_checks";

/// At most this many distinct values per batch for the distinct-values path.
const MAX_DISTINCT: usize = 1024;
/// After this many batches with too many distinct values, a column is evaluated row by row.
const GIVE_UP_AFTER: u32 = 2;

/// `dq_row_checks(<columns>)` counting each of `predicates` over `input`'s rows.
/// With `samples` (columns of `input` that other aggregates of the scan read, and how many
/// examples per predicate), the aggregate also keeps each predicate's first failing rows,
/// of those columns and the ones the predicates read, in a [`SampleCollector`] returned
/// beside the expression; see [`super::samples`].
pub fn call(
    state: &SessionState,
    input: &DFSchema,
    predicates: &[Expr],
    null_free: &[String],
    samples: Option<(&[Column], usize)>,
) -> Result<(Expr, Option<Arc<SampleCollector>>)> {
    // Simplify first, as the optimizer would: `id IS NULL` on a column that cannot hold
    // NULL (declared so, or `null_free` by the files' statistics) is false, and a column no
    // simplified predicate reads is not read at all.
    let simplified = simplify(state, &without_nulls(input, null_free)?, predicates)?;
    let mut indices: Vec<usize> = Vec::new();
    for p in &simplified {
        for c in p.column_refs() {
            let i = input.index_of_column(c)?;
            if !indices.contains(&i) {
                indices.push(i);
            }
        }
    }
    // Examples show the columns the simplified predicates read, and those other
    // aggregates of the scan read: nothing the scan would not decode anyway.
    let mut shown: Vec<usize> = indices.clone();
    if let Some((columns, _)) = samples {
        for c in columns {
            let i = input.index_of_column(c)?;
            if !indices.contains(&i) {
                indices.push(i);
            }
            if !shown.contains(&i) {
                shown.push(i);
            }
        }
    }
    shown.sort_unstable();
    indices.sort_unstable();
    let mut fields: Vec<(Option<datafusion::common::TableReference>, FieldRef)> = indices
        .iter()
        .map(|&i| {
            let (q, f) = input.qualified_field(i);
            (q.cloned(), Arc::clone(f))
        })
        .collect();
    let mut args: Vec<Expr> = fields
        .iter()
        .map(|(q, f)| Expr::Column(Column::new(q.clone(), f.name())))
        .collect();
    if args.is_empty() {
        // Predicates over no column still need the batch's row count.
        fields.push((
            None,
            Arc::new(Field::new("__dq_rows", DataType::Boolean, false)),
        ));
        args.push(lit(true));
    }
    let arg_schema = DFSchema::new_with_metadata(fields, Default::default())?;
    // The batch the predicates see may hold NULLs a field declares impossible (files that
    // lack a column); evaluation does not depend on declared nullability.
    let schema: SchemaRef = Arc::new(Schema::new(
        arg_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    let mut checks = simplified
        .into_iter()
        .map(|p| {
            let expr =
                super::formats::rewrite(state.create_physical_expr(p, &arg_schema)?, &schema)?;
            let expr = super::exact_sum::rewrite(expr, &schema)?;
            Check::new(expr, &schema)
        })
        .collect::<Result<Vec<_>>>()?;
    // Finding distinct values costs about what one cheap predicate does: it pays off from
    // the second check that reads the column alone.
    for c in 0..schema.fields().len() {
        let readers = checks
            .iter()
            .filter(|k| k.distinct_column == Some(c))
            .count();
        if readers < 2 {
            for k in checks.iter_mut().filter(|k| k.distinct_column == Some(c)) {
                k.distinct_column = None;
            }
        }
    }
    let sampling = match samples {
        Some((_, limit)) if limit > 0 && !shown.is_empty() => {
            let positions: Vec<usize> = shown
                .iter()
                .map(|i| indices.iter().position(|j| j == i).expect("added above"))
                .collect();
            let sample_schema = Arc::new(schema.project(&positions)?);
            Some((
                positions,
                Arc::new(SampleCollector::new(sample_schema, limit)?),
            ))
        }
        _ => None,
    };
    let collector = sampling.as_ref().map(|(_, c)| Arc::clone(c));
    let udaf = AggregateUDF::from(RowChecks {
        id: NEXT_ID.fetch_add(1, AtomicOrdering::Relaxed),
        signature: Signature::variadic_any(Volatility::Immutable),
        plan: Arc::new(Plan {
            schema,
            checks,
            sampling,
        }),
    });
    Ok((udaf.call(args), collector))
}

/// `input` with the `null_free` columns declared non-nullable.
fn without_nulls(input: &DFSchema, null_free: &[String]) -> Result<DFSchema> {
    if null_free.is_empty() {
        return Ok(input.clone());
    }
    let fields = input
        .iter()
        .map(|(q, f)| {
            let f = if null_free.contains(f.name()) {
                Arc::new(f.as_ref().clone().with_nullable(false))
            } else {
                Arc::clone(f)
            };
            (q.cloned(), f)
        })
        .collect();
    DFSchema::new_with_metadata(fields, input.metadata().clone())
}

/// The predicates type-coerced and simplified over `input`.
fn simplify(state: &SessionState, input: &DFSchema, predicates: &[Expr]) -> Result<Vec<Expr>> {
    predicates
        .iter()
        .map(|p| {
            if p.is_volatile() {
                return plan_err!("{NAME}: volatile predicate {p}");
            }
            super::sqlexpr::simplify(state, input, p.clone())
        })
        .collect()
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Plan {
    /// The argument columns, in argument order.
    schema: SchemaRef,
    checks: Vec<Check>,
    /// The argument positions of the sample columns, and where failing rows go.
    sampling: Option<(Vec<usize>, Arc<SampleCollector>)>,
}

#[derive(Debug)]
struct Check {
    expr: Arc<dyn PhysicalExpr>,
    guard: Option<Guard>,
    /// When the predicate reads one string column alone: that column, and the predicate
    /// rewritten to read it as the only column of a batch of distinct values.
    distinct_column: Option<usize>,
    on_distinct: Option<(SchemaRef, Arc<dyn PhysicalExpr>)>,
    /// When the predicate reads two string columns: those columns, and the predicate
    /// rewritten to read them as columns 0 and 1 of a batch of distinct pairs.
    on_pair: Option<([usize; 2], SchemaRef, Arc<dyn PhysicalExpr>)>,
}

impl Check {
    fn new(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Check> {
        let guard = Guard::of(expr.as_ref(), schema);
        let columns = collect_columns(&expr);
        // A bare NULL test is cheaper than finding distinct values.
        let bare_null_test = expr.is::<IsNullExpr>() || expr.is::<IsNotNullExpr>();
        let (distinct_column, on_distinct) = match columns.iter().next() {
            Some(c)
                if columns.len() == 1
                    && !bare_null_test
                    && is_string(schema.field(c.index()).data_type()) =>
            {
                let field = schema.field(c.index()).clone().with_nullable(true);
                let alone = Arc::clone(&expr)
                    .transform(|e| match e.downcast_ref::<phys::Column>() {
                        Some(col) => Ok(Transformed::yes(
                            Arc::new(phys::Column::new(col.name(), 0)) as Arc<dyn PhysicalExpr>,
                        )),
                        None => Ok(Transformed::no(e)),
                    })?
                    .data;
                (
                    Some(c.index()),
                    Some((Arc::new(Schema::new(vec![field])), alone)),
                )
            }
            _ => (None, None),
        };
        let mut read: Vec<usize> = columns.iter().map(|c| c.index()).collect();
        read.sort_unstable();
        let on_pair = match read[..] {
            [a, b]
                if is_string(schema.field(a).data_type())
                    && is_string(schema.field(b).data_type()) =>
            {
                let renumbered = Arc::clone(&expr)
                    .transform(|e| match e.downcast_ref::<phys::Column>() {
                        Some(col) => Ok(Transformed::yes(Arc::new(phys::Column::new(
                            col.name(),
                            usize::from(col.index() == b),
                        ))
                            as Arc<dyn PhysicalExpr>)),
                        None => Ok(Transformed::no(e)),
                    })?
                    .data;
                let fields = [a, b].map(|i| schema.field(i).clone().with_nullable(true));
                Some(([a, b], Arc::new(Schema::new(fields.to_vec())), renumbered))
            }
            _ => None,
        };
        Ok(Check {
            expr,
            guard,
            distinct_column,
            on_distinct,
            on_pair,
        })
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

#[derive(Debug)]
struct RowChecks {
    /// Identity: two calls are the same aggregate only if they are the same plan.
    id: usize,
    signature: Signature,
    plan: Arc<Plan>,
}

impl PartialEq for RowChecks {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for RowChecks {}

impl std::hash::Hash for RowChecks {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl AggregateUDFImpl for RowChecks {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(PackedCounts::fields(
            self.plan.checks.len(),
        )))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Counts {
            plan: Arc::clone(&self.plan),
            counts: PackedCounts::new(self.plan.checks.len()),
            many_distinct: vec![0; self.plan.schema.fields().len()],
            seen: (0..self.plan.schema.fields().len())
                .map(|_| ValueIds::default())
                .collect(),
            memo: vec![(Vec::new(), None); self.plan.checks.len()],
            pair_memo: vec![pairs::PairMemo::default(); self.plan.checks.len()],
        }))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(PackedCounts::fields(self.plan.checks.len())
            .iter()
            .cloned()
            .collect())
    }
}

#[derive(Debug)]
struct Counts {
    plan: Arc<Plan>,
    counts: PackedCounts,
    /// Per argument column: batches in which it had too many distinct values.
    many_distinct: Vec<u32>,
    /// Per argument column: the values the distinct path has met, numbered.
    seen: Vec<ValueIds>,
    /// Per check: its result for each value number, and for NULL (None: not evaluated yet).
    memo: Vec<(Vec<Option<bool>>, Option<bool>)>,
    /// Per check over two string columns: its result for pairs of value numbers.
    pair_memo: Vec<pairs::PairMemo>,
}

/// Numbers for the distinct values of one column across batches, so that a predicate is
/// evaluated once per value per partition rather than once per value per batch.
#[derive(Debug, Default)]
struct ValueIds {
    ids: HashMap<Box<str>, u32>,
    /// Heap held by `ids`, kept as values are added: `size()` is asked after every batch.
    bytes: usize,
}

/// At most this many values are numbered per column; later ones are evaluated per batch.
const MAX_REMEMBERED: usize = 1 << 16;

impl ValueIds {
    fn id(&mut self, value: &str) -> Option<u32> {
        if let Some(id) = self.ids.get(value) {
            return Some(*id);
        }
        let next = self.ids.len();
        if next >= MAX_REMEMBERED {
            return None;
        }
        self.ids.insert(value.into(), next as u32);
        self.bytes += value.len() + 32;
        Some(next as u32)
    }
}

impl Accumulator for Counts {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values.first().map_or(0, |v| v.len());
        if rows == 0 {
            return Ok(());
        }
        let batch = RecordBatch::try_new_with_options(
            Arc::clone(&self.plan.schema),
            values.to_vec(),
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        let mut stats = BatchStats::new(values);
        let mut distinct: Vec<Option<Option<Distinct>>> = vec![None; values.len()];
        // The distinct pairs of two columns, found once per batch for every check on them.
        let mut pairs_of: Vec<([usize; 2], Option<pairs::Pairs>)> = Vec::new();
        for (k, (((check, count), memo), pair_memo)) in self
            .plan
            .checks
            .iter()
            .zip(self.counts.0.iter_mut())
            .zip(self.memo.iter_mut())
            .zip(self.pair_memo.iter_mut())
            .enumerate()
        {
            if check
                .guard
                .as_ref()
                .is_some_and(|g| g.excludes_all(&mut stats))
            {
                continue;
            }
            let mut evaluated = None;
            let added = 'count: {
                if let Some((columns, schema, expr)) = &check.on_pair
                    && columns
                        .iter()
                        .all(|c| self.many_distinct[*c] < GIVE_UP_AFTER)
                {
                    for &c in columns {
                        find_distinct(
                            &mut distinct,
                            c,
                            values,
                            &mut self.seen,
                            &mut self.many_distinct,
                        );
                    }
                    if let (Some(Some(first)), Some(Some(second))) =
                        (&distinct[columns[0]], &distinct[columns[1]])
                    {
                        let at = match pairs_of.iter().position(|(c, _)| c == columns) {
                            Some(at) => at,
                            None => {
                                pairs_of.push((*columns, pairs::Pairs::of(first, second)));
                                pairs_of.len() - 1
                            }
                        };
                        if let Some(found) = &pairs_of[at].1 {
                            let (n, holds) = found.truth(first, second, schema, expr, pair_memo)?;
                            if n > 0 && self.plan.sampling.is_some() {
                                evaluated = Some(found.row_mask(&holds));
                            }
                            break 'count n;
                        }
                    }
                }
                if let Some(c) = check.distinct_column
                    && self.many_distinct[c] < GIVE_UP_AFTER
                {
                    find_distinct(
                        &mut distinct,
                        c,
                        values,
                        &mut self.seen,
                        &mut self.many_distinct,
                    );
                    if let (Some(Some(d)), Some((schema, expr))) =
                        (&distinct[c], &check.on_distinct)
                    {
                        let (n, holds) = d.truth(schema, expr, memo)?;
                        if n > 0 && self.plan.sampling.is_some() {
                            evaluated = Some(d.row_mask(&holds)?);
                        }
                        break 'count n;
                    }
                }
                let value = check.expr.evaluate(&batch)?;
                if self.plan.sampling.is_some() {
                    // Kept as the failing rows' mask, should the count be above 0.
                    evaluated = Some(value.clone().into_array(rows)?);
                }
                true_rows(value, rows)?
            };
            *count += added;
            if added > 0
                && let Some((positions, collector)) = &self.plan.sampling
            {
                // Rows that fail are rare; the predicate is evaluated again only for a
                // batch that has some and was counted without a row mask.
                let mask = match evaluated {
                    Some(v) => v,
                    None => check.expr.evaluate(&batch)?.into_array(rows)?,
                };
                if let Some(mask) = mask.as_boolean_opt() {
                    collector.offer_where(k, &batch.project(positions)?, Some(mask))?;
                }
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.counts.merge(states);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.counts.state())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.counts.evaluate()
    }

    fn size(&self) -> usize {
        let remembered: usize = self.seen.iter().map(|s| s.bytes).sum();
        let memos: usize = self.memo.iter().map(|(m, _)| m.capacity()).sum::<usize>()
            + self
                .pair_memo
                .iter()
                .map(|m| m.capacity() * 16)
                .sum::<usize>();
        std::mem::size_of_val(self)
            + self.counts.size()
            + self.many_distinct.capacity() * 4
            + remembered
            + memos
    }
}

/// Finds column `c`'s distinct values in the batch (`values`), unless already found.
fn find_distinct(
    distinct: &mut [Option<Option<Distinct>>],
    c: usize,
    values: &[ArrayRef],
    seen: &mut [ValueIds],
    many_distinct: &mut [u32],
) {
    if distinct[c].is_none() {
        let found = Distinct::of(&values[c], &mut seen[c]);
        if found.is_none() {
            many_distinct[c] += 1;
        }
        distinct[c] = Some(found);
    }
}

/// A batch's distinct values of one string column, with how many rows hold each.
#[derive(Debug, Clone)]
struct Distinct {
    /// The distinct values, then one NULL if the batch has NULLs.
    values: ArrayRef,
    weights: Vec<i64>,
    /// Each value's number in the column's [`ValueIds`].
    ids: Vec<Slot>,
    /// For each row of the batch, the index of its value in `values` ([`NULL_ROW`] for a
    /// NULL): failing rows are then found without comparing a string again.
    rows: Vec<u32>,
}

/// A NULL row in [`Distinct::rows`].
const NULL_ROW: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
enum Slot {
    Value(u32),
    Null,
    /// Not numbered (too many values met): evaluated in every batch.
    Unnumbered,
}

impl Distinct {
    /// None when the column has more than [`MAX_DISTINCT`] distinct values in the batch.
    fn of(array: &ArrayRef, seen: &mut ValueIds) -> Option<Distinct> {
        let (values, weights, rows): (Vec<Option<&str>>, Vec<i64>, Vec<u32>) =
            match array.data_type() {
                DataType::Utf8View => distinct_string_views(array.as_string_view())?,
                DataType::Utf8 => distinct_strings(array.as_string::<i32>())?,
                DataType::LargeUtf8 => distinct_strings(array.as_string::<i64>())?,
                _ => return None,
            };
        let ids = values
            .iter()
            .map(|v| match v {
                Some(v) => seen.id(v).map_or(Slot::Unnumbered, Slot::Value),
                None => Slot::Null,
            })
            .collect();
        let values: ArrayRef = match array.data_type() {
            DataType::Utf8View => Arc::new(StringViewArray::from_iter(values)),
            DataType::Utf8 => Arc::new(StringArray::from_iter(values)),
            _ => Arc::new(LargeStringArray::from_iter(values)),
        };
        Some(Distinct {
            values,
            weights,
            ids,
            rows,
        })
    }

    /// Which rows of `column` (the column these distinct values came from) have a value
    /// for which `holds` is true: the failing rows, without evaluating the predicate again.
    fn row_mask(&self, holds: &[bool]) -> Result<ArrayRef> {
        let strings = self.values.as_ref();
        let null_fails = holds
            .iter()
            .enumerate()
            .any(|(i, h)| *h && strings.is_null(i));
        let bits =
            datafusion::arrow::buffer::BooleanBuffer::collect_bool(self.rows.len(), |i| match self
                .rows[i]
            {
                NULL_ROW => null_fails,
                r => holds[r as usize],
            });
        Ok(Arc::new(datafusion::arrow::array::BooleanArray::new(
            bits, None,
        )))
    }

    /// Rows of the batch for which `expr`, reading the distinct values as the only column
    /// of `schema`, is true, and whether it holds for each distinct value. Values met in
    /// earlier batches are answered from `memo`; only new ones are evaluated.
    fn truth(
        &self,
        schema: &SchemaRef,
        expr: &Arc<dyn PhysicalExpr>,
        memo: &mut (Vec<Option<bool>>, Option<bool>),
    ) -> Result<(i64, Vec<bool>)> {
        let (by_id, null) = memo;
        let mut truth: Vec<Option<bool>> = self
            .ids
            .iter()
            .map(|slot| match slot {
                Slot::Value(id) => by_id.get(*id as usize).copied().flatten(),
                Slot::Null => *null,
                Slot::Unnumbered => None,
            })
            .collect();
        let pending: Vec<u32> = (0..truth.len() as u32)
            .filter(|i| truth[*i as usize].is_none())
            .collect();
        if !pending.is_empty() {
            let values = datafusion::arrow::compute::take(
                self.values.as_ref(),
                &UInt32Array::from(pending.clone()),
                None,
            )?;
            let batch = RecordBatch::try_new(Arc::clone(schema), vec![values])?;
            let holds = verdicts(&expr.evaluate(&batch)?.into_array(pending.len())?)?;
            for (j, slot) in pending.iter().enumerate() {
                let t = holds[j];
                truth[*slot as usize] = Some(t);
                match self.ids[*slot as usize] {
                    Slot::Value(id) => {
                        let id = id as usize;
                        if by_id.len() <= id {
                            by_id.resize(id + 1, None);
                        }
                        by_id[id] = Some(t);
                    }
                    Slot::Null => *null = Some(t),
                    Slot::Unnumbered => {}
                }
            }
        }
        let holds: Vec<bool> = truth.iter().map(|t| t.unwrap_or(false)).collect();
        let n = holds
            .iter()
            .zip(&self.weights)
            .filter(|(t, _)| **t)
            .map(|(_, w)| *w)
            .sum();
        Ok((n, holds))
    }
}

/// Whether a predicate's result holds on each row; a NULL verdict (or a result of type
/// NULL, from a predicate folded to NULL) does not.
fn verdicts(result: &ArrayRef) -> Result<Vec<bool>> {
    match result.as_boolean_opt() {
        Some(b) => Ok((0..b.len()).map(|j| b.is_valid(j) && b.value(j)).collect()),
        None if result.data_type() == &DataType::Null => Ok(vec![false; result.len()]),
        None => internal_err!("{NAME}: predicate is {}, not boolean", result.data_type()),
    }
}

/// Distinct non-NULL values (then `None` once if there are NULLs) and their row counts.
/// The rows' value indexes come third.
type DistinctValues<'a> = (Vec<Option<&'a str>>, Vec<i64>, Vec<u32>);

fn distinct_strings<'a, A>(array: A) -> Option<DistinctValues<'a>>
where
    A: ArrayAccessor<Item = &'a str>,
{
    let mut index: HashMap<&'a str, usize> = HashMap::with_capacity(64);
    let mut values: Vec<Option<&'a str>> = Vec::new();
    let mut weights: Vec<i64> = Vec::new();
    let mut rows: Vec<u32> = Vec::with_capacity(array.len());
    let mut nulls = 0i64;
    for i in 0..array.len() {
        if array.is_null(i) {
            nulls += 1;
            rows.push(NULL_ROW);
            continue;
        }
        let v = array.value(i);
        match index.get(v) {
            Some(&j) => {
                weights[j] += 1;
                rows.push(j as u32);
            }
            None => {
                if values.len() == MAX_DISTINCT {
                    return None;
                }
                index.insert(v, values.len());
                rows.push(values.len() as u32);
                values.push(Some(v));
                weights.push(1);
            }
        }
    }
    if nulls > 0 {
        values.push(None);
        weights.push(nulls);
    }
    Some((values, weights, rows))
}

/// [`distinct_strings`] for string views: a string of up to 12 bytes is stored whole in
/// its 16-byte view, so the view itself is the hash key and no bytes are compared.
fn distinct_string_views(array: &StringViewArray) -> Option<DistinctValues<'_>> {
    let mut inline: HashMap<u128, usize> = HashMap::with_capacity(64);
    let mut long: HashMap<&str, usize> = HashMap::new();
    let mut values: Vec<Option<&str>> = Vec::new();
    let mut weights: Vec<i64> = Vec::new();
    let mut rows: Vec<u32> = Vec::with_capacity(array.len());
    let mut nulls = 0i64;
    for (i, view) in array.views().iter().enumerate() {
        if array.is_null(i) {
            nulls += 1;
            rows.push(NULL_ROW);
            continue;
        }
        let next = values.len();
        let slot = if (*view as u32) <= 12 {
            *inline.entry(*view).or_insert(next)
        } else {
            *long.entry(array.value(i)).or_insert(next)
        };
        if slot == next {
            if next == MAX_DISTINCT {
                return None;
            }
            values.push(Some(array.value(i)));
            weights.push(0);
        }
        weights[slot] += 1;
        rows.push(slot as u32);
    }
    if nulls > 0 {
        values.push(None);
        weights.push(nulls);
    }
    Some((values, weights, rows))
}

/// A value of an ordered column type, compared the way arrow's comparison kernels do
/// (floats by total order: `-0.0 < 0.0`, NaN above everything).
#[derive(Debug, Clone, Copy)]
enum Key {
    Int(i128),
    Float(f64),
}

impl Key {
    fn cmp(self, other: Key) -> Option<Ordering> {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => Some(a.cmp(&b)),
            (Key::Float(a), Key::Float(b)) => Some(a.total_cmp(&b)),
            _ => None,
        }
    }

    /// `-0.0` as `0.0`: the order IEEE comparison gives non-NaN floats.
    fn zeros_merged(self) -> Key {
        match self {
            Key::Float(f) => Key::Float(if f == 0.0 { 0.0 } else { f }),
            other => other,
        }
    }

    fn of_scalar(v: &ScalarValue) -> Option<Key> {
        use ScalarValue as S;
        Some(match v {
            S::Int8(Some(x)) => Key::Int(*x as i128),
            S::Int16(Some(x)) => Key::Int(*x as i128),
            S::Int32(Some(x)) => Key::Int(*x as i128),
            S::Int64(Some(x)) => Key::Int(*x as i128),
            S::UInt8(Some(x)) => Key::Int(*x as i128),
            S::UInt16(Some(x)) => Key::Int(*x as i128),
            S::UInt32(Some(x)) => Key::Int(*x as i128),
            S::UInt64(Some(x)) => Key::Int(*x as i128),
            S::Date32(Some(x)) => Key::Int(*x as i128),
            S::Date64(Some(x)) => Key::Int(*x as i128),
            S::TimestampSecond(Some(x), _)
            | S::TimestampMillisecond(Some(x), _)
            | S::TimestampMicrosecond(Some(x), _)
            | S::TimestampNanosecond(Some(x), _) => Key::Int(*x as i128),
            S::Float32(Some(x)) => Key::Float(*x as f64),
            S::Float64(Some(x)) => Key::Float(*x),
            _ => return None,
        })
    }
}

/// Smallest and largest non-NULL value; None for an all-NULL array or an unsupported type.
fn bounds(array: &dyn Array) -> Option<(Key, Key)> {
    use datafusion::arrow::compute::{max, min};
    use datafusion::arrow::datatypes::*;
    macro_rules! ints {
        ($t:ty) => {{
            let a = array.as_primitive::<$t>();
            Some((Key::Int(min(a)? as i128), Key::Int(max(a)? as i128)))
        }};
    }
    match array.data_type() {
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        DataType::Date32 => ints!(Date32Type),
        DataType::Date64 => ints!(Date64Type),
        DataType::Timestamp(TimeUnit::Second, _) => ints!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => ints!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => ints!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => ints!(TimestampNanosecondType),
        DataType::Float32 => float_bounds(
            array
                .as_primitive::<Float32Type>()
                .iter()
                .flatten()
                .map(f64::from),
        ),
        DataType::Float64 => float_bounds(array.as_primitive::<Float64Type>().iter().flatten()),
        _ => None,
    }
}

/// Float bounds by total order; a batch holding NaN has none (NaN orders above or below
/// everything, or compares false, depending on the kernel), so its predicates are
/// evaluated.
fn float_bounds(mut values: impl Iterator<Item = f64>) -> Option<(Key, Key)> {
    let first = values.next()?;
    if first.is_nan() {
        return None;
    }
    let mut lo = first;
    let mut hi = first;
    for v in values {
        if v.is_nan() {
            return None;
        }
        if v.total_cmp(&lo).is_lt() {
            lo = v;
        }
        if v.total_cmp(&hi).is_gt() {
            hi = v;
        }
    }
    Some((Key::Float(lo), Key::Float(hi)))
}

/// Per-batch facts about the argument columns, each computed on first use.
struct BatchStats<'a> {
    columns: &'a [ArrayRef],
    bounds: Vec<Option<Option<(Key, Key)>>>,
    nans: Vec<Option<bool>>,
}

impl<'a> BatchStats<'a> {
    fn new(columns: &'a [ArrayRef]) -> Self {
        BatchStats {
            columns,
            bounds: vec![None; columns.len()],
            nans: vec![None; columns.len()],
        }
    }

    fn nulls(&self, c: usize) -> usize {
        self.columns[c].logical_null_count()
    }

    fn rows(&self) -> usize {
        self.columns[0].len()
    }

    /// Whether the column may hold a NaN (true for anything but a float column without).
    fn has_nan(&mut self, c: usize) -> bool {
        use datafusion::arrow::datatypes::{Float32Type, Float64Type};
        *self.nans[c].get_or_insert_with(|| {
            let a = self.columns[c].as_ref();
            match a.data_type() {
                DataType::Float64 => a
                    .as_primitive::<Float64Type>()
                    .iter()
                    .flatten()
                    .any(f64::is_nan),
                DataType::Float32 => a
                    .as_primitive::<Float32Type>()
                    .iter()
                    .flatten()
                    .any(f32::is_nan),
                DataType::Float16 => true,
                _ => !a.data_type().is_integer() && !a.data_type().is_temporal(),
            }
        })
    }

    fn bounds(&mut self, c: usize) -> Option<(Key, Key)> {
        *self.bounds[c].get_or_insert_with(|| bounds(self.columns[c].as_ref()))
    }
}

/// What batch statistics can prove about a predicate: that no row of the batch satisfies it.
#[derive(Debug)]
enum Guard {
    /// A constant FALSE or NULL.
    Never,
    /// AND: no row satisfies it if no row satisfies one of the parts.
    All(Vec<Guard>),
    /// OR: no row satisfies it if no row satisfies any part.
    Any(Vec<Guard>),
    IsNull(usize),
    IsNotNull(usize),
    /// `isnan(column)` on a float column.
    IsNan(usize),
    /// `column <op> value`, with `op` one of `< <= > >= =`.
    Compare {
        column: usize,
        op: Operator,
        value: Key,
    },
}

impl Guard {
    /// The guard of `expr`; None if statistics cannot rule it out.
    fn of(expr: &dyn PhysicalExpr, schema: &Schema) -> Option<Guard> {
        if let Some(l) = expr.downcast_ref::<phys::Literal>() {
            return match l.value() {
                ScalarValue::Boolean(Some(true)) => None,
                v if v.is_null() || v == &ScalarValue::Boolean(Some(false)) => Some(Guard::Never),
                _ => None,
            };
        }
        if let Some(e) = expr.downcast_ref::<IsNullExpr>() {
            return column_of(e.arg().as_ref()).map(Guard::IsNull);
        }
        if let Some(e) = expr.downcast_ref::<IsNotNullExpr>() {
            return column_of(e.arg().as_ref()).map(Guard::IsNotNull);
        }
        if let Some(f) = expr.downcast_ref::<datafusion::physical_expr::ScalarFunctionExpr>() {
            if f.name() == "isnan" {
                if let [arg] = f.args() {
                    return column_of(arg.as_ref()).map(Guard::IsNan);
                }
            }
            return None;
        }
        let b = expr.downcast_ref::<BinaryExpr>()?;
        match b.op() {
            Operator::And => {
                let parts: Vec<Guard> = [b.left(), b.right()]
                    .into_iter()
                    .filter_map(|e| Guard::of(e.as_ref(), schema))
                    .collect();
                (!parts.is_empty()).then_some(Guard::All(parts))
            }
            Operator::Or => Some(Guard::Any(vec![
                Guard::of(b.left().as_ref(), schema)?,
                Guard::of(b.right().as_ref(), schema)?,
            ])),
            op @ (Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq | Operator::Eq) => {
                let (column, value, op) =
                    match (column_of(b.left().as_ref()), literal_of(b.right().as_ref())) {
                        (Some(c), Some(v)) => (c, v, *op),
                        _ => (
                            column_of(b.right().as_ref())?,
                            literal_of(b.left().as_ref())?,
                            op.swap()?,
                        ),
                    };
                if value.is_null() {
                    return Some(Guard::Never);
                }
                // Only compare like with like; anything else is left to evaluation.
                if &value.data_type() != schema.field(column).data_type() {
                    return None;
                }
                Some(Guard::Compare {
                    column,
                    op,
                    value: Key::of_scalar(value)?,
                })
            }
            _ => None,
        }
    }

    /// True when no row of the batch can satisfy the predicate.
    fn excludes_all(&self, stats: &mut BatchStats) -> bool {
        match self {
            Guard::Never => true,
            Guard::All(parts) => parts.iter().any(|g| g.excludes_all(stats)),
            Guard::Any(parts) => parts.iter().all(|g| g.excludes_all(stats)),
            Guard::IsNull(c) => stats.nulls(*c) == 0,
            Guard::IsNotNull(c) => stats.nulls(*c) == stats.rows(),
            Guard::IsNan(c) => !stats.has_nan(*c),
            Guard::Compare { column, op, value } => {
                if stats.nulls(*column) == stats.rows() {
                    return true; // every comparison is NULL
                }
                let Some((lo, hi)) = stats.bounds(*column) else {
                    return false;
                };
                // A proof both by total order (`-0.0 < 0.0`) and by IEEE comparison
                // (`-0.0 = 0.0`), whichever the kernel that evaluates the predicate uses.
                excluded(*op, lo, hi, *value)
                    && excluded(
                        *op,
                        lo.zeros_merged(),
                        hi.zeros_merged(),
                        value.zeros_merged(),
                    )
            }
        }
    }
}

/// Whether no value within `[lo, hi]` satisfies `<value> <op>`-style `column op value`.
fn excluded(op: Operator, lo: Key, hi: Key, value: Key) -> bool {
    let (Some(lo), Some(hi)) = (lo.cmp(value), hi.cmp(value)) else {
        return false;
    };
    match op {
        Operator::Lt => lo.is_ge(),
        Operator::LtEq => lo.is_gt(),
        Operator::Gt => hi.is_le(),
        Operator::GtEq => hi.is_lt(),
        Operator::Eq => lo.is_gt() || hi.is_lt(),
        _ => false,
    }
}

fn column_of(e: &dyn PhysicalExpr) -> Option<usize> {
    e.downcast_ref::<phys::Column>().map(|c| c.index())
}

fn literal_of(e: &dyn PhysicalExpr) -> Option<&ScalarValue> {
    e.downcast_ref::<phys::Literal>().map(|l| l.value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Rng;
    use datafusion::arrow::array::{
        Float64Array, Int32Array, Int64Array, StructArray, TimestampMicrosecondArray,
    };
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::datasource::MemTable;
    use datafusion::logical_expr::LogicalPlanBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    const WORDS: &[&str] = &[
        "abc",
        "xyz",
        "",
        "é",
        "a much longer string than twelve bytes",
    ];
    const SPECIAL: &[f64] = &[0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 100.0];

    /// A batch whose value ranges, NULL share and cardinality vary with the seed, so that
    /// guards both hold and fail and the distinct path is both taken and abandoned.
    fn batch(rng: &mut Rng) -> RecordBatch {
        let most = if rng.chance(0.2) { 3000 } else { 300 };
        let rows = rng.below(most) as usize;
        let null_rate = [0.0, 0.1, 1.0][rng.below(3) as usize];
        let offset = rng.below(40) as f64 - 10.0;
        let many = rng.chance(0.3);
        let null = |rng: &mut Rng| rng.chance(null_rate);
        let i: Int32Array = (0..rows)
            .map(|_| (!null(rng)).then(|| (offset + rng.below(10) as f64) as i32))
            .collect();
        let x: Float64Array = (0..rows)
            .map(|_| {
                (!null(rng)).then(|| {
                    if rng.chance(0.05) {
                        SPECIAL[rng.below(SPECIAL.len() as u64) as usize]
                    } else {
                        offset * 5.0 + rng.unit() * 30.0
                    }
                })
            })
            .collect();
        let t = TimestampMicrosecondArray::from(
            (0..rows)
                .map(|_| (!null(rng)).then(|| 1_700_000_000_000_000 + rng.below(1 << 40) as i64))
                .collect::<Vec<_>>(),
        )
        .with_timezone("UTC");
        let s: StringViewArray = (0..rows)
            .map(|_| (!null(rng)).then(|| WORDS[rng.below(WORDS.len() as u64) as usize]))
            .collect();
        let u: StringArray = (0..rows)
            .map(|_| {
                let n = if many {
                    rng.below(50_000)
                } else {
                    rng.below(20)
                };
                (!null(rng)).then(|| format!("v{n}"))
            })
            .collect();
        let r = Int64Array::from_iter_values((0..rows).map(|_| rng.below(10) as i64));
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("x", DataType::Float64, true),
            Field::new("t", t.data_type().clone(), true),
            Field::new("s", DataType::Utf8View, true),
            Field::new("u", DataType::Utf8, true),
            Field::new("r", DataType::Int64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(i),
            Arc::new(x),
            Arc::new(t),
            Arc::new(s),
            Arc::new(u),
            Arc::new(r),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    const PREDICATES: &[&str] = &[
        "x < 0",
        "x <= 0",
        "x > 100",
        "x >= 100",
        "x = 0",
        "x < 0 OR x > 100",
        "x > 'NaN'::double",
        "i < 3",
        "i > 2.5",
        "i = 7 OR x IS NULL",
        "i >= 18 AND s = 'abc'",
        "i IS NULL",
        "x IS NOT NULL",
        "NOT (x < 50)",
        "t < TIMESTAMP '2024-01-01T00:00:00Z'",
        "t IS NULL OR t > TIMESTAMP '2060-01-01T00:00:00Z'",
        "s NOT IN ('abc', 'xyz', '')",
        "character_length(s) > 2",
        "s IS NULL OR s = 'é'",
        "s = 'a much longer string than twelve bytes'",
        "u LIKE 'v1%'",
        "u = 'v7'",
        "u NOT IN ('v1', 'v2') OR u IS NULL",
        "s = 'abc' AND u LIKE 'v2%'",
        // Regexes: compiled once inside the aggregate (see `formats`).
        "u ~ '^v[12]'",
        "s !~* '^AB[cd]'",
        "u ~ '[0-9]{2}$' OR i > 5",
        // Two string columns: the distinct-pairs path (value_pairs compiles to the CASE).
        "NOT (CASE s WHEN 'abc' THEN u IN ('v1', 'v2') WHEN 'xyz' THEN u = 'v3' ELSE false END)",
        "s IS NOT NULL AND u IS NOT NULL AND NOT (CASE u WHEN 'v4' THEN s = 'é' ELSE false END)",
        "s = u OR (s IS NULL AND u IS NOT NULL)",
        "s < u",
        "concat(s, u) = 'abcv1'",
        "r > 5",
        "r IS NULL",
        "CAST(NULL AS BOOLEAN)",
        "false",
        "true",
    ];

    async fn counts(ctx: &SessionContext, predicates: &[&str]) -> (Vec<i64>, Vec<i64>) {
        let plan = ctx.table("t").await.unwrap().into_unoptimized_plan();
        let exprs: Vec<Expr> = predicates
            .iter()
            .map(|p| ctx.parse_sql_expr(p, plan.schema()).unwrap())
            .collect();
        let columns: Vec<Column> = plan.schema().columns();
        let (packed, collector) = call(
            &ctx.state(),
            plan.schema(),
            &exprs,
            &[],
            Some((&columns, 3)),
        )
        .unwrap();
        let collector = collector.expect("sampling requested");
        let packed_plan = LogicalPlanBuilder::from(plan)
            .aggregate(Vec::<Expr>::new(), vec![packed.alias("c")])
            .unwrap()
            .build()
            .unwrap();
        let batches = ctx
            .execute_logical_plan(packed_plan)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let got: Vec<i64> = {
            let s: &StructArray = batches[0].column(0).as_struct();
            s.columns()
                .iter()
                .map(|c| c.as_primitive::<Int64Type>().value(0))
                .collect()
        };
        let sql = predicates
            .iter()
            .enumerate()
            .map(|(i, p)| format!("count(*) FILTER (WHERE {p}) AS e{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let batches = ctx
            .sql(&format!("SELECT {sql} FROM t"))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let expected = batches[0]
            .columns()
            .iter()
            .map(|c| c.as_primitive::<Int64Type>().value(0))
            .collect();
        // The examples kept during the count are the first three failing rows in value
        // order, as a query with ORDER BY … LIMIT 3 finds them.
        let order: Vec<String> = collector
            .schema()
            .fields()
            .iter()
            .filter(|f| super::super::samples::tests_orderable(f.data_type()))
            .map(|f| match f.data_type() {
                // -0.0 orders as 0.0 (DataFusion's own sort is not consistent about it).
                DataType::Float64 | DataType::Float32 => format!(
                    "CASE WHEN {0} = 0 THEN 0.0 ELSE {0} END ASC NULLS LAST",
                    f.name()
                ),
                _ => format!("{} ASC NULLS LAST", f.name()),
            })
            .collect();
        for (k, p) in predicates.iter().enumerate() {
            let want = ctx
                .sql(&format!(
                    "SELECT * FROM t WHERE {p} ORDER BY {} LIMIT 3",
                    order.join(", ")
                ))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let want = crate::engine::values::rows_as_json(&want).unwrap();
            let got = collector.take(k).unwrap_or_default();
            let got = crate::engine::values::rows_as_json(&got).unwrap();
            assert_eq!(got, want, "examples of {p}");
        }
        (got, expected)
    }

    #[tokio::test]
    async fn counts_equal_filtered_counts_on_varied_batches() {
        for seed in 0..6 {
            let mut rng = Rng::new(seed + 11);
            let batches: Vec<RecordBatch> = (0..40).map(|_| batch(&mut rng)).collect();
            let ctx =
                SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
            let table = MemTable::try_new(batches[0].schema(), vec![batches]).unwrap();
            ctx.register_table("t", Arc::new(table)).unwrap();
            let (got, expected) = counts(&ctx, PREDICATES).await;
            for ((p, g), e) in PREDICATES.iter().zip(&got).zip(&expected) {
                assert_eq!(g, e, "seed {seed}: {p}");
            }
            // Each predicate alone too: the distinct path needs two readers of a column.
            for p in ["s NOT IN ('abc')", "u LIKE 'v1%'"] {
                let (got, expected) = counts(&ctx, &[p, p]).await;
                assert_eq!(got, expected, "seed {seed}: {p}");
            }
        }
    }

    #[test]
    fn predicates_over_two_string_columns_take_the_pair_path() {
        let schema = Schema::new(vec![
            Field::new("s", DataType::Utf8View, true),
            Field::new("u", DataType::Utf8, true),
            Field::new("i", DataType::Int32, true),
        ]);
        let df_schema = DFSchema::try_from(schema.clone()).unwrap();
        let ctx = SessionContext::new();
        for (sql, paired) in [
            (
                "NOT (CASE s WHEN 'a' THEN u IN ('x', 'y') ELSE false END)",
                true,
            ),
            ("u < s", true),
            ("s = 'a' AND i > 1", false),
            ("s = 'a'", false),
        ] {
            let expr = ctx.parse_sql_expr(sql, &df_schema).unwrap();
            let physical = ctx.create_physical_expr(expr, &df_schema).unwrap();
            let check = Check::new(physical, &schema).unwrap();
            assert_eq!(check.on_pair.is_some(), paired, "{sql}");
            if let Some((columns, pair_schema, _)) = &check.on_pair {
                assert_eq!(columns, &[0, 1], "{sql}");
                assert_eq!(pair_schema.field(1).name(), "u", "{sql}");
            }
        }
    }

    fn guard_excludes(sql: &str, batch: &RecordBatch) -> bool {
        let ctx = SessionContext::new();
        let schema = DFSchema::try_from(batch.schema().as_ref().clone()).unwrap();
        let expr = ctx.parse_sql_expr(sql, &schema).unwrap();
        let expr = simplify(&ctx.state(), &schema, &[expr]).unwrap().remove(0);
        let physical = ctx.create_physical_expr(expr, &schema).unwrap();
        let guard = Guard::of(physical.as_ref(), &batch.schema())
            .unwrap_or_else(|| panic!("no guard for {sql}: {physical}"));
        guard.excludes_all(&mut BatchStats::new(batch.columns()))
    }

    #[test]
    fn guards_follow_arrow_comparison_order() {
        let floats = |v: Vec<Option<f64>>| {
            RecordBatch::try_from_iter(vec![("x", Arc::new(Float64Array::from(v)) as ArrayRef)])
                .unwrap()
        };
        assert!(guard_excludes("x < 0", &floats(vec![Some(0.0), Some(3.0)])));
        // Arrow orders -0.0 below 0.0 and NaN above everything.
        assert!(!guard_excludes(
            "x < 0",
            &floats(vec![Some(-0.0), Some(3.0)])
        ));
        assert!(!guard_excludes(
            "x > 100",
            &floats(vec![Some(f64::NAN), Some(3.0)])
        ));
        assert!(guard_excludes("x IS NULL", &floats(vec![Some(1.0)])));
        assert!(!guard_excludes("x IS NULL", &floats(vec![None, Some(1.0)])));
        assert!(guard_excludes(
            "x > 5 OR x IS NULL",
            &floats(vec![Some(1.0)])
        ));
        assert!(!guard_excludes(
            "x > 5 OR x IS NULL",
            &floats(vec![Some(6.0)])
        ));
        assert!(guard_excludes(
            "x > 5 AND x IS NOT NULL",
            &floats(vec![None, Some(2.0)])
        ));
        assert!(guard_excludes("x = 7", &floats(vec![None, None])));
    }

    #[test]
    fn guards_hold_whether_kernels_compare_zeros_and_nan_by_ieee_or_total_order() {
        let floats = |v: Vec<Option<f64>>| {
            RecordBatch::try_from_iter(vec![("x", Arc::new(Float64Array::from(v)) as ArrayRef)])
                .unwrap()
        };
        // `range max 0 exclusive` fails rows with x >= 0; -0.0 = 0.0 by IEEE comparison.
        let batch = floats(vec![Some(-2.5), Some(-0.0), Some(-1.0)]);
        assert!(!guard_excludes("x >= 0", &batch));
        assert!(!guard_excludes("x = 0", &batch));
        assert!(!guard_excludes(
            "x >= -0.0",
            &floats(vec![Some(-3.0), Some(0.0)])
        ));
        assert!(!guard_excludes(
            "x <= -0.0",
            &floats(vec![Some(0.0), Some(3.0)])
        ));
        // `range` adds `isnan(x)`: skipped only for a batch without NaN.
        assert!(guard_excludes(
            "x > 5 OR isnan(x)",
            &floats(vec![Some(1.0), None])
        ));
        assert!(!guard_excludes(
            "x > 5 OR isnan(x)",
            &floats(vec![Some(1.0), Some(f64::NAN)])
        ));
        // Still a proof away from zero.
        assert!(guard_excludes(
            "x >= 0",
            &floats(vec![Some(-2.5), Some(-1.0)])
        ));
        // Any NaN (of either sign) in the batch: no bounds, the predicate is evaluated.
        for nan in [f64::NAN, -f64::NAN] {
            let batch = floats(vec![Some(nan), Some(3.0)]);
            for p in ["x > 100", "x < -100", "x = 1", "x <= 0"] {
                assert!(!guard_excludes(p, &batch), "{p} with {nan}");
            }
        }
    }

    #[test]
    fn values_past_the_numbering_limit_are_evaluated_every_time() {
        let ctx = SessionContext::new();
        let field = Field::new("s", DataType::Utf8, true);
        let schema = Arc::new(Schema::new(vec![field]));
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).unwrap();
        let expr = ctx.parse_sql_expr("s <> 'b'", &df_schema).unwrap();
        let physical = ctx.create_physical_expr(expr, &df_schema).unwrap();
        let mut seen = ValueIds::default();
        seen.id("a").unwrap();
        for i in 1..MAX_REMEMBERED {
            seen.id(&format!("filler {i}")).unwrap();
        }
        let mut memo = (Vec::new(), None);
        for round in 0..2 {
            let batch: ArrayRef = Arc::new(StringArray::from(vec![
                Some("a"),
                Some("b"),
                Some("c"),
                Some("c"),
                None,
            ]));
            let d = Distinct::of(&batch, &mut seen).unwrap();
            // "a" was numbered before the limit; "b" and "c" are past it.
            assert!(matches!(d.ids[0], Slot::Value(0)));
            assert!(matches!(d.ids[1], Slot::Unnumbered));
            assert_eq!(
                d.truth(&schema, &physical, &mut memo).unwrap().0,
                3,
                "round {round}"
            );
            assert_eq!(memo.0, vec![Some(true)]);
        }
    }

    #[test]
    fn distinct_values_give_up_on_many_values() {
        let few: ArrayRef = Arc::new(StringViewArray::from_iter(
            (0..5000).map(|i| (i % 7 != 0).then(|| format!("value {}", i % 9))),
        ));
        let d = Distinct::of(&few, &mut ValueIds::default()).expect("nine values and NULL");
        assert_eq!(d.values.len(), 10);
        assert_eq!(d.weights.iter().sum::<i64>(), 5000);
        let many: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..5000).map(|i| format!("v{i}")),
        ));
        assert!(Distinct::of(&many, &mut ValueIds::default()).is_none());
    }
}
