//! The binary on the bundled sample lake: statuses, counts, exit codes and every format.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{assert_valid_report, dq, repo};

fn statuses(report: &serde_json::Value, layer: &str) -> BTreeMap<String, String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["layer"] == layer)
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count(map: &BTreeMap<String, String>, status: &str) -> usize {
    map.values().filter(|s| *s == status).count()
}

#[test]
fn full_run_finds_the_documented_defects() {
    let run = dq(&repo(), &["validate", "--format", "json", "--output", "-"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_valid_report(&report);
    assert_eq!(report["outcome"], "fail");

    let gold = statuses(&report, "gold");
    assert!(gold.len() >= 12, "{gold:?}");
    assert_eq!(count(&gold, "pass"), gold.len(), "gold passes: {gold:?}");

    let silver = statuses(&report, "silver");
    assert_eq!(count(&silver, "fail"), 1, "{silver:?}");
    assert_eq!(
        silver["silver.orders.references(customer_id -> customers)"],
        "fail"
    );
    assert_eq!(count(&silver, "warn"), 2, "{silver:?}");
    assert_eq!(silver["silver.orders.pattern(email, email)"], "warn");
    assert_eq!(silver["silver.orders.length(country)"], "warn");

    let bronze = statuses(&report, "bronze");
    for id in [
        "bronze.orders_raw.not_null(order_id)",
        "bronze.orders_raw.unique(order_id)",
        "bronze.orders_raw.accepted_values(status)",
        "bronze.orders_raw.amount_is_numeric",
    ] {
        assert_eq!(bronze[id], "fail", "{id}");
    }
    // Dates written as DD/MM/YYYY do not parse with the format the rules state.
    assert_eq!(
        bronze["bronze.customers_raw.parseable(signup_date, datetime)"],
        "warn"
    );

    // Known counts of the generated defects.
    let check = |id: &str| -> serde_json::Value {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap()
    };
    let orphans = check("silver.orders.references(customer_id -> customers)");
    assert_eq!(orphans["failed_rows"], 3);
    assert_eq!(orphans["rows_checked"], 3500);
    assert!(!orphans["sample_failures"].as_array().unwrap().is_empty());
    assert!(
        orphans["sql"]
            .as_str()
            .unwrap()
            .contains("silver.customers"),
        "{}",
        orphans["sql"]
    );
    // The SQL shown for uniqueness is the grouped pass as it runs, GROUP BY included.
    let unique = check("bronze.orders_raw.unique(order_id)");
    assert!(
        unique["sql"].as_str().unwrap().contains("GROUP BY"),
        "{}",
        unique["sql"]
    );
    assert_eq!(unique["failed_rows"], 20);
    // The scope keeps 7 of 10 daily partitions.
    let orders = report["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "silver.orders")
        .unwrap();
    assert_eq!(orders["rows_in_scope"], 3500);
    assert_eq!(orders["files"], 10);

    // Every rule kind of the catalogue is exercised by the sample rules.
    let kinds: BTreeSet<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    // Row relations the sample lake's tables have no natural instance of; their modules'
    // tests and the differential tests cover them.
    const NO_SAMPLE: &[&str] = &["columns_equal", "sum_equals", "value_pairs"];
    for k in dq::rules::REGISTRY {
        assert!(
            kinds.contains(k.name) || NO_SAMPLE.contains(&k.name),
            "sample rules do not use `{}`",
            k.name
        );
    }
}

#[test]
fn gold_alone_passes_with_its_reconciliations() {
    let run = dq(
        &repo(),
        &["validate", "--layer", "gold", "--format", "json"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_valid_report(&report);
    let checks = report["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .all(|c| c["layer"] == "gold" && c["status"] == "pass")
    );
    let recs: Vec<_> = checks
        .iter()
        .filter(|c| c["kind"] == "reconciliation")
        .collect();
    assert_eq!(recs.len(), 2);
    let left = recs[0]["observed"]["left"].as_f64().unwrap();
    let right = recs[0]["observed"]["right"].as_f64().unwrap();
    assert!(left > 100_000.0 && ((left - right) / left).abs() < 1e-9);
    // Silver orders were read for the reconciliation but are not reported as a dataset.
    let datasets: Vec<&str> = report["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        datasets,
        vec!["gold.daily_revenue", "gold.customer_summary"]
    );
}

#[test]
fn text_report_reads_at_a_glance() {
    let run = dq(&repo(), &["validate", "--layer", "silver"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("silver.orders  3500 rows in scope"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("FAIL   references(customer_id -> customers)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("3 rows reference keys missing from silver.customers")
    );
    assert!(run.stdout.contains("FAIL (exit 1)"));
    assert!(
        !run.stdout.contains("\x1b["),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn junit_has_one_testcase_per_check() {
    let json = dq(&repo(), &["validate", "--format", "json"]).json();
    let total = json["summary"]["total"].as_u64().unwrap() as usize;
    let run = dq(&repo(), &["validate", "--format", "junit"]);
    assert_eq!(run.code, 1);
    let xml = run.stdout;
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testcase ").count(), total);
    assert_eq!(
        xml.matches("<failure ").count(),
        json["summary"]["failed"].as_u64().unwrap() as usize
    );
    // Warnings and history checks without enough history are <skipped>.
    assert_eq!(
        xml.matches("<skipped ").count(),
        (json["summary"]["warned"].as_u64().unwrap()
            + json["summary"]["insufficient"].as_u64().unwrap_or(0)) as usize
    );
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    assert!(!xml.contains("->"), "names are escaped");
}

#[test]
fn markdown_fits_a_pull_request() {
    let run = dq(
        &repo(),
        &["validate", "--format", "markdown", "--layer", "silver"],
    );
    assert!(
        run.stdout
            .starts_with("### dq validate --layer silver — ❌ FAIL"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("| ❌ fail | silver.orders | `references(customer_id -> customers)` |")
    );
    assert!(run.stdout.contains("<details>"));
}

#[test]
fn output_file_fail_on_and_sample_control() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let path_s = path.to_str().unwrap();
    let run = dq(
        &repo(),
        &[
            "validate",
            "-d",
            "bronze.customers_raw",
            "--format",
            "json",
            "--output",
            path_s,
            "--sample-failures",
            "0",
        ],
    );
    assert_eq!(run.code, 0, "a warning alone passes: {}", run.stderr);
    assert!(run.stderr.contains("report written to"), "{}", run.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_valid_report(&report);
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["sample_failures"].as_array().unwrap().is_empty())
    );
    let run = dq(
        &repo(),
        &[
            "validate",
            "-d",
            "bronze.customers_raw",
            "--fail-on",
            "warn",
            "-q",
        ],
    );
    assert_eq!(run.code, 1);
}

#[test]
fn as_of_moves_freshness_and_scopes() {
    // A week later nothing is fresh, and the 7-day scope of silver.orders holds no rows.
    let run = dq(
        &repo(),
        &[
            "validate",
            "-d",
            "silver.orders",
            "--as-of",
            "2026-12-01",
            "--format",
            "json",
        ],
    );
    let report = run.json();
    let fresh = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "freshness")
        .unwrap();
    assert_eq!(fresh["status"], "fail");
    let orders = &report["datasets"][0];
    assert_eq!(orders["rows_in_scope"], 0);
    // now() in custom SQL is the evaluation instant too: on 2026-11-15 later orders are
    // "from the future".
    let report = dq(
        &repo(),
        &[
            "validate",
            "-d",
            "silver.orders",
            "--as-of",
            "2026-11-15",
            "--format",
            "json",
        ],
    )
    .json();
    let future = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "no_orders_from_the_future")
        .unwrap();
    assert_eq!(future["status"], "fail", "{future}");
    assert!(future["observed"].as_f64().unwrap() > 1000.0, "{future}");
}

#[test]
fn lint_plan_rules_and_explain() {
    let run = dq(&repo(), &["lint"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("74 checks in 8 datasets compile"),
        "{}",
        run.stdout
    );

    let run = dq(&repo(), &["plan", "--layer", "silver"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("-- silver.orders"), "{}", run.stdout);
    assert!(run.stdout.contains("FILTER (WHERE"), "{}", run.stdout);
    assert!(run.stdout.contains("FROM silver.orders"), "{}", run.stdout);
    assert!(
        run.stdout.contains("-- no scan (schema / listing): schema"),
        "{}",
        run.stdout
    );
    // The scope reaches the SQL with the evaluation instant pinned.
    assert!(run.stdout.contains("2026-11-21"), "{}", run.stdout);

    let run = dq(&repo(), &["rules"]);
    for k in dq::rules::REGISTRY {
        assert!(run.stdout.contains(k.name));
    }
    let run = dq(&repo(), &["explain", "references"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Example:"));
    let run = dq(&repo(), &["explain", "referenses"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("did you mean `references`"),
        "{}",
        run.stderr
    );
}

#[test]
fn finds_dq_yaml_in_parent_directories() {
    let run = dq(&repo().join("sample-data/silver"), &["lint", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn never_writes_to_the_lake() {
    fn snapshot() -> Vec<(String, u64, std::time::SystemTime)> {
        let mut out = Vec::new();
        let mut stack = vec![repo().join("sample-data")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                if m.is_dir() {
                    stack.push(e.path());
                } else {
                    out.push((
                        e.path().display().to_string(),
                        m.len(),
                        m.modified().unwrap(),
                    ));
                }
            }
        }
        out.sort();
        out
    }
    let before = snapshot();
    dq(&repo(), &["validate", "-q"]);
    assert_eq!(before, snapshot());
}

/// Failing examples are the first failing rows in value order: two runs (with their own
/// thread interleavings) show the same rows.
#[test]
fn failing_examples_are_the_same_on_every_run() {
    let examples = || {
        let run = dq(&repo(), &["validate", "--format", "json", "--output", "-"]);
        let report = run.json();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].clone(), c["sample_failures"].clone()))
            .collect::<Vec<_>>()
    };
    let first = examples();
    assert!(
        first
            .iter()
            .filter(|(_, s)| s.as_array().is_some_and(|a| !a.is_empty()))
            .count()
            >= 5
    );
    assert_eq!(first, examples());
    assert_eq!(first, examples());
}

#[test]
fn payments_is_read_as_its_delta_snapshot() {
    let run = dq(
        &repo(),
        &[
            "validate",
            "--format",
            "json",
            "--dataset",
            "silver.payments",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_valid_report(&report);
    let payments = &report["datasets"][0];
    assert_eq!(payments["id"], "silver.payments");
    assert_eq!(payments["delta"]["version"], 1, "{payments}");
    assert_eq!(payments["delta"]["snapshot_files"], 3, "{payments}");
    let rows = payments["rows_in_scope"].as_u64().unwrap();
    // The folder holds one more file than the snapshot: the last day before the MERGE,
    // with the duplicated payment. Read as Parquet it has more rows and a duplicate.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("dq.yaml"),
        format!(
            "default_env: t\nenvironments:\n  t: {{ lake: \"{}\" }}\n",
            repo().join("sample-data").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules/silver.yaml"),
        "layer: silver\ndatasets:\n  - name: payments\n    partitioning: [{ name: date, type: date }]\n    checks:\n      - unique: { columns: [payment_id] }\n      - row_count: { min: 1 }\n",
    )
    .unwrap();
    let folder = dq(dir.path(), &["validate", "--format", "json"]).json();
    let d = &folder["datasets"][0];
    assert!(d["rows_in_scope"].as_u64().unwrap() > rows, "{d}");
    assert_eq!(
        folder["checks"][0]["status"], "fail",
        "{}",
        folder["checks"][0]
    );
    assert!(
        d["warnings"][0].as_str().unwrap().contains("format: delta"),
        "{d}"
    );
}
