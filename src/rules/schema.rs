//! Columns are present with the given types; optionally no other columns.
//!
//! Parameters:
//! - `columns`: a map `name: type`, or a list of names (presence only). Types: `string`,
//!   `int8`…`int64` (`int`, `bigint`), `uint8`…`uint64`, `float` / `float32`,
//!   `double` / `float64`, `decimal` or `decimal(p,s)`, `boolean`, `date`, `timestamp`,
//!   `binary`. `string` matches every Arrow string encoding; `timestamp` any unit or zone,
//!   `timestamp(us)` one unit (`s`, `ms`, `us`, `ns`) and any zone, `timestamp(us, UTC)`
//!   a unit and a zone (`none` for timestamps without one, as Spark's `TIMESTAMP_NTZ`).
//! - `extra_columns`: `allow` (default) or `forbid`.
//! - `ordered` (bool, default false): the listed columns appear in the dataset in the
//!   order written (other columns may sit between them unless `extra_columns: forbid`,
//!   which makes it the exact column list, as Great Expectations'
//!   `expect_table_columns_to_match_ordered_list`).
//!
//! Judged on the dataset's schema alone (Parquet footers, partition columns included): no scan.
//!
//! Example:
//! ```yaml
//! - schema:
//!     columns: { order_id: int64, amount: double, created_at: "timestamp(us, UTC)" }
//!     extra_columns: forbid
//!     ordered: true
//! ```

use datafusion::arrow::datatypes::{DataType, Field};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Outcome, Placement, Rule, RuleKind, parse_as};

