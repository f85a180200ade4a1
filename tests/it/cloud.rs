//! The same lake in S3 (moto) and Azure Blob Storage (Azurite), started on 127.0.0.1 by
//! `scripts/test-servers.sh`: the reports must equal the local-disk report check for check,
//! and failures must be clear exit-3 errors with no secret in any output.
//! These tests are `#[ignore]`d for plain `cargo test`; `make test` runs them with the servers.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::common::{DQ, Run, assert_valid_report, comparable, silver_orders};

const SECRET: &str = "s3cr3t-never-printed";
/// Azurite's published development-account key.
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const WRONG_AZURE_KEY: &str =
    "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";

fn endpoint(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the cloud tests through `make test`"))
}

fn unique_prefix(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

async fn upload(store: Arc<dyn ObjectStore>, lake: &Path, prefix: &str) {
    for f in crate::common::files(lake) {
        let rel = f.strip_prefix(lake).unwrap().to_str().unwrap().to_string();
        store
            .put(
                &StorePath::from(format!("{prefix}/{rel}")),
                std::fs::read(&f).unwrap().into(),
            )
            .await
            .unwrap();
    }
}

fn s3_store(ep: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(ep)
            .with_bucket_name("dq-test")
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key(SECRET)
            .with_allow_http(true)
            .build()
            .unwrap(),
    )
}

fn azure_store() -> Arc<dyn ObjectStore> {
    let ep = endpoint("DQ_TEST_AZURE_ENDPOINT");
    Arc::new(
        object_store::azure::MicrosoftAzureBuilder::new()
            .with_account("devstoreaccount1")
            .with_access_key(AZURITE_KEY)
            .with_container_name("dq-test")
            .with_endpoint(format!("{ep}/devstoreaccount1"))
            .with_allow_http(true)
            .build()
            .unwrap(),
    )
}

/// A project whose `local` environment reads ./lake and `remote` reads `remote_lake`.
fn project(remote_lake: &str, storage: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    dq::sample::generate(&dir.path().join("lake"), 1000, 5).unwrap();
    std::fs::write(
        dir.path().join("dq.yaml"),
        format!(
            "default_env: local\nenvironments:\n  local: {{ lake: ./lake, as_of: \"2026-11-21T00:00:00Z\" }}\n  remote:\n    lake: \"{remote_lake}\"\n    as_of: \"2026-11-21T00:00:00Z\"\n    storage: {storage}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    let rules = silver_orders(&[
        "row_count: { min: 1 }",
        "not_null: { columns: [order_id, customer_id] }",
        "unique: { columns: [order_id] }",
        "pattern: { column: email, format: email, max_failed_fraction: 0.01 }",
        "statistic: { column: amount, stat: mean, min: 1 }",
        "references: { column: customer_id, dataset: customers, key: customer_id }",
        "freshness: { column: created_at, max_age: 1d }",
    ])
    .replace("    partitioning: [{ name: date, type: date }]\n", "    partitioning: [{ name: date, type: date }]\n    scope: \"date >= current_date - interval '5 days'\"\n");
    std::fs::write(dir.path().join("rules/silver.yaml"), rules).unwrap();
    dir
}

fn dq_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(DQ);
    cmd.args(args).current_dir(dir);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT",
        "AWS_REGION",
        "AWS_PROFILE",
    ] {
        cmd.env_remove(var);
    }
    // Never let a credential chain reach a metadata service off this machine.
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = Run::from_output(crate::common::output_within_bound(cmd));
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "a secret leaked:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

/// The project validated locally and in its `remote` environment: both reports, after
/// checking they have the same exit code and the same results check for check.
fn local_and_remote(dir: &Path, env: &[(&str, &str)]) -> (serde_json::Value, serde_json::Value) {
    let local = dq_env(dir, &["validate", "--format", "json"], &[]);
    let remote = dq_env(
        dir,
        &["validate", "--env", "remote", "--format", "json"],
        env,
    );
    assert_eq!(
        local.code, remote.code,
        "{}\n{}",
        remote.stdout, remote.stderr
    );
    let (l, r) = (local.json(), remote.json());
    assert_valid_report(&r);
    assert_eq!(comparable(&l), comparable(&r));
    (l, r)
}

