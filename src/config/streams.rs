//! `streams:` in rule files: which topics to watch and what to judge.
//!
//! ```yaml
//! streams:
//!   - name: events
//!     topic: shop-events
//!     group: silver-loader        # the consumer group whose lag is judged (optional)
//!     sample: 10s                 # how long to watch
//!     checks:
//!       - latency: { p99_max: 1s }          # now − record timestamp, on live records
//!       - consumer_lag: { max_messages: 10000, max_seconds: 5 }
//!       - min_samples: { min: 100 }
//!   - name: pipeline-probe
//!     topic: dq-probe
//!     probe: true                 # dq produces timestamped records and consumes them itself
//!     sample: 10s
//!     checks:
//!       - latency: { p99_max: 1s }
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::config::rules::Located;
use crate::duration::parse_duration;
use crate::error::Diagnostic;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct StreamRaw {
    name: String,
    topic: String,
    group: Option<String>,
    #[serde(default = "default_sample")]
    sample: String,
    #[serde(default)]
    probe: bool,
    /// Probe records per second (probe streams).
    probe_rate: Option<u32>,
    /// Create the probe topic when it does not exist (default true for probes).
    create_topic: Option<bool>,
    #[serde(default)]
    severity: crate::config::rules::Severity,
    description: Option<String>,
    #[serde(default)]
    checks: Vec<serde_json::Value>,
}

