//! String values parse as JSON, as a date/time in a given strftime format, or as a given
//! type (Great Expectations' `expect_column_values_to_be_json_parseable`,
//! `…_to_match_strftime_format`, `…_to_be_dateutil_parseable`; dbt-expectations' casts).
//!
//! Parameters:
//! - `column` (name of a string column)
//! - `as`: `json` (strict RFC 8259 JSON: no NaN, no trailing commas), `datetime` (needs
//!   `format`), or a type name — `int8`…`int64`, `uint8`…`uint64`, `float`, `double`,
//!   `decimal(p,s)`, `boolean`, `date`, `timestamp` — parsed as DataFusion's `try_cast`
//!   parses it (integers without a decimal point; dates `YYYY-MM-DD`; booleans `true` /
//!   `false` and the usual spellings).
//! - `format` (with `as: datetime`): a strftime format (`%Y-%m-%d %H:%M:%S`, `%d/%m/%Y`,
//!   `%Y-%m-%dT%H:%M:%S%z`, …). The whole value must match, and the date and time it
//!   names must exist (`2024-02-30` fails).
//!
//! NULL values are not checked. Failing rows are counted in the fused scan, with examples.
//! Row-level: accepts `max_failed` / `max_failed_fraction`, as a fraction of the non-NULL
//! values.
//!
//! Example:
//! ```yaml
//! - parseable: { column: payload, as: json }
//! - parseable: { column: order_date, as: datetime, format: "%d/%m/%Y" }
//! - parseable: { column: quantity_text, as: int64, max_failed_fraction: 0.001 }
//! ```

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
    try_cast,
};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as, value_level};

pub const KIND: RuleKind = RuleKind {
    name: "parseable",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("parseable.rs"),
    parse: parse_as::<Parseable>,
    schema: schema_of::<Parseable>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parseable {
    pub column: String,
    #[serde(rename = "as")]
    pub target: String,
    pub format: Option<String>,
}

/// The Arrow type a type name of `as` stands for.
fn cast_type(name: &str) -> Option<DataType> {
    use DataType as D;
    let name = name.trim().to_ascii_lowercase();
    Some(match name.as_str() {
        "int8" => D::Int8,
        "int16" => D::Int16,
        "int32" | "int" | "integer" => D::Int32,
        "int64" | "bigint" | "long" => D::Int64,
        "uint8" => D::UInt8,
        "uint16" => D::UInt16,
        "uint32" => D::UInt32,
        "uint64" => D::UInt64,
        "float" | "float32" => D::Float32,
        "double" | "float64" => D::Float64,
        "boolean" | "bool" => D::Boolean,
        "date" => D::Date32,
        "timestamp" => D::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
        other => {
            let inner = other.strip_prefix("decimal(")?.strip_suffix(')')?;
            let (p, s) = inner.split_once(',')?;
            let (p, s) = (p.trim().parse::<u8>().ok()?, s.trim().parse::<i8>().ok()?);
            if p == 0 || p > 38 || s as i16 > p as i16 {
                return None;
            }
            D::Decimal128(p, s)
        }
    })
}

impl Rule for Parseable {
    fn default_name(&self) -> String {
        format!("parseable({}, {})", self.column, self.target)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        if !super::is_string(&data_type) {
            return Err(format!(
                "parseable needs a string column; `{}` is {data_type}",
                self.column
            ));
        }
        let target = self.target.trim().to_ascii_lowercase();
        let parses: Expr = match (target.as_str(), &self.format) {
            ("json", None) => parses_udf().call(vec![column.clone(), lit("json")]),
            ("datetime", Some(format)) => {
                validate_format(format)?;
                parses_udf().call(vec![column.clone(), lit(format!("datetime:{format}"))])
            }
            ("datetime", None) => {
                return Err("parseable `as: datetime` needs a strftime `format`".into());
            }
            (_, Some(_)) => {
                return Err("`format` goes with `as: datetime` only".into());
            }
            (name, None) => {
                let Some(t) = cast_type(name) else {
                    return Err(format!(
                        "parseable `as: {}`: write json, datetime, or a type (int64, double, decimal(p,s), boolean, date, timestamp, …)",
                        self.target
                    ));
                };
                try_cast(column.clone(), t).is_not_null()
            }
        };
        // NULL values: `parses` is NULL (the UDF) or `try_cast` of NULL is NULL; the
        // explicit test keeps them out either way.
        let failing = column
            .clone()
            .is_not_null()
            .and(datafusion::logical_expr::not(parses));
        value_level(failing, column, cx.thresholds)
    }
}

/// A strftime format dq can parse with, or a rules error naming the bad part.
fn validate_format(format: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if format.is_empty() {
        return Err("`format` is empty".into());
    }
    if StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) {
        return Err(format!("invalid strftime format `{format}`"));
    }
    Ok(())
}

