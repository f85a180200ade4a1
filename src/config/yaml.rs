//! YAML parsing with positions: every error becomes a [`Diagnostic`] at file:line:column.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::Spanned;

use crate::error::{Diagnostic, closest};

/// Parses a whole YAML document into `T`, or returns the first problem with its position.
pub fn parse<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Diagnostic> {
    // YAML 1.2 booleans only: a column named `n` or `on` stays a string.
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let message = strip_position(&first_line(&e.without_snippet().to_string()));
        let (message, help) = explain_serde_message(&message, &[]);
        Diagnostic::new(file, line, column, message).with_help(help)
    })
}

/// Drops a trailing " at line N, column M": dq prints the position itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains("column") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// serde-saphyr's plain message starts with "error: line X column Y: ..." in some renderings;
/// keep only the human part.
fn first_line(rendered: &str) -> String {
    let line = rendered.lines().next().unwrap_or("").trim();
    let line = line.strip_prefix("error:").unwrap_or(line).trim();
    // Drop a leading "line N column M:" that would repeat the position we print ourselves.
    if let Some(rest) = line.strip_prefix("line ") {
        if let Some(idx) = rest.find(": ") {
            let head = &rest[..idx];
            if head
                .split_whitespace()
                .all(|w| w == "column" || w.chars().all(|c| c.is_ascii_digit()))
            {
                return rest[idx + 2..].to_string();
            }
        }
    }
    line.to_string()
}

/// Turns serde's "unknown field `x`, expected one of `a`, `b`" into a message plus a
/// "did you mean" help when a valid name is close. `extra` adds names serde does not list.
/// Names other tools (and people) use for dq's fields: (theirs, dq's).
const SYNONYMS: &[(&str, &str)] = &[
    ("metric", "stat"),
    ("statistic", "stat"),
    ("function", "stat"),
    ("agg", "stat"),
    ("regexp", "regex"),
    ("pattern", "regex"),
    ("col", "column"),
    ("field", "column"),
    ("cols", "columns"),
    ("fields", "columns"),
    ("allowed", "values"),
    ("accepted", "values"),
    ("value_set", "values"),
    ("minimum", "min"),
    ("min_value", "min"),
    ("lower", "min"),
    ("maximum", "max"),
    ("max_value", "max"),
    ("upper", "max"),
    ("mostly", "max_failed_fraction"),
    ("level", "severity"),
    ("filter", "where"),
    ("row_condition", "where"),
];

pub fn explain_serde_message(message: &str, extra: &[&str]) -> (String, Option<String>) {
    for prefix in ["unknown field `", "unknown variant `"] {
        if let Some(start) = message.find(prefix) {
            let rest = &message[start + prefix.len()..];
            let Some(end) = rest.find('`') else { break };
            let given = &rest[..end];
            let mut valid: Vec<&str> = match rest
                .find("expected one of ")
                .or_else(|| rest.find("expected "))
            {
                Some(i) => {
                    let list = &rest[i..];
                    let list = list
                        .strip_prefix("expected one of ")
                        .or_else(|| list.strip_prefix("expected "))
                        .unwrap_or(list);
                    list.split(", ")
                        .map(|v| v.trim().trim_matches(|c| c == '`' || c == '"'))
                        .filter(|v| !v.is_empty())
                        .collect()
                }
                None => vec![],
            };
            valid.extend_from_slice(extra);
            let what = if prefix.contains("field") {
                "field"
            } else {
                "value"
            };
            // What other tools call a field comes first; then the closest spelling.
            let synonym = SYNONYMS
                .iter()
                .find(|(other, ours)| *other == given && valid.contains(ours))
                .map(|(_, ours)| *ours);
            let help = match synonym.or_else(|| closest(given, valid.iter().copied())) {
                Some(s) => Some(format!("did you mean `{s}`? valid: {}", valid.join(", "))),
                None if !valid.is_empty() => Some(format!("valid: {}", valid.join(", "))),
                None => None,
            };
            return (format!("unknown {what} `{given}`"), help);
        }
    }
    (message.to_string(), None)
}

/// The 1-based line and column of a spanned YAML node.
pub fn position<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

/// Finds `key:` in the source at or after `from_line`, to point an error at the offending key
/// inside a node we only know the start of.
pub fn locate_key(text: &str, from_line: u64, key: &str) -> Option<(u64, u64)> {
    // An empty key (`column.` has one after its dot) matches everywhere: no position.
    if key.is_empty() {
        return None;
    }
    for (idx, line) in text
        .lines()
        .enumerate()
        .skip(from_line.saturating_sub(1) as usize)
    {
        for (col, _) in line.match_indices(key) {
            let before = line[..col].chars().last();
            let after = line[col + key.len()..].trim_start().chars().next();
            let boundary = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if boundary && after == Some(':') {
                return Some((idx as u64 + 1, col as u64 + 1));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_gets_a_suggestion() {
        let (m, h) =
            explain_serde_message("unknown field `mni`, expected one of `min`, `max`", &[]);
        assert_eq!(m, "unknown field `mni`");
        assert!(h.unwrap().contains("did you mean `min`"));
    }

    #[test]
    fn other_tools_names_suggest_ours() {
        let (_, h) = explain_serde_message(
            "unknown field `metric`, expected one of `column`, `stat`, `percentile`, `min`, `max`, `approx`",
            &[],
        );
        assert!(h.unwrap().starts_with("did you mean `stat`"));
    }

    #[test]
    fn locate_key_finds_whole_keys() {
        let text = "a:\n  - x_min: 1\n    min: 2\n";
        assert_eq!(locate_key(text, 1, "min"), Some((3, 5)));
    }

    #[test]
    fn an_empty_key_is_not_located_and_does_not_loop() {
        // `column.` (found by the rules fuzzer) left an empty key after its dot.
        assert_eq!(locate_key("a: { column.: [x] }\n", 1, ""), None);
        assert_eq!(locate_key("x: { é: 1 }\n", 1, "é"), Some((1, 6)));
    }
}
