//! Stream scenarios against a real Kafka-protocol broker (tansu, started on 127.0.0.1 by
//! `scripts/test-servers.sh`; `make test` runs these `#[ignore]`d tests).
//!
//! Tests that measure latency set `fetch.wait.max.ms` to 10 ms for dq and for the
//! pipeline stand-ins: tansu answers a parked fetch only when the wait expires, so the
//! default 500 ms would be measured as latency.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Message, Timestamp};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::common::{DQ, Run, assert_valid_report};

fn brokers() -> String {
    std::env::var("DQ_TEST_KAFKA_BROKERS")
        .expect("DQ_TEST_KAFKA_BROKERS is not set: run through `make test`")
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn config(group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .set("linger.ms", "0")
        .set("log_level", "0");
    c
}

fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = config("admin").create().unwrap();
    let t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    futures::executor::block_on(admin.create_topics([&t], &opts)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
}

/// Produces to `topic` at `rate` records per second until stopped, stamping each record
/// with now − `age`.
fn producer(
    topic: String,
    rate: u32,
    age: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let p: BaseProducer = config("producer").create().unwrap();
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            let ts = now_ms() - age.as_millis() as i64;
            let _ = p.send(BaseRecord::to(&topic).key("k").payload("v").timestamp(ts));
            p.poll(Duration::ZERO);
            n += 1;
            std::thread::sleep(Duration::from_secs_f64(1.0 / rate as f64));
        }
        let _ = p.flush(Duration::from_secs(5));
        n
    })
}

/// A pipeline stage: consumes `from` with `group` (assigned partitions, commits after each
/// record), waits `delay`, and writes to `to` keeping the record's original timestamp.
fn loader(
    from: String,
    to: Option<String>,
    group: String,
    delay: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let c: BaseConsumer = config(&group).create().unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&from, 0, Offset::Beginning)
            .unwrap();
        c.assign(&tpl).unwrap();
        let p: BaseProducer = config("loader-out").create().unwrap();
        while !stop.load(Ordering::SeqCst) {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(20)) {
                std::thread::sleep(delay);
                if let (Some(to), Timestamp::CreateTime(ts)) = (&to, m.timestamp()) {
                    let _ = p.send(BaseRecord::to(to).key("k").payload("v").timestamp(ts));
                    p.poll(Duration::ZERO);
                }
                let _ = c.commit_message(&m, CommitMode::Sync);
            }
        }
        let _ = p.flush(Duration::from_secs(5));
    })
}

fn project(streams_yaml: &str, brokers: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dq.yaml"),
        format!(
            "default_env: ci\nenvironments:\n  ci:\n    lake: ./lake\n    kafka:\n      brokers: \"{brokers}\"\n      timeout: 3s\n      options: {{ fetch.wait.max.ms: \"10\" }}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/streams.yaml"), streams_yaml).unwrap();
    dir
}

fn dq_streams(dir: &Path) -> (Run, serde_json::Value) {
    let run = crate::common::dq(dir, &["streams", "--format", "json"]);
    let report = run.json();
    assert_valid_report(&report);
    (run, report)
}

fn check<'a>(report: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap()
}

#[test]
#[ignore = "needs the Kafka-protocol broker that `make test` starts"]
fn probe_proves_sub_second_latency() {
    let topic = unique("dq-probe");
    let yaml = format!(
        "streams:\n  - name: probe\n    topic: {topic}\n    probe: true\n    sample: 3s\n    checks:\n      - latency: {{ p99_max: 1s }}\n      - min_samples: {{ min: 20 }}\n"
    );
    let dir = project(&yaml, &brokers());
    let (run, report) = dq_streams(dir.path());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let s = &report["streams"][0];
    assert!(s["latency"]["count"].as_u64().unwrap() >= 20, "{s}");
    assert_eq!(s["probes_lost"], 0);
    assert!(s["latency"]["p99_ms"].as_f64().unwrap() < 1000.0);
    let text = crate::common::dq(dir.path(), &["streams"]).stdout;
    assert!(
        text.contains("stream probe") && text.contains("latency ms  p50"),
        "{text}"
    );
}

