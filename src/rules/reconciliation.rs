//! A metric of one dataset equals a metric of another within a tolerance.
//!
//! Written under a layer file's `reconciliations:` (not under a dataset). Parameters:
//! - `name` (required), `severity`, `description`
//! - `left`, `right`: `{ dataset: layer.name, expr: <SQL aggregate>, where: <SQL filter> }`;
//!   `expr` is any aggregate expression over the dataset, e.g. `sum(amount)` or
//!   `count(DISTINCT order_id)`. Each side honours its dataset's `scope`.
//! - `tolerance`: `{ absolute: X }` and/or `{ relative: R }` (a fraction of the larger
//!   magnitude); passes when within either. Default: equal, up to the rounding of
//!   floating-point sums (a relative difference of at most 1e-12), because a sum over
//!   floats depends on the order it was added in — across files, threads or cluster
//!   executors — and the same data must never flip between PASS and FAIL.
//!
//! Each side is answered by the fused scan of its dataset, so a reconciliation costs no
//! extra pass. A NULL side (no rows) fails.
//!
//! Example:
//! ```yaml
//! reconciliations:
//!   - name: gold_revenue_matches_silver
//!     left:  { dataset: gold.daily_revenue, expr: "sum(revenue)" }
//!     right: { dataset: silver.orders, expr: "sum(amount)", where: "status <> 'cancelled'" }
//!     tolerance: { relative: 0.0001 }
//! ```

use serde::Deserialize;

use super::schema_of;
use super::{Outcome, Placement, RuleKind, trim_float};

pub const KIND: RuleKind = RuleKind {
    name: "reconciliation",
    placement: Placement::Reconciliation,
    row_level: false,
    source: include_str!("reconciliation.rs"),
    parse: |_| Err("reconciliations go under `reconciliations:`".into()),
    schema: schema_of::<ReconciliationSpec>,
};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationSpec {
    pub name: String,
    pub left: Side,
    pub right: Side,
    #[serde(default)]
    pub tolerance: Tolerance,
    #[serde(default)]
    pub severity: super::Severity,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Side {
    pub dataset: String,
    pub expr: String,
    #[serde(rename = "where")]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    pub absolute: Option<f64>,
    pub relative: Option<f64>,
}

impl Tolerance {
    /// Why this tolerance is not one (a negative or non-finite bound), if it is not.
    pub fn problem(&self) -> Option<String> {
        for (what, v) in [("absolute", self.absolute), ("relative", self.relative)] {
            if let Some(v) = v {
                if !v.is_finite() || v < 0.0 {
                    return Some(format!("tolerance {what} must be a number ≥ 0, not {v}"));
                }
            }
        }
        None
    }

    pub fn describe(&self) -> String {
        match (self.absolute, self.relative) {
            (None, None) => "equal (to float rounding, 1e-12 relative)".into(),
            (Some(a), None) => format!("|Δ| ≤ {}", trim_float(a, 6)),
            (None, Some(r)) => format!("|Δ| ≤ {}", super::percent(r)),
            (Some(a), Some(r)) => format!("|Δ| ≤ {} or ≤ {}", trim_float(a, 6), super::percent(r)),
        }
    }
}

/// The largest relative difference that "equal" allows: far above the rounding of a
/// float sum's order (about 1e-15 on 10 M rows), far below any real discrepancy (a count
/// differing by one passes only above 10^12 rows).
const FLOAT_ROUNDING: f64 = 1e-12;

/// Compares the two sides.
pub fn judge(left: Option<f64>, right: Option<f64>, tolerance: Tolerance) -> Outcome {
    let threshold = tolerance.describe();
    let (Some(l), Some(r)) = (left, right) else {
        return Outcome {
            passed: false,
            observed: serde_json::json!({ "left": left, "right": right }),
            threshold,
            failed_rows: None,
            rows_checked: None,
            message: Some("a side is NULL (no rows in scope)".into()),
        };
    };
    let diff = (l - r).abs();
    let scale = l.abs().max(r.abs());
    let relative = if scale == 0.0 { 0.0 } else { diff / scale };
    let passed = match (tolerance.absolute, tolerance.relative) {
        (None, None) => relative <= FLOAT_ROUNDING,
        (a, rel) => a.is_some_and(|a| diff <= a) || rel.is_some_and(|t| relative <= t),
    };
    Outcome {
        passed,
        observed: serde_json::json!({ "left": l, "right": r, "difference": l - r }),
        threshold,
        failed_rows: None,
        rows_checked: None,
        message: Some(format!(
            "left {} vs right {} (Δ {}, {})",
            trim_float(l, 4),
            trim_float(r, 4),
            trim_float(l - r, 4),
            super::percent(relative)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances() {
        let t = Tolerance {
            absolute: None,
            relative: Some(0.01),
        };
        assert!(judge(Some(100.0), Some(100.5), t).passed);
        assert!(!judge(Some(100.0), Some(102.0), t).passed);
        assert!(judge(Some(1.0), Some(1.0), Tolerance::default()).passed);
        assert!(!judge(Some(1.0), Some(1.000001), Tolerance::default()).passed);
        // The same sum added in two orders (observed: local vs cluster on 10 M rows).
        assert!(
            judge(
                Some(484823537.85000014),
                Some(484823537.8499998),
                Tolerance::default()
            )
            .passed
        );
        assert!(!judge(Some(1e9), Some(1e9 + 1.0), Tolerance::default()).passed);
        assert!(judge(Some(0.0), Some(0.0), Tolerance::default()).passed);
        assert!(!judge(None, Some(1.0), t).passed);
        let a = Tolerance {
            absolute: Some(2.0),
            relative: None,
        };
        assert!(judge(Some(10.0), Some(12.0), a).passed);
    }
}
