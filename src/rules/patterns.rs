//! String values against a list of regular expressions: any, all or none must match
//! (Great Expectations' `expect_column_values_to_match_regex_list`,
//! `expect_column_values_to_not_match_regex` and `…_not_match_regex_list`).
//!
//! Parameters:
//! - `column` (name of a string column)
//! - `regexes` (list of Rust/RE2 regexes, unanchored unless you write `^…$`)
//! - `match`: `any` (default: a value passes when at least one regex matches), `all`
//!   (every regex must match), or `none` (a value fails when any regex matches — the
//!   forbidden patterns).
//!
//! NULL values are not checked. Each regex is validated before any scan. Row-level:
//! accepts `max_failed` / `max_failed_fraction`, as a fraction of the non-NULL values.
//!
//! Example:
//! ```yaml
//! - patterns: { column: email, regexes: ['@example\.com$', '@test\.'], match: none }
//! - patterns: { column: sku, regexes: ['^[A-Z]{3}-', '-\d{4}$'], match: all }
//! ```

use datafusion::logical_expr::{Expr, Operator, binary_expr, lit};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as, value_level};

pub const KIND: RuleKind = RuleKind {
    name: "patterns",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("patterns.rs"),
    parse: parse_as::<Patterns>,
    schema: schema_of::<Patterns>,
};

/// How the regexes of a `patterns` check combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    #[default]
    Any,
    All,
    None,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Patterns {
    pub column: String,
    pub regexes: Vec<String>,
    #[serde(default, rename = "match")]
    pub matching: Match,
}

impl Rule for Patterns {
    fn default_name(&self) -> String {
        let how = match self.matching {
            Match::Any => "any",
            Match::All => "all",
            Match::None => "none",
        };
        format!("patterns({}, {how})", self.column)
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        if self.regexes.is_empty() {
            return Err("patterns needs at least one regex in `regexes`".into());
        }
        for regex in &self.regexes {
            regex::Regex::new(regex).map_err(|e| format!("invalid regex `{regex}`: {e}"))?;
        }
        let column = cx.column(&self.column)?;
        let data_type = cx.data_type(&self.column)?;
        if !super::is_string(&data_type) {
            return Err(format!(
                "patterns needs a string column; `{}` is {data_type}",
                self.column
            ));
        }
        // Each test is NULL for a NULL value, and so is every combination of them: NULL
        // values never count as failing.
        let test = |op: Operator| -> Vec<Expr> {
            self.regexes
                .iter()
                .map(|r| binary_expr(column.clone(), op, lit(r.clone())))
                .collect()
        };
        let failing = match self.matching {
            // Fails when no regex matches: every one fails to match.
            Match::Any => conjunction(test(Operator::RegexNotMatch)),
            // Fails when some regex does not match.
            Match::All => disjunction(test(Operator::RegexNotMatch)),
            // Fails when some regex matches.
            Match::None => disjunction(test(Operator::RegexMatch)),
        };
        value_level(failing, column, cx.thresholds)
    }
}

fn conjunction(exprs: Vec<Expr>) -> Expr {
    exprs.into_iter().reduce(Expr::and).unwrap_or(lit(true))
}

fn disjunction(exprs: Vec<Expr>) -> Expr {
    exprs.into_iter().reduce(Expr::or).unwrap_or(lit(false))
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    // Emails: a@example.com, b@example.com, bad, d@example.com, NULL, f@example.org.

    #[test]
    fn any_passes_a_value_one_regex_matches() {
        let o = check(
            orders(),
            r"patterns: { column: email, regexes: ['\.com$', '\.org$'] }",
        );
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        assert_eq!(o.rows_checked, Some(5), "NULL is not checked: {o:?}");
        assert_eq!(o.samples[0]["email"], "bad", "{o:?}");
    }

    #[test]
    fn all_needs_every_regex() {
        let o = check(
            orders(),
            r"patterns: { column: email, regexes: ['@', '\.com$'], match: all }",
        );
        // bad (no @, no .com) and f@example.org (no .com).
        assert_eq!(o.failed_rows, Some(2), "{o:?}");
    }

    #[test]
    fn none_forbids_every_regex() {
        let o = check(
            orders(),
            r"patterns: { column: email, regexes: ['^a@', '\.org$'], match: none }",
        );
        assert_eq!(o.failed_rows, Some(2), "{o:?}");
        let o = check(
            orders(),
            r"patterns: { column: email, regexes: ['^zz'], match: none }",
        );
        assert!(o.passed, "{o:?}");
    }

    #[test]
    fn bad_regexes_and_columns_are_rules_errors() {
        let e = compile_error(orders(), "patterns: { column: email, regexes: ['(a'] }");
        assert!(e.contains("invalid regex `(a`"), "{e}");
        let e = compile_error(orders(), "patterns: { column: amount, regexes: ['1'] }");
        assert!(e.contains("string column"), "{e}");
        let e = compile_error(orders(), "patterns: { column: email, regexes: [] }");
        assert!(e.contains("at least one"), "{e}");
    }
}
