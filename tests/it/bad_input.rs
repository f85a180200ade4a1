//! Bad input: every case gets a clear message and its documented exit code, never a panic.

use crate::common::{Project, dq, silver_orders};

fn expect(p: &Project, args: &[&str], code: i32, needles: &[&str]) -> String {
    let run = p.dq(args);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, code, "exit code for {args:?}:\n{all}");
    for n in needles {
        assert!(all.contains(n), "expected `{n}` in:\n{all}");
    }
    all
}

#[test]
fn malformed_yaml_points_at_the_line() {
    let p = Project::new(&[(
        "silver.yaml",
        "layer: silver\ndatasets:\n  - name: orders\n    checks: [ row_count: {min: 1}\n",
    )]);
    expect(
        &p,
        &["validate"],
        2,
        &["rules/silver.yaml:", "nothing was scanned"],
    );
}

#[test]
fn unknown_field_and_kind_suggest_the_closest_name() {
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&[
            "range: { column: amount, mni: 0 }",
            "not_nul: { columns: [order_id] }",
        ]),
    )]);
    let out = expect(
        &p,
        &["validate"],
        2,
        &[
            "unknown field `mni`",
            "did you mean `min`",
            "unknown check kind `not_nul`",
            "did you mean `not_null`",
            "2 problems found",
        ],
    );
    // Both problems carry file:line:column.
    assert!(out.contains("rules/silver.yaml:6:"), "{out}");
    assert!(out.contains("rules/silver.yaml:7:9"), "{out}");
}

#[test]
fn errors_from_all_files_are_collected() {
    let p = Project::new(&[
        (
            "gold.yaml",
            "layer: gold\ndatasets:\n  - name: daily_revenue\n    chekcs: []\n",
        ),
        (
            "silver.yaml",
            &silver_orders(&["unique: { colums: [order_id] }"]),
        ),
    ]);
    expect(
        &p,
        &["lint"],
        2,
        &[
            "rules/gold.yaml:4:",
            "unknown field `chekcs`",
            "rules/silver.yaml:6:",
            "unknown field `colums`",
        ],
    );
}

#[test]
fn unknown_column_lists_the_available_ones() {
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["not_null: { columns: [amount_x] }"]),
    )]);
    expect(
        &p,
        &["validate"],
        2,
        &[
            "column `amount_x` is not in dataset silver.orders",
            "did you mean `amount`",
            "available columns: order_id",
        ],
    );
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["expression: { condition: \"amount_x > 0\" }"]),
    )]);
    expect(
        &p,
        &["validate"],
        2,
        &["unknown column `amount_x`", "available columns"],
    );
}

#[test]
fn bad_regex_and_sql_are_rules_errors() {
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["pattern: { column: email, regex: '([a-z' }"]),
    )]);
    expect(
        &p,
        &["validate"],
        2,
        &["invalid regex", "rules/silver.yaml:6:9"],
    );
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["not_null: { columns: [order_id], where: \"status = = 'x'\" }"]),
    )]);
    expect(&p, &["validate"], 2, &["invalid where"]);
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["sql: { query: \"SELECT count(*) FROM silver.nope\", max: 0 }"]),
    )]);
    expect(&p, &["validate"], 2, &["invalid query", "silver.nope"]);
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["sql: { query: \"DELETE FROM silver.orders\", max: 0 }"]),
    )]);
    expect(&p, &["validate"], 2, &["invalid query"]);
    let scoped = "layer: silver\ndatasets:\n  - name: orders\n    scope: \"nope >= 1\"\n    checks:\n      - row_count: { min: 1 }\n";
    let p = Project::new(&[("silver.yaml", scoped)]);
    expect(
        &p,
        &["validate"],
        2,
        &["invalid scope", "unknown column `nope`"],
    );
}

