//! Secrets never appear in any output channel, however dq was given them: in dq.yaml's
//! `storage:`, in Kafka options, or in the cloud's environment variables; on stdout, on
//! stderr at every verbosity and log format, in `--output` and `--metrics-out` files, and
//! in `dq plan`.

use std::process::Command;

use crate::common::DQ;

const IN_YAML: &str = "Yaml-Secret-3f9a1c";
const IN_KAFKA: &str = "Kafka-Password-77e2b0";
const IN_ENV: &str = "Env-Secret-a41d6e";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 refuses at once: every storage and broker call fails fast, with an error
    // message that would be the natural place for a secret to leak.
    std::fs::write(
        dir.path().join("dq.yaml"),
        format!(
            "default_env: t\nenvironments:\n  t:\n    lake: \"s3://bucket/lake/\"\n    storage: {{ endpoint: \"http://127.0.0.1:1\", allow_http: \"true\", region: us-east-1, aws_access_key_id: AKIDTEST, aws_secret_access_key: \"{IN_YAML}\", max_retries: \"0\", retry_timeout: 1s }}\n    kafka: {{ brokers: \"127.0.0.1:1\", timeout: 2s, options: {{ security.protocol: SASL_PLAINTEXT, sasl.mechanisms: PLAIN, sasl.username: dq, sasl.password: \"{IN_KAFKA}\" }} }}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/silver.yaml"),
        "layer: silver\ndatasets:\n  - name: orders\n    checks:\n      - row_count: { min: 1 }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules/streams.yaml"),
        "streams:\n  - name: s\n    topic: t\n    sample: 1s\n    checks:\n      - latency: { p99_max: 1s }\n",
    )
    .unwrap();
    dir
}

#[test]
fn secrets_given_every_way_stay_out_of_every_channel() {
    let dir = project();
    let out = dir.path().join("report.json");
    let metrics = dir.path().join("dq.prom");
    let runs: Vec<Vec<String>> = vec![
        vec!["validate".into()],
        vec![
            "-vv".into(),
            "validate".into(),
            "--format".into(),
            "json".into(),
        ],
        vec![
            "-vv".into(),
            "--log-format".into(),
            "json".into(),
            "readiness".into(),
        ],
        vec![
            "-v".into(),
            "validate".into(),
            "--output".into(),
            out.display().to_string(),
            "--metrics-out".into(),
            metrics.display().to_string(),
        ],
        vec![
            "-vv".into(),
            "streams".into(),
            "--format".into(),
            "json".into(),
        ],
        vec!["-vv".into(), "plan".into()],
        vec!["-vv".into(), "lint".into()],
    ];
    for args in runs {
        let mut command = Command::new(DQ);
        command
            .args(&args)
            .current_dir(dir.path())
            .env("AWS_SESSION_TOKEN", IN_ENV);
        let o = crate::common::output_within_bound(command);
        let mut all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        for file in [&out, &metrics] {
            if let Ok(text) = std::fs::read_to_string(file) {
                all.push_str(&text);
            }
        }
        assert_ne!(o.status.code(), Some(0), "{args:?} should fail: {all}");
        assert!(!all.contains("panicked"), "{args:?}: {all}");
        for secret in [IN_YAML, IN_KAFKA, IN_ENV] {
            assert!(!all.contains(secret), "{args:?} printed {secret}:\n{all}");
        }
    }
}
