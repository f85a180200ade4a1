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