#[test]
#[ignore = "needs the Kafka-protocol broker that `make test` starts"]
fn healthy_consumer_passes_and_delayed_stage_fails() {
    let raw = unique("raw");
    let clean = unique("clean");
    create_topic(&raw, 1);
    create_topic(&clean, 1);
    let group = unique("loader");
    let stop = Arc::new(AtomicBool::new(false));
    let prod = producer(raw.clone(), 20, Duration::ZERO, stop.clone());
    let load = loader(
        raw.clone(),
        None,
        group.clone(),
        Duration::ZERO,
        stop.clone(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let yaml = format!(
        "streams:\n  - name: raw\n    topic: {raw}\n    group: {group}\n    sample: 3s\n    checks:\n      - latency: {{ p99_max: 1s }}\n      - consumer_lag: {{ max_messages: 50 }}\n"
    );
    let dir = project(&yaml, &brokers());
    let (run, report) = dq_streams(dir.path());
    assert_eq!(run.code, 0, "healthy consumer: {}", run.stdout);
    let s = &report["streams"][0];
    assert_eq!(s["partitions"][0]["verdict"], "ok", "{s}");
    assert_eq!(s["timestamp_type"], "CreateTime");
    stop.store(true, Ordering::SeqCst);
    prod.join().unwrap();
    load.join().unwrap();

    // A stage that takes 1.5 s per record, writing downstream with the original timestamps.
    let stop = Arc::new(AtomicBool::new(false));
    let prod = producer(raw.clone(), 4, Duration::ZERO, stop.clone());
    let load = loader(
        raw.clone(),
        Some(clean.clone()),
        unique("slow"),
        Duration::from_millis(1500),
        stop.clone(),
    );
    std::thread::sleep(Duration::from_secs(2));
    let yaml = format!(
        "streams:\n  - name: clean\n    topic: {clean}\n    sample: 4s\n    checks:\n      - latency: {{ p99_max: 1s }}\n"
    );
    let dir = project(&yaml, &brokers());
    let (run, report) = dq_streams(dir.path());
    stop.store(true, Ordering::SeqCst);
    prod.join().unwrap();
    load.join().unwrap();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let p99 = report["streams"][0]["latency"]["p99_ms"].as_f64().unwrap();
    // Records queue behind the slow stage, so the worst are at least 1.5 s old.
    assert!(p99 >= 1500.0, "p99 {p99}");
    assert!(
        check(&report, "latency")["message"]
            .as_str()
            .unwrap()
            .contains("p99"),
        "{report}"
    );
}

#[test]
#[ignore = "needs the Kafka-protocol broker that `make test` starts"]
fn injected_delay_is_reported_within_50_ms() {
    let topic = unique("aged");
    create_topic(&topic, 1);
    for delay in [300u64, 1200] {
        let stop = Arc::new(AtomicBool::new(false));
        let prod = producer(
            topic.clone(),
            20,
            Duration::from_millis(delay),
            stop.clone(),
        );
        let yaml = format!(
            "streams:\n  - name: aged\n    topic: {topic}\n    sample: 2s\n    checks:\n      - latency: {{ p99_max: 1s }}\n"
        );
        let dir = project(&yaml, &brokers());
        let (run, report) = dq_streams(dir.path());
        stop.store(true, Ordering::SeqCst);
        prod.join().unwrap();
        let p50 = report["streams"][0]["latency"]["p50_ms"].as_f64().unwrap();
        assert!(
            (p50 - delay as f64).abs() <= 50.0,
            "injected {delay} ms, reported p50 {p50} ms"
        );
        assert_eq!(run.code, if delay < 1000 { 0 } else { 1 }, "{}", run.stdout);
        eprintln!(
            "injected {delay} ms → reported p50 {p50:.1} ms (error {:+.1} ms)",
            p50 - delay as f64
        );
    }
}

#[test]
#[ignore = "needs the Kafka-protocol broker that `make test` starts"]
fn stopped_consumer_stalls_and_unknown_group_is_not_zero() {
    let topic = unique("orders");
    create_topic(&topic, 1);
    let group = unique("stopped");
    // The group consumed and committed 5 records, then stopped; production went on.
    let p: BaseProducer = config("p").create().unwrap();
    for _ in 0..20 {
        p.send(BaseRecord::to(&topic).key("k").payload("v"))
            .unwrap();
    }
    p.flush(Duration::from_secs(5)).unwrap();
    let c: BaseConsumer = config(&group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(5))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);
    std::thread::sleep(Duration::from_millis(2500));
    let yaml = format!(
        "streams:\n  - name: orders\n    topic: {topic}\n    group: {group}\n    sample: 2s\n    checks:\n      - consumer_lag: {{ max_messages: 100 }}\n  - name: never\n    topic: {topic}\n    group: {}\n    sample: 1s\n    checks:\n      - consumer_lag: {{ max_messages: 100 }}\n",
        unique("never-committed")
    );
    let dir = project(&yaml, &brokers());
    let (run, report) = dq_streams(dir.path());
    assert_eq!(run.code, 1, "{}", run.stdout);
    let streams = report["streams"].as_array().unwrap();
    let stopped = &streams[0]["partitions"][0];
    assert_eq!(stopped["offset_lag"], 15, "{stopped}");
    assert!(
        stopped["verdict"] == "stop" || stopped["verdict"] == "stall",
        "{stopped}"
    );
    assert!(
        stopped["time_lag_ms"].as_f64().unwrap() >= 2000.0,
        "{stopped}"
    );
    let never = &streams[1]["partitions"][0];
    assert_eq!(never["verdict"], "unknown", "{never}");
    assert!(
        never["offset_lag"].is_null(),
        "unknown lag is not 0: {never}"
    );
    let messages: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["message"].as_str().unwrap_or(""))
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("lag unknown (not 0)")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("committed offset not moving")),
        "{messages:?}"
    );
}

