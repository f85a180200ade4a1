//! Resolving a dataset: listing its files, reading its schema from Parquet footers, and
//! registering it as the table `layer.name`. Nothing here reads data pages.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::cache::TableScopedPath;
use datafusion::execution::cache::cache_manager::CachedFileList;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::ObjectMeta;
use serde::Serialize;

use crate::config::rules::{DatasetSpec, PartitionColumn, TableFormat};
use crate::engine::footers;
use crate::engine::listing::{self, PartitionFilter};
use crate::engine::partitions::{HIVE_NULL, TypedPartitions};
use crate::engine::store;

/// What the listing says about a dataset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatasetFacts {
    /// The dataset's location, with any credentials redacted.
    pub url: String,
    pub files: usize,
    pub bytes: u64,
    pub newest_object: Option<DateTime<Utc>>,
    /// Objects under the dataset's path that were not read, by reason (empty when none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, usize>,
    /// Nullable columns whose Parquet statistics prove they hold no NULL in any listed file.
    #[serde(skip)]
    pub null_free_columns: Vec<String>,
    /// The files read, for naming the bad one when a scan fails.
    #[serde(skip)]
    pub read: Option<Arc<Files>>,
    /// What the reader noticed and a person should fix (e.g. a Delta table read as Parquet).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// For a Delta table: the version read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<super::delta::DeltaVersion>,
}

/// A dataset's files and how they are read.
#[derive(Debug)]
pub struct Files {
    /// `scheme://authority` of the store (`file://` for local files).
    pub store_url: String,
    /// What to print before an object's path (`/` for local files).
    pub root: String,
    pub objects: Vec<ObjectMeta>,
    pub schema: datafusion::arrow::datatypes::SchemaRef,
    pub format: Arc<ParquetFormat>,
}

impl Files {
    /// `url` (one of these files) as a person reads it, credentials redacted.
    pub fn shown(&self, url: &str) -> String {
        let path = url.strip_prefix(&self.store_url).unwrap_or(url);
        store::redact(&format!("{}{}", self.root, path.trim_start_matches('/')))
    }
}

impl DatasetFacts {
    pub fn skipped_files(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// Why an object under a dataset's path is not one of its files, or None if it is.
/// Hidden and temporary names (`_`- or `.`-prefixed, as Spark, Hive and Delta write them:
/// `_SUCCESS`, `_temporary/`, `_delta_log/`, `.part-0.crc`) are skipped, as are objects not
/// named `*.parquet`; every other file below the path is read, in any subfolder.
fn skip_reason(relative: &str, partitions: &[PartitionColumn]) -> Option<&'static str> {
    let segments: Vec<&str> = relative.split('/').filter(|s| !s.is_empty()).collect();
    if segments
        .iter()
        .any(|s| s.starts_with('_') || s.starts_with('.'))
    {
        return Some("hidden or temporary (name starts with `_` or `.`)");
    }
    if !relative.ends_with(".parquet") {
        return Some("not named *.parquet");
    }
    let folders = &segments[..segments.len().saturating_sub(1)];
    let in_partitions = partitions.iter().enumerate().all(|(i, p)| {
        folders
            .get(i)
            .and_then(|f| f.split_once('='))
            .is_some_and(|(k, _)| k == p.name)
    });
    if !in_partitions {
        return Some("outside the partition folders (`name=value/…`)");
    }
    None
}

/// `location` relative to the dataset's `base`.
fn relative_path(location: &object_store::path::Path, base: &object_store::path::Path) -> String {
    match location.prefix_match(base) {
        Some(parts) => parts
            .map(|p| p.as_ref().to_string())
            .collect::<Vec<_>>()
            .join("/"),
        None => location.to_string(),
    }
}

/// The dataset's files among `objects`; the others are counted in `skipped` by reason.
fn select_files(
    objects: Vec<ObjectMeta>,
    base: &object_store::path::Path,
    partitions: &[PartitionColumn],
    skipped: &mut BTreeMap<String, usize>,
) -> Vec<ObjectMeta> {
    objects
        .into_iter()
        .filter(
            |o| match skip_reason(&relative_path(&o.location, base), partitions) {
                Some(reason) => {
                    *skipped.entry(reason.to_string()).or_default() += 1;
                    false
                }
                None => true,
            },
        )
        .collect()
}

/// The raw text of a Hive partition value, percent-decoded.
fn partition_text(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_else(|_| raw.to_string())
}

/// Every partition value in the listed paths parses as its column's type (or is Hive's
/// NULL), so the scan never meets a value it cannot cast; the error names the file.
fn check_partition_values(relative: &str, partitions: &[PartitionColumn]) -> Result<(), String> {
    for (folder, p) in relative.split('/').zip(partitions) {
        let Some((_, raw)) = folder.split_once('=') else {
            continue;
        };
        let value = partition_text(raw);
        if value == HIVE_NULL || p.data_type == DataType::Utf8 {
            continue;
        }
        if datafusion::common::ScalarValue::try_from_string(value.clone(), &p.data_type).is_err() {
            return Err(format!(
                "partition folder `{folder}` of {relative}: `{value}` is not a valid {} for partition column `{}`",
                p.data_type, p.name
            ));
        }
    }
    Ok(())
}

/// What part of a dataset a run reads.
#[derive(Debug, Clone, Copy)]
pub struct ReadScope<'a> {
    /// The dataset's `scope`, when its partitions may be pruned by it (None when another
    /// check reads the dataset whole).
    pub scope: Option<&'a str>,
    pub as_of: DateTime<Utc>,
    /// `--snapshot-at`: Delta tables as of this instant.
    pub snapshot_at: Option<DateTime<Utc>>,
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
    match &spec.format {
        TableFormat::Parquet => {
            let filter = read.scope.and_then(|scope| {
                let columns: Vec<_> = spec
                    .partitioning
                    .iter()
                    .map(|p| (p.name.clone(), p.data_type.clone()))
                    .collect();
                PartitionFilter::from_scope(session, scope, &columns, read.as_of)
            });
            register_parquet(session, spec, url, storage_options, filter.as_ref()).await
        }
        TableFormat::Delta { snapshot } => {
            let pin = super::delta::version_to_read(snapshot.as_ref(), read.snapshot_at);
            register_delta(session, spec, url, storage_options, pin.as_ref(), read).await
        }
    }
}

