//! Property tests over every parser a user feeds dq: rules files, dq.yaml, durations,
//! instants, scopes and custom SQL. Each gets arbitrary text and mutations of valid
//! input; none may panic, hang or grow without bound. CI runs proptest's default number of
//! cases; `make fuzz` sets PROPTEST_CASES much higher.

use std::path::Path;

use proptest::prelude::*;

use crate::config::project::ProjectFile;
use crate::config::rules::load_sources;

const RULES: &str = include_str!("../rules/silver.yaml");
const PROJECT: &str = include_str!("../dq.yaml");
const SCOPES: &[&str] = &[
    "date >= current_date - interval '7 days'",
    "status <> 'cancelled' AND amount > 0",
    "created_at BETWEEN '2026-01-01' AND now()",
    "coalesce(email, '') LIKE '%@%' OR country IN ('NL', 'DE')",
];
const QUERIES: &[&str] = &[
    "SELECT count(*) FROM t WHERE amount < 0",
    "SELECT max(amount) - min(amount) FROM t GROUP BY status HAVING count(*) > 1",
    "SELECT sum(CASE WHEN status = 'x' THEN 1 ELSE 0 END) FROM t",
];

/// `text` with a few edits at random places: characters deleted, duplicated, or replaced by
/// ones that matter to YAML and SQL.
fn mutated(text: &'static str) -> impl Strategy<Value = String> {
    let specials: Vec<char> = "{}[]:,-'\"#&*!|>%@` \n\t\\()=<;0.9eé\u{0}"
        .chars()
        .collect();
    prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            0u8..3,
            prop::sample::select(specials),
        ),
        1..8,
    )
    .prop_map(move |edits| {
        let mut chars: Vec<char> = text.chars().collect();
        for (at, kind, c) in edits {
            if chars.is_empty() {
                chars.push(c);
                continue;
            }
            let i = at.index(chars.len());
            match kind {
                0 => {
                    chars.remove(i);
                }
                1 => chars.insert(i, chars[i]),
                _ => chars[i] = c,
            }
        }
        chars.into_iter().collect()
    })
}

fn session_and_schema() -> (
    datafusion::prelude::SessionContext,
    datafusion::common::DFSchema,
) {
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let schema = Schema::new(vec![
        Field::new("amount", DataType::Float64, true),
        Field::new("status", DataType::Utf8, true),
        Field::new("email", DataType::Utf8, true),
        Field::new("country", DataType::Utf8, true),
        Field::new("date", DataType::Date32, true),
        Field::new(
            "created_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]);
    let session = datafusion::prelude::SessionContext::new();
    let df = datafusion::common::DFSchema::try_from(schema).expect("schema");
    (session, df)
}

fn as_of() -> chrono::DateTime<chrono::Utc> {
    "2026-11-21T00:00:00Z".parse().expect("instant")
}

proptest! {
    #[test]
    fn fuzz_rules_files(text in prop_oneof![mutated(RULES), "\\PC{0,300}"]) {
        if let Ok(trace) = std::env::var("DQ_FUZZ_TRACE") {
            std::fs::write(trace, &text).ok();
        }
        let _ = load_sources(&[(Path::new("rules/silver.yaml").to_path_buf(), text)]);
    }

    #[test]
    fn fuzz_project_files(text in prop_oneof![mutated(PROJECT), "\\PC{0,300}"]) {
        let _ = crate::config::yaml::parse::<ProjectFile>(Path::new("dq.yaml"), &text);
    }

    #[test]
    fn fuzz_durations(text in prop_oneof![
        "[0-9.]{0,30}(ms|s|m|h|d|w|x|)([0-9.]{0,25}(ms|s|m|h|d|w))?",
        "\\PC{0,40}",
    ]) {
        if let Ok(d) = crate::duration::parse_duration(&text) {
            prop_assert!(d <= crate::duration::MAX);
            let _ = crate::duration::format_duration(d);
        }
    }

    #[test]
    fn fuzz_instants(text in prop_oneof![
        "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}([T ][0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3}(\\.[0-9]{0,12})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?",
        "\\PC{0,40}",
    ]) {
        let _ = crate::time::parse_instant(&text);
    }

    #[test]
    fn fuzz_scopes(text in prop_oneof![
        prop::sample::select(SCOPES).prop_flat_map(mutated),
        "\\PC{0,120}",
    ]) {
        let (session, schema) = session_and_schema();
        if let Ok(expr) = crate::engine::sqlexpr::parse(&session, &text, &schema, as_of()) {
            let _ = crate::engine::sqlexpr::simplify(&session.state(), &schema, expr);
        }
    }

    #[test]
    fn fuzz_custom_sql(text in prop_oneof![
        prop::sample::select(QUERIES).prop_flat_map(mutated),
        "\\PC{0,120}",
    ]) {
        let (session, _) = session_and_schema();
        let _ = crate::engine::plan_read_only_sql(&session, &text, as_of());
    }
}

/// A YAML alias bomb stays small: aliases are expanded within a budget, or refused.
#[test]
fn yaml_alias_expansion_is_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    text.push_str("layer: x\n");
    let started = std::time::Instant::now();
    let r = load_sources(&[(Path::new("rules/bomb.yaml").to_path_buf(), text)]);
    assert!(r.is_err(), "10^12 expanded nodes were accepted");
    // A bound on a hang, not a speed assertion: unbounded expansion would never finish.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    let text = format!(
        "layer: x\ndatasets: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(load_sources(&[(Path::new("rules/deep.yaml").to_path_buf(), text)]).is_err());
    let (session, schema) = session_and_schema();
    let deep = format!("{}1{}", "(".repeat(20_000), ")".repeat(20_000));
    let _ = crate::engine::sqlexpr::parse(&session, &deep, &schema, as_of());
    let _ = crate::engine::plan_read_only_sql(&session, &format!("SELECT {deep}"), as_of());
}