#[test]
#[ignore = "needs the Kafka-protocol broker that `make test` starts"]
fn broker_down_is_exit_3_within_the_timeout() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = "streams:\n  - name: probe\n    topic: dq-probe\n    probe: true\n    sample: 1s\n    checks:\n      - latency: { p99_max: 1s }\n";
    let dir = project(yaml, &format!("127.0.0.1:{closed}"));
    let started = Instant::now();
    let run = crate::common::dq(dir.path(), &["streams"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    // The run returned (common::dq fails a hang); the message says why.
    let _ = started;
    assert!(run.stdout.contains("cannot reach Kafka"), "{}", run.stdout);
    let _ = DQ;
}

#[test]
#[ignore = "needs the Kafka-protocol broker that `make test` starts"]
fn sample_project_streams_and_readiness_on_ci() {
    // dq.yaml's ci environment reads the broker address from DQ_TEST_KAFKA_BROKERS.
    let run = crate::common::dq(&crate::common::repo(), &["streams", "--env", "ci"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("stream pipeline-probe"),
        "{}",
        run.stdout
    );
    let run = crate::common::dq(
        &crate::common::repo(),
        &["readiness", "--env", "ci", "--format", "json"],
    );
    assert_eq!(run.code, 1, "the sample lake's defects still mean NO-GO");
    let report = run.json();
    assert_valid_report(&report);
    let row = report["readiness"]["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "stream")
        .unwrap();
    assert_eq!(row["status"], "go", "{row}");
}

#[test]
#[ignore = "needs the Kafka-protocol broker that `make test` starts"]
fn unknown_topic_is_a_clear_runtime_error() {
    let yaml = format!(
        "streams:\n  - name: ghost\n    topic: {}\n    group: some-group\n    sample: 1s\n    checks:\n      - consumer_lag: {{ max_messages: 10 }}\n",
        unique("no-such-topic")
    );
    let dir = project(&yaml, &brokers());
    let started = Instant::now();
    let run = crate::common::dq(dir.path(), &["streams", "--format", "json"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let _ = started;
    let report = run.json();
    assert_valid_report(&report);
    assert!(
        report["streams"][0]["error"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{report}"
    );
}

#[test]
#[ignore = "needs the Kafka-protocol broker that `make test` starts"]
fn stream_latency_is_recorded_and_judged_against_the_previous_run() {
    let topic = unique("dq-history");
    let yaml = format!(
        "streams:\n  - name: probe\n    topic: {topic}\n    probe: true\n    sample: 1s\n    checks:\n      - latency: {{ p99_max: 1s }}\n      - change: {{ metric: latency_p99_ms, max_increase: 60000 }}\n"
    );
    let dir = project(&yaml, &brokers());
    let run = |as_of: &str| {
        let run = crate::common::dq(
            dir.path(),
            &["streams", "--format", "json", "--as-of", as_of],
        );
        let report = run.json();
        assert_valid_report(&report);
        (run, report)
    };
    let (first, report) = run("2026-11-20T00:00:00Z");
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(
        check(&report, "change")["status"],
        "insufficient_history",
        "{report}"
    );
    let (second, report) = run("2026-11-21T00:00:00Z");
    assert_eq!(second.code, 0, "{}", second.stdout);
    let change = check(&report, "change");
    assert_eq!(change["status"], "pass", "{change}");
    assert!(
        change["message"]
            .as_str()
            .unwrap()
            .contains("since the run as of 2026-11-20"),
        "{change}"
    );
    let history = crate::common::dq(
        dir.path(),
        &["history", "stream:probe", "--metric", "latency_p99_ms"],
    );
    assert!(
        history
            .stdout
            .contains("stream:probe  latency_p99_ms  2 runs"),
        "{}",
        history.stdout
    );
}
