//! `dq suggest`: rules derived from a profile, kept only if today's data passes them.
//!
//! Each suggestion is one check line with its evidence as a comment. Margins are
//! conservative: numeric ranges open to 0 or widened by a tenth of the span, accepted
//! values only for columns with at most 20 distinct values that each recur, uniqueness only
//! where the profile says it may hold. Then the candidate rules are validated against the
//! same data; a suggestion that fails is dropped (or, for a format a few rows miss,
//! written with the failing fraction it needs and severity warn), so `dq validate` passes
//! right after.

use std::fmt::Write as _;

use crate::profile::render::{count, number};
use crate::profile::{ColumnProfile, DatasetProfile};

/// One suggested check.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// The check as it is written under `checks:` (one line, flow style).
    pub check: String,
    /// Why: the evidence from the profile, written as a comment above the check.
    pub evidence: String,
    /// The column it is about, if one.
    pub column: Option<String>,
    pub kind: &'static str,
}

/// How a dataset is declared in the suggested file.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub layer: String,
    pub name: String,
    /// The path, when it is not `layer/name`.
    pub path: Option<String>,
    pub format: Option<String>,
    pub scope: Option<String>,
    /// `{ name: date, type: date }` entries.
    pub partitioning: Vec<(String, String)>,
}

/// Accepted values are suggested for columns with at most this many distinct values.
const MAX_ACCEPTED: u64 = 20;

/// A YAML scalar: plain when it reads back as the same string, quoted otherwise.
pub fn yaml_string(s: &str) -> String {
    // Plain only when it starts with a letter: `2024-01-01` or `1e3` would read back as a
    // date or a number in some YAML parsers.
    let plain = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./@".contains(c))
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn column_key(name: &str) -> String {
    yaml_string(name)
}

/// A round number at least `v` (ceil) or at most `v` (floor), with two significant digits.
fn nice(v: f64, up: bool) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let magnitude = 10f64.powf(v.abs().log10().floor() - 1.0);
    let scaled = v / magnitude;
    let r = if up { scaled.ceil() } else { scaled.floor() };
    r * magnitude
}

fn is_integer_type(t: &str) -> bool {
    t.starts_with("int") || t.starts_with("uint")
}

fn is_number_type(t: &str) -> bool {
    is_integer_type(t) || t == "double" || t == "float" || t.starts_with("decimal")
}

/// The candidate checks for one profiled dataset, before they are verified.
pub fn candidates(p: &DatasetProfile, partition_columns: &[String]) -> Vec<Suggestion> {
    let mut out = Vec::new();
    if p.rows > 0 {
        let min = nice(p.rows as f64 / 2.0, false).max(1.0) as u64;
        out.push(Suggestion {
            check: format!("row_count: {{ min: {min} }}"),
            evidence: format!("{} rows today; fails below half of that", count(p.rows)),
            column: None,
            kind: "row_count",
        });
    }
    let typed: Vec<&ColumnProfile> = p.columns.iter().collect();
    if !typed.is_empty()
        && typed.iter().all(|c| {
            crate::rules::schema::type_matches(
                &c.data_type,
                &datafusion::arrow::datatypes::DataType::Null,
            )
            .is_ok()
        })
    {
        let cols: Vec<String> = typed
            .iter()
            .map(|c| format!("{}: {}", column_key(&c.name), yaml_string(&c.data_type)))
            .collect();
        out.push(Suggestion {
            check: format!("schema: {{ columns: {{ {} }} }}", cols.join(", ")),
            evidence: format!("the {} columns and types of today's files", cols.len()),
            column: None,
            kind: "schema",
        });
    }
    if p.rows == 0 {
        return out;
    }
    let null_free: Vec<&ColumnProfile> = p.columns.iter().filter(|c| c.nulls == 0).collect();
    if !null_free.is_empty() {
        let names: Vec<String> = null_free.iter().map(|c| column_key(&c.name)).collect();
        out.push(Suggestion {
            check: format!("not_null: {{ columns: [{}] }}", names.join(", ")),
            evidence: format!("0 nulls in {} rows", count(p.rows)),
            column: None,
            kind: "not_null",
        });
    }
    for c in &p.columns {
        if partition_columns.contains(&c.name) {
            continue;
        }
        out.extend(column_candidates(c, p.rows));
    }
    out
}

