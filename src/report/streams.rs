//! What stream checks found, as reports carry it (the checking is in [`crate::streams`]).

use serde::Serialize;

use super::Status;

/// Exact latency figures from raw samples (no histogram buckets).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencyStats {
    pub count: u64,
    pub min_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionVerdict {
    /// Caught up at some point in the window, or progressing.
    Ok,
    /// Committing, but lag grew over the whole window.
    Warn,
    /// Lag > 0 and the committed offset did not move during the window.
    Stall,
    /// Lag > 0, no progress, and the first unconsumed record is older than the window:
    /// the consumer has stopped.
    Stop,
    /// The group never committed an offset for this partition: lag is unknown, not 0.
    Unknown,
}

impl PartitionVerdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            PartitionVerdict::Ok => "OK",
            PartitionVerdict::Warn => "WARN",
            PartitionVerdict::Stall => "STALL",
            PartitionVerdict::Stop => "STOP",
            PartitionVerdict::Unknown => "UNKNOWN",
        }
    }
}

/// Per-partition figures of one stream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PartitionResult {
    pub partition: i32,
    /// Records seen during the window (live or probe).
    pub messages: u64,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    pub high_watermark: Option<i64>,
    /// The judged group's committed offset; null when it never committed.
    pub committed: Option<i64>,
    pub offset_lag: Option<i64>,
    /// now − timestamp of the first unconsumed record (0 when caught up).
    pub time_lag_ms: Option<f64>,
    pub verdict: Option<PartitionVerdict>,
}

/// What `dq streams` found for one stream.
#[derive(Debug, Clone, Serialize)]
pub struct StreamResult {
    pub name: String,
    pub topic: String,
    pub group: Option<String>,
    pub probe: bool,
    pub sample_seconds: f64,
    pub status: Status,
    pub error: Option<String>,
    pub latency: LatencyStats,
    /// CreateTime or LogAppendTime (live streams).
    pub timestamp_type: Option<String>,
    /// Live records whose timestamp was in the future (clamped to 0 latency).
    pub clock_skew_samples: u64,
    pub probes_sent: Option<u64>,
    pub probes_lost: Option<u64>,
    /// From ListGroups, best effort: "unknown" when the broker does not say.
    pub group_state: Option<String>,
    /// How often the group's committed offsets moved during the window.
    pub commit_interval_ms: Option<f64>,
    pub partitions: Vec<PartitionResult>,
}
