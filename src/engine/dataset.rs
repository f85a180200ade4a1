//! Resolving a dataset: listing its files, reading its schema from Parquet footers, and
//! registering it as the table `layer.name`. Nothing here reads data pages.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use serde::Serialize;

use crate::config::rules::DatasetSpec;
use crate::engine::store;

/// What the listing says about a dataset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatasetFacts {
    /// The dataset's location, with any credentials redacted.
    pub url: String,
    pub files: usize,
    pub bytes: u64,
    pub newest_object: Option<DateTime<Utc>>,
}

/// Lists, infers the schema of, and registers one dataset as `layer.name`.
pub async fn register(
    session: &SessionContext,
    spec: &DatasetSpec,
    url: &url::Url,
    storage_options: &std::collections::BTreeMap<String, String>,
) -> Result<DatasetFacts, String> {
    let shown = store::redact(url.as_str());
    if url.scheme() == "file" {
        if let Ok(path) = url.to_file_path() {
            if !path.exists() {
                return Err(format!("path {} does not exist", path.display()));
            }
        }
    }
    store::ensure_store(session, url, storage_options).map_err(|e| format!("{shown}: {e}"))?;
    let table_url = ListingTableUrl::parse(url.as_str()).map_err(|e| format!("{shown}: {e}"))?;
    let state = session.state();
    let object_store = state
        .runtime_env()
        .object_store(&table_url)
        .map_err(|e| format!("{shown}: {e}"))?;
    let objects: Vec<_> = table_url
        .list_all_files(&state, object_store.as_ref(), ".parquet")
        .await
        .map_err(|e| format!("cannot list {shown}: {}", store::explain(&e.to_string())))?
        .try_collect()
        .await
        .map_err(|e| format!("cannot list {shown}: {}", store::explain(&e.to_string())))?;
    if objects.is_empty() {
        return Err(format!("no Parquet files under {shown}"));
    }
    let facts = DatasetFacts {
        url: shown.clone(),
        files: objects.len(),
        bytes: objects.iter().map(|o| o.size).sum(),
        newest_object: objects.iter().map(|o| o.last_modified).max(),
    };
    let format = Arc::new(ParquetFormat::default());
    let non_empty: Vec<_> = objects.iter().filter(|o| o.size > 0).cloned().collect();
    if non_empty.len() < objects.len() {
        let empty = objects
            .iter()
            .find(|o| o.size == 0)
            .map(|o| o.location.to_string())
            .unwrap_or_default();
        return Err(format!(
            "corrupt Parquet file {empty}: the file is empty (0 bytes)"
        ));
    }
    let file_schema = format
        .infer_schema(&state, &object_store, &non_empty)
        .await
        .map_err(|e| {
            format!(
                "cannot read Parquet footers under {shown}: {}",
                store::explain(&crate::engine::clean_error(&e))
            )
        })?;
    let partition_cols: Vec<_> = spec
        .partitioning
        .iter()
        .map(|p| (p.name.clone(), p.data_type.clone()))
        .collect();
    for (name, _) in &partition_cols {
        if file_schema.field_with_name(name).is_ok() {
            return Err(format!(
                "partition column `{name}` is also a column inside the Parquet files of {shown}"
            ));
        }
    }
    let options = ListingOptions::new(format)
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols);
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(file_schema);
    let table = ListingTable::try_new(config).map_err(|e| format!("{shown}: {e}"))?;
    let catalog = session
        .catalog("datafusion")
        .ok_or_else(|| "the default catalog is missing".to_string())?;
    if catalog.schema(&spec.layer).is_none() {
        catalog
            .register_schema(&spec.layer, Arc::new(MemorySchemaProvider::new()))
            .map_err(|e| e.to_string())?;
    }
    session
        .register_table(
            datafusion::common::TableReference::partial(spec.layer.as_str(), spec.name.as_str()),
            Arc::new(table),
        )
        .map_err(|e| e.to_string())?;
    Ok(facts)
}
