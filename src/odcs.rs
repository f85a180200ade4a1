//! `dq import odcs`: an Open Data Contract Standard (v3) contract as a dq rules file.
//!
//! Each schema object becomes a dataset of one layer; its properties' constraints and the
//! quality rules of objects and properties become checks:
//!
//! | ODCS | dq |
//! |---|---|
//! | `required: true` | `not_null` |
//! | `unique: true` | `unique` |
//! | `primaryKey` (ordered by `primaryKeyPosition`) | `not_null` + `unique` over the key |
//! | `logicalType` / `physicalType` | `schema` (types where they are unambiguous) |
//! | `logicalTypeOptions` `minLength` / `maxLength` | `length` |
//! | `logicalTypeOptions` `pattern`, `format` (email, uuid, ipv4) | `pattern` |
//! | `logicalTypeOptions` `minimum` / `maximum` / `exclusive…` | `range` |
//! | `logicalTypeOptions` `multipleOf` (integers) | `expression` |
//! | `relationships` of type foreignKey | `references` |
//! | metric `nullValues` | `not_null` with the threshold |
//! | metric `missingValues` (`arguments.missingValues`) | `expression` |
//! | metric `invalidValues` (`validValues` / `pattern`) | `accepted_values` / `pattern` |
//! | metric `duplicateValues` (property, or `arguments.properties`) | `unique` |
//! | metric `rowCount` | `row_count` |
//! | `type: sql` (`${object}`, `${property}`, `{object}`, `{property}`) | `sql` |
//!
//! Operators: `mustBe`, `mustNotBe`, `mustBeGreaterThan`, `mustBeGreaterOrEqualTo`,
//! `mustBeLessThan`, `mustBeLessOrEqualTo`, `mustBeBetween`, `mustNotBeBetween`; `unit`
//! `rows` (default) or `percent`. A failing-row metric is bounded from above only; a bound
//! dq cannot state exactly (a strict percentage, a lower bound on failures) is listed as
//! not mapped, never approximated. `type: text` and `type: custom` rules are listed too.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::config::rules::to_identifier;
use crate::suggest::yaml_string;

/// The imported rules file and what could not be mapped.
#[derive(Debug, Default)]
pub struct Imported {
    pub text: String,
    pub checks: usize,
    pub datasets: usize,
    /// `where: what` for every part of the contract left out.
    pub not_mapped: Vec<String>,
}

/// One check under a dataset.
struct Check {
    line: String,
    comment: Option<String>,
}

struct Dataset {
    name: String,
    checks: Vec<Check>,
}