#[test]
fn missing_dataset_is_a_runtime_error_and_the_rest_is_reported() {
    let rules = format!(
        "{}  - name: ghost\n    checks:\n      - row_count: {{ min: 1 }}\n",
        silver_orders(&["row_count: { min: 1 }"])
    );
    let p = Project::new(&[("silver.yaml", &rules)]);
    let run = p.dq(&["validate", "--format", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    crate::common::assert_valid_report(&report);
    let checks = report["checks"].as_array().unwrap();
    let ghost = checks
        .iter()
        .find(|c| c["dataset"] == "silver.ghost")
        .unwrap();
    assert_eq!(ghost["status"], "error");
    assert!(
        ghost["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{ghost}"
    );
    assert!(checks.iter().filter(|c| c["status"] == "pass").count() >= 2);
    assert_eq!(report["outcome"], "error");
    expect(&p, &["lint"], 3, &["silver.ghost", "does not exist"]);
}

#[test]
fn empty_dataset_directory() {
    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: 1 }"]))]);
    std::fs::remove_dir_all(p.path().join("lake/silver/customers")).unwrap();
    std::fs::create_dir_all(p.path().join("lake/silver/customers")).unwrap();
    expect(&p, &["validate"], 3, &["no Parquet files under"]);
}

#[test]
fn corrupt_and_truncated_parquet() {
    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: 1 }"]))]);
    let file = p.path().join("lake/silver/customers/part-0.parquet");
    std::fs::write(&file, b"this is not parquet at all, just some bytes").unwrap();
    expect(&p, &["validate"], 3, &["silver.customers", "Parquet"]);

    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: 1 }"]))]);
    let file = p
        .path()
        .join("lake/silver/orders/date=2026-11-15/part-0.parquet");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let out = expect(&p, &["validate"], 3, &["silver.orders"]);
    assert!(
        out.contains("PASS") || out.contains("customers"),
        "other datasets still reported:\n{out}"
    );

    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: 1 }"]))]);
    std::fs::write(p.path().join("lake/silver/customers/empty.parquet"), b"").unwrap();
    expect(&p, &["validate"], 3, &["empty (0 bytes)"]);
}

#[test]
fn usage_errors() {
    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: 1 }"]))]);
    expect(
        &p,
        &["validate", "--env", "tset"],
        2,
        &["unknown environment `tset`", "did you mean `test`"],
    );
    expect(
        &p,
        &["validate", "--layer", "silvr"],
        2,
        &["unknown layer `silvr`", "did you mean `silver`"],
    );
    expect(
        &p,
        &["validate", "--dataset", "ordes"],
        2,
        &["unknown dataset `ordes`"],
    );
    expect(&p, &["validate", "--as-of", "yesterday"], 2, &["--as-of"]);
    expect(
        &p,
        &["validate", "--format", "yaml"],
        2,
        &["invalid value 'yaml'"],
    );
    let empty = tempfile::tempdir().unwrap();
    let run = dq(empty.path(), &["validate"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no dq.yaml found"), "{}", run.stderr);
}

#[test]
fn bad_project_file() {
    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: 1 }"]))]);
    std::fs::write(
        p.path().join("dq.yaml"),
        "default_env: test\nenvironments:\n  test: { lake: ./lake, lakee: x }\n",
    )
    .unwrap();
    expect(
        &p,
        &["validate"],
        2,
        &["dq.yaml:3:", "unknown field `lakee`"],
    );
}

#[test]
fn wrong_types_in_rules() {
    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: lots }"]))]);
    expect(
        &p,
        &["validate"],
        2,
        &["rules/silver.yaml:6:22", "row_count: `min`: invalid type"],
    );
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["range: { column: amount, min: abc }"]),
    )]);
    expect(
        &p,
        &["validate"],
        2,
        &["is a string but the column is Float64"],
    );
}

