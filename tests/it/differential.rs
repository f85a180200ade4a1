//! Differential property test: on random data (NULLs included), the fused plan gives the
//! same results as naive one-query-per-check SQL, and as a plain Rust count where the
//! semantics are simple enough to restate.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use dq::engine::cluster::Engine;
use dq::sample::Rng;

const WORDS: &[&str] = &["abc", "abd", "bcd", "cab", "xyz", "", "aaaaaaa", "é"];

struct Data {
    x: Vec<Option<f64>>,
    n: Vec<Option<i64>>,
    s: Vec<Option<String>>,
}

fn data(rng: &mut Rng, rows: usize) -> Data {
    let null = |rng: &mut Rng| rng.chance(0.15);
    Data {
        x: (0..rows)
            .map(|_| {
                if null(rng) {
                    None
                } else {
                    Some(((rng.unit() * 200.0 - 50.0) * 100.0).round() / 100.0)
                }
            })
            .collect(),
        n: (0..rows)
            .map(|_| {
                if null(rng) {
                    None
                } else {
                    Some(rng.below(25) as i64)
                }
            })
            .collect(),
        s: (0..rows)
            .map(|_| {
                if null(rng) {
                    None
                } else {
                    Some(WORDS[rng.below(WORDS.len() as u64) as usize].to_string())
                }
            })
            .collect(),
    }
}

fn batch(d: &Data) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("x", Arc::new(Float64Array::from(d.x.clone())) as ArrayRef),
        ("n", Arc::new(Int64Array::from(d.n.clone()))),
        ("s", Arc::new(StringArray::from(d.s.clone()))),
    ])
    .unwrap()
}

/// A check in YAML, and the naive SQL counting its failing rows (or computing its value).
struct Case {
    yaml: String,
    naive: String,
    /// Independent Rust count of failing rows, where restated.
    oracle: Option<u64>,
    value: bool,
}

