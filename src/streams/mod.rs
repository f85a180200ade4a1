//! Stream checks against Kafka: end-to-end latency from dq's own probe records (the proof
//! of "< 1 s": produced and consumed in one process, so no clock skew), latency of live
//! records, and consumer-group lag sampled across the window. Every broker call has a
//! timeout; dq never joins the judged group (it only reads its committed offsets).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, Timestamp};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::project::KafkaSettings;
use crate::config::rules::Severity;
use crate::report::{CheckResult, Status};

pub mod stats;

pub use crate::report::streams::{PartitionResult, StreamResult};

use crate::config::streams::{StreamCheck, StreamSpec};
use stats::{LagSample, LatencyStats, PartitionVerdict};

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

pub fn timeout_of(settings: &KafkaSettings) -> Duration {
    settings
        .timeout
        .as_deref()
        .and_then(|t| crate::duration::parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(5))
}

fn client_config(settings: &KafkaSettings, group: &str) -> ClientConfig {
    let timeout_ms = timeout_of(settings).as_millis().to_string();
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &settings.brokers)
        .set("client.id", settings.client_id.as_deref().unwrap_or("dq"))
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("socket.timeout.ms", &timeout_ms)
        .set("socket.connection.setup.timeout.ms", &timeout_ms)
        .set("message.timeout.ms", &timeout_ms)
        .set("fetch.wait.max.ms", "50")
        .set("linger.ms", "0")
        .set("log_level", "0");
    for (k, v) in &settings.options {
        c.set(k, v);
    }
    c
}

fn own_group(stream: &str) -> String {
    format!("dq-{stream}-{}-{}", std::process::id(), now_ms() as u64)
}

/// An authorization failure: the run cannot judge the stream (exit 3), however long it
/// waits, so it says so instead of reporting "no records".
fn is_denied(code: rdkafka::types::RDKafkaErrorCode) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        code,
        C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::SaslAuthenticationFailed
    )
}

/// A consume error that ends the stream's run, if it is one.
fn fatal_poll_error(settings: &KafkaSettings, e: &rdkafka::error::KafkaError) -> Option<String> {
    e.rdkafka_error_code()
        .filter(|c| is_denied(*c))
        .map(|c| kafka_error(settings, "access denied while consuming", c))
}

fn kafka_error(settings: &KafkaSettings, what: &str, e: impl std::fmt::Display) -> String {
    crate::engine::store::scrub(&format!("{what} (brokers {}): {e}", settings.brokers))
}

/// Partitions of `topic`, creating it first when allowed.
fn partitions(
    consumer: &BaseConsumer,
    settings: &KafkaSettings,
    spec: &StreamSpec,
) -> Result<Vec<i32>, String> {
    let timeout = timeout_of(settings);
    let lookup = |c: &BaseConsumer| -> Result<Option<Vec<i32>>, String> {
        let md = c
            .fetch_metadata(Some(&spec.topic), timeout)
            .map_err(|e| kafka_error(settings, "cannot reach Kafka within the timeout", e))?;
        let Some(t) = md.topics().iter().find(|t| t.name() == spec.topic) else {
            return Ok(None);
        };
        if let Some(e) = t.error() {
            let code = rdkafka::types::RDKafkaErrorCode::from(e);
            if is_denied(code) {
                return Err(kafka_error(
                    settings,
                    &format!("access to topic `{}` is denied", spec.topic),
                    code,
                ));
            }
        }
        if t.error().is_some() || t.partitions().is_empty() {
            return Ok(None);
        }
        Ok(Some(t.partitions().iter().map(|p| p.id()).collect()))
    };
    if let Some(p) = lookup(consumer)? {
        return Ok(p);
    }
    if !spec.create_topic {
        return Err(format!(
            "topic `{}` does not exist (set create_topic: true to let dq create it)",
            spec.topic
        ));
    }
    let admin: AdminClient<DefaultClientContext> = client_config(settings, &own_group("admin"))
        .create()
        .map_err(|e| kafka_error(settings, "cannot create an admin client", e))?;
    let topic = NewTopic::new(&spec.topic, 1, TopicReplication::Fixed(1));
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let results =
        futures::executor::block_on(admin.create_topics([&topic], &options)).map_err(|e| {
            kafka_error(
                settings,
                &format!("cannot create topic `{}`", spec.topic),
                e,
            )
        })?;
    for r in results {
        if let Err((_, code)) = r {
            if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                return Err(kafka_error(
                    settings,
                    &format!("cannot create topic `{}`", spec.topic),
                    code,
                ));
            }
        }
    }
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(p) = lookup(consumer)? {
            return Ok(p);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "topic `{}` was created but has no partitions yet",
        spec.topic
    ))
}

