//! `dq readiness`: verdict, reasons and decision matrix; the policy; and the outputs as
//! real consumers read them (JUnit parser, Prometheus parser, headless Chromium).

use std::process::Command;

use crate::common::{Project, assert_valid_report, dq, repo, silver_orders};

fn row<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["readiness"]["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()
}

#[test]
fn sample_lake_is_no_go_with_reasons() {
    let run = dq(&repo(), &["readiness", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_valid_report(&report);
    let r = &report["readiness"];
    assert_eq!(r["verdict"], "no_go");
    assert_eq!(row(&report, "bronze")["status"], "no_go");
    assert_eq!(row(&report, "silver")["status"], "no_go");
    assert_eq!(row(&report, "gold")["status"], "go");
    assert_eq!(row(&report, "gold")["score"], 1.0);
    assert_eq!(row(&report, "reconciliations")["status"], "go");
    let reasons: Vec<&str> = r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(reasons.iter().any(|r| r.contains("silver: check orders.references(customer_id -> customers) failed")), "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("bronze: check orders_raw.not_null(order_id) failed")),
        "{reasons:?}"
    );
    // Severity-weighted score: an error-severity check weighs 3, a warning 1; checks still
    // without enough history count neither way. Silver has one failing error check and two
    // failing warnings among its judged checks.
    let (mut passed, mut total, mut failing) = (0.0, 0.0, 0);
    for c in report["checks"].as_array().unwrap() {
        if c["layer"] != "silver" || c["status"] == "insufficient_history" {
            continue;
        }
        let weight = if c["severity"] == "error" { 3.0 } else { 1.0 };
        total += weight;
        if c["status"] == "pass" {
            passed += weight;
        } else {
            failing += 1;
        }
    }
    assert_eq!(failing, 3);
    let silver = row(&report, "silver")["score"].as_f64().unwrap();
    assert!((silver - passed / total).abs() < 1e-12, "{silver}");
    assert!(silver > 0.9 && silver < 1.0, "{silver}");

    let text = dq(&repo(), &["readiness"]).stdout;
    assert!(text.contains("NO-GO — 5 reasons:"), "{text}");
    assert!(text.contains("gold                         GO"), "{text}");
}

#[test]
fn clean_rules_are_go() {
    let run = dq(&repo(), &["readiness", "--layer", "gold"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("GO — every blocking check passed"),
        "{}",
        run.stdout
    );
    let md = dq(
        &repo(),
        &["readiness", "--layer", "gold", "--format", "markdown"],
    )
    .stdout;
    assert!(md.contains("Readiness: ✅ **GO**"), "{md}");
    assert!(md.contains("| gold | GO | 100% | 13/13 |  |"), "{md}");
}

fn project_with_policy(policy: &str, silver_checks: &[&str]) -> Project {
    let gold = "layer: gold\ndatasets:\n  - name: daily_revenue\n    checks:\n      - row_count: { min: 1 }\n";
    let p = Project::new(&[
        ("silver.yaml", &silver_orders(silver_checks)),
        ("gold.yaml", gold),
    ]);
    let yaml = format!(
        "default_env: test\nenvironments:\n  test: {{ lake: ./lake, as_of: \"2026-11-21T00:00:00Z\" }}\nreadiness: {policy}\n"
    );
    std::fs::write(p.path().join("dq.yaml"), yaml).unwrap();
    p
}

#[test]
fn policy_decides_what_blocks() {
    // customer ids repeat across orders: the uniqueness check fails.
    let failing = "unique: { columns: [customer_id] }";
    let p = project_with_policy("{ blocking: [gold] }", &[failing]);
    let run = p.dq(&["readiness", "--format", "json"]);
    assert_eq!(
        run.code, 0,
        "non-blocking silver does not stop GO: {}",
        run.stdout
    );
    let report = run.json();
    assert_eq!(row(&report, "silver")["status"], "warn");
    assert_eq!(row(&report, "silver")["blocking"], false);

    let p = project_with_policy("{}", &[failing]);
    assert_eq!(p.dq(&["readiness"]).code, 1);

    let warn = "unique: { columns: [customer_id], severity: warn }";
    let p = project_with_policy("{ max_warnings: 0 }", &[warn]);
    let run = p.dq(&["readiness"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("1 warnings exceed the budget of 0"),
        "{}",
        run.stdout
    );

    let p = project_with_policy("{}", &["row_count: { min: 0, where: \"amount < 0\" }"]);
    let scoped = std::fs::read_to_string(p.path().join("rules/silver.yaml"))
        .unwrap()
        .replace(
            "    partitioning: [{ name: date, type: date }]\n",
            "    partitioning: [{ name: date, type: date }]\n    scope: \"date > current_date\"\n",
        );
    std::fs::write(p.path().join("rules/silver.yaml"), scoped).unwrap();
    let run = p.dq(&["readiness"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("silver.orders: no rows in scope"),
        "{}",
        run.stdout
    );

    let p = project_with_policy("{ blocking: [platinum] }", &[failing]);
    let run = p.dq(&["readiness"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("`platinum` is neither a layer nor a dataset"),
        "{}",
        run.stderr
    );
}

use crate::common::python;

#[test]
#[ignore = "needs the Python parsers that `make test` installs"]
fn junit_and_metrics_parse_with_real_parsers() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("dq.xml");
    let prom = dir.path().join("dq.prom");
    let json = dq(&repo(), &["readiness", "--format", "json"]).json();
    let run = dq(
        &repo(),
        &[
            "readiness",
            "--format",
            "junit",
            "--output",
            junit.to_str().unwrap(),
            "--metrics-out",
            prom.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1);
    let script = r#"
import sys, json
from junitparser import JUnitXml, Failure, Skipped, Error
xml = JUnitXml.fromfile(sys.argv[1])
cases = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
names = []
for suite in xml:
    for case in suite:
        cases["tests"] += 1
        names.append(f"{case.classname}|{case.name}")
        for r in case.result:
            if isinstance(r, Failure): cases["failures"] += 1
            elif isinstance(r, Skipped): cases["skipped"] += 1
            elif isinstance(r, Error): cases["errors"] += 1
from prometheus_client.parser import text_string_to_metric_families
metrics = {}
for fam in text_string_to_metric_families(open(sys.argv[2]).read()):
    for s in fam.samples:
        metrics.setdefault(s.name, []).append((s.labels, s.value))
print(json.dumps({"junit": cases, "names": names, "metrics": {k: len(v) for k, v in metrics.items()},
                  "go": metrics["dq_readiness_go"][0][1],
                  "passed": sum(v for _, v in metrics["dq_check_passed"])}))
"#;
    let parsed = json_from(Command::new(python()).args([
        "-c",
        script,
        junit.to_str().unwrap(),
        prom.to_str().unwrap(),
    ]));
    let checks = json["checks"].as_array().unwrap().len();
    let matrix = json["readiness"]["matrix"].as_array().unwrap().len();
    assert_eq!(parsed["junit"]["tests"], checks + matrix, "{parsed}");
    assert_eq!(
        parsed["junit"]["failures"],
        json["summary"]["failed"].as_u64().unwrap() + 2,
        "two NO-GO rows"
    );
    let not_run = json["readiness"]["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "not_run")
        .count() as u64;
    assert_eq!(
        parsed["junit"]["skipped"],
        json["summary"]["warned"].as_u64().unwrap()
            + json["summary"]["insufficient"].as_u64().unwrap_or(0)
            + not_run,
        "warnings, history checks without history and streams not run"
    );
    assert_eq!(parsed["metrics"]["dq_check_passed"], checks);
    assert_eq!(parsed["go"], 0.0);
    assert_eq!(
        parsed["passed"],
        json["summary"]["passed"].as_f64().unwrap()
    );
    // One testcase per check, one to one.
    let names: std::collections::BTreeSet<String> = parsed["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    for c in json["checks"].as_array().unwrap() {
        let suite = c["dataset"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("{}.reconciliations", c["layer"].as_str().unwrap()));
        assert!(
            names.contains(&format!("{suite}|{}", c["name"].as_str().unwrap())),
            "{c}"
        );
    }
}

#[test]
#[ignore = "needs the headless Chromium that `make test` installs"]
fn html_report_renders_in_headless_chromium() {
    let chromium = std::env::var("DQ_TEST_CHROMIUM")
        .expect("DQ_TEST_CHROMIUM is not set: run through `make test`");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("dq.html");
    let run = dq(
        &repo(),
        &[
            "readiness",
            "--format",
            "html",
            "--output",
            page.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no network assets"
    );
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=2000",
            "--dump-dom",
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("id=\"verdict\">NO-GO</span>"),
        "verdict not rendered:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("id=\"silver.orders.references(customer_id -&gt; customers)\""),
        "failing check not rendered"
    );
    assert!(dom.contains("<table id=\"matrix\">"));
}

#[test]
#[ignore = "needs the Dagster that `make test` installs"]
fn dagster_records_one_asset_check_result_per_dq_check() {
    let python = std::env::var("DQ_TEST_DAGSTER_PYTHON")
        .expect("DQ_TEST_DAGSTER_PYTHON is not set: run through `make test`");
    let package = repo().join("integrations/dagster");
    let r = json_from(
        Command::new(python)
            .arg(package.join("test_dagster_dq.py"))
            .arg(crate::common::DQ)
            .arg(repo())
            .env("PYTHONPATH", &package)
            .env("DAGSTER_HOME", tempfile::tempdir().unwrap().keep()),
    );
    assert_eq!(
        r["success"], true,
        "asset check failures do not fail the run"
    );
    let recorded = r["recorded"].as_object().unwrap();
    // gold.daily_revenue (8 + 2 reconciliations), gold.customer_summary (5), silver.orders (28).
    assert_eq!(recorded.len(), 43, "{recorded:?}");
    for (key, v) in recorded {
        assert_eq!(v["passed"], r["expected"][key], "{key}");
        for m in ["dataset", "threshold", "observed", "sql"] {
            assert!(
                v["metadata"].as_array().unwrap().iter().any(|x| x == m),
                "{key} lacks {m}"
            );
        }
    }
    assert_eq!(
        recorded["silver/orders:references_customer_id_customers"]["passed"],
        false
    );
    assert_eq!(
        recorded["silver/orders:pattern_email_email"]["severity"],
        "WARN"
    );
    // With history, a check carries its previous value and the change since.
    let history = r["history_metadata"].to_string();
    for m in ["\"previous\"", "\"previous_as_of\"", "\"change\""] {
        assert!(history.contains(m), "{m} missing: {history}");
    }
    assert_eq!(r["broken_success"], false);
    assert!(
        r["broken_messages"][0]
            .as_str()
            .unwrap()
            .contains("column `revenu` is not in dataset gold.daily_revenue")
    );
}

/// Runs a consumer of dq's output (a Python script) and parses the JSON it prints.
fn json_from(command: &mut Command) -> serde_json::Value {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The score is severity-weighted exactly (error 3, warn 1): one failing error check and
/// one failing warning among four checks of each severity.
#[test]
fn the_score_weighs_errors_three_times_warnings() {
    let checks = [
        "row_count: { min: 1 }",
        "not_null: { columns: [order_id] }",
        "unique: { columns: [order_id] }",
        "unique: { name: ids_repeat, columns: [customer_id] }",
        "row_count: { name: w1, min: 1, severity: warn }",
        "not_null: { name: w2, columns: [order_id], severity: warn }",
        "unique: { name: w3, columns: [order_id], severity: warn }",
        "unique: { name: w4, columns: [customer_id], severity: warn }",
    ];
    let p = project_with_policy("{ blocking: [gold] }", &checks);
    let report = p.dq(&["readiness", "--format", "json"]).json();
    let silver = row(&report, "silver");
    // customers' row_count also counts in silver: 5 error checks (15) and 4 warnings (4);
    // passed: 4 error (12) + 3 warnings (3) = 15 of 19. Unweighted it would be 7/9.
    let score = silver["score"].as_f64().unwrap();
    assert!((score - 15.0 / 19.0).abs() < 1e-9, "{score} ({silver})");
}

#[test]
fn min_score_require_checks_and_require_streams_block() {
    let warn = "unique: { columns: [customer_id], severity: warn }";
    let ok = "row_count: { min: 1 }";
    // Warnings alone never block, but a score below min_score does.
    let p = project_with_policy("{ blocking: [silver], min_score: 0.9 }", &[ok, warn]);
    let run = p.dq(&["readiness"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("is below readiness.min_score 90%"),
        "{}",
        run.stdout
    );
    let p = project_with_policy("{ blocking: [silver], min_score: 0.5 }", &[ok, warn]);
    assert_eq!(p.dq(&["readiness"]).code, 0);

    // A blocking layer without checks.
    let p = project_with_policy("{ blocking: [silver, gold] }", &[ok]);
    std::fs::write(
        p.path().join("rules/gold.yaml"),
        "layer: gold\ndatasets:\n  - name: daily_revenue\n",
    )
    .unwrap();
    let run = p.dq(&["readiness"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("gold: the layer has no checks (readiness.require_checks)"),
        "{}",
        run.stdout
    );
    let p2 = project_with_policy("{ blocking: [silver, gold], require_checks: false }", &[ok]);
    std::fs::write(
        p2.path().join("rules/gold.yaml"),
        "layer: gold\ndatasets:\n  - name: daily_revenue\n",
    )
    .unwrap();
    assert_eq!(p2.dq(&["readiness"]).code, 0);

    // Configured streams that cannot run (no kafka settings): only require_streams blocks.
    let streams = "streams:\n  - name: s\n    topic: t\n    sample: 1s\n    checks:\n      - latency: { p99_max: 1s }\n";
    let p = project_with_policy("{}", &[ok]);
    std::fs::write(p.path().join("rules/streams.yaml"), streams).unwrap();
    let run = p.dq(&["readiness"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let p = project_with_policy("{ require_streams: true }", &[ok]);
    std::fs::write(p.path().join("rules/streams.yaml"), streams).unwrap();
    let run = p.dq(&["readiness"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("readiness.require_streams"),
        "{}",
        run.stdout
    );
}
