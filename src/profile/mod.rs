//! `dq profile`: what a dataset holds, column by column, from one aggregate scan.
//!
//! Per column: type, NULLs, distinct values (exact up to 2,048 distinct values, a
//! HyperLogLog estimate beyond, and the report says which), min/max, mean, standard
//! deviation and quantiles of numbers (one t-digest), string lengths, the most frequent
//! values, and the named formats (`pattern`'s) a sample of its strings match. Per dataset:
//! rows, files, bytes, partitions and the newest one. `dq suggest` turns a profile into
//! rules.

pub mod render;
pub mod sketches;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::functions::math::expr_fn::isnan;
use datafusion::functions::unicode::expr_fn::character_length;
use datafusion::functions_aggregate::expr_fn::{
    approx_distinct, avg, count, max, min, stddev, sum,
};
use datafusion::logical_expr::{Expr, ExprFunctionExt, cast, ident, lit, not};
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::config::rules::DatasetSpec;
use crate::engine::dataset::{DatasetFacts, ReadScope};

/// The profile of one dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetProfile {
    /// `layer.name`.
    pub dataset: String,
    pub url: String,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions: Option<Partitions>,
    pub columns: Vec<ColumnProfile>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Partitions {
    pub columns: Vec<String>,
    pub count: u64,
    /// The largest value of the first partition column.
    pub newest: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnProfile {
    pub name: String,
    /// The type as `schema` rules name it (`int64`, `string`, `timestamp` …).
    #[serde(rename = "type")]
    pub data_type: String,
    pub nulls: u64,
    pub null_fraction: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct: Option<Distinct>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Numbers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<Length>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequent: Option<Frequent>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<FormatMatch>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Distinct {
    pub count: u64,
    /// `exact`, `hyperloglog` (an estimate, about 2 % standard error), or `at_least`
    /// (a lower bound: the column's type has no sketch here).
    pub method: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Numbers {
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    /// NaN values (floats only); they are outside min, max, mean and quantiles.
    pub nan: u64,
    /// 0 %, 5 %, … 100 % (t-digest estimates; the ends are the exact min and max).
    pub quantiles: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Length {
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Frequent {
    /// Most frequent first.
    pub values: Vec<ValueCount>,
    /// True when every count is exact; otherwise each count is at most `error` below the
    /// true one (values recurring more often than about 8 × rows / 1,024 times are listed).
    pub exact: bool,
    pub error: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FormatMatch {
    pub format: String,
    pub matched: u64,
    pub sampled: u64,
}

/// Values listed per column in a profile.
pub const TOP_VALUES: usize = 10;

/// The type name a `schema` rule uses for an Arrow type, if it has one.
pub fn type_name(t: &DataType) -> Option<String> {
    use DataType as D;
    Some(match t {
        D::Utf8 | D::LargeUtf8 | D::Utf8View => "string".into(),
        D::Int8 => "int8".into(),
        D::Int16 => "int16".into(),
        D::Int32 => "int32".into(),
        D::Int64 => "int64".into(),
        D::UInt8 => "uint8".into(),
        D::UInt16 => "uint16".into(),
        D::UInt32 => "uint32".into(),
        D::UInt64 => "uint64".into(),
        D::Float32 => "float".into(),
        D::Float64 => "double".into(),
        D::Boolean => "boolean".into(),
        D::Date32 | D::Date64 => "date".into(),
        D::Timestamp(_, _) => "timestamp".into(),
        D::Binary | D::LargeBinary | D::BinaryView => "binary".into(),
        D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) | D::Decimal256(p, s) => {
            format!("decimal({p},{s})")
        }
        _ => return None,
    })
}

fn is_numeric(t: &DataType) -> bool {
    t.is_integer()
        || t.is_floating()
        || matches!(
            t,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        )
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Types the frequent-values summary and min/max apply to (scalars).
fn is_scalar(t: &DataType) -> bool {
    is_numeric(t)
        || is_string(t)
        || matches!(
            t,
            DataType::Boolean | DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
        )
}

fn has_sketch(t: &DataType) -> bool {
    !t.is_floating() && t != &DataType::Boolean && is_scalar(t)
}

/// Where each column's statistics sit in the one-row result.
struct Slots {
    name: String,
    data_type: DataType,
    first: usize,
}

/// Profiles the dataset `spec` (registered here as `layer.name`) with one aggregate scan.
pub async fn profile(
    session: &SessionContext,
    spec: &DatasetSpec,
    url: &url::Url,
    storage: &std::collections::BTreeMap<String, String>,
    read: ReadScope<'_>,
) -> Result<DatasetProfile, String> {
    let started = std::time::Instant::now();
    let facts: DatasetFacts =
        crate::engine::dataset::register(session, spec, url, storage, read).await?;
    let table = format!("{}.{}", spec.layer, spec.name);
    let mut df = session
        .table(table.as_str())
        .await
        .map_err(|e| crate::engine::clean_error(&e))?;
    if let Some(scope) = read.scope {
        let predicate = crate::engine::sqlexpr::parse(session, scope, df.schema(), read.as_of)
            .map_err(|e| format!("scope: {e}"))?;
        df = df
            .filter(predicate)
            .map_err(|e| crate::engine::clean_error(&e))?;
    }
    let schema = df.schema().as_arrow().clone();
    let mut exprs: Vec<Expr> = vec![count(lit(1)).alias("rows")];
    let partition_names: Vec<String> = spec.partitioning.iter().map(|p| p.name.clone()).collect();
    let mut slots = Vec::new();
    for field in schema.fields() {
        let name = field.name().clone();
        let t = field.data_type().clone();
        let c = ident(&name);
        let first = exprs.len();
        let at = |what: &str| format!("{what}#{first}");
        exprs.push(count(c.clone()).alias(at("count")));
        if is_scalar(&t) {
            // NaN is left out of min and max (DataFusion orders it above every number).
            let (lo, hi) = if t.is_floating() {
                (
                    min(c.clone())
                        .filter(not(isnan(c.clone())))
                        .build()
                        .map_err(|e| e.to_string())?,
                    max(c.clone())
                        .filter(not(isnan(c.clone())))
                        .build()
                        .map_err(|e| e.to_string())?,
                )
            } else {
                (min(c.clone()), max(c.clone()))
            };
            exprs.push(lo.alias(at("min")));
            exprs.push(hi.alias(at("max")));
            exprs.push(
                std::sync::Arc::new(sketches::frequent())
                    .call(vec![c.clone()])
                    .alias(at("frequent")),
            );
            if has_sketch(&t) {
                exprs.push(approx_distinct(c.clone()).alias(at("hll")));
            }
        }
        if is_numeric(&t) {
            let f = cast(c.clone(), DataType::Float64);
            let finite = if t.is_floating() {
                Some(not(isnan(c.clone())))
            } else {
                None
            };
            let agg = |e: Expr| -> Result<Expr, String> {
                match &finite {
                    Some(p) => e.filter(p.clone()).build().map_err(|e| e.to_string()),
                    None => Ok(e),
                }
            };
            exprs.push(agg(avg(f.clone()))?.alias(at("mean")));
            exprs.push(agg(stddev(f.clone()))?.alias(at("stddev")));
            exprs.push(
                std::sync::Arc::new(sketches::quantiles())
                    .call(vec![f.clone()])
                    .alias(at("quantiles")),
            );
            if t.is_floating() {
                exprs.push(sum(cast(isnan(c.clone()), DataType::Int64)).alias(at("nan")));
            }
        }
        if is_string(&t) {
            exprs.push(min(character_length(c.clone())).alias(at("minlen")));
            exprs.push(max(character_length(c.clone())).alias(at("maxlen")));
        }
        slots.push(Slots {
            name,
            data_type: t,
            first,
        });
    }
    let partitions_at = exprs.len();
    if let Some(first) = partition_names.first() {
        let key = partition_names
            .iter()
            .map(|p| cast(ident(p), DataType::Utf8))
            .collect::<Vec<_>>();
        let key = if key.len() == 1 {
            key[0].clone()
        } else {
            datafusion::functions::string::expr_fn::concat_ws(lit("/"), key)
        };
        exprs.push(approx_distinct(key).alias("partitions"));
        exprs.push(max(ident(first)).alias("newest_partition"));
    }
    let batches = df
        .aggregate(vec![], exprs)
        .map_err(|e| crate::engine::clean_error(&e))?
        .collect()
        .await
        .map_err(|e| crate::engine::clean_error(&e))?;
    let batch = batches
        .into_iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| "the profile query returned no row".to_string())?;
    let rows = int_at(&batch, 0).unwrap_or(0) as u64;
    let columns = slots
        .iter()
        .map(|s| column_profile(&batch, s, rows))
        .collect::<Result<Vec<_>, String>>()?;
    let partitions = (!partition_names.is_empty()).then(|| Partitions {
        columns: partition_names.clone(),
        count: uint_at(&batch, partitions_at).unwrap_or(0),
        newest: shown_at(&batch, partitions_at + 1),
    });
    Ok(DatasetProfile {
        dataset: table,
        url: facts.url.clone(),
        rows,
        files: facts.files,
        bytes: facts.bytes,
        partitions,
        columns,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn column_profile(batch: &RecordBatch, s: &Slots, rows: u64) -> Result<ColumnProfile, String> {
    let by = |what: &str| batch.schema().index_of(&format!("{what}#{}", s.first)).ok();
    let non_null = by("count").and_then(|i| int_at(batch, i)).unwrap_or(0) as u64;
    let nulls = rows.saturating_sub(non_null);
    let mut p = ColumnProfile {
        name: s.name.clone(),
        data_type: type_name(&s.data_type).unwrap_or_else(|| s.data_type.to_string()),
        nulls,
        null_fraction: if rows == 0 {
            0.0
        } else {
            nulls as f64 / rows as f64
        },
        distinct: None,
        min: by("min").and_then(|i| shown_at(batch, i)),
        max: by("max").and_then(|i| shown_at(batch, i)),
        numbers: None,
        length: None,
        frequent: None,
        formats: Vec::new(),
    };
    if let Some(i) = by("frequent") {
        let st = batch.column(i).as_struct();
        let values = list_strings(st.column(0));
        let counts = st.column(1).as_list::<i32>();
        let counts: Vec<u64> = if counts.is_empty() || counts.is_null(0) {
            vec![]
        } else {
            counts
                .value(0)
                .as_primitive::<UInt64Type>()
                .values()
                .to_vec()
        };
        let decrement = st.column(2).as_primitive::<UInt64Type>().value(0);
        let tracked = st.column(3).as_primitive::<UInt64Type>().value(0);
        let sample = list_strings(st.column(4));
        let exact = decrement == 0;
        p.distinct = Some(if exact {
            Distinct {
                count: tracked,
                method: "exact",
            }
        } else if let Some(hll) = by("hll").and_then(|i| uint_at(batch, i)) {
            Distinct {
                // An estimate above the values counted is an estimate's error.
                count: hll.min(non_null),
                method: "hyperloglog",
            }
        } else {
            Distinct {
                count: (2 * sketches::COUNTERS) as u64,
                method: "at_least",
            }
        });
        p.frequent = Some(Frequent {
            values: values
                .into_iter()
                .zip(counts)
                // A lower bound of one says nothing about a value's frequency.
                .filter(|(_, count)| exact || *count >= 2)
                .take(TOP_VALUES)
                .map(|(value, count)| ValueCount { value, count })
                .collect(),
            exact,
            error: decrement,
        });
        p.formats = formats_of(&sample);
    }
    if let Some(i) = by("mean") {
        let quantiles = by("quantiles")
            .map(|i| {
                let l = batch.column(i).as_list::<i32>();
                if l.is_null(0) {
                    vec![]
                } else {
                    l.value(0).as_primitive::<Float64Type>().values().to_vec()
                }
            })
            .unwrap_or_default();
        p.numbers = Some(Numbers {
            mean: float_at(batch, i),
            stddev: by("stddev").and_then(|i| float_at(batch, i)),
            nan: by("nan").and_then(|i| int_at(batch, i)).unwrap_or(0) as u64,
            quantiles,
        });
    }
    if let (Some(a), Some(b)) = (by("minlen"), by("maxlen")) {
        if let (Some(lo), Some(hi)) = (int_at(batch, a), int_at(batch, b)) {
            p.length = Some(Length { min: lo, max: hi });
        }
    }
    Ok(p)
}

/// Which of `pattern`'s named formats the sampled strings match (formats that match none
/// are left out).
fn formats_of(sample: &[String]) -> Vec<FormatMatch> {
    if sample.is_empty() {
        return vec![];
    }
    crate::rules::pattern::FORMATS
        .iter()
        .filter_map(|(name, re)| {
            let re = regex::Regex::new(re).ok()?;
            let matched = sample.iter().filter(|s| re.is_match(s)).count() as u64;
            (matched > 0).then(|| FormatMatch {
                format: name.to_string(),
                matched,
                sampled: sample.len() as u64,
            })
        })
        .collect()
}

fn list_strings(a: &ArrayRef) -> Vec<String> {
    let l = a.as_list::<i32>();
    if l.is_empty() || l.is_null(0) {
        return vec![];
    }
    l.value(0)
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect()
}

fn int_at(batch: &RecordBatch, i: usize) -> Option<i64> {
    let a = batch.column(i);
    if a.is_null(0) {
        return None;
    }
    let a = datafusion::arrow::compute::cast(a, &DataType::Int64).ok()?;
    Some(a.as_primitive::<Int64Type>().value(0))
}

fn uint_at(batch: &RecordBatch, i: usize) -> Option<u64> {
    int_at(batch, i).map(|v| v.max(0) as u64)
}

fn float_at(batch: &RecordBatch, i: usize) -> Option<f64> {
    let a = batch.column(i);
    if a.is_null(0) {
        return None;
    }
    let a = datafusion::arrow::compute::cast(a, &DataType::Float64).ok()?;
    Some(a.as_primitive::<Float64Type>().value(0))
}

fn shown_at(batch: &RecordBatch, i: usize) -> Option<String> {
    let a = batch.column(i);
    if a.is_null(0) {
        return None;
    }
    let options = FormatOptions::default();
    let f = ArrayFormatter::try_new(a.as_ref(), &options).ok()?;
    Some(f.value(0).to_string())
}