/// Assigns every partition at its current end.
fn assign_at_end(
    consumer: &BaseConsumer,
    settings: &KafkaSettings,
    topic: &str,
    parts: &[i32],
) -> Result<(), String> {
    let mut tpl = TopicPartitionList::new();
    for p in parts {
        let (_, high) = consumer
            .fetch_watermarks(topic, *p, timeout_of(settings))
            .map_err(|e| kafka_error(settings, "cannot read watermarks", e))?;
        tpl.add_partition_offset(topic, *p, Offset::Offset(high))
            .map_err(|e| e.to_string())?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| kafka_error(settings, "cannot assign partitions", e))
}

struct Observed {
    samples: Vec<(i32, f64)>,
    timestamp_type: Option<String>,
    skew: u64,
    sent: Option<u64>,
    lost: Option<u64>,
}

/// Produces timestamped probe records and consumes them in the same process.
fn run_probe(settings: &KafkaSettings, spec: &StreamSpec) -> Result<(Observed, Vec<i32>), String> {
    let consumer: BaseConsumer = client_config(settings, &own_group(&spec.name))
        .create()
        .map_err(|e| kafka_error(settings, "cannot create a consumer", e))?;
    let parts = partitions(&consumer, settings, spec)?;
    assign_at_end(&consumer, settings, &spec.topic, &parts)?;
    let producer: BaseProducer = client_config(settings, &own_group("producer"))
        .create()
        .map_err(|e| kafka_error(settings, "cannot create a producer", e))?;
    let run_id: u64 = (now_ms() as u64) ^ ((std::process::id() as u64) << 40);
    let key = run_id.to_be_bytes();
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / spec.probe_rate as f64);
    let mut sent: BTreeMap<u64, ()> = BTreeMap::new();
    let mut samples = Vec::new();
    let mut next_send = start;
    let mut seq = 0u64;
    let window_end = start + spec.sample;
    let grace = timeout_of(settings).max(Duration::from_secs(2));
    let receive = |consumer: &BaseConsumer,
                   wait: Duration,
                   samples: &mut Vec<(i32, f64)>,
                   sent: &mut BTreeMap<u64, ()>| {
        if let Some(Ok(m)) = consumer.poll(wait) {
            if m.key() == Some(&key[..]) {
                if let Some(p) = m.payload().filter(|p| p.len() == 16) {
                    let s = u64::from_be_bytes(p[..8].try_into().unwrap_or_default());
                    let sent_at = u64::from_be_bytes(p[8..].try_into().unwrap_or_default());
                    let latency = start.elapsed().as_nanos() as f64 - sent_at as f64;
                    if sent.remove(&s).is_some() {
                        samples.push((m.partition(), latency / 1e6));
                    }
                }
            }
        }
    };
    while Instant::now() < window_end {
        if Instant::now() >= next_send {
            let mut payload = [0u8; 16];
            payload[..8].copy_from_slice(&seq.to_be_bytes());
            payload[8..].copy_from_slice(&(start.elapsed().as_nanos() as u64).to_be_bytes());
            match producer.send(
                BaseRecord::to(&spec.topic)
                    .key(&key[..])
                    .payload(&payload[..]),
            ) {
                Ok(()) => {
                    sent.insert(seq, ());
                }
                Err((e, _)) => {
                    return Err(kafka_error(settings, "cannot produce probe records", e));
                }
            }
            seq += 1;
            next_send += interval;
            producer.poll(Duration::ZERO);
        }
        let wait = next_send
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(20));
        receive(&consumer, wait, &mut samples, &mut sent);
    }
    let _ = producer.flush(timeout_of(settings));
    let drain_end = Instant::now() + grace;
    while !sent.is_empty() && Instant::now() < drain_end {
        receive(
            &consumer,
            Duration::from_millis(50),
            &mut samples,
            &mut sent,
        );
    }
    if seq > 0 && samples.is_empty() && sent.len() as u64 == seq {
        // Nothing came back at all: say so rather than report 100% loss silently.
        tracing::warn!(stream = %spec.name, "no probe record came back within the window");
    }
    Ok((
        Observed {
            samples,
            timestamp_type: Some("probe (same-process clock)".into()),
            skew: 0,
            sent: Some(seq),
            lost: Some(sent.len() as u64),
        },
        parts,
    ))
}