pub const KIND: RuleKind = RuleKind {
    name: "schema",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("schema.rs"),
    parse: parse_as::<Schema>,
    schema: schema_of::<Schema>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Columns {
    Typed(TypedColumns),
    Names(Vec<String>),
}

/// `name: type` pairs in the order the rule file writes them (`ordered` depends on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedColumns(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for TypedColumns {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = TypedColumns;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of column names to type names")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TypedColumns, A::Error> {
                let mut pairs: Vec<(String, String)> = Vec::new();
                while let Some((name, ty)) = map.next_entry::<String, String>()? {
                    if pairs.iter().any(|(n, _)| n == &name) {
                        return Err(serde::de::Error::custom(format!(
                            "column `{name}` is listed twice"
                        )));
                    }
                    pairs.push((name, ty));
                }
                Ok(TypedColumns(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

impl schemars::JsonSchema for TypedColumns {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TypedColumns".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Column names and their types, in order.",
            "additionalProperties": { "type": "string" }
        })
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Extra {
    #[default]
    Allow,
    Forbid,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub columns: Columns,
    #[serde(default)]
    pub extra_columns: Extra,
    #[serde(default)]
    pub ordered: bool,
}

pub const TYPE_NAMES: &[&str] = &[
    "string",
    "int8",
    "int16",
    "int32",
    "int64",
    "int",
    "bigint",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float",
    "float32",
    "double",
    "float64",
    "decimal",
    "boolean",
    "date",
    "timestamp",
    "binary",
];

/// Whether an Arrow type satisfies a type name from the rules; Err for an unknown name.
pub fn type_matches(expected: &str, actual: &DataType) -> Result<bool, String> {
    use DataType as D;
    let e = expected.trim().to_ascii_lowercase();
    Ok(match e.as_str() {
        "string" | "utf8" | "varchar" | "text" => {
            matches!(actual, D::Utf8 | D::LargeUtf8 | D::Utf8View)
        }
        "int8" | "tinyint" => actual == &D::Int8,
        "int16" | "smallint" => actual == &D::Int16,
        "int32" | "int" | "integer" => actual == &D::Int32,
        "int64" | "bigint" | "long" => actual == &D::Int64,
        "uint8" => actual == &D::UInt8,
        "uint16" => actual == &D::UInt16,
        "uint32" => actual == &D::UInt32,
        "uint64" => actual == &D::UInt64,
        "float" | "float32" | "real" => actual == &D::Float32,
        "double" | "float64" => actual == &D::Float64,
        "boolean" | "bool" => actual == &D::Boolean,
        "date" | "date32" => matches!(actual, D::Date32 | D::Date64),
        "timestamp" => matches!(actual, D::Timestamp(_, _)),
        other if other.starts_with("timestamp(") && other.ends_with(')') => timestamp_matches(
            expected,
            &other["timestamp(".len()..other.len() - 1],
            actual,
        )?,
        "binary" => matches!(actual, D::Binary | D::LargeBinary | D::BinaryView),
        "decimal" => matches!(
            actual,
            D::Decimal32(..) | D::Decimal64(..) | D::Decimal128(..) | D::Decimal256(..)
        ),
        other if other.starts_with("decimal(") => {
            let inner = other.trim_start_matches("decimal(").trim_end_matches(')');
            let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
            let (Some(p), Some(s)) = (
                parts.first().and_then(|p| p.parse::<u8>().ok()),
                parts.get(1).and_then(|s| s.parse::<i8>().ok()),
            ) else {
                return Err(format!(
                    "invalid decimal type `{expected}`; write decimal(precision, scale)"
                ));
            };
            matches!(actual, D::Decimal128(ap, as_) | D::Decimal256(ap, as_) if *ap == p && *as_ == s)
                || matches!(actual, D::Decimal32(ap, as_) | D::Decimal64(ap, as_) if *ap == p && *as_ == s)
        }
        _ => {
            let hint = crate::error::closest(&e, TYPE_NAMES.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown type `{expected}`; {hint}types: {}",
                TYPE_NAMES.join(", ")
            ));
        }
    })
}

/// `timestamp(unit)` or `timestamp(unit, zone)` against an Arrow type.
fn timestamp_matches(expected: &str, inner: &str, actual: &DataType) -> Result<bool, String> {
    use datafusion::arrow::datatypes::TimeUnit;
    let (unit, zone) = match inner.split_once(',') {
        Some((u, z)) => (u.trim(), Some(z.trim())),
        None => (inner.trim(), None),
    };
    let unit = match unit {
        "s" | "second" | "seconds" => TimeUnit::Second,
        "ms" | "millisecond" | "milliseconds" => TimeUnit::Millisecond,
        "us" | "microsecond" | "microseconds" => TimeUnit::Microsecond,
        "ns" | "nanosecond" | "nanoseconds" => TimeUnit::Nanosecond,
        _ => {
            return Err(format!(
                "invalid timestamp type `{expected}`; write timestamp(unit) or timestamp(unit, zone), unit one of s, ms, us, ns"
            ));
        }
    };
    let DataType::Timestamp(actual_unit, actual_zone) = actual else {
        return Ok(false);
    };
    if *actual_unit != unit {
        return Ok(false);
    }
    Ok(match zone {
        None => true,
        Some("none") => actual_zone.is_none(),
        Some(z) => actual_zone
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(z)),
    })
}

