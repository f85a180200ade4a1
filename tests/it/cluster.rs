//! The same rules on a Ballista cluster: reports equal the local engine's, check for check.
//!
//! - In-process (Ballista's standalone scheduler and executor, real gRPC and Arrow Flight
//!   on localhost): the sample lake and the differential test's random data.
//! - Separate processes (`dq scheduler` and two `dq executor`s on 127.0.0.1): the sample
//!   lake, a lake on S3 (moto), an executor killed during a run, a scheduler that is down.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{DQ, Run, comparable, dq, output_within_bound, repo};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `dq validate` of the sample lake in JSON, on `engine`.
fn sample_validate(engine: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "validate",
        "--format",
        "json",
        "--no-history",
        "--engine",
        engine,
    ];
    args.extend_from_slice(extra);
    dq(&repo(), &args)
}

#[test]
fn standalone_cluster_reports_equal_local_on_the_sample_lake() {
    let local = sample_validate("local", &[]);
    let cluster = sample_validate("standalone", &[]);
    assert_eq!(
        local.code, 1,
        "the sample lake has known defects: {}",
        local.stderr
    );
    assert_eq!(cluster.code, local.code, "{}", cluster.stderr);
    let (l, c) = (local.json(), cluster.json());
    crate::common::assert_valid_report(&c);
    assert_eq!(comparable(&l), comparable(&c));
    // Examples of failing rows come from the cluster too.
    assert!(
        c["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["status"] == "fail" && !k["sample_failures"].as_array().unwrap().is_empty()),
        "failing checks show examples"
    );
    assert_eq!(
        without_timings(&l["datasets"]),
        without_timings(&c["datasets"])
    );
}

/// Datasets as reported, without how long their scans took.
fn without_timings(datasets: &serde_json::Value) -> serde_json::Value {
    let mut d = datasets.clone();
    for one in d.as_array_mut().unwrap() {
        one.as_object_mut().unwrap().remove("scan_ms");
    }
    d
}

#[test]
fn dq_plan_names_the_strategy_of_each_engine() {
    let local = dq(&repo(), &["plan", "--layer", "silver"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    assert!(
        local.stdout.starts_with("-- engine: local"),
        "{}",
        local.stdout
    );
    assert!(local.stdout.contains("hashing pass"), "{}", local.stdout);
    let cluster = dq(
        &repo(),
        &["plan", "--layer", "silver", "--engine", "df://127.0.0.1:1"],
    );
    assert_eq!(cluster.code, 0, "plan needs no cluster: {}", cluster.stderr);
    assert!(
        cluster
            .stdout
            .starts_with("-- engine: ballista df://127.0.0.1:1"),
        "{}",
        cluster.stdout
    );
    assert!(
        cluster.stdout.contains("a grouped count on the executors"),
        "{}",
        cluster.stdout
    );
    assert!(
        !cluster.stdout.contains("hashing pass"),
        "{}",
        cluster.stdout
    );
}

#[test]
fn a_scheduler_that_does_not_answer_is_exit_3_in_time() {
    let port = free_port();
    let started = Instant::now();
    let run = sample_validate(&format!("df://127.0.0.1:{port}"), &[]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains(&format!("df://127.0.0.1:{port} does not answer")),
        "{}",
        run.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // A scheduler address that is not one is a usage error, before anything runs.
    let bad = sample_validate("http://127.0.0.1:1", &[]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("df://host:port"), "{}", bad.stderr);
}

/// A scheduler and executors of the real binary, on free ports of 127.0.0.1; stopped (and
/// their files removed) when dropped.
pub struct Cluster {
    pub url: String,
    pub scheduler: Child,
    pub executors: Vec<Child>,
    _work: tempfile::TempDir,
}

impl Cluster {
    pub fn start(executors: usize, env: &[(&str, String)]) -> Cluster {
        let work = tempfile::tempdir().unwrap();
        let port = free_port();
        let spawn = |args: Vec<String>, log: &str| -> Child {
            let mut cmd = Command::new(DQ);
            cmd.args(&args)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(work.path().join(log)).unwrap());
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.spawn().expect("start a cluster process")
        };
        let scheduler = spawn(
            vec![
                "scheduler".into(),
                "--bind".into(),
                format!("127.0.0.1:{port}"),
            ],
            "scheduler.log",
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the scheduler did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let executors = (0..executors)
            .map(|i| {
                let dir = work.path().join(format!("executor-{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                spawn(
                    vec![
                        "executor".into(),
                        "--scheduler".into(),
                        format!("df://127.0.0.1:{port}"),
                        "--bind-host".into(),
                        "127.0.0.1".into(),
                        "--bind-port".into(),
                        free_port().to_string(),
                        "--bind-grpc-port".into(),
                        free_port().to_string(),
                        "--concurrent-tasks".into(),
                        "2".into(),
                        "--work-dir".into(),
                        dir.display().to_string(),
                    ],
                    &format!("executor-{i}.log"),
                )
            })
            .collect();
        let cluster = Cluster {
            url: format!("df://127.0.0.1:{port}"),
            scheduler,
            executors,
            _work: work,
        };
        // Executors register within their first heartbeat; give them a moment.
        std::thread::sleep(Duration::from_secs(2));
        cluster
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self._work.path()).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "log") {
                out.push_str(&format!(
                    "== {}\n{}\n",
                    entry.path().display(),
                    std::fs::read_to_string(entry.path()).unwrap_or_default()
                ));
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self
            .executors
            .iter_mut()
            .chain(std::iter::once(&mut self.scheduler))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn dq_in(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut command = Command::new(DQ);
    command.args(args).current_dir(dir);
    for (k, v) in env {
        command.env(k, v);
    }
    Run::from_output(output_within_bound(command))
}

#[test]
#[ignore = "starts a scheduler and two executors (`make test` runs it)"]
fn a_cluster_of_processes_reports_what_the_local_engine_reports() {
    let cluster = Cluster::start(2, &[]);
    let local = sample_validate("local", &[]);
    let remote = sample_validate(&cluster.url, &[]);
    assert_eq!(
        remote.code,
        local.code,
        "{}\n{}",
        remote.stderr,
        cluster.logs()
    );
    assert_eq!(comparable(&local.json()), comparable(&remote.json()));
    // Readiness too: the same verdict.
    let l = dq(&repo(), &["readiness", "--format", "json", "--no-history"]);
    let r = dq(
        &repo(),
        &[
            "readiness",
            "--format",
            "json",
            "--no-history",
            "--engine",
            &cluster.url,
        ],
    );
    assert_eq!(l.code, r.code, "{}", r.stderr);
    assert_eq!(
        l.json()["readiness"]["verdict"],
        r.json()["readiness"]["verdict"]
    );
}

/// A project whose lake is large enough that a cluster is still scanning it a second or
/// two into the run, with a check that fails (so that a lost run can never pass).
fn large_failing_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    dq::sample::generate(&dir.path().join("lake"), 400_000, 3).unwrap();
    std::fs::write(
        dir.path().join("dq.yaml"),
        "default_env: test\nenvironments:\n  test: { lake: ./lake, as_of: \"2026-11-21T00:00:00Z\", history: { record: false } }\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/silver.yaml"),
        crate::common::silver_orders(&[
            "not_null: { columns: [order_id, customer_id] }",
            "unique: { columns: [order_id] }",
            "range: { column: amount, min: 0, max: 100000 }",
            "pattern: { column: email, format: email, max_failed_fraction: 0.5 }",
            // Fails: a run that lost part of its cluster must never turn this into a pass.
            "row_count: { max: 1000 }",
        ]),
    )
    .unwrap();
    dir
}

/// Whether the scheduler at `url` (`df://host:port`, whose REST API shares the port) lists
/// a job that is queued or running.
fn a_job_is_running(url: &str) -> bool {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("df://");
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /api/jobs HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    body.contains("\"Running\"") || body.contains("\"Queued\"")
}

/// Validates the project at `dir` on `cluster`, killing the process `victim` picks while
/// the run's first job is on the cluster (so the loss is mid-run, however fast the
/// machine); the run and when it started.
fn validate_and_kill(
    cluster: &mut Cluster,
    dir: &Path,
    victim: impl FnOnce(&mut Cluster) -> &mut Child,
) -> (Run, Instant) {
    let url = cluster.url.clone();
    let engine = url.clone();
    let path = dir.to_path_buf();
    let started = Instant::now();
    let run = std::thread::spawn(move || {
        dq_in(
            &path,
            &["validate", "--format", "json", "--engine", &engine],
            &[],
        )
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !a_job_is_running(&url) && !run.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !run.is_finished(),
        "the run ended before any job was seen on the cluster"
    );
    let victim = victim(cluster);
    let _ = victim.kill();
    let _ = victim.wait();
    (run.join().unwrap(), started)
}

#[test]
#[ignore = "starts a scheduler and two executors (`make test` runs it)"]
fn a_scheduler_that_dies_during_a_run_is_exit_3_never_a_pass_or_a_hang() {
    let dir = large_failing_project();
    let mut cluster = Cluster::start(2, &[]);
    let (remote, started) = validate_and_kill(&mut cluster, dir.path(), |c| &mut c.scheduler);
    eprintln!(
        "after the scheduler died: exit {} in {:?}",
        remote.code,
        started.elapsed()
    );
    assert_eq!(remote.code, 3, "{}\n{}", remote.stdout, remote.stderr);
    let report = remote.json();
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "error"),
        "the checks that could not run are errors: {report}"
    );
}

#[test]
#[ignore = "starts a scheduler and two executors (`make test` runs it)"]
fn an_executor_killed_during_a_run_is_retried_or_exit_3_never_a_pass() {
    let dir = large_failing_project();
    let local = dq_in(dir.path(), &["validate", "--format", "json"], &[]);
    assert_eq!(local.code, 1, "{}", local.stderr);
    let mut cluster = Cluster::start(2, &[]);
    // A short stall timeout: a job left waiting on the lost executor ends the run soon.
    std::fs::write(
        dir.path().join("dq.yaml"),
        format!(
            "default_env: test\nenvironments:\n  test: {{ lake: ./lake, as_of: \"2026-11-21T00:00:00Z\", history: {{ record: false }}, engine: {{ ballista: \"{}\", stall_timeout: 15s }} }}\n",
            cluster.url
        ),
    )
    .unwrap();
    let (remote, started) = validate_and_kill(&mut cluster, dir.path(), |c| &mut c.executors[0]);
    eprintln!(
        "after the executor died: exit {} in {:?}\n{}",
        remote.code,
        started.elapsed(),
        remote.stderr
    );
    if remote.stderr.contains("lost executor") {
        // The watchdog ended it: after the stall timeout, not the hang bound.
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{:?}",
            started.elapsed()
        );
    }
    match remote.code {
        // Ballista ran the lost tasks again on the other executor: the same report.
        c if c == local.code => {
            assert_eq!(
                comparable(&local.json()),
                comparable(&remote.json()),
                "{}",
                cluster.logs()
            )
        }
        // Or the run ends as a runtime error, naming what was lost: never a pass.
        3 => assert!(
            remote.stdout.contains("error") || remote.stderr.contains("error"),
            "{}\n{}",
            remote.stdout,
            remote.stderr
        ),
        other => panic!(
            "exit {other} after an executor died:\n{}\n{}\n{}",
            remote.stdout,
            remote.stderr,
            cluster.logs()
        ),
    }
}

#[test]
#[ignore = "needs the S3 server that `make test` starts; starts a cluster"]
fn a_lake_on_s3_validates_on_the_cluster_with_credentials_from_the_executors_environment() {
    let ep = std::env::var("DQ_TEST_S3_ENDPOINT").expect("DQ_TEST_S3_ENDPOINT");
    let (dir, env) = crate::cloud::s3_project(&ep, "cluster");
    let env: Vec<(&str, String)> = env;
    let cluster = Cluster::start(2, &env);
    let local = dq_in(
        dir.path(),
        &["validate", "--env", "remote", "--format", "json"],
        &env,
    );
    let remote = dq_in(
        dir.path(),
        &[
            "validate",
            "--env",
            "remote",
            "--format",
            "json",
            "--engine",
            &cluster.url,
        ],
        &env,
    );
    assert_eq!(
        local.code,
        remote.code,
        "{}\n{}",
        remote.stderr,
        cluster.logs()
    );
    let (l, r) = (local.json(), remote.json());
    assert_eq!(comparable(&l), comparable(&r));
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "fail"),
        "the orphan orders fail on the cluster too"
    );
}
