//! Resolving a dataset: listing its files, reading its schema from Parquet footers, and
//! registering it as the table `layer.name`. Nothing here reads data pages.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::cache::TableScopedPath;
use datafusion::execution::cache::cache_manager::CachedFileList;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectMeta;
use serde::Serialize;

use crate::config::rules::DatasetSpec;
use crate::engine::listing::{self, PartitionFilter};
use crate::engine::store;

/// What the listing says about a dataset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatasetFacts {
    /// The dataset's location, with any credentials redacted.
    pub url: String,
    pub files: usize,
    pub bytes: u64,
    pub newest_object: Option<DateTime<Utc>>,
    /// Nullable columns whose Parquet statistics prove they hold no NULL in any listed file.
    #[serde(skip)]
    pub null_free_columns: Vec<String>,
}

/// Lists, infers the schema of, and registers one dataset as `layer.name`. With a
/// `partition_filter`, only the partition directories it admits are listed and read.
pub async fn register(
    session: &SessionContext,
    spec: &DatasetSpec,
    url: &url::Url,
    storage_options: &std::collections::BTreeMap<String, String>,
    partition_filter: Option<&PartitionFilter>,
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
    let table_ref = TableReference::partial(spec.layer.as_str(), spec.name.as_str());
    let table_url = ListingTableUrl::parse(url.as_str())
        .map_err(|e| format!("{shown}: {e}"))?
        .with_table_ref(table_ref.clone());
    let state = session.state();
    let object_store = state
        .runtime_env()
        .object_store(&table_url)
        .map_err(|e| format!("{shown}: {e}"))?;
    let cannot_list = |e: String| format!("cannot list {shown}: {}", store::explain(&e));
    let objects: Vec<ObjectMeta> = if table_url.is_collection() {
        let ignore_subdirectory = state
            .config_options()
            .execution
            .listing_table_ignore_subdirectory;
        let in_table = |objects: Vec<ObjectMeta>| -> Vec<ObjectMeta> {
            objects
                .into_iter()
                .filter(|o| {
                    o.location.as_ref().ends_with(".parquet")
                        && table_url.contains(&o.location, ignore_subdirectory)
                })
                .collect()
        };
        let base = table_url.prefix();
        let listing = listing::list(object_store.as_ref(), base, partition_filter)
            .await
            .map_err(|e| cannot_list(e.to_string()))?;
        let mut objects = in_table(listing.objects);
        if objects.is_empty() && listing.pruned {
            // Nothing in scope: list everything, for the schema and an empty scoped scan.
            let whole = listing::list(object_store.as_ref(), base, None)
                .await
                .map_err(|e| cannot_list(e.to_string()))?;
            objects = in_table(whole.objects);
        }
        // The scan reads this listing instead of listing again.
        if let Some(cache) = state.runtime_env().cache_manager.get_list_files_cache() {
            let key = TableScopedPath {
                table: Some(table_ref.clone()),
                path: base.clone(),
            };
            cache.put(&key, CachedFileList::from(objects.clone()));
        }
        objects
    } else {
        table_url
            .list_all_files(&state, object_store.as_ref(), ".parquet")
            .await
            .map_err(|e| cannot_list(e.to_string()))?
            .try_collect()
            .await
            .map_err(|e| cannot_list(e.to_string()))?
    };
    if objects.is_empty() {
        return Err(format!("no Parquet files under {shown}"));
    }
    let mut facts = DatasetFacts {
        url: shown.clone(),
        files: objects.len(),
        bytes: objects.iter().map(|o| o.size).sum(),
        newest_object: objects.iter().map(|o| o.last_modified).max(),
        null_free_columns: vec![],
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
    facts.null_free_columns = null_free_columns(
        &state,
        format.as_ref(),
        &object_store,
        &file_schema,
        &non_empty,
    )
    .await;
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
        .register_table(table_ref, Arc::new(table))
        .map_err(|e| e.to_string())?;
    Ok(facts)
}

/// Nullable columns that every file's statistics report as holding no NULL (exactly).
/// The footers were just read for the schema and are cached, so this costs no I/O; any
/// file without exact null counts leaves its columns out.
async fn null_free_columns(
    state: &datafusion::execution::session_state::SessionState,
    format: &ParquetFormat,
    store: &Arc<dyn object_store::ObjectStore>,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    objects: &[ObjectMeta],
) -> Vec<String> {
    use datafusion::common::stats::Precision;
    let nullable: Vec<usize> = (0..schema.fields().len())
        .filter(|i| schema.field(*i).is_nullable())
        .collect();
    if nullable.is_empty() {
        return vec![];
    }
    let stats: Vec<_> = futures::stream::iter(
        objects
            .iter()
            .map(|o| format.infer_stats(state, store, Arc::clone(schema), o)),
    )
    .buffer_unordered(32)
    .collect()
    .await;
    nullable
        .into_iter()
        .filter(|i| {
            stats.iter().all(|s| match s {
                Ok(s) => s
                    .column_statistics
                    .get(*i)
                    .is_some_and(|c| c.null_count == Precision::Exact(0)),
                Err(_) => false,
            })
        })
        .map(|i| schema.field(i).name().clone())
        .collect()
}
