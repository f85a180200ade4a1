//! Delta Lake tables written by another implementation (the Python `deltalake` package,
//! delta-rs): dq reads the table's snapshot, not its folder. The table and what delta-rs
//! reads from it come from `tests/delta/write_tables.py`.
//! `#[ignore]`d for plain `cargo test`: `make test` installs the writer and runs them.

use std::path::Path;
use std::process::Command;

use crate::common::{Run, assert_valid_report, dq};

use crate::common::python;

/// A project whose lake holds the delta-rs table `silver.orders` (four versions, see the
/// script) and a Parquet dataset `gold.daily` written by pyarrow; returns what delta-rs read.
fn project(rules: &str) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let truth = crate::common::write_delta_tables(&lake);
    // A gold dataset in plain Parquet, for a reconciliation across formats: the table's rows
    // per day at its newest version (2026-11-29: 80, 2026-11-30: 50).
    let gold = r#"
import sys, pyarrow as pa, pyarrow.parquet as pq, os, datetime as dt
os.makedirs(sys.argv[1], exist_ok=True)
pq.write_table(pa.table({"day": pa.array([dt.date(2026, 11, 29), dt.date(2026, 11, 30)]), "orders": pa.array([80, 50], pa.int64())}), os.path.join(sys.argv[1], "part-0.parquet"))
"#;
    let out = Command::new(python())
        .args(["-c", gold])
        .arg(lake.join("gold/daily"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.path().join("dq.yaml"),
        // The environment pins the evaluation instant before the table's first commit: that
        // must not send the table back in time (only `snapshot`/`--snapshot-at` do).
        "default_env: test\nenvironments:\n  test: { lake: ./lake, as_of: \"2026-10-01T00:00:00Z\" }\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/silver.yaml"), rules).unwrap();
    (dir, truth)
}

const RULES: &str = "layer: silver
datasets:
  - name: orders
    format: delta
    checks:
      - row_count: { min: 1 }
      - not_null: { columns: [email] }
      - range: { column: amount, min: 0 }
      - unique: { columns: [order_id] }
";

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

fn validate(dir: &Path, args: &[&str]) -> (Run, serde_json::Value) {
    let mut all = vec!["validate", "--format", "json"];
    all.extend_from_slice(args);
    let run = dq(dir, &all);
    let report = run.json();
    assert_valid_report(&report);
    (run, report)
}

#[test]
#[ignore = "needs the Python deltalake package that `make test` installs"]
fn counts_are_the_snapshots_not_the_folders() {
    let (dir, truth) = project(RULES);
    let newest = &truth["versions"]["3"];
    let (_, report) = validate(dir.path(), &[]);
    let d = &report["datasets"][0];
    assert_eq!(d["rows_in_scope"], newest["rows"], "{d}");
    assert_eq!(d["files"], newest["files"], "{d}");
    assert_eq!(d["delta"]["version"], 3, "{d}");
    assert_eq!(d["delta"]["committed_at"], "2026-11-04T00:00:00Z", "{d}");
    assert_eq!(
        check(&report, "silver.orders.not_null(email)")["failed_rows"],
        newest["null_emails"]
    );
    assert_eq!(
        check(&report, "silver.orders.range(amount)")["failed_rows"],
        newest["negative_amounts"]
    );
    // Order ids 0-99 were overwritten and 100-119 deleted: still in the folder, not in
    // the table, so no duplicate and no negative amount is seen.
    assert_eq!(
        check(&report, "silver.orders.unique(order_id)")["status"],
        "pass"
    );

    // The same folder read as Parquet counts the removed files too: a different answer,
    // and a note that names the fix.
    let as_parquet = RULES.replace(
        "    format: delta\n",
        "    format: parquet\n    partitioning: [{ name: day, type: date }]\n",
    );
    std::fs::write(dir.path().join("rules/silver.yaml"), as_parquet).unwrap();
    let (_, folder) = validate(dir.path(), &[]);
    let d = &folder["datasets"][0];
    assert_eq!(
        d["rows_in_scope"], truth["folder_as_parquet"]["rows"],
        "{d}"
    );
    assert_ne!(d["rows_in_scope"], newest["rows"]);
    assert!(
        d["warnings"][0]
            .as_str()
            .unwrap()
            .contains("Add `format: delta`"),
        "{d}"
    );
    let lint = dq(dir.path(), &["lint"]);
    assert!(
        lint.stderr.contains("holds a _delta_log/"),
        "{}",
        lint.stderr
    );
}