fn column_candidates(c: &ColumnProfile, rows: u64) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let col = column_key(&c.name);
    let non_null = rows - c.nulls;
    let distinct = c.distinct.as_ref();
    let t = c.data_type.as_str();
    // Uniqueness: ids (integers or strings) whose distinct count matches their rows.
    if (is_integer_type(t) || t == "string") && c.nulls == 0 && non_null > 1 {
        if let Some(d) = distinct {
            let holds = match d.method {
                "exact" => d.count == non_null,
                "hyperloglog" => d.count as f64 >= 0.95 * non_null as f64,
                _ => false,
            };
            if holds {
                out.push(Suggestion {
                    check: format!("unique: {{ columns: [{col}] }}"),
                    evidence: format!(
                        "{} distinct values ({}) in {} rows",
                        count(d.count),
                        d.method,
                        count(rows)
                    ),
                    column: Some(c.name.clone()),
                    kind: "unique",
                });
            }
        }
    }
    // Accepted values: few distinct values, each seen several times.
    if let (Some(d), Some(f)) = (distinct, &c.frequent) {
        if t == "string"
            && d.method == "exact"
            && d.count <= MAX_ACCEPTED
            && f.exact
            && non_null >= 10 * d.count
        {
            let mut values: Vec<&crate::profile::ValueCount> = f.values.iter().collect();
            if values.len() as u64 == d.count {
                values.sort_by(|a, b| a.value.cmp(&b.value));
                let list: Vec<String> = values.iter().map(|v| yaml_string(&v.value)).collect();
                let shares: Vec<String> = f
                    .values
                    .iter()
                    .take(5)
                    .map(|v| {
                        format!(
                            "{} {:.1} %",
                            v.value,
                            v.count as f64 * 100.0 / non_null as f64
                        )
                    })
                    .collect();
                out.push(Suggestion {
                    check: format!(
                        "accepted_values: {{ column: {col}, values: [{}] }}",
                        list.join(", ")
                    ),
                    evidence: format!(
                        "{} distinct values in {} rows: {}",
                        d.count,
                        count(non_null),
                        shares.join(", ")
                    ),
                    column: Some(c.name.clone()),
                    kind: "accepted_values",
                });
            }
        }
    }
    // Ranges of numbers: from 0 when nothing is negative, else widened by a tenth of the
    // span. Not for identifiers: tomorrow's ids are above today's maximum.
    let lower = c.name.to_ascii_lowercase();
    let identifier = lower == "id"
        || lower.ends_with("_id")
        || lower.ends_with("id") && is_integer_type(t)
        || out.iter().any(|s| s.kind == "unique");
    if is_number_type(t) && !identifier {
        if let (Some(lo), Some(hi)) = (
            c.min.as_deref().and_then(|s| s.parse::<f64>().ok()),
            c.max.as_deref().and_then(|s| s.parse::<f64>().ok()),
        ) {
            let span = (hi - lo).max(hi.abs() * 0.1).max(1.0);
            let min = if lo >= 0.0 {
                0.0
            } else {
                nice(lo - span / 10.0, false)
            };
            let max = nice(hi + span / 10.0, true);
            let (min, max) = if is_integer_type(t) {
                (min.floor(), max.ceil())
            } else {
                (min, max)
            };
            out.push(Suggestion {
                check: format!(
                    "range: {{ column: {col}, min: {}, max: {} }}",
                    number(min),
                    number(max)
                ),
                evidence: format!(
                    "values {} … {} today",
                    c.min.as_deref().unwrap_or(""),
                    c.max.as_deref().unwrap_or("")
                ),
                column: Some(c.name.clone()),
                kind: "range",
            });
        }
    }
    // Dates and timestamps: not before the first day of the earliest value's year.
    if t == "date" || t == "timestamp" {
        if let Some(lo) = &c.min {
            if let Some(year) = lo
                .get(0..4)
                .filter(|y| y.chars().all(|c| c.is_ascii_digit()))
            {
                let bound = if t == "date" {
                    format!("{year}-01-01")
                } else {
                    format!("{year}-01-01T00:00:00Z")
                };
                out.push(Suggestion {
                    check: format!("range: {{ column: {col}, min: \"{bound}\" }}"),
                    evidence: format!("earliest value {lo}"),
                    column: Some(c.name.clone()),
                    kind: "range",
                });
            }
        }
    }
    if t == "string" {
        let format = c
            .formats
            .iter()
            .find(|m| m.matched == m.sampled && m.sampled >= 20);
        if let Some(m) = format {
            out.push(Suggestion {
                check: format!("pattern: {{ column: {col}, format: {} }}", m.format),
                evidence: format!("all {} sampled values are {}", count(m.sampled), m.format),
                column: Some(c.name.clone()),
                kind: "pattern",
            });
        } else if let Some(l) = &c.length {
            let check = if l.min == l.max {
                format!(
                    "length: {{ column: {col}, min: {}, max: {} }}",
                    l.min, l.max
                )
            } else {
                let max = nice(l.max as f64 * 1.5, true) as i64;
                format!(
                    "length: {{ column: {col}, min: {}, max: {max} }}",
                    l.min.min(1)
                )
            };
            out.push(Suggestion {
                check,
                evidence: format!("lengths {} … {} today", l.min, l.max),
                column: Some(c.name.clone()),
                kind: "length",
            });
        }
    }
    out
}

