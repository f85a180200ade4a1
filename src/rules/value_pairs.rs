//! Each row's pair of values, from two columns, is one of a given set of pairs (Great
//! Expectations' `expect_column_pair_values_to_be_in_set`).
//!
//! Parameters:
//! - `columns` (exactly two column names)
//! - `pairs` (list of two-element lists: the allowed combinations)
//!
//! A row where either value is NULL is not checked. Values are compared as SQL literals of
//! each column's type, never spliced into SQL text. Row-level: accepts `max_failed` /
//! `max_failed_fraction`, as a fraction of the rows checked.
//!
//! Example:
//! ```yaml
//! - value_pairs:
//!     columns: [country, currency]
//!     pairs: [[DE, EUR], [FR, EUR], [GB, GBP], [US, USD]]
//! ```

use datafusion::logical_expr::{Expr, lit};
use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, literal_for, parse_as};

pub const KIND: RuleKind = RuleKind {
    name: "value_pairs",
    placement: Placement::Dataset,
    row_level: true,
    source: include_str!("value_pairs.rs"),
    parse: parse_as::<ValuePairs>,
    schema: schema_of::<ValuePairs>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValuePairs {
    pub columns: Vec<String>,
    pub pairs: Vec<Vec<serde_json::Value>>,
}

impl Rule for ValuePairs {
    fn default_name(&self) -> String {
        format!("value_pairs({})", self.columns.join(", "))
    }

    fn compile(&self, cx: &CompileContext<'_>) -> Result<Compiled, String> {
        let [a, b] = self.columns.as_slice() else {
            return Err(format!(
                "value_pairs needs exactly two `columns`, not {}",
                self.columns.len()
            ));
        };
        if self.pairs.is_empty() {
            return Err("value_pairs needs at least one pair in `pairs`".into());
        }
        let (ca, cb) = (cx.column(a)?, cx.column(b)?);
        let (ta, tb) = (cx.data_type(a)?, cx.data_type(b)?);
        // Pairs grouped by their first value, in order of appearance: a row is looked up by
        // its first column once, then its second column in that value's list — not compared
        // with every pair (an OR of pair equalities cost a string comparison per pair per
        // row, the most expensive check of the benchmark's catalogue).
        let mut by_first: Vec<(Expr, Vec<Expr>)> = Vec::new();
        for (i, pair) in self.pairs.iter().enumerate() {
            let [x, y] = pair.as_slice() else {
                return Err(format!(
                    "pair {} has {} values; each pair is [{a}, {b}]",
                    i + 1,
                    pair.len()
                ));
            };
            let x = literal_for(x, &ta, "pair value")?;
            let y = literal_for(y, &tb, "pair value")?;
            match by_first.iter_mut().find(|(first, _)| *first == x) {
                Some((_, seconds)) => seconds.push(y),
                None => by_first.push((x, vec![y])),
            }
        }
        let mut lookup = datafusion::logical_expr::case(ca.clone());
        for (first, seconds) in by_first {
            lookup = lookup.when(first, cb.clone().in_list(seconds, false));
        }
        let any_allowed = lookup.otherwise(lit(false)).map_err(|e| e.to_string())?;
        let both = ca.is_not_null().and(cb.is_not_null());
        // Rows with a NULL make the comparison NULL, hence not failing; `both` says so
        // explicitly for the denominator.
        let failing = both.clone().and(datafusion::logical_expr::not(any_allowed));
        super::judged_where(failing, both, cx.thresholds)
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{check, compile_error, orders};

    #[test]
    fn pairs_outside_the_set_fail() {
        // (customer_id, status): (10 placed) (11 shipped) (12 delivered) (10 bogus)
        // (99 shipped) (NULL cancelled).
        let o = check(
            orders(),
            "value_pairs: { columns: [customer_id, status], pairs: [[10, placed], [11, shipped], [12, delivered], [99, shipped]] }",
        );
        assert_eq!(o.failed_rows, Some(1), "{o:?}");
        assert_eq!(
            o.rows_checked,
            Some(5),
            "the NULL row is not checked: {o:?}"
        );
        assert_eq!(o.samples[0]["status"], "bogus", "{o:?}");
    }

    #[test]
    fn malformed_pairs_are_rules_errors() {
        let e = compile_error(
            orders(),
            "value_pairs: { columns: [customer_id, status], pairs: [[10]] }",
        );
        assert!(e.contains("pair 1 has 1 values"), "{e}");
        let e = compile_error(
            orders(),
            "value_pairs: { columns: [status], pairs: [[a, b]] }",
        );
        assert!(e.contains("exactly two"), "{e}");
        let e = compile_error(
            orders(),
            "value_pairs: { columns: [customer_id, status], pairs: [[x, placed]] }",
        );
        assert!(e.contains("is a string but the column is"), "{e}");
    }
}
