//! Helpers: run the real `dq` binary, and build throwaway projects around a generated lake.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const DQ: &str = env!("CARGO_BIN_EXE_dq");

/// `rules` (one layer file) loaded and prepared against the lake under `dir/lake` in a
/// fresh session, for tests that look at the plan or change the lake before the scan.
pub async fn prepare_rules(
    dir: &Path,
    rules: &str,
) -> (datafusion::prelude::SessionContext, dq::engine::Prepared) {
    let rules =
        dq::config::rules::load_sources(&[(dir.join("rules.yaml"), rules.to_string())]).unwrap();
    let options = dq::engine::RunOptions::new(dir, "lake");
    let session = dq::engine::session(None).unwrap();
    let prepared = dq::engine::prepare(&session, &rules, &options)
        .await
        .unwrap();
    (session, prepared)
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// A finished dq process; a panic in it fails the test.
    pub fn from_output(out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !run.stderr.contains("panicked"),
            "dq panicked:\n{}",
            run.stderr
        );
        run
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// How long any one dq process may run in a test before it counts as hung. Tests assert
/// behaviour, never speed: this bound only turns a hang into a failure with a message.
pub const HANG: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs `command` to completion, killing it (and failing the test) if it outlives [`HANG`].
pub fn output_within_bound(mut command: Command) -> Output {
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dq");
    // Drain the pipes while waiting, so a chatty process cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut b).ok();
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut b).ok();
        b
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for dq") {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            panic!("dq hung: still running after {HANG:?}: {command:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

pub fn dq(dir: &Path, args: &[&str]) -> Run {
    let mut command = Command::new(DQ);
    command.args(args).current_dir(dir).env_remove("NO_COLOR");
    Run::from_output(output_within_bound(command))
}

/// A project in a temporary directory: dq.yaml, a generated lake under `lake/`, and the
/// rule files given.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(rules: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        dq::sample::generate(&dir.path().join("lake"), 1000, 1).expect("generate lake");
        std::fs::write(
            dir.path().join("dq.yaml"),
            "default_env: test\nenvironments:\n  test: { lake: ./lake, as_of: \"2026-11-21T00:00:00Z\" }\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("rules")).unwrap();
        for (name, text) in rules {
            std::fs::write(dir.path().join("rules").join(name), text).unwrap();
        }
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn dq(&self, args: &[&str]) -> Run {
        dq(self.path(), args)
    }
}

/// A layer file with one dataset and the given check lines (YAML list items).
pub fn silver_orders(checks: &[&str]) -> String {
    let mut s = String::from(
        "layer: silver\ndatasets:\n  - name: orders\n    partitioning: [{ name: date, type: date }]\n    checks:\n",
    );
    for c in checks {
        s.push_str(&format!("      - {c}\n"));
    }
    s.push_str("  - name: customers\n    checks:\n      - row_count: { min: 1 }\n");
    s
}

/// Validates a report against the shipped JSON Schema.
pub fn assert_valid_report(report: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schema/report-v1.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match schema:\n{}",
        errors.join("\n")
    );
}

/// Every file under `dir`, recursively.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p))
        } else {
            out.push(p)
        }
    }
    out
}

/// The Python of the test tools (pyarrow, DuckDB, deltalake …) that `make test` installs.
pub fn python() -> String {
    std::env::var("DQ_TEST_PYTHON").expect("DQ_TEST_PYTHON is not set: run through `make test`")
}

/// Runs the Python generator `script` (a path under the repository) with `args` and
/// `--out DIR`; returns DIR and the `expected.json` it wrote there.
pub fn generated(script: &str, args: &[&str]) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new(python())
        .arg(repo().join(script))
        .args(args)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{script} {args:?} failed:\n{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let expected =
        serde_json::from_slice(&std::fs::read(dir.path().join("expected.json")).unwrap()).unwrap();
    (dir, expected)
}

/// Writes the delta-rs tables of `tests/delta/write_tables.py` under `lake`; returns what
/// delta-rs read from them.
pub fn write_delta_tables(lake: &Path) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo().join("tests/delta/write_tables.py"))
        .arg(lake)
        .output()
        .expect("run the Delta writer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Check results without timings and locations, for comparing two runs.
pub fn comparable(report: &serde_json::Value) -> Vec<serde_json::Value> {
    // Floating statistics to 9 significant digits: another read order (object store vs
    // disk) may sum in another order.
    fn round(v: &serde_json::Value) -> serde_json::Value {
        match v {
            // A difference of two sums is noise below this (another summation order).
            serde_json::Value::Number(n) if v.is_f64() => {
                let f = n.as_f64().unwrap_or_default();
                let f = if f.abs() < 1e-6 { 0.0 } else { f };
                serde_json::json!(format!("{f:.9e}"))
            }
            serde_json::Value::Object(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), round(v))).collect())
            }
            _ => v.clone(),
        }
    }
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            serde_json::json!([
                c["id"],
                c["status"],
                round(&c["observed"]),
                c["failed_rows"],
                c["rows_checked"],
                c["threshold"],
                // Examples are the first failing rows in value order: the same on every store.
                c["sample_failures"]
            ])
        })
        .collect()
}
