//! Pure functions over stream samples: exact quantiles and Burrow-style lag verdicts.

use serde::Serialize;

/// Nearest-rank quantile of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

pub fn latency_stats(samples_ms: &[f64]) -> LatencyStats {
    let mut sorted: Vec<f64> = samples_ms
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    sorted.sort_by(|a, b| a.total_cmp(b));
    LatencyStats {
        count: sorted.len() as u64,
        min_ms: sorted.first().copied(),
        p50_ms: quantile(&sorted, 0.50),
        p95_ms: quantile(&sorted, 0.95),
        p99_ms: quantile(&sorted, 0.99),
        max_ms: sorted.last().copied(),
    }
}

/// One observation of a partition: the high watermark and the group's committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LagSample {
    pub at_ms: u64,
    pub high_watermark: i64,
    /// None: the group has no committed offset for the partition.
    pub committed: Option<i64>,
}

impl LagSample {
    /// Offset lag, never negative (the watermark and the commit are read at different instants).
    pub fn lag(&self) -> Option<i64> {
        self.committed.map(|c| (self.high_watermark - c).max(0))
    }
}

pub use crate::report::streams::{LatencyStats, PartitionVerdict};

/// Judges one partition over the sampling window.
pub fn verdict(
    samples: &[LagSample],
    time_lag_ms: Option<f64>,
    window_ms: f64,
) -> PartitionVerdict {
    let known: Vec<&LagSample> = samples.iter().filter(|s| s.committed.is_some()).collect();
    if known.is_empty() {
        return PartitionVerdict::Unknown;
    }
    let lags: Vec<i64> = known.iter().filter_map(|s| s.lag()).collect();
    if lags.contains(&0) {
        return PartitionVerdict::Ok;
    }
    let first = known.first().and_then(|s| s.committed);
    let last = known.last().and_then(|s| s.committed);
    if first == last {
        return if time_lag_ms.is_some_and(|t| t > window_ms) {
            PartitionVerdict::Stop
        } else {
            PartitionVerdict::Stall
        };
    }
    let growing = lags.windows(2).all(|w| w[1] >= w[0]) && lags.last() > lags.first();
    if growing {
        PartitionVerdict::Warn
    } else {
        PartitionVerdict::Ok
    }
}

/// How often the committed offset moved: the window divided by the number of moves
/// (the whole window when it never moved). Time lag from commits is no finer than this.
pub fn commit_interval_ms(samples: &[LagSample], window_ms: f64) -> f64 {
    let moves = samples
        .windows(2)
        .filter(|w| {
            w[0].committed.is_some() && w[1].committed.is_some() && w[0].committed != w[1].committed
        })
        .count();
    if moves == 0 {
        window_ms
    } else {
        window_ms / moves as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at: u64, high: i64, committed: Option<i64>) -> LagSample {
        LagSample {
            at_ms: at,
            high_watermark: high,
            committed,
        }
    }

    #[test]
    fn exact_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let st = latency_stats(&v);
        assert_eq!(
            (st.p50_ms, st.p95_ms, st.p99_ms, st.max_ms),
            (Some(50.0), Some(95.0), Some(99.0), Some(100.0))
        );
        // A 1 s threshold does not fall between buckets: 999 and 1001 stay apart.
        let st = latency_stats(&[999.0, 1001.0]);
        assert_eq!(st.p99_ms, Some(1001.0));
        assert_eq!(latency_stats(&[]).count, 0);
    }

    #[test]
    fn lag_verdicts() {
        assert_eq!(
            verdict(&[s(0, 10, None), s(1000, 12, None)], None, 2000.0),
            PartitionVerdict::Unknown
        );
        assert_eq!(
            verdict(&[s(0, 10, Some(10)), s(1000, 12, Some(12))], None, 2000.0),
            PartitionVerdict::Ok
        );
        assert_eq!(
            verdict(
                &[s(0, 10, Some(5)), s(1000, 15, Some(5))],
                Some(500.0),
                2000.0
            ),
            PartitionVerdict::Stall
        );
        assert_eq!(
            verdict(
                &[s(0, 10, Some(5)), s(1000, 10, Some(5))],
                Some(60_000.0),
                2000.0
            ),
            PartitionVerdict::Stop
        );
        assert_eq!(
            verdict(
                &[
                    s(0, 10, Some(5)),
                    s(1000, 20, Some(8)),
                    s(2000, 30, Some(12))
                ],
                None,
                2000.0
            ),
            PartitionVerdict::Warn
        );
        assert_eq!(
            verdict(&[s(0, 10, Some(5)), s(1000, 20, Some(18))], None, 2000.0),
            PartitionVerdict::Ok
        );
        // A commit read before the watermark can exceed it: lag is clamped, never negative.
        assert_eq!(s(0, 10, Some(11)).lag(), Some(0));
    }

    #[test]
    fn commit_interval() {
        let samples = [
            s(0, 10, Some(1)),
            s(1000, 10, Some(1)),
            s(2000, 10, Some(5)),
            s(3000, 10, Some(5)),
        ];
        assert_eq!(commit_interval_ms(&samples, 3000.0), 3000.0);
        assert_eq!(commit_interval_ms(&samples[..2], 1000.0), 1000.0);
        // Three moves in a 3 s window: one every second (not the whole window).
        let moving = [
            s(0, 10, Some(1)),
            s(1000, 10, Some(2)),
            s(2000, 10, Some(3)),
            s(3000, 10, Some(4)),
        ];
        assert_eq!(commit_interval_ms(&moving, 3000.0), 1000.0);
        // A partition without commits moves never: the whole window.
        let none = [s(0, 10, None), s(1000, 10, None)];
        assert_eq!(commit_interval_ms(&none, 1000.0), 1000.0);
    }
}
