//! Criterion benchmarks of the engine's hot paths on a generated 1 M-row silver orders
//! dataset (built once per run in a temporary directory): the fused scan per rule family,
//! regex, uniqueness, the reference join, and 10 vs 100 checks on one dataset.
//!
//! `cargo bench --bench engine` (set DQ_BENCH_ROWS to change the size).

use criterion::{Criterion, criterion_group, criterion_main};

struct Lake {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
}

fn lake(rows: usize) -> Lake {
    let dir = tempfile::tempdir().expect("temp dir");
    dq::sample::generate_with(&dir.path().join("lake"), rows, 42, false, false).expect("generate");
    Lake {
        root: dir.path().to_path_buf(),
        _dir: dir,
    }
}

fn rules(checks: &[String]) -> dq::config::rules::RuleSet {
    let mut text = String::from(
        "layer: silver\ndatasets:\n  - name: orders\n    partitioning: [{ name: date, type: date }]\n    checks:\n",
    );
    for c in checks {
        text.push_str(&format!("      - {c}\n"));
    }
    text.push_str("  - name: customers\n");
    dq::config::rules::load_sources(&[("bench.yaml".into(), text)]).expect("valid rules")
}

fn run(rt: &tokio::runtime::Runtime, lake: &Lake, rules: &dq::config::rules::RuleSet) -> usize {
    let options = dq::engine::RunOptions {
        datasets: vec!["silver.orders".into()],
        sample_failures: 0,
        ..dq::engine::RunOptions::new(&lake.root, "lake")
    };
    rt.block_on(async {
        let session = dq::engine::session(None).expect("session");
        let prepared = dq::engine::prepare(&session, rules, &options)
            .await
            .expect("compiles");
        let (_, results) = dq::engine::execute(&session, prepared).await;
        results.len()
    })
}

fn families() -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    vec![
        (
            "not_null+range+accepted",
            s(&[
                "not_null: { columns: [order_id, customer_id, amount, created_at] }",
                "range: { column: amount, min: 0, max: 100000 }",
                "accepted_values: { column: status, values: [placed, shipped, delivered, cancelled, returned] }",
            ]),
        ),
        (
            "statistics",
            s(&[
                "statistic: { column: amount, stat: mean, min: 0 }",
                "statistic: { column: amount, stat: stddev, min: 0 }",
                "statistic: { column: amount, stat: max, min: 0 }",
            ]),
        ),
        (
            "regex_email",
            s(&["pattern: { column: email, format: email, max_failed_fraction: 1 }"]),
        ),
        ("unique_order_id", s(&["unique: { columns: [order_id] }"])),
        (
            "unique_pair",
            s(&["unique: { columns: [customer_id, created_at], max_failed_fraction: 1 }"]),
        ),
        (
            "references",
            s(&[
                "references: { column: customer_id, dataset: customers, key: customer_id, max_failed_fraction: 1 }",
            ]),
        ),
    ]
}

fn scaling(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 4 {
            0 => format!("range: {{ name: r{i}, column: amount, min: -{i}, max: {} }}", 100000 + i),
            1 => format!("accepted_values: {{ name: a{i}, column: status, values: [placed, shipped, delivered, cancelled, returned, s{i}] }}"),
            2 => format!("not_null: {{ name: n{i}, columns: [order_id, amount], where: \"amount > {i}\" }}"),
            _ => format!("length: {{ name: l{i}, column: country, max: {} }}", 2 + i),
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let rows: usize = std::env::var("DQ_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let lake = lake(rows);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group(format!("fused_scan_{rows}_rows"));
    group.sample_size(10);
    for (name, checks) in families() {
        let set = rules(&checks);
        group.bench_function(name, |b| b.iter(|| run(&rt, &lake, &set)));
    }
    group.finish();
    let mut group = c.benchmark_group(format!("scaling_{rows}_rows"));
    group.sample_size(10);
    for n in [10, 100] {
        let set = rules(&scaling(n));
        group.bench_function(format!("{n}_checks"), |b| b.iter(|| run(&rt, &lake, &set)));
    }
    group.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