fn cases(rng: &mut Rng, d: &Data) -> Vec<Case> {
    type Keep = fn(&Data, usize) -> bool;
    let filters: [(Option<&str>, Keep); 4] = [
        (None, |_, _| true),
        (Some("n > 5"), |d, i| d.n[i].is_some_and(|n| n > 5)),
        (Some("s = 'abc'"), |d, i| d.s[i].as_deref() == Some("abc")),
        (Some("x IS NOT NULL"), |d, i| d.x[i].is_some()),
    ];
    let mut out = Vec::new();
    for i in 0..14 {
        let (w, keep) = filters[rng.below(4) as usize];
        let where_yaml = w.map(|w| format!(", where: \"{w}\"")).unwrap_or_default();
        let where_sql = w.unwrap_or("true");
        let lo = (rng.unit() * 100.0 - 40.0).round();
        let hi = lo + (rng.unit() * 100.0).round();
        let rows: Vec<usize> = (0..d.x.len()).filter(|r| keep(d, *r)).collect();
        let name = format!("c{i}");
        let case = match i % 14 {
            0 => Case {
                yaml: format!("not_null: {{ name: {name}, columns: [x]{where_yaml} }}"),
                naive: format!("SELECT count(*) FROM t WHERE ({where_sql}) AND x IS NULL"),
                oracle: Some(rows.iter().filter(|r| d.x[**r].is_none()).count() as u64),
                value: false,
            },
            1 => Case {
                yaml: format!("not_null: {{ name: {name}, columns: [x, s]{where_yaml} }}"),
                naive: format!(
                    "SELECT count(*) FROM t WHERE ({where_sql}) AND (x IS NULL OR s IS NULL)"
                ),
                oracle: Some(
                    rows.iter()
                        .filter(|r| d.x[**r].is_none() || d.s[**r].is_none())
                        .count() as u64,
                ),
                value: false,
            },
            2 => Case {
                yaml: format!(
                    "range: {{ name: {name}, column: x, min: {lo}, max: {hi}{where_yaml} }}"
                ),
                naive: format!(
                    "SELECT count(*) FROM t WHERE ({where_sql}) AND (x < {lo} OR x > {hi})"
                ),
                oracle: Some(
                    rows.iter()
                        .filter(|r| d.x[**r].is_some_and(|x| x < lo || x > hi))
                        .count() as u64,
                ),
                value: false,
            },
            3 => Case {
                yaml: format!(
                    "accepted_values: {{ name: {name}, column: s, values: [abc, xyz, ''], allow_null: false{where_yaml} }}"
                ),
                naive: format!(
                    "SELECT count(*) FROM t WHERE ({where_sql}) AND (s NOT IN ('abc', 'xyz', '') OR s IS NULL)"
                ),
                oracle: Some(
                    rows.iter()
                        .filter(|r| !matches!(d.s[**r].as_deref(), Some("abc" | "xyz" | "")))
                        .count() as u64,
                ),
                value: false,
            },
            4 => Case {
                yaml: format!(
                    "pattern: {{ name: {name}, column: s, regex: '^[a-c]+$'{where_yaml} }}"
                ),
                naive: format!(
                    "SELECT count(*) FROM t WHERE ({where_sql}) AND NOT regexp_like(s, '^[a-c]+$')"
                ),
                oracle: None,
                value: false,
            },
            5 => Case {
                yaml: format!("length: {{ name: {name}, column: s, min: 1, max: 3{where_yaml} }}"),
                naive: format!(
                    "SELECT count(*) FROM t WHERE ({where_sql}) AND (character_length(s) < 1 OR character_length(s) > 3)"
                ),
                oracle: Some(
                    rows.iter()
                        .filter(|r| {
                            d.s[**r]
                                .as_ref()
                                .is_some_and(|s| s.chars().count() < 1 || s.chars().count() > 3)
                        })
                        .count() as u64,
                ),
                value: false,
            },
            6 => Case {
                yaml: format!("expression: {{ name: {name}, condition: \"x > n\"{where_yaml} }}"),
                naive: format!(
                    "SELECT count(*) FROM t WHERE ({where_sql}) AND (x > n) IS NOT TRUE"
                ),
                oracle: Some(
                    rows.iter()
                        .filter(
                            |r| !matches!((d.x[**r], d.n[**r]), (Some(x), Some(n)) if x > n as f64),
                        )
                        .count() as u64,
                ),
                value: false,
            },
            7 => Case {
                yaml: format!(
                    "unique: {{ name: {name}, columns: [n], max_failed: 100000{where_yaml} }}"
                ),
                naive: format!(
                    "SELECT coalesce(sum(c), 0) FROM (SELECT n, count(*) AS c FROM t WHERE ({where_sql}) AND n IS NOT NULL GROUP BY n HAVING count(*) > 1)"
                ),
                oracle: {
                    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
                    for r in &rows {
                        if let Some(n) = d.n[*r] {
                            *counts.entry(n).or_default() += 1;
                        }
                    }
                    Some(counts.values().filter(|c| **c > 1).sum())
                },
                value: false,
            },
            8 => Case {
                yaml: format!(
                    "unique: {{ name: {name}, columns: [n, s], max_failed: 100000{where_yaml} }}"
                ),
                naive: format!(
                    "SELECT coalesce(sum(c), 0) FROM (SELECT n, s, count(*) AS c FROM t WHERE ({where_sql}) AND n IS NOT NULL AND s IS NOT NULL GROUP BY n, s HAVING count(*) > 1)"
                ),
                oracle: None,
                value: false,
            },
            9 => Case {
                yaml: format!(
                    "statistic: {{ name: {name}, column: x, stat: mean, min: -1000000{where_yaml} }}"
                ),
                naive: format!("SELECT avg(x) FROM t WHERE ({where_sql})"),
                oracle: None,
                value: true,
            },
            10 => Case {
                yaml: format!(
                    "statistic: {{ name: {name}, column: x, stat: median, min: -1000000{where_yaml} }}"
                ),
                naive: format!("SELECT median(x) FROM t WHERE ({where_sql})"),
                oracle: None,
                value: true,
            },
            11 => Case {
                yaml: format!(
                    "statistic: {{ name: {name}, column: n, stat: distinct_count, min: 0{where_yaml} }}"
                ),
                naive: format!("SELECT count(DISTINCT n) FROM t WHERE ({where_sql})"),
                oracle: None,
                value: true,
            },
            12 => Case {
                yaml: format!("row_count: {{ name: {name}, min: 0{where_yaml} }}"),
                naive: format!("SELECT count(*) FROM t WHERE ({where_sql})"),
                oracle: Some(rows.len() as u64),
                value: true,
            },
            _ => Case {
                yaml: format!(
                    "statistic: {{ name: {name}, column: x, stat: sum, min: -1000000000{where_yaml} }}"
                ),
                naive: format!("SELECT sum(x) FROM t WHERE ({where_sql})"),
                oracle: None,
                value: true,
            },
        };
        out.push(case);
    }
    out
}