/// The layer file holding `datasets`, each with its suggestions and their evidence.
/// Returns the text and, per dataset, the 1-based line of each suggestion's check.
pub fn layer_file(
    header: &str,
    layer: &str,
    datasets: &[(Declaration, Vec<Suggestion>)],
) -> (String, Vec<Vec<u64>>) {
    let mut text = String::new();
    for line in header.lines() {
        let _ = writeln!(text, "# {line}");
    }
    let _ = writeln!(text, "layer: {}", yaml_string(layer));
    let _ = writeln!(text, "datasets:");
    let mut lines = Vec::new();
    for (d, suggestions) in datasets {
        let _ = writeln!(text, "  - name: {}", yaml_string(&d.name));
        if let Some(path) = &d.path {
            let _ = writeln!(text, "    path: {}", yaml_string(path));
        }
        if let Some(format) = &d.format {
            let _ = writeln!(text, "    format: {format}");
        }
        if !d.partitioning.is_empty() {
            let parts: Vec<String> = d
                .partitioning
                .iter()
                .map(|(n, t)| format!("{{ name: {}, type: {t} }}", yaml_string(n)))
                .collect();
            let _ = writeln!(text, "    partitioning: [{}]", parts.join(", "));
        }
        if let Some(scope) = &d.scope {
            let _ = writeln!(
                text,
                "    scope: {}",
                serde_json::to_string(scope).unwrap_or_default()
            );
        }
        let _ = writeln!(text, "    checks:");
        let mut at = Vec::new();
        if suggestions.is_empty() {
            text.pop();
            let _ = writeln!(text, " []");
        }
        for s in suggestions {
            let _ = writeln!(text, "      # {}", s.evidence.replace('\n', " "));
            at.push(text.lines().count() as u64 + 1);
            let _ = writeln!(text, "      - {}", s.check);
        }
        lines.push(at);
    }
    (text, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_read_back() {
        assert_eq!(yaml_string("placed"), "placed");
        assert_eq!(yaml_string("yes"), "\"yes\"");
        assert_eq!(yaml_string("10"), "\"10\"");
        assert_eq!(yaml_string("a b"), "\"a b\"");
        assert_eq!(yaml_string("it's: x"), "\"it's: x\"");
        assert_eq!(yaml_string(""), "\"\"");
        assert_eq!(yaml_string("2024-01-01"), "\"2024-01-01\"");
    }

    #[test]
    fn nice_numbers_round_outwards() {
        assert_eq!(nice(98_765.0, true), 99_000.0);
        assert_eq!(nice(98_765.0, false), 98_000.0);
        assert_eq!(nice(-12.3, false), -13.0);
        assert!(nice(0.0123, true) >= 0.0123);
    }
}