fn default_sample() -> String {
    "10s".into()
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyCheck {
    pub p50_max: Option<String>,
    pub p95_max: Option<String>,
    pub p99_max: Option<String>,
    pub max: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LagCheck {
    pub max_messages: Option<u64>,
    pub max_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinSamplesCheck {
    pub min: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StreamCheck {
    /// Bounds on latency quantiles (already parsed durations).
    Latency {
        p50: Option<Duration>,
        p95: Option<Duration>,
        p99: Option<Duration>,
        max: Option<Duration>,
    },
    ConsumerLag(LagCheck),
    MinSamples(u64),
    /// `change` / `anomaly` of one of the stream's recorded figures (see [`STREAM_METRICS`]),
    /// judged against the metric history after the run.
    History(crate::rules::HistoryRule),
}

/// The stream figures a `change` or `anomaly` check can watch.
pub const STREAM_METRICS: &[&str] = &[
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "offset_lag",
];

impl StreamCheck {
    pub fn kind(&self) -> &'static str {
        match self {
            StreamCheck::Latency { .. } => "latency",
            StreamCheck::ConsumerLag(_) => "consumer_lag",
            StreamCheck::MinSamples(_) => "min_samples",
            StreamCheck::History(crate::rules::HistoryRule::Change(_)) => "change",
            StreamCheck::History(crate::rules::HistoryRule::Anomaly(_)) => "anomaly",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub name: String,
    pub topic: String,
    pub group: Option<String>,
    pub sample: Duration,
    pub probe: bool,
    pub probe_rate: u32,
    pub create_topic: bool,
    pub severity: crate::config::rules::Severity,
    pub description: Option<String>,
    pub checks: Vec<StreamCheck>,
    pub at: Located,
}

const KINDS: &[&str] = &[
    "latency",
    "consumer_lag",
    "min_samples",
    "change",
    "anomaly",
];

fn duration(v: &Option<String>, what: &str) -> Result<Option<Duration>, String> {
    v.as_deref()
        .map(|s| parse_duration(s).map_err(|e| format!("{what}: {e}")))
        .transpose()
}

/// Parses one `streams:` entry.
pub fn parse(value: serde_json::Value, at: &Located) -> Result<StreamSpec, Diagnostic> {
    let raw: StreamRaw = serde_path_to_error::deserialize(value).map_err(|e| {
        let (m, help) = crate::config::yaml::explain_serde_message(&e.inner().to_string(), &[]);
        at.diagnostic(format!("stream: {m}")).with_help(help)
    })?;
    let here = |m: String| at.diagnostic(format!("stream {}: {m}", raw.name));
    let sample = parse_duration(&raw.sample).map_err(|e| here(format!("sample: {e}")))?;
    if sample < Duration::from_millis(100) || sample > Duration::from_secs(3600) {
        return Err(here("sample must be between 100ms and 1h".into()));
    }
    if raw.probe && raw.group.is_some() {
        return Err(here(
            "a probe stream reads its own records; it has no `group` to judge".into(),
        ));
    }
    let mut checks = Vec::new();
    for c in raw.checks {
        let serde_json::Value::Object(map) = c else {
            return Err(here(
                "a stream check is a map with one key, e.g. `- latency: { p99_max: 1s }`".into(),
            ));
        };
        let Some((kind, params)) = map.into_iter().next() else {
            return Err(here("empty check".into()));
        };
        let params = if params.is_null() {
            serde_json::json!({})
        } else {
            params
        };
        let bad = |e: serde_json::Error| {
            let (m, h) = crate::config::yaml::explain_serde_message(&e.to_string(), &[]);
            here(format!("{kind}: {m}")).with_help(h)
        };
        checks.push(match kind.as_str() {
            "latency" => {
                let l: LatencyCheck = serde_json::from_value(params).map_err(bad)?;
                let check = StreamCheck::Latency {
                    p50: duration(&l.p50_max, "p50_max").map_err(&here)?,
                    p95: duration(&l.p95_max, "p95_max").map_err(&here)?,
                    p99: duration(&l.p99_max, "p99_max").map_err(&here)?,
                    max: duration(&l.max, "max").map_err(&here)?,
                };
                if check
                    == (StreamCheck::Latency {
                        p50: None,
                        p95: None,
                        p99: None,
                        max: None,
                    })
                {
                    return Err(here(
                        "latency needs p50_max, p95_max, p99_max or max".into(),
                    ));
                }
                check
            }
            "consumer_lag" => {
                let l: LagCheck = serde_json::from_value(params).map_err(bad)?;
                if raw.group.is_none() {
                    return Err(here("consumer_lag needs the stream's `group`".into()));
                }
                if l.max_messages.is_none() && l.max_seconds.is_none() {
                    return Err(here(
                        "consumer_lag needs max_messages or max_seconds".into(),
                    ));
                }
                StreamCheck::ConsumerLag(l)
            }
            "change" | "anomaly" => {
                let rule = if kind == "change" {
                    let c: crate::rules::change::Change =
                        serde_json::from_value(params).map_err(bad)?;
                    c.validate().map_err(|e| here(format!("change: {e}")))?;
                    crate::rules::HistoryRule::Change(c)
                } else {
                    let a: crate::rules::anomaly::Anomaly =
                        serde_json::from_value(params).map_err(bad)?;
                    a.validate().map_err(|e| here(format!("anomaly: {e}")))?;
                    crate::rules::HistoryRule::Anomaly(a)
                };
                let metric = match &rule {
                    crate::rules::HistoryRule::Change(c) => &c.metric,
                    crate::rules::HistoryRule::Anomaly(a) => &a.metric,
                };
                if !STREAM_METRICS.contains(&metric.as_str()) {
                    return Err(here(format!(
                        "{kind}: a stream's metric is one of {}",
                        STREAM_METRICS.join(", ")
                    )));
                }
                StreamCheck::History(rule)
            }
            "min_samples" => StreamCheck::MinSamples(
                serde_json::from_value::<MinSamplesCheck>(params)
                    .map_err(bad)?
                    .min,
            ),
            other => {
                let help = crate::error::closest(other, KINDS.iter().copied())
                    .map(|s| format!("did you mean `{s}`? kinds: {}", KINDS.join(", ")))
                    .unwrap_or_else(|| format!("kinds: {}", KINDS.join(", ")));
                return Err(here(format!("unknown stream check `{other}`")).with_help(Some(help)));
            }
        });
    }
    Ok(StreamSpec {
        name: raw.name,
        topic: raw.topic,
        group: raw.group,
        sample,
        probe: raw.probe,
        probe_rate: raw.probe_rate.unwrap_or(20).clamp(1, 1000),
        create_topic: raw.create_topic.unwrap_or(raw.probe),
        severity: raw.severity,
        description: raw.description,
        checks,
        at: at.clone(),
    })
}

/// The JSON Schema of one `streams:` entry, its checks included.
pub fn json_schema() -> serde_json::Value {
    let mut s = serde_json::to_value(schemars::schema_for!(StreamRaw)).unwrap_or_default();
    let one = |kind: &str, params: serde_json::Value| {
        serde_json::json!({
            "type": "object",
            "properties": { kind: params },
            "required": [kind],
            "additionalProperties": false,
        })
    };
    let checks = vec![
        one("latency", crate::rules::schema_of::<LatencyCheck>()),
        one("consumer_lag", crate::rules::schema_of::<LagCheck>()),
        one("min_samples", crate::rules::schema_of::<MinSamplesCheck>()),
        one(
            "change",
            crate::rules::schema_of::<crate::rules::change::Change>(),
        ),
        one(
            "anomaly",
            crate::rules::schema_of::<crate::rules::anomaly::Anomaly>(),
        ),
    ];
    s["properties"]["checks"]["items"] = serde_json::json!({ "oneOf": checks });
    s
}