/// Errors are the contract's fault (exit 2).
pub fn import(file: &Path, text: &str, layer: &str) -> Result<Imported, String> {
    let doc: Value = crate::config::yaml::parse(file, text).map_err(|d| d.to_string())?;
    let Value::Object(top) = &doc else {
        return Err(format!(
            "{}: not an ODCS data contract (the document is not a map)",
            file.display()
        ));
    };
    if top.get("kind").and_then(Value::as_str) != Some("DataContract") {
        return Err(format!(
            "{}: not an ODCS data contract: `kind: DataContract` is missing",
            file.display()
        ));
    }
    let version = top.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let supported = version.trim_start_matches('v');
    if !(supported.starts_with("3.0.")
        || supported.starts_with("3.1.")
        || supported == "3.0"
        || supported == "3.1")
    {
        return Err(format!(
            "{}: ODCS apiVersion `{version}` is not supported; dq imports v3.0.x and v3.1.x contracts",
            file.display()
        ));
    }
    let mut out = Imported::default();
    let mut datasets = Vec::new();
    let objects = top
        .get("schema")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if objects.is_empty() {
        return Err(format!(
            "{}: the contract has no `schema` objects to check",
            file.display()
        ));
    }
    for object in &objects {
        let Some(name) = object.get("name").and_then(Value::as_str) else {
            out.not_mapped.push("a schema object without `name`".into());
            continue;
        };
        let mut d = Dataset {
            name: to_identifier(name),
            checks: vec![],
        };
        object_checks(
            layer,
            &d.name.clone(),
            object,
            &mut d.checks,
            &mut out.not_mapped,
        );
        // The same constraint stated twice (`unique: true` and a duplicateValues rule).
        let mut seen = std::collections::HashSet::new();
        d.checks.retain(|c| seen.insert(c.line.clone()));
        datasets.push(d);
    }
    let mut text = String::new();
    let title = top
        .get("name")
        .and_then(Value::as_str)
        .or(top.get("id").and_then(Value::as_str))
        .unwrap_or("");
    let _ = writeln!(
        text,
        "# Imported by `dq import odcs` from {} ({title}, ODCS {version}, contract version {}).",
        file.file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default(),
        top.get("version").map(plain).unwrap_or_default()
    );
    let _ = writeln!(text, "layer: {}", yaml_string(layer));
    let _ = writeln!(text, "datasets:");
    for d in &datasets {
        let _ = writeln!(text, "  - name: {}", yaml_string(&d.name));
        if d.checks.is_empty() {
            let _ = writeln!(text, "    checks: []");
            continue;
        }
        let _ = writeln!(text, "    checks:");
        for c in &d.checks {
            if let Some(comment) = &c.comment {
                let _ = writeln!(text, "      # {}", comment.replace('\n', " "));
            }
            let _ = writeln!(text, "      - {}", c.line);
        }
        out.checks += d.checks.len();
    }
    if !out.not_mapped.is_empty() {
        let _ = writeln!(text, "# Not mapped (review by hand):");
        for n in &out.not_mapped {
            let _ = writeln!(text, "#   - {}", n.replace('\n', " "));
        }
    }
    out.datasets = datasets.len();
    out.text = text;
    Ok(out)
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A YAML flow value for a JSON value (strings quoted when needed).
fn flow(v: &Value) -> String {
    match v {
        Value::String(s) => yaml_string(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn quoted_ident(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// The dq type name for a property, when its ODCS types say it unambiguously.
fn dq_type(p: &Value) -> Option<String> {
    if let Some(physical) = p.get("physicalType").and_then(Value::as_str) {
        let t = physical.trim().to_ascii_lowercase();
        let base = t.split('(').next().unwrap_or("").trim();
        let mapped = match base {
            "varchar" | "string" | "text" | "char" | "nvarchar" => Some("string".to_string()),
            "bigint" | "int64" | "long" => Some("int64".into()),
            "int" | "integer" | "int32" => Some("int32".into()),
            "smallint" | "int16" => Some("int16".into()),
            "tinyint" | "int8" => Some("int8".into()),
            "double" | "float64" | "double precision" => Some("double".into()),
            "float" | "float32" | "real" => Some("float".into()),
            "boolean" | "bool" => Some("boolean".into()),
            "date" => Some("date".into()),
            "timestamp" | "timestamp_ntz" | "timestamp_tz" | "timestamptz" | "datetime" => {
                Some("timestamp".into())
            }
            "decimal" | "numeric" if t.contains('(') => Some(t.replace(' ', "")),
            _ => None,
        };
        if mapped.is_some() {
            return mapped;
        }
    }
    let logical = p.get("logicalType").and_then(Value::as_str)?;
    let format = p
        .get("logicalTypeOptions")
        .and_then(|o| o.get("format"))
        .and_then(Value::as_str);
    Some(match (logical, format) {
        ("string", _) => "string".into(),
        ("date", _) => "date".into(),
        ("timestamp", _) => "timestamp".into(),
        ("boolean", _) => "boolean".into(),
        ("integer", Some(f)) => match f {
            "i8" => "int8",
            "i16" => "int16",
            "i32" => "int32",
            "i64" => "int64",
            "u8" => "uint8",
            "u16" => "uint16",
            "u32" => "uint32",
            "u64" => "uint64",
            _ => return None,
        }
        .into(),
        ("number", Some("f32")) => "float".into(),
        ("number", Some("f64")) => "double".into(),
        _ => return None,
    })
}

fn object_checks(
    layer: &str,
    dataset: &str,
    object: &Value,
    checks: &mut Vec<Check>,
    not_mapped: &mut Vec<String>,
) {
    let object_name = object
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(dataset);
    let properties = object
        .get("properties")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Schema: every property, typed where every type is known.
    let names: Vec<String> = properties
        .iter()
        .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    if !names.is_empty() {
        let types: Vec<Option<String>> = properties.iter().map(dq_type).collect();
        let line = if types.iter().all(Option::is_some) {
            let cols: Vec<String> = names
                .iter()
                .zip(&types)
                .map(|(n, t)| {
                    format!(
                        "{}: {}",
                        yaml_string(n),
                        yaml_string(t.as_deref().unwrap_or(""))
                    )
                })
                .collect();
            format!("schema: {{ columns: {{ {} }} }}", cols.join(", "))
        } else {
            for (n, t) in names.iter().zip(&types) {
                if t.is_none() {
                    not_mapped.push(format!(
                        "{object_name}.{n}: the type (no physicalType dq knows, and a logicalType without a size); the schema check names the column without a type"
                    ));
                }
            }
            format!(
                "schema: {{ columns: [{}] }}",
                names
                    .iter()
                    .map(|n| yaml_string(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        checks.push(Check {
            line,
            comment: Some("the contract's properties".into()),
        });
    }
    // Primary key, in primaryKeyPosition order.
    let mut key: Vec<(i64, String)> = properties
        .iter()
        .filter(|p| p.get("primaryKey").and_then(Value::as_bool) == Some(true))
        .filter_map(|p| {
            let n = p.get("name").and_then(Value::as_str)?.to_string();
            let pos = p
                .get("primaryKeyPosition")
                .and_then(Value::as_i64)
                .unwrap_or(-1);
            Some((if pos < 0 { i64::MAX } else { pos }, n))
        })
        .collect();
    key.sort();
    let key: Vec<String> = key.into_iter().map(|(_, n)| yaml_string(&n)).collect();
    if !key.is_empty() {
        checks.push(Check {
            line: format!(
                "not_null: {{ columns: [{}], name: primary_key_not_null }}",
                key.join(", ")
            ),
            comment: Some("primaryKey".into()),
        });
        checks.push(Check {
            line: format!(
                "unique: {{ columns: [{}], name: primary_key_unique }}",
                key.join(", ")
            ),
            comment: None,
        });
    }
    let required: Vec<String> = properties
        .iter()
        .filter(|p| p.get("required").and_then(Value::as_bool) == Some(true))
        .filter_map(|p| p.get("name").and_then(Value::as_str).map(yaml_string))
        .collect();
    if !required.is_empty() {
        checks.push(Check {
            line: format!(
                "not_null: {{ columns: [{}], name: required }}",
                required.join(", ")
            ),
            comment: Some("required: true".into()),
        });
    }
    for p in &properties {
        let Some(column) = p.get("name").and_then(Value::as_str) else {
            not_mapped.push(format!("{object_name}: a property without `name`"));
            continue;
        };
        property_checks(layer, dataset, object_name, column, p, checks, not_mapped);
    }
    for rule in object
        .get("quality")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        quality_check(layer, dataset, object_name, None, &rule, checks, not_mapped);
    }
    for r in object
        .get("relationships")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let from = r.get("from").map(plain).unwrap_or_default();
        let from = from.rsplit('.').next().unwrap_or("").to_string();
        relationship(object_name, &from, &r, checks, not_mapped);
    }
}

fn relationship(
    object: &str,
    from: &str,
    r: &Value,
    checks: &mut Vec<Check>,
    not_mapped: &mut Vec<String>,
) {
    let kind = r
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("foreignKey");
    let to = r.get("to").map(plain).unwrap_or_default();
    let mut parts = to.rsplitn(2, '.');
    let (Some(key), Some(table)) = (parts.next(), parts.next()) else {
        not_mapped.push(format!(
            "{object}.{from}: relationship to `{to}` (expected table.column)"
        ));
        return;
    };
    if kind != "foreignKey" || from.is_empty() {
        not_mapped.push(format!(
            "{object}.{from}: relationship of type `{kind}` to `{to}`"
        ));
        return;
    }
    let table = table.rsplit('.').next().unwrap_or(table);
    checks.push(Check {
        line: format!(
            "references: {{ column: {}, dataset: {}, key: {} }}",
            yaml_string(from),
            yaml_string(&to_identifier(table)),
            yaml_string(key)
        ),
        comment: Some(format!("relationship: foreignKey to {to}")),
    });
}

fn property_checks(
    layer: &str,
    dataset: &str,
    object: &str,
    column: &str,
    p: &Value,
    checks: &mut Vec<Check>,
    not_mapped: &mut Vec<String>,
) {
    let col = yaml_string(column);
    if p.get("unique").and_then(Value::as_bool) == Some(true) {
        checks.push(Check {
            line: format!("unique: {{ columns: [{col}] }}"),
            comment: Some(format!("{column}: unique")),
        });
    }
    let logical = p.get("logicalType").and_then(Value::as_str).unwrap_or("");
    if let Some(Value::Object(o)) = p.get("logicalTypeOptions") {
        let at = format!("{object}.{column}: logicalTypeOptions");
        let (min_len, max_len) = (
            o.get("minLength").and_then(Value::as_u64),
            o.get("maxLength").and_then(Value::as_u64),
        );
        if min_len.is_some() || max_len.is_some() {
            let mut parts = vec![format!("column: {col}")];
            if let Some(v) = min_len {
                parts.push(format!("min: {v}"));
            }
            if let Some(v) = max_len {
                parts.push(format!("max: {v}"));
            }
            checks.push(Check {
                line: format!("length: {{ {} }}", parts.join(", ")),
                comment: Some(format!("{at} minLength/maxLength")),
            });
        }
        if let Some(re) = o.get("pattern").and_then(Value::as_str) {
            checks.push(Check {
                line: format!(
                    "pattern: {{ column: {col}, regex: {} }}",
                    serde_json::to_string(re).unwrap_or_default()
                ),
                comment: Some(format!("{at} pattern")),
            });
        }
        if let Some(f) = o.get("format").and_then(Value::as_str) {
            if logical == "string" || logical.is_empty() {
                if crate::rules::pattern::FORMATS.iter().any(|(n, _)| *n == f) {
                    checks.push(Check {
                        line: format!("pattern: {{ column: {col}, format: {f} }}"),
                        comment: Some(format!("{at} format")),
                    });
                } else {
                    not_mapped.push(format!(
                        "{at} format `{f}` (dq's named formats: {})",
                        crate::rules::pattern::FORMATS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            } else if !(logical == "integer" || logical == "number") {
                not_mapped.push(format!(
                    "{at} format `{f}` of a {logical} (the column's type decides how it is read)"
                ));
            }
        }
        let bound = |k: &str| {
            o.get(k)
                .filter(|v| v.is_number() || v.is_string())
                .map(flow)
        };
        let (min, max, xmin, xmax) = (
            bound("minimum"),
            bound("maximum"),
            bound("exclusiveMinimum"),
            bound("exclusiveMaximum"),
        );
        for (lo, hi, inclusive) in [(min, max, true), (xmin, xmax, false)] {
            if lo.is_none() && hi.is_none() {
                continue;
            }
            let mut parts = vec![format!("column: {col}")];
            if let Some(v) = lo {
                parts.push(format!("min: {v}"));
            }
            if let Some(v) = hi {
                parts.push(format!("max: {v}"));
            }
            if !inclusive {
                parts.push("inclusive: false".into());
            }
            checks.push(Check {
                line: format!("range: {{ {} }}", parts.join(", ")),
                comment: Some(format!(
                    "{at} {}",
                    if inclusive {
                        "minimum/maximum"
                    } else {
                        "exclusiveMinimum/exclusiveMaximum"
                    }
                )),
            });
        }
        if let Some(m) = o.get("multipleOf").and_then(Value::as_f64) {
            if logical == "integer" && m.fract() == 0.0 && m > 0.0 {
                checks.push(Check {
                    line: format!(
                        "expression: {{ name: {}, condition: {} }}",
                        yaml_string(&format!(
                            "{}_multiple_of_{}",
                            to_identifier(column),
                            m as i64
                        )),
                        serde_json::to_string(&format!(
                            "{} IS NULL OR {} % {} = 0",
                            quoted_ident(column),
                            quoted_ident(column),
                            m as i64
                        ))
                        .unwrap_or_default()
                    ),
                    comment: Some(format!("{at} multipleOf")),
                });
            } else {
                not_mapped.push(format!(
                    "{at} multipleOf {m} of a {logical} (exact only for integers)"
                ));
            }
        }
        for k in o.keys() {
            if ![
                "minLength",
                "maxLength",
                "pattern",
                "format",
                "minimum",
                "maximum",
                "exclusiveMinimum",
                "exclusiveMaximum",
                "multipleOf",
            ]
            .contains(&k.as_str())
            {
                not_mapped.push(format!("{at} `{k}`"));
            }
        }
    }
    for r in p
        .get("relationships")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        relationship(object, column, &r, checks, not_mapped);
    }
    for rule in p
        .get("quality")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        quality_check(
            layer,
            dataset,
            object,
            Some(column),
            &rule,
            checks,
            not_mapped,
        );
    }
}

/// The comparison an ODCS rule states, as (operator, value).
fn operator(rule: &Value) -> Option<(&'static str, Value)> {
    for op in [
        "mustBe",
        "mustNotBe",
        "mustBeGreaterThan",
        "mustBeGreaterOrEqualTo",
        "mustBeLessThan",
        "mustBeLessOrEqualTo",
        "mustBeBetween",
        "mustNotBeBetween",
    ] {
        if let Some(v) = rule.get(op) {
            return Some((op, v.clone()));
        }
    }
    None
}

/// The threshold on a count of failing rows: `max_failed: N` or `max_failed_fraction: F`,
/// or None when dq cannot state the operator exactly.
fn failing_threshold(op: &str, value: &Value, percent: bool) -> Option<String> {
    let number = |v: &Value| v.as_f64();
    let upper = match op {
        "mustBe" => Some((number(value)?, true)).filter(|(v, _)| *v == 0.0),
        "mustBeLessOrEqualTo" => Some((number(value)?, true)),
        "mustBeLessThan" => Some((number(value)?, false)),
        "mustBeBetween" => {
            let a = value.as_array()?;
            let (lo, hi) = (number(a.first()?)?, number(a.get(1)?)?);
            (lo <= 0.0).then_some((hi, true))
        }
        _ => None,
    }?;
    let (v, inclusive) = upper;
    if percent {
        // Fractions are compared inclusively; a strict bound is exact only at 0 % (impossible).
        if !inclusive {
            return None;
        }
        return Some(format!("max_failed_fraction: {}", trim(v / 100.0)));
    }
    // Rows are whole: < n is ≤ ceil(n) - 1.
    let max = if inclusive { v.floor() } else { v.ceil() - 1.0 };
    if max < 0.0 {
        return None;
    }
    Some(format!("max_failed: {}", max as i64))
}

fn trim(v: f64) -> String {
    let s = format!("{v:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn quality_check(
    layer: &str,
    dataset: &str,
    object: &str,
    column: Option<&str>,
    rule: &Value,
    checks: &mut Vec<Check>,
    not_mapped: &mut Vec<String>,
) {
    let place = match column {
        Some(c) => format!("{object}.{c}"),
        None => object.to_string(),
    };
    let kind = rule
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("library");
    let label = ["name", "id", "metric", "rule", "description"]
        .iter()
        .find_map(|k| rule.get(*k).map(plain))
        .map(|l| {
            if l.chars().count() > 60 {
                l.chars().take(59).collect::<String>() + "…"
            } else {
                l
            }
        })
        .unwrap_or_else(|| format!("{kind} rule"));
    let mut common = Vec::new();
    if let Some(n) = rule
        .get("name")
        .or_else(|| rule.get("id"))
        .and_then(Value::as_str)
    {
        common.push(format!("name: {}", yaml_string(&to_identifier(n))));
    }
    match rule
        .get("severity")
        .and_then(Value::as_str)
        .map(|s| s.to_ascii_lowercase())
    {
        Some(s) if s == "error" || s == "critical" || s == "high" => {}
        Some(_) => common.push("severity: warn".into()),
        None => {}
    }
    let comment = Some(
        rule.get("description")
            .map(plain)
            .map(|d| format!("{label}: {d}"))
            .unwrap_or_else(|| label.clone()),
    );
    let with_common = |body: String| -> String {
        if common.is_empty() {
            body
        } else {
            format!("{body}, {}", common.join(", "))
        }
    };
    match kind {
        "text" => {
            not_mapped.push(format!(
                "{place}: text rule `{label}` (a description for people, nothing to run)"
            ));
            return;
        }
        "custom" => {
            let engine = rule
                .get("engine")
                .map(plain)
                .unwrap_or_else(|| "unnamed".into());
            not_mapped.push(format!(
                "{place}: custom rule `{label}` for engine `{engine}`"
            ));
            return;
        }
        "sql" => {
            let Some(query) = rule.get("query").and_then(Value::as_str) else {
                not_mapped.push(format!("{place}: sql rule `{label}` without `query`"));
                return;
            };
            let table = format!("{layer}.{dataset}");
            let mut q = query
                .replace("${object}", &table)
                .replace("{object}", &table)
                .replace("${table}", &table)
                .replace("{table}", &table);
            if let Some(c) = column {
                q = q
                    .replace("${property}", &quoted_ident(c))
                    .replace("{property}", &quoted_ident(c))
                    .replace("${column}", &quoted_ident(c))
                    .replace("{column}", &quoted_ident(c));
            }
            // A bare table name (the object's) is the dataset's table.
            q = replace_word(&q, object, &table);
            let Some((op, v)) = operator(rule) else {
                not_mapped.push(format!(
                    "{place}: sql rule `{label}` without an operator (mustBe …)"
                ));
                return;
            };
            let bounds = match (op, &v) {
                ("mustBe", v) if v.is_number() => Some(format!("equals: {v}")),
                ("mustBeGreaterOrEqualTo", v) if v.is_number() => Some(format!("min: {v}")),
                ("mustBeLessOrEqualTo", v) if v.is_number() => Some(format!("max: {v}")),
                ("mustBeBetween", Value::Array(a)) if a.len() == 2 => {
                    Some(format!("min: {}, max: {}", a[0], a[1]))
                }
                _ => None,
            };
            let (query, bounds) = match bounds {
                Some(b) => (q, b),
                None => {
                    // Strict and negated comparisons: the query answers 1 when it holds.
                    let cond = match (op, &v) {
                        ("mustNotBe", v) if v.is_number() => format!("<> {v}"),
                        ("mustBeGreaterThan", v) if v.is_number() => format!("> {v}"),
                        ("mustBeLessThan", v) if v.is_number() => format!("< {v}"),
                        ("mustNotBeBetween", Value::Array(a)) if a.len() == 2 => {
                            format!("NOT BETWEEN {} AND {}", a[0], a[1])
                        }
                        _ => {
                            not_mapped
                                .push(format!("{place}: sql rule `{label}`: operator {op} {v}"));
                            return;
                        }
                    };
                    (
                        format!("SELECT CASE WHEN ({q}) {cond} THEN 1 ELSE 0 END"),
                        "equals: 1".into(),
                    )
                }
            };
            let mut parts = vec![
                format!(
                    "query: {}",
                    serde_json::to_string(&query).unwrap_or_default()
                ),
                bounds,
            ];
            if common.iter().all(|c| !c.starts_with("name:")) {
                parts.insert(
                    0,
                    format!(
                        "name: {}",
                        yaml_string(&to_identifier(&format!("{place}_sql_{}", checks.len())))
                    ),
                );
            }
            checks.push(Check {
                line: with_common(format!("sql: {{ {}", parts.join(", "))) + " }",
                comment,
            });
            return;
        }
        "library" => {}
        other => {
            not_mapped.push(format!("{place}: rule `{label}` of unknown type `{other}`"));
            return;
        }
    }
    let metric = rule
        .get("metric")
        .or_else(|| rule.get("rule"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let unit = rule.get("unit").and_then(Value::as_str).unwrap_or("rows");
    let percent = unit.eq_ignore_ascii_case("percent");
    if !percent && !unit.eq_ignore_ascii_case("rows") {
        not_mapped.push(format!(
            "{place}: `{label}` in unit `{unit}` (rows or percent)"
        ));
        return;
    }
    let Some((op, v)) = operator(rule) else {
        not_mapped.push(format!("{place}: `{label}` without an operator (mustBe …)"));
        return;
    };
    let args = rule.get("arguments").cloned().unwrap_or(Value::Null);
    if metric == "rowCount" {
        if percent {
            not_mapped.push(format!("{place}: rowCount in percent"));
            return;
        }
        let n = |v: &Value| v.as_f64();
        let bounds = match (op, &v) {
            ("mustBe", v) => n(v).map(|x| format!("min: {}, max: {}", x.ceil(), x.floor())),
            ("mustBeGreaterThan", v) => n(v).map(|x| format!("min: {}", x.floor() as i64 + 1)),
            ("mustBeGreaterOrEqualTo", v) => n(v).map(|x| format!("min: {}", x.ceil() as i64)),
            ("mustBeLessThan", v) => n(v).map(|x| format!("max: {}", x.ceil() as i64 - 1)),
            ("mustBeLessOrEqualTo", v) => n(v).map(|x| format!("max: {}", x.floor() as i64)),
            ("mustBeBetween", Value::Array(a)) if a.len() == 2 => match (n(&a[0]), n(&a[1])) {
                (Some(lo), Some(hi)) => Some(format!(
                    "min: {}, max: {}",
                    lo.ceil() as i64,
                    hi.floor() as i64
                )),
                _ => None,
            },
            _ => None,
        };
        match bounds {
            Some(b) => checks.push(Check {
                line: with_common(format!("row_count: {{ {b}")) + " }",
                comment,
            }),
            None => not_mapped.push(format!("{place}: rowCount {op} {v}")),
        }
        return;
    }
    let Some(threshold) = failing_threshold(op, &v, percent) else {
        not_mapped.push(format!(
            "{place}: `{label}` {op} {v}{} (dq bounds failing rows from above, inclusively)",
            if percent { " percent" } else { "" }
        ));
        return;
    };
    let body = match (metric, column) {
        ("nullValues", Some(c)) => format!("not_null: {{ columns: [{}]", yaml_string(c)),
        ("missingValues", Some(c)) => {
            let missing = args
                .get("missingValues")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_else(|| vec![Value::Null]);
            let values: Vec<String> = missing
                .iter()
                .filter_map(|m| m.as_str())
                .map(sql_string)
                .collect();
            let numbers: Vec<String> = missing
                .iter()
                .filter(|m| m.is_number())
                .map(|m| m.to_string())
                .collect();
            let listed: Vec<String> = values.into_iter().chain(numbers).collect();
            let c = quoted_ident(c);
            let condition = if listed.is_empty() {
                format!("{c} IS NOT NULL")
            } else {
                // NULL always counts as missing; the listed values too.
                format!("{c} IS NOT NULL AND {c} NOT IN ({})", listed.join(", "))
            };
            let name = if common.iter().any(|x| x.starts_with("name:")) {
                String::new()
            } else {
                format!(
                    "name: {}, ",
                    yaml_string(&format!(
                        "{}_not_missing",
                        to_identifier(column.unwrap_or(""))
                    ))
                )
            };
            format!(
                "expression: {{ {name}condition: {}",
                serde_json::to_string(&condition).unwrap_or_default()
            )
        }
        ("invalidValues", Some(c)) => {
            if let Some(valid) = args.get("validValues").and_then(Value::as_array) {
                let values: Vec<&Value> = valid.iter().filter(|v| !v.is_null()).collect();
                format!(
                    "accepted_values: {{ column: {}, values: [{}]",
                    yaml_string(c),
                    values
                        .iter()
                        .map(|v| flow(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else if let Some(re) = args.get("pattern").and_then(Value::as_str) {
                format!(
                    "pattern: {{ column: {}, regex: {}",
                    yaml_string(c),
                    serde_json::to_string(re).unwrap_or_default()
                )
            } else {
                not_mapped.push(format!(
                    "{place}: invalidValues `{label}` without validValues or pattern"
                ));
                return;
            }
        }
        ("duplicateValues", Some(c)) => format!("unique: {{ columns: [{}]", yaml_string(c)),
        ("duplicateValues", None) => {
            match args.get("properties").and_then(Value::as_array) {
                Some(props) if !props.is_empty() => format!(
                    "unique: {{ columns: [{}]",
                    props
                        .iter()
                        .map(|p| yaml_string(&plain(p)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => {
                    not_mapped.push(format!("{place}: duplicateValues of whole rows (name the key in arguments.properties)"));
                    return;
                }
            }
        }
        (m, None) if ["nullValues", "missingValues", "invalidValues"].contains(&m) => {
            not_mapped.push(format!(
                "{place}: {m} on a schema object (it applies to a property)"
            ));
            return;
        }
        (m, _) => {
            not_mapped.push(format!("{place}: library metric `{m}`"));
            return;
        }
    };
    let mut parts = vec![threshold];
    parts.extend(common.iter().cloned());
    checks.push(Check {
        line: format!("{body}, {} }}", parts.join(", ")),
        comment,
    });
}

/// Replaces `word` where it stands alone (not inside another identifier or a qualified name).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    if word.is_empty() || word == with {
        return text.to_string();
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().last();
        let after = rest[i + word.len()..].chars().next();
        let alone =
            |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        out.push_str(&rest[..i]);
        if alone(before) && alone(after) {
            out.push_str(with);
        } else {
            out.push_str(word);
        }
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_exact_or_refused() {
        assert_eq!(
            failing_threshold("mustBe", &serde_json::json!(0), false).as_deref(),
            Some("max_failed: 0")
        );
        assert_eq!(
            failing_threshold("mustBeLessThan", &serde_json::json!(10), false).as_deref(),
            Some("max_failed: 9")
        );
        assert_eq!(
            failing_threshold("mustBeLessOrEqualTo", &serde_json::json!(2.5), true).as_deref(),
            Some("max_failed_fraction: 0.025")
        );
        assert_eq!(
            failing_threshold("mustBeLessThan", &serde_json::json!(1), true),
            None
        );
        assert_eq!(
            failing_threshold("mustBeGreaterThan", &serde_json::json!(0), false),
            None
        );
        assert_eq!(
            failing_threshold("mustBe", &serde_json::json!(3), false),
            None
        );
        assert_eq!(
            failing_threshold("mustBeBetween", &serde_json::json!([0, 5]), false).as_deref(),
            Some("max_failed: 5")
        );
    }

    #[test]
    fn words_are_replaced_alone() {
        assert_eq!(
            replace_word(
                "SELECT count(*) FROM orders WHERE orders_x > 1",
                "orders",
                "silver.orders"
            ),
            "SELECT count(*) FROM silver.orders WHERE orders_x > 1"
        );
        assert_eq!(
            replace_word("FROM silver.orders", "orders", "silver.orders"),
            "FROM silver.orders"
        );
    }

    #[test]
    fn not_a_contract() {
        let e = import(Path::new("x.yaml"), "layer: silver\n", "silver").unwrap_err();
        assert!(e.contains("kind: DataContract"), "{e}");
        let e = import(
            Path::new("x.yaml"),
            "kind: DataContract\napiVersion: v2.2.2\n",
            "silver",
        )
        .unwrap_err();
        assert!(e.contains("not supported"), "{e}");
    }
}