#[test]
fn impossible_bounds_are_rules_errors_for_every_kind() {
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&[
            "range: { column: amount, min: 10, max: 5 }",
            "range: { name: empty_open, column: amount, min: 5, max: 5, inclusive: false }",
            "statistic: { column: amount, stat: mean, min: 10, max: 5 }",
            "sql: { query: \"SELECT count(*) FROM silver.orders\", min: 3, max: 1 }",
            "statistic: { column: email, stat: max, max: 5 }",
        ]),
    )]);
    expect(
        &p,
        &["lint"],
        2,
        &[
            "range min 10 and max 5 admit no value",
            "range min 5 and max 5 admit no value",
            "statistic min 10 is greater than max 5",
            "sql min 3 is greater than max 1",
            "stat `max` needs a numeric, date or timestamp column",
        ],
    );
    let p = Project::new(&[(
        "silver.yaml",
        "layer: silver\ndatasets:\n  - name: orders\n  - name: customers\nreconciliations:\n  - name: r\n    left: { dataset: orders, expr: \"count(*)\" }\n    right: { dataset: customers, expr: \"count(*)\" }\n    tolerance: { relative: -0.1 }\n",
    )]);
    expect(
        &p,
        &["lint"],
        2,
        &["tolerance relative must be a number ≥ 0"],
    );
}

#[test]
fn durations_too_long_are_rules_errors_not_panics() {
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["freshness: { column: created_at, max_age: 99999999999999999999d }"]),
    )]);
    // `dq checks` only lists the checks (it once panicked here).
    expect(&p, &["checks"], 0, &["freshness(created_at)"]);
    for command in ["lint", "validate"] {
        expect(&p, &[command], 2, &["is too long (at most 100 years)"]);
    }
}

#[test]
fn an_empty_rules_directory_is_an_error() {
    let p = Project::new(&[]);
    expect(&p, &["validate"], 2, &["no rule files (*.yaml)"]);
}

#[test]
fn an_unset_variable_is_named_when_streams_need_it() {
    let p = Project::new(&[
        ("silver.yaml", &silver_orders(&["row_count: { min: 1 }"])),
        (
            "streams.yaml",
            "streams:\n  - name: s\n    topic: t\n    sample: 1s\n    checks:\n      - latency: { p99_max: 1s }\n",
        ),
    ]);
    std::fs::write(
        p.path().join("dq.yaml"),
        "default_env: test\nenvironments:\n  test: { lake: ./lake, as_of: \"2026-11-21T00:00:00Z\", kafka: { brokers: \"${DQ_TEST_SURELY_UNSET_BROKERS}\" } }\n",
    )
    .unwrap();
    expect(
        &p,
        &["streams"],
        2,
        &["`DQ_TEST_SURELY_UNSET_BROKERS` is not set"],
    );
    // Validation does not need the brokers.
    expect(&p, &["validate", "--layer", "silver"], 0, &[]);
}

#[test]
fn config_files_must_be_regular_files() {
    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: 1 }"]))]);
    std::os::unix::fs::symlink("/dev/zero", p.path().join("rules/zero.yaml")).unwrap();
    expect(&p, &["validate"], 2, &["zero.yaml", "not a regular file"]);
    std::fs::remove_file(p.path().join("rules/zero.yaml")).unwrap();
    // A FIFO as dq.yaml: refused at once, not read forever.
    let fifo = p.path().join("fifo.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let started = std::time::Instant::now();
    let run = crate::common::dq(p.path(), &["--config", fifo.to_str().unwrap(), "validate"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    // Not a timing assertion on speed: a hang would never return at all.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn outputs_to_devices_and_directories() {
    let p = Project::new(&[("silver.yaml", &silver_orders(&["row_count: { min: 1 }"]))]);
    expect(
        &p,
        &["validate", "--output", "/dev/null", "--format", "json"],
        0,
        &[],
    );
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    let out = p.path().join("out");
    std::fs::create_dir(&out).unwrap();
    expect(
        &p,
        &["validate", "--output", out.to_str().unwrap()],
        3,
        &["is a directory"],
    );
    let leftovers: Vec<_> = std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Found by the rules-file fuzzer: an unknown field ending in a dot hung `dq lint`.
#[test]
fn an_unknown_field_ending_in_a_dot_is_an_error_not_a_hang() {
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["unique: { column.: [order_id] }"]),
    )]);
    expect(&p, &["lint"], 2, &["unknown field `column.`"]);
}