/// Runs the rules of one layer file on the lake under `dir/lake`, without failing samples.
async fn run_rules(dir: &std::path::Path, text: String) -> Vec<dq::report::CheckResult> {
    run_on(dir, text, &Engine::Local, 0).await
}

/// Runs the rules on `engine`, keeping `samples` failing rows per failed check.
async fn run_on(
    dir: &std::path::Path,
    text: String,
    engine: &Engine,
    samples: usize,
) -> Vec<dq::report::CheckResult> {
    let rules = dq::config::rules::load_sources(&[(dir.join("rules.yaml"), text)]).unwrap();
    let options = dq::engine::RunOptions {
        sample_failures: samples,
        engine: engine.clone(),
        ..dq::engine::RunOptions::new(dir, "lake")
    };
    let session = dq::engine::cluster::session(engine, None).await.unwrap();
    let prepared = dq::engine::prepare(&session, &rules, &options)
        .await
        .unwrap();
    dq::engine::execute(&session, prepared).await.1
}

fn scalar(batches: &[RecordBatch]) -> Option<f64> {
    let row = dq::engine::values::first_row(batches).unwrap()?;
    dq::rules::as_f64(row.first())
}

#[test]
fn fused_results_equal_naive_queries() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for seed in 0..8u64 {
        let mut rng = Rng::new(seed * 7919 + 1);
        let rows = 50 + rng.below(400) as usize;
        let d = data(&mut rng, rows);
        let cases = cases(&mut rng, &d);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lake/test/t/part-0.parquet");
        dq::sample::write_parquet(&file, &[batch(&d)]).unwrap();
        let mut text = String::from("layer: test\ndatasets:\n  - name: t\n    checks:\n");
        for c in &cases {
            text.push_str(&format!("      - {}\n", c.yaml));
        }
        rt.block_on(async {
            let results = run_rules(dir.path(), text).await;
            let naive = SessionContext::new();
            naive
                .register_parquet("t", file.to_str().unwrap(), ParquetReadOptions::default())
                .await
                .unwrap();
            for (i, case) in cases.iter().enumerate() {
                let r = results.iter().find(|r| r.name == format!("c{i}")).unwrap();
                assert_ne!(r.status, dq::report::Status::Error, "{r:?}");
                let batches = naive
                    .sql(&case.naive)
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap();
                let expected = scalar(&batches);
                let got = if case.value {
                    r.observed
                        .as_f64()
                        .or_else(|| r.rows_checked.map(|v| v as f64))
                } else {
                    r.failed_rows.map(|v| v as f64)
                };
                match (expected, got) {
                    (Some(e), Some(g)) => assert!(
                        (e - g).abs() <= 1e-9 * e.abs().max(1.0),
                        "seed {seed} {}: fused {g} vs naive {e}",
                        case.yaml
                    ),
                    (None, None) => {}
                    (e, g) => panic!("seed {seed} {}: fused {g:?} vs naive {e:?}", case.yaml),
                }
                if let Some(o) = case.oracle {
                    assert_eq!(
                        expected,
                        Some(o as f64),
                        "seed {seed} {}: naive SQL vs Rust count",
                        case.yaml
                    );
                }
            }
        });
    }
}

