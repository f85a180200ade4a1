//! A metric changed by no more than given bounds since an earlier run (metric history).
//!
//! Parameters:
//! - `metric`: `row_count`, `bytes` or `files` of the dataset; or another check of the
//!   dataset by name, its observed value (`mean(amount)`), or `NAME.failed_fraction` /
//!   `NAME.failed_rows`
//! - `compare_to`: `previous` (default: the last earlier run in which this check did not
//!   fail), `{ runs_ago: N }`, or `{ ago: 7d }` (the last such run at least that long before
//!   this run's evaluation instant)
//! - `max_drop` / `max_growth`: largest relative fall / rise allowed (0.2 = 20 %)
//! - `max_decrease` / `max_increase`: largest absolute fall / rise allowed
//!
//! At least one bound is required. Judged after the run's other checks, against the
//! history of the environment (see `dq history`); runs in which this check failed or
//! warned are never the baseline. Without an earlier run the status is
//! `insufficient_history`: neither pass nor fail.
//!
//! Example:
//! ```yaml
//! - change: { metric: row_count, compare_to: previous, max_drop: 0.2 }
//! - change: { metric: not_null(email).failed_fraction, compare_to: { ago: 7d }, max_increase: 0.01 }
//! ```

use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as};

pub const KIND: RuleKind = RuleKind {
    name: "change",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("change.rs"),
    parse: parse_as::<Change>,
    schema: schema_of::<Change>,
};

#[derive(Debug, Clone, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub metric: String,
    #[serde(default)]
    pub compare_to: CompareTo,
    pub max_drop: Option<f64>,
    pub max_growth: Option<f64>,
    pub max_decrease: Option<f64>,
    pub max_increase: Option<f64>,
}

/// Which earlier run a `change` compares with.
#[derive(Debug, Clone, Deserialize, PartialEq, Default, schemars::JsonSchema)]
#[serde(untagged)]
pub enum CompareTo {
    #[default]
    #[serde(skip)]
    Previous,
    Named(PreviousName),
    RunsAgo {
        runs_ago: usize,
    },
    Ago {
        ago: String,
    },
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreviousName {
    Previous,
}

impl Rule for Change {
    fn default_name(&self) -> String {
        format!("change({})", self.metric)
    }

    fn compile(&self, _cx: &CompileContext<'_>) -> Result<Compiled, String> {
        self.validate()?;
        super::history_compiled(&self.metric)
    }

    fn history(&self) -> Option<super::HistoryRule> {
        Some(super::HistoryRule::Change(self.clone()))
    }
}

impl Change {
    /// The parameters make sense (a bound, non-negative bounds, a valid `compare_to`).
    pub fn validate(&self) -> Result<(), String> {
        if [
            self.max_drop,
            self.max_growth,
            self.max_decrease,
            self.max_increase,
        ]
        .iter()
        .all(Option::is_none)
        {
            return Err(
                "change needs a bound: max_drop, max_growth, max_decrease or max_increase".into(),
            );
        }
        for (name, v) in [
            ("max_drop", self.max_drop),
            ("max_growth", self.max_growth),
            ("max_decrease", self.max_decrease),
            ("max_increase", self.max_increase),
        ] {
            if v.is_some_and(|v| v.is_nan() || v < 0.0) {
                return Err(format!("{name} must be a number ≥ 0"));
            }
        }
        match &self.compare_to {
            CompareTo::RunsAgo { runs_ago: 0 } => {
                return Err("runs_ago must be at least 1".into());
            }
            CompareTo::Ago { ago } => {
                crate::duration::parse_duration(ago).map_err(|e| format!("compare_to.ago: {e}"))?;
            }
            _ => {}
        }
        Ok(())
    }
}
