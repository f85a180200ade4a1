//! Regex matches inside the row-check aggregate, evaluated with the regex compiled once.
//!
//! DataFusion evaluates `col ~ 'literal'` by compiling the regex again for every batch (and
//! starting its lazy automaton cold each time): over ten million rows, thousands of
//! compilations per pattern. Inside the aggregate, `~`, `!~`, `~*` and `!~*` against a
//! literal are evaluated with one compiled regex, the same pattern and flag DataFusion
//! would compile, so the answers are the same.
//!
//! The named formats of `pattern` whose regexes are simple enough to restate exactly,
//! `email` and `uuid`, go further: a byte scan instead of the regex engine, held equal to
//! the regex on generated strings by the tests below. The SQL dq shows keeps the regex.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayAccessor, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Literal};

use crate::rules::pattern::FORMATS;

#[derive(Debug, Clone)]
enum Format {
    Email,
    Uuid,
    /// Any other pattern, compiled once (flags included, as DataFusion adds them).
    Regex(Arc<regex::Regex>),
}

impl PartialEq for Format {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Format::Regex(a), Format::Regex(b)) => a.as_str() == b.as_str(),
            (Format::Email, Format::Email) | (Format::Uuid, Format::Uuid) => true,
            _ => false,
        }
    }
}

impl Eq for Format {}

impl Hash for Format {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Format::Email => 0u8.hash(state),
            Format::Uuid => 1u8.hash(state),
            Format::Regex(r) => r.as_str().hash(state),
        }
    }
}

impl Format {
    /// The matcher for `regex` (with the case-insensitive flag when `ignore_case`); None
    /// when it does not compile, so that DataFusion reports the error as it would.
    fn of_regex(regex: &str, ignore_case: bool) -> Option<Format> {
        let named = |name: &str| FORMATS.iter().any(|(n, r)| *n == name && *r == regex);
        if !ignore_case && named("email") {
            Some(Format::Email)
        } else if !ignore_case && named("uuid") {
            Some(Format::Uuid)
        } else {
            // As arrow's `regexp_is_match_scalar` builds it.
            let pattern = if ignore_case {
                format!("(?i){regex}")
            } else {
                regex.to_string()
            };
            regex::Regex::new(&pattern)
                .ok()
                .map(|r| Format::Regex(Arc::new(r)))
        }
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            Format::Email => is_email(s),
            Format::Uuid => is_uuid(s),
            Format::Regex(r) => r.is_match(s),
        }
    }
}

/// `^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$` (`\s` is Unicode White_Space, as in the regex crate).
pub fn is_email(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (mut at, mut last_dot, mut ascii) = (None, None, true);
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'@' if at.is_some() => return false,
            b'@' => at = Some(i),
            b'.' => last_dot = Some(i),
            // The ASCII members of White_Space; the others are not ASCII.
            b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => return false,
            c if c >= 0x80 => ascii = false,
            _ => {}
        }
    }
    let (Some(at), Some(dot)) = (at, last_dot) else {
        return false;
    };
    // Something before '@', something between '@' and the last dot, and after it a
    // top-level label of at least two ASCII letters.
    let tld = &bytes[dot + 1..];
    at > 0
        && dot > at + 1
        && tld.len() >= 2
        && tld.iter().all(u8::is_ascii_alphabetic)
        && (ascii || !s.chars().any(char::is_whitespace))
}

/// `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `arg ~ format` or `arg !~ format`, evaluated by the format's matcher (a NULL `arg` gives
/// NULL).
#[derive(Debug)]
struct FormatMatch {
    arg: Arc<dyn PhysicalExpr>,
    format: Format,
    negated: bool,
}

impl PartialEq for FormatMatch {
    fn eq(&self, other: &Self) -> bool {
        self.format == other.format && self.negated == other.negated && self.arg.eq(&other.arg)
    }
}

impl Eq for FormatMatch {}

impl Hash for FormatMatch {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.arg.hash(state);
        self.format.hash(state);
        self.negated.hash(state);
    }
}

