//! When a dataset's scan fails on its data (a corrupt page, a value that does not decode),
//! DataFusion's error names no file. dq then reads the dataset's files one at a time, every
//! column, to find the first that fails, so the report names it. This runs only after a
//! failure; a healthy run never pays for it.

use std::sync::Arc;

use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, col};
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::dataset::Files;

/// Files read at once while looking for the bad one.
const CONCURRENT: usize = 4;

/// The first of `files` (in path order) whose every column cannot be read, with the
/// error; None when each reads alone (the failure was elsewhere).
pub async fn find_bad_file(session: &SessionContext, files: &Files) -> Option<(String, String)> {
    let mut checks = futures::stream::iter(files.objects.iter().map(|object| async move {
        let url = format!("{}{}", files.store_url, object.location);
        (url.clone(), read_whole_file(session, files, &url).await)
    }))
    .buffered(CONCURRENT);
    while let Some((url, result)) = checks.next().await {
        if let Err(e) = result {
            return Some((shown(files, &url), e));
        }
    }
    None
}

async fn read_whole_file(session: &SessionContext, files: &Files, url: &str) -> Result<(), String> {
    let table_url = ListingTableUrl::parse(url).map_err(|e| e.to_string())?;
    let format: Arc<dyn datafusion::datasource::file_format::FileFormat> = files.format.clone();
    let options = ListingOptions::new(format).with_file_extension(".parquet");
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(Arc::clone(&files.schema));
    let table = ListingTable::try_new(config).map_err(|e| e.to_string())?;
    let counts: Vec<Expr> = files
        .schema
        .fields()
        .iter()
        .map(|f| count(col(datafusion::common::Column::from_name(f.name()))))
        .collect();
    let plan = LogicalPlanBuilder::scan(
        "file",
        datafusion::datasource::provider_as_source(Arc::new(table)),
        None,
    )
    .and_then(|b| b.aggregate(Vec::<Expr>::new(), counts))
    .and_then(|b| b.build())
    .map_err(|e| e.to_string())?;
    let frame = session
        .execute_logical_plan(plan)
        .await
        .map_err(|e| super::clean_error(&e))?;
    frame
        .collect()
        .await
        .map(|_| ())
        .map_err(|e| super::clean_error(&e))
}

/// `url` (one of `files`) as a person reads it, credentials redacted.
fn shown(files: &Files, url: &str) -> String {
    let path = url.strip_prefix(&files.store_url).unwrap_or(url);
    super::store::redact(&format!("{}{}", files.root, path.trim_start_matches('/')))
}
