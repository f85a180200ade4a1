//! Lake roots given as URLs: `file://` through the binary, `memory://` through the library
//! (an in-memory store only exists inside one process).

use std::sync::Arc;

use object_store::ObjectStoreExt;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;

use crate::common::{Project, prepare_rules, silver_orders};

#[test]
fn file_url_lake_gives_the_same_report_as_a_path() {
    let p = Project::new(&[(
        "silver.yaml",
        &silver_orders(&["row_count: { min: 1 }", "unique: { columns: [order_id] }"]),
    )]);
    let by_path = p.dq(&["validate", "--format", "json"]).json();
    let url = url::Url::from_directory_path(p.path().join("lake")).unwrap();
    std::fs::write(
        p.path().join("dq.yaml"),
        format!("default_env: test\nenvironments:\n  test: {{ lake: \"{url}\", as_of: \"2026-11-21T00:00:00Z\" }}\n"),
    )
    .unwrap();
    let by_url = p.dq(&["validate", "--format", "json"]).json();
    let strip = |r: &serde_json::Value| -> Vec<(String, String, serde_json::Value)> {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].to_string(),
                    c["status"].to_string(),
                    c["observed"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&by_path), strip(&by_url));
    assert_eq!(by_url["summary"]["passed"], 3);
}

#[test]
fn memory_url_lake() {
    let dir = tempfile::tempdir().unwrap();
    dq::sample::generate_with(&dir.path().join("lake"), 1000, 3, false, false).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Arc::new(InMemory::new());
        for entry in crate::common::files(&dir.path().join("lake")) {
            let rel = entry
                .strip_prefix(dir.path().join("lake"))
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            let bytes = std::fs::read(&entry).unwrap();
            store
                .put(&StorePath::from(format!("lake/{rel}")), bytes.into())
                .await
                .unwrap();
        }
        let session = dq::engine::session(None).unwrap();
        session
            .runtime_env()
            .register_object_store(&url::Url::parse("memory://").unwrap(), store);
        let text = silver_orders(&[
            "row_count: { min: 1000, max: 1000 }",
            "references: { column: customer_id, dataset: customers, key: customer_id }",
        ]);
        let rules =
            dq::config::rules::load_sources(&[(dir.path().join("silver.yaml"), text)]).unwrap();
        let options = dq::engine::RunOptions {
            sample_failures: 1,
            ..dq::engine::RunOptions::new(dir.path(), "memory:///lake")
        };
        let prepared = dq::engine::prepare(&session, &rules, &options)
            .await
            .unwrap();
        let (datasets, results) = dq::engine::execute(&session, prepared).await;
        assert!(
            datasets[0]
                .facts
                .url
                .starts_with("memory:///lake/silver/orders"),
            "{:?}",
            datasets[0].facts.url
        );
        let statuses: Vec<_> = results
            .iter()
            .map(|r| (r.name.as_str(), r.status))
            .collect();
        assert!(
            statuses.contains(&("row_count", dq::report::Status::Pass)),
            "{statuses:?}"
        );
        // 1000 rows over 10 days: 1 orphan on each of days 0, 3, 6, 9.
        let refs = results.iter().find(|r| r.kind == "references").unwrap();
        assert_eq!(refs.failed_rows, Some(4), "{refs:?}");
    });
}

#[test]
fn object_vanishing_mid_run_is_a_runtime_error_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    dq::sample::generate_with(&dir.path().join("lake"), 1000, 4, false, false).unwrap();
    let text = silver_orders(&["row_count: { min: 1 }", "range: { column: amount, min: 0 }"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Listed and planned; then a file disappears before the scan.
        let (session, prepared) = prepare_rules(dir.path(), &text).await;
        std::fs::remove_file(
            dir.path()
                .join("lake/silver/orders/date=2026-11-15/part-0.parquet"),
        )
        .unwrap();
        let (_, results) = dq::engine::execute(&session, prepared).await;
        let range = results.iter().find(|r| r.kind == "range").unwrap();
        assert_eq!(range.status, dq::report::Status::Error, "{range:?}");
        let message = range.message.as_deref().unwrap_or("");
        assert!(
            message.contains("silver.orders") && message.contains("vanished"),
            "{message}"
        );
        let customers = results
            .iter()
            .find(|r| r.dataset.as_deref() == Some("silver.customers"))
            .unwrap();
        assert_eq!(customers.status, dq::report::Status::Pass);
    });
}

/// The scan reads the listing dq made, not a second one: a file that appears after
/// listing is not read (one consistent snapshot per run, one LIST per dataset), and a
/// scope on the partition column lists only the partitions in scope.
#[test]
fn the_scan_reads_the_run_s_own_listing() {
    let dir = tempfile::tempdir().unwrap();
    dq::sample::generate_with(&dir.path().join("lake"), 1000, 4, false, false).unwrap();
    let text = silver_orders(&["row_count: { min: 1 }"]).replace(
        "    partitioning: [{ name: date, type: date }]\n",
        "    partitioning: [{ name: date, type: date }]\n    scope: \"date >= '2026-11-18'\"\n",
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (session, prepared) = prepare_rules(dir.path(), &text).await;
        let orders = dir.path().join("lake/silver/orders");
        std::fs::copy(
            orders.join("date=2026-11-19/part-0.parquet"),
            orders.join("date=2026-11-19/part-1.parquet"),
        )
        .unwrap();
        let (datasets, results) = dq::engine::execute(&session, prepared).await;
        let facts = &datasets
            .iter()
            .find(|d| d.id == "silver.orders")
            .unwrap()
            .facts;
        // 2026-11-18, -19 and -20 of ten days: three files listed, 300 rows.
        assert_eq!(facts.files, 3, "{facts:?}");
        let row_count = results.iter().find(|r| r.kind == "row_count").unwrap();
        assert_eq!(
            row_count.rows_checked.or(row_count.observed.as_u64()),
            Some(300),
            "{row_count:?}"
        );
    });
}