/// Lists, reads the footers of, and registers one Parquet folder. With a
/// `partition_filter`, only the partition directories it admits are listed and read.
async fn register_parquet(
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
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut warnings = Vec::new();
    let objects: Vec<ObjectMeta> = if table_url.is_collection() {
        let base = table_url.prefix();
        let listing = listing::list(object_store.as_ref(), base, partition_filter)
            .await
            .map_err(|e| cannot_list(e.to_string()))?;
        if listing.delta_log {
            warnings.push(format!(
                "{shown} holds a _delta_log/: it is a Delta table, whose folder also keeps files the table has removed (until VACUUM), and `format: parquet` reads them all. Add `format: delta` to dataset {}",
                spec.qualified()
            ));
        }
        let mut objects = select_files(listing.objects, base, &spec.partitioning, &mut skipped);
        if objects.is_empty() && listing.pruned {
            // Nothing in scope: list everything, for the schema and an empty scoped scan.
            skipped.clear();
            let whole = listing::list(object_store.as_ref(), base, None)
                .await
                .map_err(|e| cannot_list(e.to_string()))?;
            objects = select_files(whole.objects, base, &spec.partitioning, &mut skipped);
        }
        for o in &objects {
            check_partition_values(&relative_path(&o.location, base), &spec.partitioning)
                .map_err(|e| format!("{shown}: {e}"))?;
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
        let why = if skipped.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = skipped.iter().map(|(r, n)| format!("{n} {r}")).collect();
            format!(" (skipped: {})", parts.join("; "))
        };
        return Err(format!("no Parquet files under {shown}{why}"));
    }
    let mut facts = DatasetFacts {
        url: shown.clone(),
        files: objects.len(),
        bytes: objects.iter().map(|o| o.size).sum(),
        newest_object: objects.iter().map(|o| o.last_modified).max(),
        skipped,
        null_free_columns: vec![],
        read: None,
        warnings,
        delta: None,
    };
    let probe = parquet_format(true);
    let root = match url.scheme() {
        "file" => "/".to_string(),
        scheme => store::redact(&format!(
            "{scheme}://{}/",
            url.host_str().unwrap_or_default()
        )),
    };
    let found = footers::read(&state, &probe, &object_store, &objects, &root, true).await?;
    facts.null_free_columns = found.null_free.clone();
    let file_schema = found.schema.clone();
    for p in &spec.partitioning {
        if file_schema.field_with_name(&p.name).is_ok() {
            return Err(format!(
                "partition column `{}` is also a column inside the Parquet files of {shown}",
                p.name
            ));
        }
    }
    // Row-group and page pruning judge row groups by their statistics: sound only when
    // every null count is present and there is no float column (its min/max leave NaN
    // out, and any query — a scope, a custom SQL check, a failing-row sample — may filter
    // on it).
    let has_floats = file_schema
        .fields()
        .iter()
        .any(|f| has_float(f.data_type()));
    let format = Arc::new(parquet_format(found.null_counts_complete && !has_floats));
    facts.read = Some(Arc::new(Files {
        store_url: match url.scheme() {
            "file" => "file:///".to_string(),
            scheme => format!("{scheme}://{}/", url.host_str().unwrap_or_default()),
        },
        root: root.clone(),
        objects: objects.clone(),
        schema: file_schema.clone(),
        format: Arc::clone(&format),
    }));
    // Partition values are listed as text and typed in the scan, where Hive's
    // `__HIVE_DEFAULT_PARTITION__` becomes NULL (see `partitions`).
    let raw_partitions: Vec<(String, DataType)> = spec
        .partitioning
        .iter()
        .map(|p| (p.name.clone(), DataType::Utf8))
        .collect();
    let options = ListingOptions::new(format)
        .with_file_extension(".parquet")
        .with_table_partition_cols(raw_partitions);
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(file_schema);
    let table = ListingTable::try_new(config).map_err(|e| format!("{shown}: {e}"))?;
    let provider: Arc<dyn datafusion::catalog::TableProvider> = if spec.partitioning.is_empty() {
        Arc::new(table)
    } else {
        Arc::new(TypedPartitions::new(Arc::new(table), &spec.partitioning))
    };
    register_provider(session, spec, provider)?;
    Ok(facts)
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

/// Reads one snapshot of a Delta table: the files its log names (those whose partition
/// values the scope admits), their footers checked like any Parquet file's.
async fn register_delta(
    session: &SessionContext,
    spec: &DatasetSpec,
    url: &url::Url,
    storage_options: &std::collections::BTreeMap<String, String>,
    pin: Option<&crate::config::rules::SnapshotPin>,
    read: ReadScope<'_>,
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
    let snapshot = super::delta::load(Arc::clone(&object_store), url, pin, &shown).await?;
    let mut files = snapshot.files;
    if let Some(scope) = read.scope {
        let columns: Vec<(String, DataType)> = snapshot
            .partition_fields
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        if let Some(filter) = PartitionFilter::from_scope(session, scope, &columns, read.as_of) {
            files.retain(|f| filter.admits(&f.partition_values));
        }
    }
    let objects: Vec<ObjectMeta> = files.iter().map(|f| f.object.clone()).collect();
    let mut facts = DatasetFacts {
        url: shown.clone(),
        files: objects.len(),
        bytes: objects.iter().map(|o| o.size).sum(),
        // A table is as fresh as its last commit, whatever its files' times.
        newest_object: snapshot.read.committed_at,
        skipped: BTreeMap::new(),
        null_free_columns: vec![],
        read: None,
        warnings: vec![],
        delta: Some(snapshot.read.clone()),
    };
    let root = match url.scheme() {
        "file" => "/".to_string(),
        scheme => store::redact(&format!(
            "{scheme}://{}/",
            url.host_str().unwrap_or_default()
        )),
    };
    let probe = parquet_format(true);
    let found = footers::read(&state, &probe, &object_store, &objects, &root, false).await?;
    // The log states each file's rows (usually): a footer that disagrees is a table whose
    // counts would depend on which one answered.
    if let Some(stated) = files.iter().map(|f| f.stated_rows).sum::<Option<u64>>() {
        if stated != found.rows {
            return Err(format!(
                "Delta table {shown}: its log states {stated} rows in the files read, their Parquet footers hold {}",
                found.rows
            ));
        }
    }
    // Columns absent from some files (added later) are NULL there: not NULL-free.
    facts.null_free_columns = if objects.is_empty() {
        vec![]
    } else {
        found.null_free.clone()
    };
    // The table's schema is the log's, in the files' string representation (views), every
    // column nullable; a file's own types are cast to it when read.
    let file_schema = footers::nullable(
        &datafusion::datasource::physical_plan::parquet::transform_schema_to_view(
            &snapshot.data_schema,
        ),
    );
    let has_floats = file_schema
        .fields()
        .iter()
        .any(|f| has_float(f.data_type()));
    let format = Arc::new(parquet_format(found.null_counts_complete && !has_floats));
    let store_url = match url.scheme() {
        "file" => "file:///".to_string(),
        scheme => format!("{scheme}://{}/", url.host_str().unwrap_or_default()),
    };
    facts.read = Some(Arc::new(Files {
        store_url: store_url.clone(),
        root,
        objects,
        schema: Arc::new(file_schema.clone()),
        format: Arc::clone(&format),
    }));
    let table = super::file_list::FileListTable::new(
        datafusion::execution::object_store::ObjectStoreUrl::parse(&store_url)
            .map_err(|e| format!("{shown}: {e}"))?,
        Arc::new(file_schema),
        snapshot.partition_fields,
        files,
        format,
    );
    register_provider(session, spec, Arc::new(table))?;
    Ok(facts)
}

/// Whether a value of this type holds a float anywhere (nested types included).
fn has_float(t: &DataType) -> bool {
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
