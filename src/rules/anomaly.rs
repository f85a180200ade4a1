//! A metric is not an outlier against its own past runs (metric history).
//!
//! Parameters:
//! - `metric`: as for `change` (`row_count`, `bytes`, `files`, a check's name,
//!   `NAME.failed_fraction`, `NAME.failed_rows`)
//! - `window` (default 30): earlier runs in the training window
//! - `min_history` (default 7): fewer usable earlier runs than this is `insufficient_history`
//! - `method`: `mad` (default: median and median absolute deviation) or `stddev`
//! - `sensitivity` (default 3.5): the largest |z| that is normal
//! - `direction`: `both` (default), `up` or `down`
//! - `seasonality`: `none` (default) or `weekly` (compare with the same weekday only)
//!
//! The window holds earlier runs of this environment only — never the current run — and
//! leaves out runs in which this check was flagged or failed, so an incident does not
//! become the baseline. Why the median and MAD: one bad night moves a mean and standard
//! deviation so far that the next bad night looks normal; the median and MAD hardly move,
//! and data-quality metrics are rarely normal. With too little history the status is
//! `insufficient_history` ("3 of 7 runs"): neither pass nor fail.
//!
//! Example:
//! ```yaml
//! - anomaly: { metric: row_count, direction: down, seasonality: weekly }
//! ```

use serde::Deserialize;

use super::schema_of;
use super::{CompileContext, Compiled, Placement, Rule, RuleKind, parse_as};
use crate::history::judge::{Direction, Method};

pub const KIND: RuleKind = RuleKind {
    name: "anomaly",
    placement: Placement::Dataset,
    row_level: false,
    source: include_str!("anomaly.rs"),
    parse: parse_as::<Anomaly>,
    schema: schema_of::<Anomaly>,
};

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Seasonality {
    #[default]
    None,
    Weekly,
}

#[derive(Debug, Clone, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Anomaly {
    pub metric: String,
    #[serde(default = "thirty")]
    pub window: usize,
    #[serde(default = "seven")]
    pub min_history: usize,
    #[serde(default)]
    pub method: Method,
    #[serde(default = "three_and_a_half")]
    pub sensitivity: f64,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub seasonality: Seasonality,
}

fn thirty() -> usize {
    30
}
fn seven() -> usize {
    7
}
fn three_and_a_half() -> f64 {
    3.5
}

impl Rule for Anomaly {
    fn default_name(&self) -> String {
        format!("anomaly({})", self.metric)
    }

    fn compile(&self, _cx: &CompileContext<'_>) -> Result<Compiled, String> {
        self.validate()?;
        super::history_compiled(&self.metric)
    }

    fn history(&self) -> Option<super::HistoryRule> {
        Some(super::HistoryRule::Anomaly(self.clone()))
    }
}

impl Anomaly {
    /// The parameters make sense (window, minimum history, sensitivity).
    pub fn validate(&self) -> Result<(), String> {
        if self.window < 2 {
            return Err("window must be at least 2 runs".into());
        }
        if self.min_history < 2 || self.min_history > self.window {
            return Err(format!(
                "min_history must be between 2 and window ({})",
                self.window
            ));
        }
        if self.sensitivity.is_nan() || self.sensitivity <= 0.0 {
            return Err("sensitivity must be a number > 0".into());
        }
        Ok(())
    }
}