/// A project whose `remote` environment reads its lake from S3 (uploaded under a fresh
/// prefix), and the environment variables that reach the bucket.
pub fn s3_project(ep: &str, name: &str) -> (tempfile::TempDir, Vec<(&'static str, String)>) {
    let prefix = unique_prefix(name);
    let dir = project(&format!("s3://dq-test/{prefix}"), "{}");
    tokio::runtime::Runtime::new().unwrap().block_on(upload(
        s3_store(ep),
        &dir.path().join("lake"),
        &prefix,
    ));
    (dir, s3_env(ep))
}

fn s3_env(ep: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT", ep.to_string()),
        ("AWS_ALLOW_HTTP", "true".to_string()),
    ]
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
#[ignore = "needs the S3 server that `make test` starts"]
fn s3_report_equals_local_report() {
    let ep = endpoint("DQ_TEST_S3_ENDPOINT");
    let prefix = unique_prefix("same");
    let dir = project(&format!("s3://dq-test/{prefix}"), "{}");
    tokio::runtime::Runtime::new().unwrap().block_on(upload(
        s3_store(&ep),
        &dir.path().join("lake"),
        &prefix,
    ));
    let env = s3_env(&ep);
    let (l, r) = local_and_remote(dir.path(), &as_refs(&env));
    assert_eq!(
        r["datasets"][0]["url"],
        format!("s3://dq-test/{prefix}/silver/orders/")
    );
    // The scope keeps 5 of the 10 daily partitions, and only those are listed.
    assert_eq!(r["datasets"][0]["files"], 5, "{}", r["datasets"]);
    assert_eq!(l["datasets"][0]["files"], 5, "{}", l["datasets"]);
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "fail"),
        "the orphan orders fail"
    );
}

#[test]
#[ignore = "needs the S3 server that `make test` starts"]
fn s3_endpoint_and_options_from_dq_yaml() {
    let ep = endpoint("DQ_TEST_S3_ENDPOINT");
    let prefix = unique_prefix("opts");
    let storage = format!("{{ endpoint: \"{ep}\", allow_http: \"true\", region: us-east-1 }}");
    let dir = project(&format!("s3://dq-test/{prefix}"), &storage);
    tokio::runtime::Runtime::new().unwrap().block_on(upload(
        s3_store(&ep),
        &dir.path().join("lake"),
        &prefix,
    ));
    let run = dq_env(
        dir.path(),
        &["validate", "--env", "remote", "--format", "json"],
        &[
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.json()["summary"]["errored"], 0);
}

#[test]
#[ignore = "needs the S3 server that `make test` starts"]
fn s3_missing_bucket_and_unreachable_endpoint() {
    let ep = endpoint("DQ_TEST_S3_ENDPOINT");
    let dir = project("s3://no-such-bucket/lake", "{}");
    let env = s3_env(&ep);
    let run = dq_env(dir.path(), &["validate", "--env", "remote"], &as_refs(&env));
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("the bucket does not exist") || run.stdout.contains("NoSuchBucket"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("s3://no-such-bucket/lake/silver/orders/"),
        "{}",
        run.stdout
    );

    // Nothing listens on this port: a clear error within the timeout, not a hang.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = project("s3://dq-test/lake", "{}");
    let mut env = s3_env(&ep);
    env[3].1 = format!("http://127.0.0.1:{closed}");
    let started = std::time::Instant::now();
    let run = dq_env(
        dir.path(),
        &["validate", "--env", "remote", "--format", "json"],
        &as_refs(&env),
    );
    // Returned at all (a hang fails in the helper): the timeout, not its speed, is tested.
    assert_eq!(run.code, 3);
    let _ = started;
    let report = run.json();
    assert_valid_report(&report);
    let message = report["checks"][0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("unreachable"), "{message}");
}

#[test]
#[ignore = "needs the Azurite server that `make test` starts"]
fn azure_report_equals_local_report() {
    let ep = endpoint("DQ_TEST_AZURE_ENDPOINT");
    let prefix = unique_prefix("same");
    let dir = project(&format!("az://dq-test/{prefix}"), "{}");
    tokio::runtime::Runtime::new().unwrap().block_on(upload(
        azure_store(),
        &dir.path().join("lake"),
        &prefix,
    ));
    let env = [
        ("AZURE_STORAGE_USE_EMULATOR", "true"),
        ("AZURITE_BLOB_STORAGE_URL", ep.as_str()),
    ];
    let (_, r) = local_and_remote(dir.path(), &env);
    assert_eq!(r["datasets"][0]["files"], 5, "{}", r["datasets"]);

    // A wrong account key is access denied (exit 3), and the key is never printed.
    let wrong = [
        ("AZURE_STORAGE_USE_EMULATOR", "true"),
        ("AZURITE_BLOB_STORAGE_URL", ep.as_str()),
        ("AZURE_STORAGE_ACCOUNT_KEY", WRONG_AZURE_KEY),
    ];
    let run = dq_env(dir.path(), &["validate", "--env", "remote"], &wrong);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("access denied"), "{}", run.stdout);
    assert!(!run.stdout.contains(WRONG_AZURE_KEY) && !run.stderr.contains(WRONG_AZURE_KEY));

    // A container that does not exist.
    let dir = project("az://no-such-container/lake", "{}");
    let run = dq_env(dir.path(), &["validate", "--env", "remote"], &env);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.stdout.contains("container does not exist") || run.stdout.contains("ContainerNotFound"),
        "{}",
        run.stdout
    );
}

