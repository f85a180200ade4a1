//! SQL snippets from rule files (`scope`, `where`, conditions): parsed against a dataset's
//! schema, with `now()` / `current_date` pinned to the evaluation instant.

use chrono::{DateTime, Utc};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;

/// Parses `sql` as an expression over `schema`; errors are phrased for the rule author.
pub fn parse(
    session: &SessionContext,
    sql: &str,
    schema: &DFSchema,
    as_of: DateTime<Utc>,
) -> Result<Expr, String> {
    let expr = session
        .parse_sql_expr(sql, schema)
        .map_err(|e| explain(&e, schema))?;
    pin_clock(expr, as_of).map_err(|e| e.to_string())
}

/// `expr` type-coerced and simplified over `schema`, as DataFusion's optimizer would leave
/// it (constants folded, casts of literals unwrapped, NULL tests on required columns false).
pub fn simplify(
    state: &datafusion::execution::session_state::SessionState,
    schema: &DFSchema,
    expr: Expr,
) -> datafusion::error::Result<Expr> {
    use datafusion::logical_expr::simplify::SimplifyContext;
    use datafusion::optimizer::simplify_expressions::ExprSimplifier;
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(std::sync::Arc::new(schema.clone()))
            .with_config_options(std::sync::Arc::clone(state.config_options()))
            .build(),
    );
    simplifier.simplify(simplifier.coerce(expr, schema)?)
}

/// Replaces `now()`, `current_timestamp`, `current_date` and `today()` with the evaluation
/// instant, so `--as-of` moves every time-relative scope and condition consistently.
pub fn pin_clock(expr: Expr, as_of: DateTime<Utc>) -> datafusion::error::Result<Expr> {
    let nanos = as_of.timestamp_nanos_opt().unwrap_or_default();
    let days = as_of
        .date_naive()
        .signed_duration_since(chrono::NaiveDate::default())
        .num_days() as i32;
    Ok(expr
        .transform_up(|e| {
            if let Expr::ScalarFunction(f) = &e {
                match f.name() {
                    "now" | "current_timestamp" => {
                        return Ok(Transformed::yes(lit(ScalarValue::TimestampNanosecond(
                            Some(nanos),
                            Some("+00:00".into()),
                        ))));
                    }
                    "current_date" | "today" => {
                        return Ok(Transformed::yes(lit(ScalarValue::Date32(Some(days)))));
                    }
                    _ => {}
                }
            }
            Ok(Transformed::no(e))
        })?
        .data)
}

/// Rewrites DataFusion's messages for unknown columns into dq's own wording.
fn explain(e: &datafusion::error::DataFusionError, schema: &DFSchema) -> String {
    let text = crate::engine::clean_error(e);
    if let Some(idx) = text.find("No field named ") {
        let rest = &text[idx + "No field named ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| !matches!(c, '.' | ' ' | ','))
            .collect::<String>()
            .trim_matches('"')
            .to_string();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let hint = crate::error::closest(&name, names.iter().copied())
            .map(|s| format!("did you mean `{s}`? "))
            .unwrap_or_default();
        return format!(
            "unknown column `{name}`; {hint}available columns: {}",
            names.join(", ")
        );
    }
    text
}