impl Rule for Schema {
    fn default_name(&self) -> String {
        "schema".into()
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let expected: Vec<(String, Option<String>)> = match &self.columns {
            Columns::Typed(m) => {
                m.0.iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect()
            }
            Columns::Names(n) => n.iter().map(|k| (k.clone(), None)).collect(),
        };
        if expected.is_empty() {
            return Err("schema needs at least one column in `columns`".into());
        }
        let actual: Vec<Field> = cx
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut problems = Vec::new();
        for (name, ty) in &expected {
            match actual.iter().find(|f| f.name() == name) {
                None => problems.push(format!("missing column `{name}`")),
                Some(field) => {
                    if let Some(ty) = ty {
                        if !type_matches(ty, field.data_type())? {
                            problems
                                .push(format!("`{name}` is {}, expected {ty}", field.data_type()));
                        }
                    }
                }
            }
        }
        if self.extra_columns == Extra::Forbid {
            for field in &actual {
                if !expected.iter().any(|(n, _)| n == field.name()) {
                    problems.push(format!("unexpected column `{}`", field.name()));
                }
            }
        }
        if self.ordered {
            // The listed columns that are present, in the dataset's order, must be the
            // listed order (a missing column is reported above, once).
            let listed: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
            let present: Vec<&str> = actual
                .iter()
                .map(|f| f.name().as_str())
                .filter(|n| listed.contains(n))
                .collect();
            let wanted: Vec<&str> = listed
                .iter()
                .copied()
                .filter(|n| present.contains(n))
                .collect();
            if present != wanted {
                problems.push(format!(
                    "columns out of order: {} (expected {})",
                    present.join(", "),
                    wanted.join(", ")
                ));
            }
        }
        let threshold = format!(
            "{} column{}{}{}",
            expected.len(),
            if expected.len() == 1 { "" } else { "s" },
            if self.ordered { ", in order" } else { "" },
            if self.extra_columns == Extra::Forbid {
                ", no others"
            } else {
                ""
            }
        );
        let observed = serde_json::json!(
            actual
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
        );
        Ok(Compiled::metadata(Box::new(move |_| Outcome {
            passed: problems.is_empty(),
            observed: observed.clone(),
            threshold: threshold.clone(),
            failed_rows: None,
            rows_checked: None,
            message: if problems.is_empty() {
                None
            } else {
                Some(problems.join("; "))
            },
        })))
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn types_and_extras() {
        let o = check(
            orders(),
            "schema: { columns: { order_id: int64, amount: double, status: string, created_at: timestamp } }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "schema: { columns: { order_id: string, missing: int64 } }",
        );
        assert!(!o.passed);
        let m = o.message.unwrap();
        assert!(m.contains("`order_id` is Int64, expected string"), "{m}");
        assert!(m.contains("missing column `missing`"), "{m}");
        let o = check(
            orders(),
            "schema: { columns: [order_id], extra_columns: forbid }",
        );
        assert!(
            o.message
                .unwrap()
                .contains("unexpected column `customer_id`")
        );
    }

    #[test]
    fn order_is_checked_when_asked() {
        // orders: order_id, customer_id, amount, status, email, created_at, updated_at.
        let o = check(
            orders(),
            "schema: { columns: { order_id: int64, amount: double, created_at: timestamp }, ordered: true }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "schema: { columns: { amount: double, order_id: int64 }, ordered: true }",
        );
        assert!(!o.passed);
        assert!(
            o.message.as_deref().unwrap().contains("out of order"),
            "{o:?}"
        );
        let o = check(
            orders(),
            "schema: { columns: [order_id, amount], ordered: true, extra_columns: forbid }",
        );
        assert!(!o.passed, "{o:?}");
    }

    #[test]
    fn timestamp_unit_and_zone() {
        let o = check(
            orders(),
            "schema: { columns: { created_at: 'timestamp(us, UTC)', updated_at: 'timestamp(us)' } }",
        );
        assert!(o.passed, "{o:?}");
        let o = check(
            orders(),
            "schema: { columns: { created_at: 'timestamp(ms)' } }",
        );
        assert!(!o.passed, "{o:?}");
        let o = check(
            orders(),
            "schema: { columns: { created_at: 'timestamp(us, none)' } }",
        );
        assert!(!o.passed, "a zoned timestamp is not a naive one: {o:?}");
        let e = compile_error(
            orders(),
            "schema: { columns: { created_at: 'timestamp(weeks)' } }",
        );
        assert!(e.contains("invalid timestamp type"), "{e}");
    }

    #[test]
    fn unknown_type_name() {
        let e = compile_error(orders(), "schema: { columns: { order_id: integr64 } }");
        assert!(e.contains("unknown type"), "{e}");
    }
}