/// Whether `text` is a whole date/time in `format` that exists on the calendar.
fn parses_as_datetime(text: &str, format: &str) -> bool {
    use chrono::format::{Parsed, StrftimeItems, parse};
    let mut parsed = Parsed::new();
    if parse(&mut parsed, text, StrftimeItems::new(format)).is_err() {
        return false;
    }
    let has_date = parsed.year().is_some()
        || parsed.month().is_some()
        || parsed.day().is_some()
        || parsed.ordinal().is_some();
    let has_time = parsed.hour_div_12().is_some()
        || parsed.hour_mod_12().is_some()
        || parsed.minute().is_some();
    // A date part must make a real date (when it names year, month and day), a time part
    // a real time; a lone month or weekday is accepted as parsed.
    let date_ok = !has_date
        || parsed.year().is_none()
        || (parsed.month().is_none() && parsed.ordinal().is_none())
        || parsed.to_naive_date().is_ok();
    let time_ok = !has_time || parsed.to_naive_time().is_ok();
    date_ok && time_ok
}

/// `dq_parses(value, how)`: whether a string parses (`how` is `json` or
/// `datetime:<format>`); NULL for NULL. Registered on every node (see
/// [`crate::engine::scalar_functions`]).
pub fn parses_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Parses::default())
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Parses {
    signature: Signature,
}

impl Default for Parses {
    fn default() -> Self {
        Parses {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Parses {
    fn name(&self) -> &str {
        "dq_parses"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let how = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(h)))
            | ColumnarValue::Scalar(ScalarValue::LargeUtf8(Some(h)))
            | ColumnarValue::Scalar(ScalarValue::Utf8View(Some(h))) => h.clone(),
            _ => return exec_err!("dq_parses: the second argument must be a string literal"),
        };
        let test: Box<dyn Fn(&str) -> bool> = if how == "json" {
            Box::new(|s| serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok())
        } else if let Some(format) = how.strip_prefix("datetime:") {
            let format = format.to_string();
            Box::new(move |s| parses_as_datetime(s, &format))
        } else {
            return exec_err!("dq_parses: unknown test `{how}`");
        };
        let values = args.args[0].to_array(args.number_rows)?;
        let out: BooleanArray = match values.data_type() {
            DataType::Utf8 => values
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(&test))
                .collect(),
            DataType::LargeUtf8 => values
                .as_string::<i64>()
                .iter()
                .map(|v| v.map(&test))
                .collect(),
            DataType::Utf8View => values
                .as_string_view()
                .iter()
                .map(|v| v.map(&test))
                .collect(),
            DataType::Null => BooleanArray::new_null(values.len()),
            other => return exec_err!("dq_parses: expected a string, not {other}"),
        };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::parses_as_datetime;
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn datetimes_must_exist_and_match_whole() {
        assert!(parses_as_datetime("2024-02-29", "%Y-%m-%d"));
        assert!(!parses_as_datetime("2023-02-29", "%Y-%m-%d"));
        assert!(!parses_as_datetime("2024-02-01 extra", "%Y-%m-%d"));
        assert!(parses_as_datetime("05/01/2024 13:45", "%d/%m/%Y %H:%M"));
        assert!(!parses_as_datetime("05/01/2024 25:45", "%d/%m/%Y %H:%M"));
        assert!(parses_as_datetime(
            "2024-01-05T10:00:00+0100",
            "%Y-%m-%dT%H:%M:%S%z"
        ));
    }

    #[test]
    fn strings_that_do_not_parse_fail() {
        // Emails are not JSON (NULL is not checked).
        let o = check(orders(), "parseable: { column: email, as: json }");
        assert_eq!(o.failed_rows, Some(5), "{o:?}");
        let o = check(orders(), "parseable: { column: status, as: int64 }");
        assert_eq!(o.failed_rows, Some(6), "{o:?}");
        let o = check(
            orders(),
            "parseable: { column: status, as: datetime, format: '%Y' }",
        );
        assert_eq!(o.failed_rows, Some(6), "{o:?}");
    }

    #[test]
    fn bad_parameters_are_rules_errors() {
        let e = compile_error(orders(), "parseable: { column: status, as: datetime }");
        assert!(e.contains("needs a strftime"), "{e}");
        let e = compile_error(
            orders(),
            "parseable: { column: status, as: datetime, format: '%Q' }",
        );
        assert!(e.contains("invalid strftime"), "{e}");
        let e = compile_error(orders(), "parseable: { column: status, as: intt }");
        assert!(e.contains("write json, datetime"), "{e}");
        let e = compile_error(orders(), "parseable: { column: amount, as: json }");
        assert!(e.contains("string column"), "{e}");
    }
}