impl fmt::Display for FormatMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.negated { "!~" } else { "~" };
        match &self.format {
            Format::Regex(r) => write!(f, "{} {op} {:?}", self.arg, r.as_str()),
            named => write!(f, "{} {op} {named:?}", self.arg),
        }
    }
}

fn matched<'a, A>(
    values: A,
    nulls: Option<&NullBuffer>,
    format: &Format,
    negated: bool,
) -> BooleanArray
where
    A: ArrayAccessor<Item = &'a str>,
{
    // NULL slots hold an empty value; their result is masked by the NULL buffer.
    let bits =
        BooleanBuffer::collect_bool(values.len(), |i| format.matches(values.value(i)) != negated);
    BooleanArray::new(bits, nulls.cloned())
}

impl PhysicalExpr for FormatMatch {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.arg.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let values = self.arg.evaluate(batch)?.into_array(rows)?;
        let (format, negated) = (&self.format, self.negated);
        let nulls = values.logical_nulls();
        let nulls = nulls.as_ref();
        let result = match values.data_type() {
            DataType::Utf8View => matched(values.as_string_view(), nulls, format, negated),
            DataType::Utf8 => matched(values.as_string::<i32>(), nulls, format, negated),
            DataType::LargeUtf8 => matched(values.as_string::<i64>(), nulls, format, negated),
            other => return internal_err!("format match on {other}"),
        };
        Ok(ColumnarValue::Array(Arc::new(result)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.arg]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        match <[_; 1]>::try_from(children) {
            Ok([arg]) => Ok(Arc::new(FormatMatch {
                arg,
                format: self.format.clone(),
                negated: self.negated,
            })),
            Err(_) => internal_err!("format match takes one child"),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// `expr` (over `schema`) with every regex match of a string against a literal pattern
/// evaluated by a matcher built once.
pub fn rewrite(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
    Ok(expr
        .transform_up(|e| {
            let Some(b) = e.downcast_ref::<BinaryExpr>() else {
                return Ok(Transformed::no(e));
            };
            let (negated, ignore_case) = match b.op() {
                Operator::RegexMatch => (false, false),
                Operator::RegexNotMatch => (true, false),
                Operator::RegexIMatch => (false, true),
                Operator::RegexNotIMatch => (true, true),
                _ => return Ok(Transformed::no(e)),
            };
            // Plain strings only: DataFusion matches a dictionary's values, then expands.
            if !matches!(
                b.left().data_type(schema)?,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ) {
                return Ok(Transformed::no(e));
            }
            let pattern = match b.right().downcast_ref::<Literal>().map(|l| l.value()) {
                Some(
                    ScalarValue::Utf8(Some(p))
                    | ScalarValue::Utf8View(Some(p))
                    | ScalarValue::LargeUtf8(Some(p)),
                ) => p.clone(),
                _ => return Ok(Transformed::no(e)),
            };
            match Format::of_regex(&pattern, ignore_case) {
                Some(format) => Ok(Transformed::yes(Arc::new(FormatMatch {
                    arg: Arc::clone(b.left()),
                    format,
                    negated,
                })
                    as Arc<dyn PhysicalExpr>)),
                None => Ok(Transformed::no(e)),
            }
        })?
        .data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Rng;

    fn regex_of(name: &str) -> regex::Regex {
        let (_, r) = FORMATS.iter().find(|(n, _)| *n == name).unwrap();
        regex::Regex::new(r).unwrap()
    }

    /// Random strings over an alphabet chosen to hit every branch of the format.
    fn strings(rng: &mut Rng, alphabet: &[&str], max_len: u64, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let len = rng.below(max_len + 1);
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn email_matcher_equals_its_regex() {
        let re = regex_of("email");
        let mut rng = Rng::new(7);
        let alphabet = [
            "a", "b", "Z", "1", ".", ".", "@", "@", " ", "\u{a0}", "\u{2003}", "\u{85}",
            "\u{3000}", "\t", "\n", "é", "-", "_", "ab", "com",
        ];
        let mut cases = strings(&mut rng, &alphabet, 10, 200_000);
        cases.extend(
            [
                "a@b.co",
                "a@b.c",
                "a@.co",
                "@b.co",
                "a@b.c1",
                "a@b..co",
                "a@b.co.",
                "a b@c.de",
                "a@b@c.de",
                "é@ü.com",
                "a@b.COM",
                "a@b.co\n",
                "",
            ]
            .map(String::from),
        );
        for s in &cases {
            assert_eq!(is_email(s), re.is_match(s), "{s:?}");
        }
    }

    #[test]
    fn uuid_matcher_equals_its_regex() {
        let re = regex_of("uuid");
        let mut rng = Rng::new(8);
        let valid = "123e4567-e89b-12d3-a456-426614174000";
        let alphabet = ["0", "9", "a", "f", "A", "F", "g", "G", "-", "é", " "];
        let mut cases = vec![valid.to_string(), valid.to_uppercase(), format!("{valid}0")];
        for _ in 0..100_000 {
            // Mutate one or two positions of a valid UUID.
            let mut chars: Vec<String> = valid.chars().map(String::from).collect();
            for _ in 0..=rng.below(2) {
                let i = rng.below(chars.len() as u64) as usize;
                chars[i] = alphabet[rng.below(alphabet.len() as u64) as usize].to_string();
            }
            cases.push(chars.concat());
        }
        cases.extend(strings(&mut rng, &alphabet, 40, 20_000));
        for s in &cases {
            assert_eq!(is_uuid(s), re.is_match(s), "{s:?}");
        }
    }

    #[test]
    fn rewrite_keeps_nulls_and_negation() {
        use datafusion::arrow::array::StringViewArray;
        use datafusion::arrow::datatypes::Field;
        use datafusion::common::DFSchema;
        use datafusion::prelude::SessionContext;
        let schema = Arc::new(Schema::new(vec![Field::new("e", DataType::Utf8View, true)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(StringViewArray::from(vec![
                Some("a@b.co"),
                None,
                Some("nope"),
            ]))],
        )
        .unwrap();
        let ctx = SessionContext::new();
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).unwrap();
        let (_, email) = FORMATS.iter().find(|(n, _)| *n == "email").unwrap();
        for (sql, expected) in [
            (format!("e !~ '{email}'"), [Some(false), None, Some(true)]),
            (format!("e ~ '{email}'"), [Some(true), None, Some(false)]),
            // Other patterns: compiled once, with the case-insensitive flag as DataFusion
            // adds it.
            // (Patterns the simplifier would turn into LIKE are not used here.)
            (
                "e ~ '^A@[a-z]'".to_string(),
                [Some(false), None, Some(false)],
            ),
            (
                "e ~* '^A@[a-z]'".to_string(),
                [Some(true), None, Some(false)],
            ),
            (
                "e !~* 'NOP[EF]$'".to_string(),
                [Some(true), None, Some(false)],
            ),
            (
                "e !~ 'b\\.c[op]'".to_string(),
                [Some(false), None, Some(true)],
            ),
            ("e ~ '[a-z]*'".to_string(), [Some(true), None, Some(true)]),
        ] {
            let expr = ctx.parse_sql_expr(&sql, &df_schema).unwrap();
            // As in the row-check aggregate: simplified first (the literal's cast folded).
            let expr = crate::engine::sqlexpr::simplify(&ctx.state(), &df_schema, expr).unwrap();
            let physical = ctx.create_physical_expr(expr, &df_schema).unwrap();
            let rewritten = rewrite(Arc::clone(&physical), &schema).unwrap();
            assert!(
                rewritten.downcast_ref::<FormatMatch>().is_some(),
                "{sql}: {rewritten}"
            );
            for e in [physical, rewritten] {
                let out = e.evaluate(&batch).unwrap().into_array(3).unwrap();
                let got: Vec<Option<bool>> = out.as_boolean().iter().collect();
                assert_eq!(got, expected, "{sql}");
            }
        }
    }
}