/// A project whose lake holds the delta-rs table of `tests/delta/write_tables.py`, read
/// locally and from `remote_lake`.
fn delta_project(remote_lake: &str, storage: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crate::common::write_delta_tables(&dir.path().join("lake"));
    std::fs::write(
        dir.path().join("dq.yaml"),
        format!(
            "default_env: local\nenvironments:\n  local: {{ lake: ./lake, as_of: \"2026-11-21T00:00:00Z\" }}\n  remote:\n    lake: \"{remote_lake}\"\n    as_of: \"2026-11-21T00:00:00Z\"\n    storage: {storage}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/silver.yaml"),
        "layer: silver\ndatasets:\n  - name: orders\n    format: delta\n    scope: \"day >= DATE '2026-11-29'\"\n    checks:\n      - row_count: { min: 1 }\n      - not_null: { columns: [email] }\n      - unique: { columns: [order_id] }\n      - statistic: { column: amount, stat: mean, min: 0 }\n  - name: evolving\n    format: delta\n    checks:\n      - not_null: { columns: [note] }\n",
    )
    .unwrap();
    dir
}

#[test]
#[ignore = "needs the S3 and Azure servers and the Delta writer that `make test` provides"]
fn delta_tables_on_s3_and_azure_report_as_on_local_disk() {
    let s3 = endpoint("DQ_TEST_S3_ENDPOINT");
    let prefix = unique_prefix("delta");
    let dir = delta_project(&format!("s3://dq-test/{prefix}"), "{}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(upload(s3_store(&s3), &dir.path().join("lake"), &prefix));
    let env = s3_env(&s3);
    let (l, r) = local_and_remote(dir.path(), &as_refs(&env));
    let orders_of = |report: &serde_json::Value| -> serde_json::Value {
        report["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == "silver.orders")
            .cloned()
            .unwrap_or_else(|| panic!("{report}"))
    };
    for report in [&l, &r] {
        let orders = orders_of(report);
        assert_eq!(orders["delta"]["version"], 3, "{orders}");
        assert_eq!(orders["rows_in_scope"], 130, "{orders}");
    }
    assert!(
        orders_of(&r)["url"]
            .as_str()
            .unwrap()
            .starts_with("s3://dq-test/")
    );

    let ep = endpoint("DQ_TEST_AZURE_ENDPOINT");
    let prefix = unique_prefix("delta");
    let dir = delta_project(&format!("az://dq-test/{prefix}"), "{}");
    rt.block_on(upload(azure_store(), &dir.path().join("lake"), &prefix));
    let env = [
        ("AZURE_STORAGE_USE_EMULATOR", "true"),
        ("AZURITE_BLOB_STORAGE_URL", ep.as_str()),
    ];
    let (_, r) = local_and_remote(dir.path(), &env);
    assert_eq!(orders_of(&r)["delta"]["version"], 3, "{r}");
    assert_eq!(orders_of(&r)["rows_in_scope"], 130);
}

#[test]
#[ignore = "needs the S3 server that `make test` starts"]
fn history_on_s3_is_shared_by_runs() {
    let ep = endpoint("DQ_TEST_S3_ENDPOINT");
    let prefix = unique_prefix("history");
    let dir = project("./lake", "{}");
    std::fs::write(
        dir.path().join("dq.yaml"),
        format!(
            "default_env: local\nenvironments:\n  local:\n    lake: ./lake\n    history: {{ path: \"s3://dq-test/{prefix}/history/\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules/silver.yaml"),
        "layer: silver\ndatasets:\n  - name: orders\n    partitioning: [{ name: date, type: date }]\n    checks:\n      - change: { metric: row_count, max_drop: 0.1 }\n",
    )
    .unwrap();
    let env = s3_env(&ep);
    let first = dq_env(
        dir.path(),
        &["validate", "--format", "json", "--as-of", "2026-11-20"],
        &as_refs(&env),
    );
    assert_eq!(
        first.json()["checks"][0]["status"],
        "insufficient_history",
        "{}",
        first.stdout
    );
    // Half the partitions gone: the second run compares with the first, read from S3.
    for d in 11..=15 {
        std::fs::remove_dir_all(
            dir.path()
                .join(format!("lake/silver/orders/date=2026-11-{d}")),
        )
        .unwrap();
    }
    let second = dq_env(
        dir.path(),
        &["validate", "--format", "json", "--as-of", "2026-11-21"],
        &as_refs(&env),
    );
    let report = second.json();
    assert_eq!(report["checks"][0]["status"], "fail", "{}", second.stdout);
    let listed: Vec<_> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use futures::TryStreamExt;
        s3_store(&ep)
            .list(Some(&StorePath::from(format!("{prefix}/history"))))
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
    });
    assert_eq!(listed.len(), 2, "one file per run");
}