/// Consumes live records from the end with dq's own group: latency = now − record time.
fn run_live(settings: &KafkaSettings, spec: &StreamSpec) -> Result<(Observed, Vec<i32>), String> {
    let consumer: BaseConsumer = client_config(settings, &own_group(&spec.name))
        .create()
        .map_err(|e| kafka_error(settings, "cannot create a consumer", e))?;
    let parts = partitions(&consumer, settings, spec)?;
    assign_at_end(&consumer, settings, &spec.topic, &parts)?;
    let end = Instant::now() + spec.sample;
    let mut samples = Vec::new();
    let mut skew = 0;
    let mut kind = None;
    while Instant::now() < end {
        let wait = end
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        match consumer.poll(wait) {
            Some(Ok(m)) => {
                let (ts, k) = match m.timestamp() {
                    Timestamp::CreateTime(t) => (t, "CreateTime"),
                    Timestamp::LogAppendTime(t) => (t, "LogAppendTime"),
                    Timestamp::NotAvailable => continue,
                };
                kind.get_or_insert(k.to_string());
                let latency = now_ms() - ts as f64;
                if latency < 0.0 {
                    skew += 1;
                }
                samples.push((m.partition(), latency.max(0.0)));
            }
            Some(Err(e)) => {
                if let Some(fatal) = fatal_poll_error(settings, &e) {
                    return Err(fatal);
                }
                tracing::debug!(stream = %spec.name, "consume error: {e}")
            }
            None => {}
        }
    }
    Ok((
        Observed {
            samples,
            timestamp_type: kind,
            skew,
            sent: None,
            lost: None,
        },
        parts,
    ))
}

/// Lag samples per partition, and the topic's partitions.
type LagSamples = (BTreeMap<i32, Vec<LagSample>>, Vec<i32>);

/// Samples the judged group's committed offsets and the watermarks across the window.
fn sample_lag(
    settings: &KafkaSettings,
    spec: &StreamSpec,
    group: &str,
) -> Result<LagSamples, String> {
    let timeout = timeout_of(settings);
    // A consumer configured with the group id but never subscribed: it reads the group's
    // committed offsets (OffsetFetch) without joining the group.
    let reader: BaseConsumer = client_config(settings, group)
        .create()
        .map_err(|e| kafka_error(settings, "cannot create a consumer", e))?;
    let parts = partitions(
        &reader,
        settings,
        &StreamSpec {
            create_topic: false,
            ..spec.clone()
        },
    )?;
    let every = (spec.sample / 5).clamp(Duration::from_millis(200), Duration::from_secs(2));
    let start = Instant::now();
    let mut out: BTreeMap<i32, Vec<LagSample>> = BTreeMap::new();
    loop {
        let mut tpl = TopicPartitionList::new();
        for p in &parts {
            tpl.add_partition(&spec.topic, *p);
        }
        // The commit first, then the watermark: a watermark read later can only be higher.
        let committed = reader.committed_offsets(tpl, timeout).map_err(|e| {
            kafka_error(
                settings,
                &format!("cannot read the committed offsets of group `{group}`"),
                e,
            )
        })?;
        for p in &parts {
            let c = committed
                .find_partition(&spec.topic, *p)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            let (_, high) = reader
                .fetch_watermarks(&spec.topic, *p, timeout)
                .map_err(|e| kafka_error(settings, "cannot read watermarks", e))?;
            out.entry(*p).or_default().push(LagSample {
                at_ms: start.elapsed().as_millis() as u64,
                high_watermark: high,
                committed: c,
            });
        }
        if start.elapsed() + every > spec.sample {
            break;
        }
        std::thread::sleep(every);
    }
    Ok((out, parts))
}

/// now − timestamp of the record at `offset` (the first one the group has not consumed).
fn time_lag(
    settings: &KafkaSettings,
    spec: &StreamSpec,
    partition: i32,
    offset: i64,
) -> Option<f64> {
    let consumer: BaseConsumer = client_config(settings, &own_group(&spec.name))
        .create()
        .ok()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&spec.topic, partition, Offset::Offset(offset))
        .ok()?;
    consumer.assign(&tpl).ok()?;
    let end = Instant::now() + timeout_of(settings);
    while Instant::now() < end {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            if m.partition() == partition && m.offset() >= offset {
                return m
                    .timestamp()
                    .to_millis()
                    .map(|t| (now_ms() - t as f64).max(0.0));
            }
        }
    }
    None
}