#[test]
#[ignore = "needs the Python deltalake package that `make test` installs"]
fn the_schema_is_the_logs_and_older_files_lack_added_columns() {
    let rules = "layer: silver
datasets:
  - name: evolving
    format: delta
    checks:
      - schema: { columns: { id: int64, note: string }, extra_columns: forbid }
      - not_null: { columns: [note] }
      - row_count: { min: 1 }
";
    let (dir, truth) = project(rules);
    let (_, report) = validate(dir.path(), &[]);
    assert_eq!(
        truth["evolving"]["columns"],
        serde_json::json!(["id", "note"])
    );
    assert_eq!(
        check(&report, "silver.evolving.schema")["status"],
        "pass",
        "{report}"
    );
    let not_null = check(&report, "silver.evolving.not_null(note)");
    // The first version's file has no `note` column: its rows are NULL there.
    assert_eq!(
        not_null["failed_rows"], truth["evolving"]["null_notes"],
        "{not_null}"
    );
    assert_eq!(not_null["failed_rows"], 4);
    assert_eq!(
        report["datasets"][0]["rows_in_scope"],
        truth["evolving"]["rows"]
    );
}

#[test]
#[ignore = "needs the Python deltalake package that `make test` installs"]
fn time_travel_reads_the_version_of_the_instant() {
    let (dir, truth) = project(RULES);
    // Commits are dated 2026-11-01 .. 2026-11-04 (one a day).
    for (at, version) in [
        ("2026-11-01T00:00:00Z", 0),
        ("2026-11-01T23:59:59Z", 0),
        ("2026-11-02T12:00:00Z", 1),
        ("2026-11-03", 2),
        ("2026-12-01", 3),
    ] {
        let (_, report) = validate(dir.path(), &["--snapshot-at", at]);
        let d = &report["datasets"][0];
        assert_eq!(d["delta"]["version"], version, "at {at}: {d}");
        let expected = &truth["versions"][version.to_string()];
        assert_eq!(d["rows_in_scope"], expected["rows"], "at {at}: {d}");
        assert_eq!(
            check(&report, "silver.orders.not_null(email)")["failed_rows"],
            expected["null_emails"],
            "at {at}"
        );
        // --snapshot-at is also the evaluation instant.
        assert!(
            report["as_of"].as_str().unwrap().starts_with(&at[..10]),
            "{}",
            report["as_of"]
        );
    }
    // Before the first commit the table did not exist: an error, not version 0.
    let (run, report) = validate(dir.path(), &["--snapshot-at", "2026-10-15"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    let error = report["datasets"][0]["error"].as_str().unwrap();
    assert!(error.contains("has no version as of 2026-10-15"), "{error}");

    // A version pinned in the rules wins over --snapshot-at.
    let pinned = RULES.replace(
        "    format: delta\n",
        "    format: delta\n    snapshot: { version: 1 }\n",
    );
    std::fs::write(dir.path().join("rules/silver.yaml"), pinned).unwrap();
    let (_, report) = validate(dir.path(), &["--snapshot-at", "2026-12-01"]);
    assert_eq!(report["datasets"][0]["delta"]["version"], 1);
    assert_eq!(
        report["datasets"][0]["rows_in_scope"],
        truth["versions"]["1"]["rows"]
    );
    let pinned = RULES.replace(
        "    format: delta\n",
        "    format: delta\n    snapshot: { timestamp: \"2026-11-03T06:00:00Z\" }\n",
    );
    std::fs::write(dir.path().join("rules/silver.yaml"), pinned).unwrap();
    let (_, report) = validate(dir.path(), &[]);
    assert_eq!(report["datasets"][0]["delta"]["version"], 2);
    let missing = RULES.replace(
        "    format: delta\n",
        "    format: delta\n    snapshot: { version: 9 }\n",
    );
    std::fs::write(dir.path().join("rules/silver.yaml"), missing).unwrap();
    let (run, _) = validate(dir.path(), &[]);
    assert_eq!(run.code, 3, "{}", run.stdout);
}

#[test]
#[ignore = "needs the Python deltalake package that `make test` installs"]
fn scope_prunes_by_the_logs_partition_values_and_reconciles_with_parquet() {
    let rules = "layer: silver
datasets:
  - name: orders
    format: delta
    scope: \"day >= DATE '2026-11-30'\"
    checks:
      - row_count: { min: 1 }
      - freshness: { max_age: 2d }
reconciliations:
  - name: orders_match_gold
    left: { dataset: silver.orders, expr: \"count(*)\" }
    right: { dataset: gold.daily, expr: \"sum(orders)\", where: \"day >= DATE '2026-11-30'\" }
";
    let (dir, _) = project(rules);
    std::fs::write(
        dir.path().join("rules/gold.yaml"),
        "layer: gold\ndatasets:\n  - name: daily\n",
    )
    .unwrap();
    let (run, report) = validate(dir.path(), &["--as-of", "2026-11-05T00:00:00Z"]);
    let d = &report["datasets"][0];
    assert_eq!(d["id"], "silver.orders");
    // One of the snapshot's two files is on 2026-11-30.
    assert_eq!(d["files"], 1, "{d}");
    assert_eq!(d["delta"]["snapshot_files"], 2, "{d}");
    assert_eq!(d["rows_in_scope"], 50, "{d}");
    // Freshness of the table is its last commit (2026-11-04), one day before --as-of.
    assert_eq!(
        check(&report, "silver.orders.freshness(objects)")["status"],
        "pass"
    );
    // The reconciliation (its silver side in the scope) against a Parquet dataset.
    let rec = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"].as_str().unwrap().contains("orders_match_gold"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(rec["status"], "pass", "{rec}");
}

/// Rewrites one commit of the table (a list of JSON actions).
fn edit_commit(dir: &Path, version: u32, edit: impl Fn(&mut Vec<serde_json::Value>)) {
    let path = dir.join(format!("lake/silver/orders/_delta_log/{version:020}.json"));
    let mut actions: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    edit(&mut actions);
    let text: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
}

#[test]
#[ignore = "needs the Python deltalake package that `make test` installs"]
fn broken_or_unreadable_tables_are_errors_naming_the_table() {
    let rules = format!(
        "{RULES}  - name: customers\n    path: silver/customers\n    checks:\n      - row_count: {{ min: 1 }}\n"
    );
    type Breaks = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Breaks)> = vec![
        (
            "is not valid JSON",
            Box::new(|d: &Path| {
                let p = d.join("lake/silver/orders/_delta_log/00000000000000000003.json");
                let mut text = std::fs::read_to_string(&p).unwrap();
                text.push_str("{\"add\": {broken\n");
                std::fs::write(p, text).unwrap();
            }),
        ),
        (
            "missing a commit file",
            Box::new(|d: &Path| {
                std::fs::remove_file(
                    d.join("lake/silver/orders/_delta_log/00000000000000000001.json"),
                )
                .unwrap();
            }),
        ),
        (
            "no commits in _delta_log/",
            Box::new(|d: &Path| {
                std::fs::remove_dir_all(d.join("lake/silver/orders/_delta_log")).unwrap();
            }),
        ),
        (
            "has a deletion vector",
            Box::new(|d: &Path| {
                edit_commit(d, 3, |actions| {
                    actions.insert(0, serde_json::json!({"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["deletionVectors"], "writerFeatures": ["deletionVectors"]}}));
                    for a in actions.iter_mut() {
                        if let Some(add) = a.get_mut("add") {
                            add["deletionVector"] = serde_json::json!({"storageType": "u", "pathOrInlineDv": "ab^-aqEH.-t@S}K{vb[*k^", "offset": 4, "sizeInBytes": 40, "cardinality": 6});
                        }
                    }
                })
            }),
        ),
        (
            "someFutureFeature",
            Box::new(|d: &Path| {
                edit_commit(d, 3, |actions| {
                    actions.insert(0, serde_json::json!({"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["someFutureFeature"], "writerFeatures": ["someFutureFeature"]}}));
                })
            }),
        ),
        (
            "column mapping",
            Box::new(|d: &Path| {
                edit_commit(d, 3, |actions| {
                    let meta = std::fs::read_to_string(
                        d.join("lake/silver/orders/_delta_log/00000000000000000000.json"),
                    )
                    .unwrap();
                    let mut meta: serde_json::Value = meta
                        .lines()
                        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                        .find(|a| a.get("metaData").is_some())
                        .unwrap();
                    meta["metaData"]["configuration"]["delta.columnMapping.mode"] = "name".into();
                    let schema: serde_json::Value =
                        serde_json::from_str(meta["metaData"]["schemaString"].as_str().unwrap())
                            .unwrap();
                    let mut schema = schema;
                    for (i, f) in schema["fields"]
                        .as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .enumerate()
                    {
                        // Data columns renamed in the files; the partition column keeps its name.
                        let physical = if f["name"] == "day" {
                            "day".to_string()
                        } else {
                            format!("col-{i}")
                        };
                        f["metadata"] = serde_json::json!({"delta.columnMapping.id": i + 1, "delta.columnMapping.physicalName": physical});
                    }
                    meta["metaData"]["schemaString"] = schema.to_string().into();
                    meta["metaData"]["configuration"]["delta.columnMapping.maxColumnId"] =
                        "4".into();
                    actions.insert(0, meta);
                    actions.insert(0, serde_json::json!({"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}}));
                })
            }),
        ),
        (
            "its log states 131 rows",
            Box::new(|d: &Path| {
                // A log whose file statistics contradict the file's footer.
                edit_commit(d, 3, |actions| {
                    for a in actions.iter_mut() {
                        if let Some(add) = a.get_mut("add") {
                            let mut stats: serde_json::Value =
                                serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
                            stats["numRecords"] =
                                (stats["numRecords"].as_u64().unwrap() + 1).into();
                            add["stats"] = stats.to_string().into();
                        }
                    }
                })
            }),
        ),
    ];
    for (expected, breaks) in cases {
        let (dir, _) = project(&rules);
        dq::sample::write_parquet(
            &dir.path().join("lake/silver/customers/part-0.parquet"),
            &[datafusion::arrow::array::RecordBatch::try_from_iter([(
                "id",
                std::sync::Arc::new(datafusion::arrow::array::Int64Array::from(vec![1, 2]))
                    as datafusion::arrow::array::ArrayRef,
            )])
            .unwrap()],
        )
        .unwrap();
        breaks(dir.path());
        let (run, report) = validate(dir.path(), &[]);
        assert_eq!(run.code, 3, "{expected}: {}", run.stdout);
        let orders = &report["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == "silver.orders")
            .unwrap_or_else(|| panic!("{expected}: {}", run.stdout));
        let error = orders["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("Delta table") && error.contains("silver/orders"),
            "{expected}: {error}"
        );
        assert!(error.contains(expected), "{expected}: {error}");
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("backtrace"),
            "{}",
            run.stderr
        );
        // The other dataset is still validated.
        assert_eq!(
            check(&report, "silver.customers.row_count")["status"],
            "pass",
            "{expected}"
        );
    }
}