/// On Ballista's in-process cluster (real gRPC and Flight between scheduler, executor and
/// client) the same random lakes give the same results, check for check, examples included.
#[test]
fn cluster_results_equal_local_results() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for seed in 0..3u64 {
        let mut rng = Rng::new(seed * 104_729 + 17);
        let rows = 200 + rng.below(600) as usize;
        let d = data(&mut rng, rows);
        let cases = cases(&mut rng, &d);
        let dir = tempfile::tempdir().unwrap();
        // Two files, so that the cluster's scan has more than one partition to merge.
        let half = rows / 2;
        let part = |from: usize, to: usize| Data {
            x: d.x[from..to].to_vec(),
            n: d.n[from..to].to_vec(),
            s: d.s[from..to].to_vec(),
        };
        dq::sample::write_parquet(
            &dir.path().join("lake/test/t/part-0.parquet"),
            &[batch(&part(0, half))],
        )
        .unwrap();
        dq::sample::write_parquet(
            &dir.path().join("lake/test/t/part-1.parquet"),
            &[batch(&part(half, rows))],
        )
        .unwrap();
        let mut text = String::from("layer: test\ndatasets:\n  - name: t\n    checks:\n");
        for c in &cases {
            text.push_str(&format!("      - {}\n", c.yaml));
        }
        text.push_str("      - unique: { columns: [n, s] }\n");
        rt.block_on(async {
            let local = run_on(dir.path(), text.clone(), &Engine::Local, 3).await;
            let cluster = run_on(dir.path(), text, &Engine::Standalone, 3).await;
            assert_eq!(local.len(), cluster.len());
            for (l, c) in local.iter().zip(&cluster) {
                assert_eq!(l.id, c.id);
                assert_ne!(c.status, dq::report::Status::Error, "seed {seed}: {c:?}");
                assert_eq!(
                    (l.status, l.failed_rows, l.rows_checked),
                    (c.status, c.failed_rows, c.rows_checked),
                    "seed {seed} {}",
                    l.id
                );
                match (l.observed.as_f64(), c.observed.as_f64()) {
                    (Some(a), Some(b)) => assert!(
                        (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                        "seed {seed} {}: {a} vs {b}",
                        l.id
                    ),
                    _ => assert_eq!(l.observed, c.observed, "seed {seed} {}", l.id),
                }
                assert_eq!(l.sample_failures, c.sample_failures, "seed {seed} {}", l.id);
            }
            assert!(
                cluster.iter().any(|c| !c.sample_failures.is_empty()),
                "seed {seed}: some checks fail and show examples"
            );
        });
    }
}

/// The uniqueness fast paths (ordered ranges, hashing) never hide a duplicate.
#[test]
fn uniqueness_fast_paths_are_exact() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cases: Vec<(&str, Vec<Vec<i64>>, u64)> = vec![
        (
            "ordered and disjoint",
            vec![(1..=500).collect(), (501..=1000).collect()],
            0,
        ),
        (
            "ordered files, overlapping ranges",
            vec![(1..=500).collect(), (500..=999).collect()],
            2,
        ),
        (
            "unordered, distinct",
            vec![(1..=500).rev().collect(), (501..=1000).collect()],
            0,
        ),
        (
            "duplicate inside a file",
            vec![vec![1, 2, 3, 3, 4], (10..=20).collect()],
            2,
        ),
    ];
    for (what, files, failed) in cases {
        let dir = tempfile::tempdir().unwrap();
        for (i, ids) in files.iter().enumerate() {
            let batch = RecordBatch::try_from_iter(vec![(
                "id",
                Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
            )])
            .unwrap();
            dq::sample::write_parquet(
                &dir.path().join(format!("lake/test/t/part-{i}.parquet")),
                &[batch],
            )
            .unwrap();
        }
        let text =
            "layer: test\ndatasets:\n  - name: t\n    checks:\n      - unique: { columns: [id] }\n"
                .to_string();
        rt.block_on(async {
            let results = run_rules(dir.path(), text).await;
            let total: u64 = files.iter().map(|f| f.len() as u64).sum();
            assert_eq!(
                results[0].failed_rows,
                Some(failed),
                "{what}: {:?}",
                results[0]
            );
            assert_eq!(results[0].rows_checked, Some(total), "{what}");
        });
    }
}