fn group_state(settings: &KafkaSettings, group: &str) -> String {
    let Ok(consumer) = client_config(settings, &own_group("groups")).create::<BaseConsumer>()
    else {
        return "unknown".into();
    };
    match consumer.fetch_group_list(Some(group), timeout_of(settings)) {
        Ok(list) => list
            .groups()
            .first()
            .map(|g| g.state().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into()),
        Err(_) => "unknown".into(),
    }
}

/// Runs one stream (blocking; call from a blocking task).
pub fn run_stream(settings: &KafkaSettings, spec: &StreamSpec) -> StreamResult {
    let mut result = StreamResult {
        name: spec.name.clone(),
        topic: spec.topic.clone(),
        group: spec.group.clone(),
        probe: spec.probe,
        sample_seconds: spec.sample.as_secs_f64(),
        status: Status::Pass,
        error: None,
        latency: LatencyStats::default(),
        timestamp_type: None,
        clock_skew_samples: 0,
        probes_sent: None,
        probes_lost: None,
        group_state: None,
        commit_interval_ms: None,
        partitions: vec![],
    };
    let needs_latency = spec.probe
        || spec
            .checks
            .iter()
            .any(|c| !matches!(c, StreamCheck::ConsumerLag(_)));
    let lag = std::thread::scope(|scope| {
        let lag = spec
            .group
            .as_deref()
            .map(|g| scope.spawn(move || sample_lag(settings, spec, g)));
        let observed = if needs_latency {
            Some(if spec.probe {
                run_probe(settings, spec)
            } else {
                run_live(settings, spec)
            })
        } else {
            None
        };
        (
            observed,
            lag.map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("lag sampling failed".into()))
            }),
        )
    });
    let (observed, lag) = lag;
    let mut parts: BTreeMap<i32, PartitionResult> = BTreeMap::new();
    match observed {
        Some(Ok((o, ps))) => {
            for p in ps {
                parts.entry(p).or_insert_with(|| PartitionResult {
                    partition: p,
                    ..Default::default()
                });
            }
            let all: Vec<f64> = o.samples.iter().map(|(_, v)| *v).collect();
            result.latency = stats::latency_stats(&all);
            for (p, entry) in parts.iter_mut() {
                let mine: Vec<f64> = o
                    .samples
                    .iter()
                    .filter(|(q, _)| q == p)
                    .map(|(_, v)| *v)
                    .collect();
                let st = stats::latency_stats(&mine);
                entry.messages = st.count;
                entry.latency_p99_ms = st.p99_ms;
                entry.latency_max_ms = st.max_ms;
            }
            result.timestamp_type = o.timestamp_type;
            result.clock_skew_samples = o.skew;
            result.probes_sent = o.sent;
            result.probes_lost = o.lost;
        }
        Some(Err(e)) => result.error = Some(e),
        None => {}
    }
    match lag {
        Some(Ok((samples, ps))) => {
            let window_ms = spec.sample.as_secs_f64() * 1000.0;
            let mut interval: f64 = 0.0;
            for p in ps {
                let s = samples.get(&p).cloned().unwrap_or_default();
                let last = s.last().copied();
                let entry = parts.entry(p).or_insert_with(|| PartitionResult {
                    partition: p,
                    ..Default::default()
                });
                entry.high_watermark = last.map(|l| l.high_watermark);
                entry.committed = last.and_then(|l| l.committed);
                entry.offset_lag = last.and_then(|l| l.lag());
                entry.time_lag_ms = match (entry.offset_lag, entry.committed) {
                    (Some(0), _) => Some(0.0),
                    (Some(_), Some(c)) => time_lag(settings, spec, p, c),
                    _ => None,
                };
                entry.verdict = Some(stats::verdict(&s, entry.time_lag_ms, window_ms));
                interval = interval.max(stats::commit_interval_ms(&s, window_ms));
            }
            result.commit_interval_ms = Some(interval);
            result.group_state = spec.group.as_deref().map(|g| group_state(settings, g));
        }
        Some(Err(e)) => result.error = Some(result.error.take().unwrap_or(e)),
        None => {}
    }
    result.partitions = parts.into_values().collect();
    result
}

