//! Resolving a dataset: finding its files, reading their footers, and registering it as
//! the table `layer.name`. Nothing here reads data pages.
//!
//! Where a dataset's rows come from is a table source: given the dataset's spec and its
//! store, a source yields a DataFusion table provider and the facts the report shows
//! ([`Resolved`]). Two exist: a folder of Parquet files ([`super::parquet_folder`]) and a
//! Delta table ([`super::delta_table`]); another format is one more module.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::prelude::SessionContext;

use crate::config::rules::{DatasetSpec, TableFormat};
use crate::engine::listing::PartitionFilter;
use crate::engine::store;

pub use crate::facts::{DatasetFacts, Files};

/// What part of a dataset a run reads.
#[derive(Debug, Clone, Copy)]
pub struct ReadScope<'a> {
    /// The dataset's `scope`, when its partitions may be pruned by it (None when another
    /// check reads the dataset whole).
    pub scope: Option<&'a str>,
    pub as_of: DateTime<Utc>,
    /// `--snapshot-at`: Delta tables as of this instant.
    pub snapshot_at: Option<DateTime<Utc>>,
    /// The table goes to a cluster: it must be the explicit list of the files read.
    pub distributed: bool,
}

/// A dataset's store, reached once by either table source.
pub(crate) struct DatasetStore {
    /// The dataset's location as a person reads it (credentials redacted).
    pub shown: String,
    pub store: Arc<dyn object_store::ObjectStore>,
    /// `scheme://authority/` of the store (`file:///` for local files).
    pub store_url: String,
    /// What to print before an object's path (`/` for local files, `s3://bucket/`).
    pub root: String,
}

/// Makes sure the session can reach the dataset at `url` and returns its store; a local
/// path that does not exist is an error naming it.
pub(crate) fn open_store(
    session: &SessionContext,
    url: &url::Url,
    storage_options: &std::collections::BTreeMap<String, String>,
) -> Result<DatasetStore, String> {
    let shown = store::redact(url.as_str());
    if url.scheme() == "file" {
        if let Ok(path) = url.to_file_path() {
            if !path.exists() {
                return Err(format!("path {} does not exist", path.display()));
            }
        }
    }
    store::ensure_store(session, url, storage_options).map_err(|e| format!("{shown}: {e}"))?;
    let (store_url, root) = match url.scheme() {
        "file" => ("file:///".to_string(), "/".to_string()),
        scheme => {
            let base = format!("{scheme}://{}/", url.host_str().unwrap_or_default());
            (base.clone(), store::redact(&base))
        }
    };
    let object_store_url = datafusion::execution::object_store::ObjectStoreUrl::parse(&store_url)
        .map_err(|e| format!("{shown}: {e}"))?;
    let store = session
        .runtime_env()
        .object_store(&object_store_url)
        .map_err(|e| format!("{shown}: {e}"))?;
    Ok(DatasetStore {
        shown,
        store,
        store_url,
        root,
    })
}

/// What a table source yields: the table to register, and what the report says of it.
pub struct Resolved {
    pub provider: Arc<dyn datafusion::catalog::TableProvider>,
    pub facts: DatasetFacts,
}

/// Finds the files of one dataset (by listing a Parquet folder, or from a Delta table's
/// log), reads their footers, and registers the dataset as the table `layer.name`.
pub async fn register(
    session: &SessionContext,
    spec: &DatasetSpec,
    url: &url::Url,
    storage_options: &std::collections::BTreeMap<String, String>,
    read: ReadScope<'_>,
) -> Result<DatasetFacts, String> {
    let resolved = match &spec.format {
        TableFormat::Parquet => {
            let filter = read.scope.and_then(|scope| {
                let columns: Vec<_> = spec
                    .partitioning
                    .iter()
                    .map(|p| (p.name.clone(), p.data_type.clone()))
                    .collect();
                PartitionFilter::from_scope(session, scope, &columns, read.as_of)
            });
            let resolved = super::parquet_folder::resolve(
                session,
                spec,
                url,
                storage_options,
                filter.as_ref(),
            )
            .await?;
            if read.distributed {
                super::parquet_folder::as_file_list(spec, url, resolved)
            } else {
                Ok(resolved)
            }
        }
        TableFormat::Delta { snapshot } => {
            let pin = super::delta::version_to_read(snapshot.as_ref(), read.snapshot_at);
            super::delta_table::resolve(session, url, storage_options, pin.as_ref(), read).await
        }
    }?;
    register_provider(session, spec, resolved.provider)?;
    Ok(resolved.facts)
}

fn register_provider(
    session: &SessionContext,
    spec: &DatasetSpec,
    provider: Arc<dyn datafusion::catalog::TableProvider>,
) -> Result<(), String> {
    let catalog = session
        .catalog("datafusion")
        .ok_or_else(|| "the default catalog is missing".to_string())?;
    if catalog.schema(&spec.layer).is_none() {
        catalog
            .register_schema(&spec.layer, Arc::new(MemorySchemaProvider::new()))
            .map_err(|e| e.to_string())?;
    }
    let table_ref = TableReference::partial(spec.layer.as_str(), spec.name.as_str());
    session
        .register_table(table_ref, provider)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Whether a value of this type holds a float anywhere (nested types included).
pub(crate) fn has_float(t: &DataType) -> bool {
    match t {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            has_float(f.data_type())
        }
        DataType::Struct(fields) => fields.iter().any(|f| has_float(f.data_type())),
        DataType::Map(f, _) => has_float(f.data_type()),
        DataType::Dictionary(_, v) => has_float(v),
        _ => false,
    }
}

/// The Parquet reader's options: INT96 timestamps (Spark's legacy type) read at microsecond
/// precision, which holds every date Spark can write (nanoseconds end in 2262 and would
/// wrap `9999-12-31` to 1816); pruning on statistics only when they are a proof.
pub fn parquet_format(statistics_are_proof: bool) -> ParquetFormat {
    let mut options = datafusion::config::TableParquetOptions::default();
    options.global.coerce_int96 = Some("us".to_string());
    options.global.pruning = statistics_are_proof;
    options.global.enable_page_index = statistics_are_proof;
    ParquetFormat::default().with_options(options)
}