/// Judges the stream's checks; results join the report like dataset checks.
/// The name of the stream's `i`th check in reports: its kind, or `kind_i` when the stream
/// has several of that kind.
pub fn check_name(spec: &StreamSpec, i: usize) -> String {
    let kind = spec.checks[i].kind();
    if spec.checks.iter().filter(|c| c.kind() == kind).count() > 1 {
        format!("{kind}_{i}")
    } else {
        kind.to_string()
    }
}

pub fn judge(spec: &StreamSpec, r: &StreamResult) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for (i, check) in spec.checks.iter().enumerate() {
        let kind = check.kind();
        let name = check_name(spec, i);
        let (passed, observed, threshold, message) = match &r.error {
            Some(e) => (
                None,
                serde_json::Value::Null,
                String::new(),
                Some(e.clone()),
            ),
            None => {
                let (p, o, t, m) = judge_one(check, r);
                (Some(p), o, t, m)
            }
        };
        let status = match passed {
            None => Status::Error,
            Some(true) => Status::Pass,
            Some(false) if spec.severity == Severity::Warn => Status::Warn,
            Some(false) => Status::Fail,
        };
        out.push(CheckResult {
            id: format!("streams.{}.{name}", spec.name),
            layer: "streams".into(),
            dataset: Some(format!("streams.{}", spec.name)),
            name,
            kind: kind.into(),
            severity: spec.severity,
            status,
            observed,
            threshold,
            failed_rows: None,
            rows_checked: None,
            failed_fraction: None,
            message,
            description: spec.description.clone(),
            sample_failures: vec![],
            sql: format!(
                "-- Kafka topic {}{}",
                spec.topic,
                spec.group
                    .as_deref()
                    .map(|g| format!(", group {g}"))
                    .unwrap_or_default()
            ),
            duration_ms: (r.sample_seconds * 1000.0) as u64,
            source: format!(
                "{}:{}:{}",
                spec.at.file.display(),
                spec.at.line,
                spec.at.column
            ),
            previous: None,
        });
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn judge_one(
    check: &StreamCheck,
    r: &StreamResult,
) -> (bool, serde_json::Value, String, Option<String>) {
    let l = &r.latency;
    match check {
        StreamCheck::History(_) => {
            let o = crate::rules::Outcome::judged_later();
            (true, o.observed, o.threshold, o.message)
        }
        StreamCheck::Latency { p50, p95, p99, max } => {
            let bounds = [
                ("p50", *p50, l.p50_ms),
                ("p95", *p95, l.p95_ms),
                ("p99", *p99, l.p99_ms),
                ("max", *max, l.max_ms),
            ];
            let threshold = bounds
                .iter()
                .filter_map(|(n, b, _)| {
                    b.map(|b| format!("{n} ≤ {}", crate::duration::format_duration(b)))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let observed = serde_json::json!({ "count": l.count, "p50_ms": l.p50_ms, "p95_ms": l.p95_ms, "p99_ms": l.p99_ms, "max_ms": l.max_ms });
            if l.count == 0 {
                let why = if r.probe {
                    "no probe record came back within the window"
                } else {
                    "no live record arrived within the window"
                };
                return (
                    false,
                    observed,
                    threshold,
                    Some(format!("too little data: {why}")),
                );
            }
            let over: Vec<String> = bounds
                .iter()
                .filter_map(|(n, b, v)| match (b, v) {
                    (Some(b), Some(v)) if *v > ms(*b) => {
                        Some(format!("{n} {v:.0} ms > {:.0} ms", ms(*b)))
                    }
                    _ => None,
                })
                .collect();
            let mut msg = format!(
                "{} samples: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                l.count,
                l.p50_ms.unwrap_or(0.0),
                l.p99_ms.unwrap_or(0.0),
                l.max_ms.unwrap_or(0.0)
            );
            if let Some(lost) = r.probes_lost.filter(|n| *n > 0) {
                msg.push_str(&format!("; {lost} probe(s) lost"));
            }
            if !over.is_empty() {
                msg = format!("{}; {msg}", over.join(", "));
            }
            let lost_any = r.probes_lost.is_some_and(|n| n > 0);
            (over.is_empty() && !lost_any, observed, threshold, Some(msg))
        }
        StreamCheck::MinSamples(min) => (
            l.count >= *min,
            serde_json::json!(l.count),
            format!("≥ {min} samples"),
            (l.count < *min)
                .then(|| format!("only {} samples in {:.0} s", l.count, r.sample_seconds)),
        ),
        StreamCheck::ConsumerLag(c) => {
            let mut problems = Vec::new();
            let unknown: Vec<i32> = r
                .partitions
                .iter()
                .filter(|p| p.verdict == Some(PartitionVerdict::Unknown))
                .map(|p| p.partition)
                .collect();
            if !unknown.is_empty() {
                problems.push(format!("group has no committed offset for partition(s) {unknown:?}: lag unknown (not 0)"));
            }
            for p in &r.partitions {
                if let Some(v @ (PartitionVerdict::Stall | PartitionVerdict::Stop)) = p.verdict {
                    problems.push(format!(
                        "partition {} {}: committed offset not moving with lag {}",
                        p.partition,
                        v.as_str(),
                        p.offset_lag.unwrap_or(0)
                    ));
                }
            }
            let total: i64 = r.partitions.iter().filter_map(|p| p.offset_lag).sum();
            let worst_time = r
                .partitions
                .iter()
                .filter_map(|p| p.time_lag_ms)
                .fold(0.0_f64, f64::max);
            if let Some(max) = c.max_messages {
                if total as u64 > max {
                    problems.push(format!("offset lag {total} > {max}"));
                }
            }
            if let Some(max_s) = c.max_seconds {
                let interval = r.commit_interval_ms.unwrap_or(0.0);
                if total > 0 && interval > max_s * 1000.0 {
                    problems.push(format!(
                        "cannot verify from commits: offsets were committed every ~{:.1} s, coarser than the {max_s} s threshold (use a probe stream)",
                        interval / 1000.0
                    ));
                } else if worst_time > max_s * 1000.0 {
                    problems.push(format!("time lag {:.1} s > {max_s} s", worst_time / 1000.0));
                }
            }
            let threshold = [
                c.max_messages.map(|m| format!("≤ {m} messages")),
                c.max_seconds.map(|s| format!("≤ {s} s")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            let verdicts: Vec<String> = r
                .partitions
                .iter()
                .filter_map(|p| p.verdict.map(|v| format!("{}:{}", p.partition, v.as_str())))
                .collect();
            let observed = serde_json::json!({ "offset_lag": total, "time_lag_ms": worst_time, "verdicts": verdicts });
            let message = if problems.is_empty() {
                Some(format!(
                    "offset lag {total}, time lag {:.1} s, partitions {}",
                    worst_time / 1000.0,
                    verdicts.join(" ")
                ))
            } else {
                Some(problems.join("; "))
            };
            (problems.is_empty(), observed, threshold, message)
        }
    }
}

/// Runs every stream concurrently and judges them.
pub async fn run(
    settings: &KafkaSettings,
    specs: &[StreamSpec],
) -> (Vec<StreamResult>, Vec<CheckResult>) {
    let handles: Vec<_> = specs
        .iter()
        .map(|spec| {
            let (settings, spec) = (settings.clone(), spec.clone());
            tokio::task::spawn_blocking(move || {
                let r = run_stream(&settings, &spec);
                let checks = judge(&spec, &r);
                (r, checks)
            })
        })
        .collect();
    let mut results = Vec::new();
    let mut checks = Vec::new();
    for (h, spec) in handles.into_iter().zip(specs) {
        match h.await {
            Ok((mut r, c)) => {
                r.status = worst(&c);
                results.push(r);
                checks.extend(c);
            }
            Err(e) => tracing::error!(stream = %spec.name, "stream task failed: {e}"),
        }
    }
    (results, checks)
}

fn worst(checks: &[CheckResult]) -> Status {
    let rank = |s: Status| match s {
        Status::Pass | Status::Insufficient => 0,
        Status::Warn => 1,
        Status::Fail => 2,
        Status::Error => 3,
    };
    checks
        .iter()
        .map(|c| c.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(Status::Pass)
}

#[cfg(test)]
mod tests {
    //! Fast tests against librdkafka's in-process mock cluster (real client, real
    //! protocol); the scenario tests against a real broker are in tests/it/streams.rs.

    use super::*;
    use rdkafka::mocking::MockCluster;

    fn spec(yaml: &str) -> StreamSpec {
        let at = crate::config::rules::Located {
            file: std::sync::Arc::new("streams.yaml".into()),
            line: 1,
            column: 1,
        };
        let value: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
        crate::config::streams::parse(value, &at).unwrap()
    }

    fn settings(brokers: String) -> KafkaSettings {
        KafkaSettings {
            brokers,
            client_id: None,
            timeout: Some("3s".into()),
            options: Default::default(),
        }
    }

    #[test]
    fn probe_latency_passes_and_fails_around_one_second() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("dq-probe", 1, 1).unwrap();
        let s = spec(
            "{ name: probe, topic: dq-probe, probe: true, sample: 1500ms, probe_rate: 10, checks: [ { latency: { p99_max: 1s } } ] }",
        );
        let r = run_stream(&settings(cluster.bootstrap_servers()), &s);
        assert!(r.error.is_none(), "{:?}", r.error);
        assert!(r.latency.count >= 10, "{r:?}");
        assert_eq!(r.probes_lost, Some(0));
        let checks = judge(&s, &r);
        assert_eq!(checks[0].status, Status::Pass, "{:?}", checks[0]);
        // A slow broker: every round trip 700 ms, end-to-end well over a second.
        cluster
            .broker_round_trip_time(1, Duration::from_millis(700))
            .unwrap();
        // A generous request timeout: on a loaded machine, metadata and offset requests at
        // 700 ms per round trip must not time out before the probe itself runs.
        let mut slow = settings(cluster.bootstrap_servers());
        slow.timeout = Some("10s".into());
        let r = run_stream(
            &slow,
            &spec(
                "{ name: probe, topic: dq-probe, probe: true, sample: 1s, probe_rate: 5, checks: [ { latency: { p99_max: 1s } } ] }",
            ),
        );
        let checks = judge(&s, &r);
        assert_eq!(checks[0].status, Status::Fail, "{:?} {r:?}", checks[0]);
    }

    fn result(probe: bool) -> StreamResult {
        StreamResult {
            name: "s".into(),
            topic: "t".into(),
            group: Some("g".into()),
            probe,
            sample_seconds: 10.0,
            status: Status::Pass,
            error: None,
            latency: stats::latency_stats(&[100.0, 120.0, 150.0]),
            timestamp_type: None,
            clock_skew_samples: 0,
            probes_sent: probe.then_some(5),
            probes_lost: probe.then_some(0),
            group_state: None,
            commit_interval_ms: None,
            partitions: vec![],
        }
    }

    #[test]
    fn lost_probes_fail_the_latency_check_even_when_the_rest_is_fast() {
        let s = spec(
            "{ name: p, topic: t, probe: true, sample: 10s, checks: [ { latency: { p99_max: 1s } } ] }",
        );
        let mut r = result(true);
        assert_eq!(judge(&s, &r)[0].status, Status::Pass);
        r.probes_lost = Some(2);
        let c = &judge(&s, &r)[0];
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(
            c.message.as_deref().unwrap().contains("2 probe(s) lost"),
            "{c:?}"
        );
    }

    #[test]
    fn min_samples_fails_on_too_little_data() {
        let s = spec(
            "{ name: l, topic: t, sample: 10s, checks: [ { min_samples: { min: 10 } }, { latency: { p99_max: 1s } } ] }",
        );
        let r = result(false);
        let checks = judge(&s, &r);
        let min = checks.iter().find(|c| c.kind == "min_samples").unwrap();
        assert_eq!(min.status, Status::Fail, "{min:?}");
        assert!(
            min.message.as_deref().unwrap().contains("only 3 samples"),
            "{min:?}"
        );
        let mut none = result(false);
        none.latency = stats::latency_stats(&[]);
        let latency = judge(&s, &none)
            .into_iter()
            .find(|c| c.kind == "latency")
            .unwrap();
        assert_eq!(latency.status, Status::Fail);
        assert!(latency.message.unwrap().contains("too little data"));
    }

    #[test]
    fn coarse_commits_cannot_verify_a_seconds_bound() {
        let s = spec(
            "{ name: l, topic: t, group: g, sample: 10s, checks: [ { consumer_lag: { max_seconds: 1 } } ] }",
        );
        let mut r = result(false);
        r.partitions = vec![PartitionResult {
            partition: 0,
            offset_lag: Some(5),
            time_lag_ms: Some(200.0),
            ..Default::default()
        }];
        r.commit_interval_ms = Some(5000.0);
        let c = &judge(&s, &r)[0];
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(
            c.message
                .as_deref()
                .unwrap()
                .contains("cannot verify from commits"),
            "{c:?}"
        );
        // Commits every 200 ms: the time lag itself is judged, and passes.
        r.commit_interval_ms = Some(200.0);
        assert_eq!(judge(&s, &r)[0].status, Status::Pass);
    }

    #[test]
    fn denied_access_is_an_error_not_an_empty_stream() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("secret-topic", 1, 1).unwrap();
        cluster
            .topic_error(
                "secret-topic",
                rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
            )
            .unwrap();
        let s = spec(
            "{ name: l, topic: secret-topic, sample: 1s, checks: [ { latency: { p99_max: 1s } } ] }",
        );
        let r = run_stream(&settings(cluster.bootstrap_servers()), &s);
        let e = r.error.as_deref().unwrap_or_default();
        assert!(
            e.contains("access to topic `secret-topic` is denied"),
            "{r:?}"
        );
        assert_eq!(judge(&s, &r)[0].status, Status::Error);
    }

    #[test]
    fn records_from_the_future_are_clamped_and_counted_as_skew() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("live", 1, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let s =
            spec("{ name: l, topic: live, sample: 2s, checks: [ { latency: { p99_max: 1s } } ] }");
        let producer_brokers = brokers.clone();
        let producer = std::thread::spawn(move || {
            let p: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &producer_brokers)
                .create()
                .unwrap();
            // Sent while dq samples (it reads from the end); one a minute ahead.
            std::thread::sleep(Duration::from_millis(600));
            let future = now_ms() as i64 + 60_000;
            for (i, ts) in [now_ms() as i64, future].into_iter().enumerate() {
                let key = format!("k{i}");
                p.send(BaseRecord::to("live").key(&key).payload("x").timestamp(ts))
                    .map_err(|(e, _)| e)
                    .unwrap();
            }
            p.flush(Duration::from_secs(5)).unwrap();
        });
        let r = run_stream(&settings(brokers), &s);
        producer.join().unwrap();
        assert!(r.error.is_none(), "{r:?}");
        assert_eq!(r.latency.count, 2, "{r:?}");
        assert_eq!(r.clock_skew_samples, 1, "{r:?}");
        // The future record counts as 0 ms, not as a negative latency.
        assert!(r.latency.p50_ms.unwrap() >= 0.0, "{r:?}");
    }

    #[test]
    fn unreachable_broker_is_an_error_within_the_timeout() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s =
            spec("{ name: live, topic: t, sample: 1s, checks: [ { latency: { p99_max: 1s } } ] }");
        let started = Instant::now();
        let r = run_stream(&settings(format!("127.0.0.1:{closed}")), &s);
        // A hang bound, not a speed assertion: the configured timeouts are a few seconds.
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{:?}",
            started.elapsed()
        );
        assert!(
            r.error
                .as_deref()
                .unwrap_or("")
                .contains("cannot reach Kafka"),
            "{r:?}"
        );
        assert_eq!(judge(&s, &r)[0].status, Status::Error);
    }

    #[test]
    fn config_errors() {
        let at = crate::config::rules::Located {
            file: std::sync::Arc::new("s.yaml".into()),
            line: 3,
            column: 5,
        };
        let parse = |y: &str| {
            crate::config::streams::parse(serde_saphyr::from_str(y).unwrap(), &at)
                .unwrap_err()
                .to_string()
        };
        assert!(
            parse("{ name: a, topic: t, checks: [ { latnecy: {} } ] }")
                .contains("did you mean `latency`")
        );
        assert!(
            parse("{ name: a, topic: t, checks: [ { consumer_lag: { max_messages: 1 } } ] }")
                .contains("needs the stream's `group`")
        );
        assert!(parse("{ name: a, topic: t, sample: 10 parsecs }").contains("sample"));
        assert!(parse("{ name: a, topic: t, grup: g }").contains("unknown field `grup`"));
        assert!(
            parse("{ name: a, topic: t, checks: [ { latency: {} } ] }").contains("latency needs")
        );
        assert!(
            parse("{ name: a, topic: t, checks: [ { change: { metric: rows, max_drop: 0.1 } } ] }")
                .contains("a stream's metric is one of latency_p50_ms")
        );
        assert!(
            parse(
                "{ name: a, topic: t, checks: [ { anomaly: { metric: offset_lag, window: 1 } } ] }"
            )
            .contains("window must be at least 2")
        );
        assert!(
            parse("{ name: a, topic: t, checks: [ { change: { metric: offset_lag } } ] }")
                .contains("change needs a bound")
        );
    }
}
