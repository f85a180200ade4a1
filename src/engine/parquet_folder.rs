//! The Parquet-folder table source: every `*.parquet` under a dataset's path (Hive
//! partition folders allowed), found by listing, with partition values parsed from paths.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::TableReference;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::cache::TableScopedPath;
use datafusion::execution::cache::cache_manager::CachedFileList;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::ObjectMeta;

use super::dataset::{
    DatasetFacts, DatasetStore, Files, Resolved, has_float, open_store, parquet_format,
};
use crate::config::rules::{DatasetSpec, PartitionColumn};
use crate::engine::footers;
use crate::engine::listing::{self, PartitionFilter};
use crate::engine::partitions::{HIVE_NULL, TypedPartitions};
use crate::engine::store;

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

/// The Hive partition columns (`key=value` folders) of a folder no rule declares yet, in
/// folder order, each with the narrowest type that holds every value seen: int64, date,
/// or string (Hive's NULL fits any; `year=2024` is an integer). One listing; no footer is read.
pub(crate) async fn discover_partitions(
    session: &SessionContext,
    url: &url::Url,
    storage_options: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<PartitionColumn>, String> {
    let DatasetStore {
        shown,
        store: object_store,
        ..
    } = open_store(session, url, storage_options)?;
    let table_url = ListingTableUrl::parse(url.as_str()).map_err(|e| format!("{shown}: {e}"))?;
    if !table_url.is_collection() {
        return Ok(vec![]);
    }
    let base = table_url.prefix();
    let listing = listing::list(object_store.as_ref(), base, None)
        .await
        .map_err(|e| format!("cannot list {shown}: {}", store::explain(&e.to_string())))?;
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for o in &listing.objects {
        let relative = relative_path(&o.location, base);
        if skip_reason(&relative, &[]).is_some() {
            continue;
        }
        let segments: Vec<&str> = relative.split('/').collect();
        for folder in &segments[..segments.len().saturating_sub(1)] {
            if let Some((k, raw)) = folder.split_once('=') {
                let value = partition_text(raw);
                match keys.iter_mut().find(|(key, _)| key == k) {
                    Some((_, values)) => values.push(value),
                    None => keys.push((k.to_string(), vec![value])),
                }
            }
        }
    }
    Ok(keys
        .into_iter()
        .map(|(name, values)| {
            let values: Vec<&String> = values.iter().filter(|v| v.as_str() != HIVE_NULL).collect();
            let all = |t: &DataType| {
                values.iter().all(|v| {
                    datafusion::common::ScalarValue::try_from_string(v.to_string(), t).is_ok()
                })
            };
            let data_type = [DataType::Int64, DataType::Date32]
                .into_iter()
                .find(|t| all(t))
                .unwrap_or(DataType::Utf8);
            PartitionColumn { name, data_type }
        })
        .collect())
}

/// Lists a Parquet folder, reads its files' footers, and makes its table. With a
/// `partition_filter`, only the partition directories it admits are listed and read.
pub async fn resolve(
    session: &SessionContext,
    spec: &DatasetSpec,
    url: &url::Url,
    storage_options: &std::collections::BTreeMap<String, String>,
    partition_filter: Option<&PartitionFilter>,
) -> Result<Resolved, String> {
    let DatasetStore {
        shown,
        store: object_store,
        store_url,
        root,
    } = open_store(session, url, storage_options)?;
    let table_ref = TableReference::partial(spec.layer.as_str(), spec.name.as_str());
    let table_url = ListingTableUrl::parse(url.as_str())
        .map_err(|e| format!("{shown}: {e}"))?
        .with_table_ref(table_ref.clone());
    let state = session.state();
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
        store_url,
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
    Ok(Resolved { provider, facts })
}

/// The same dataset as an explicit list of its files with typed partition values, for a
/// cluster: its nodes read exactly these files and never list the folder themselves.
/// Partition values are parsed as the local table types them (Hive's NULL is NULL).
pub fn as_file_list(
    spec: &DatasetSpec,
    url: &url::Url,
    resolved: Resolved,
) -> Result<Resolved, String> {
    let Resolved { facts, .. } = resolved;
    let files = facts
        .read
        .clone()
        .ok_or_else(|| format!("the files of {} were not listed", spec.qualified()))?;
    let table_url = ListingTableUrl::parse(url.as_str()).map_err(|e| e.to_string())?;
    let base = table_url.prefix();
    let listed = files
        .objects
        .iter()
        .map(|o| {
            let relative = relative_path(&o.location, base);
            let folders: Vec<&str> = relative.split('/').collect();
            let partition_values = spec
                .partitioning
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let raw = folders
                        .get(i)
                        .and_then(|f| f.split_once('='))
                        .map(|(_, v)| partition_text(v))
                        .ok_or_else(|| {
                            format!("{relative}: no partition folder for `{}`", p.name)
                        })?;
                    if raw == HIVE_NULL {
                        datafusion::common::ScalarValue::try_from(&p.data_type)
                    } else {
                        datafusion::common::ScalarValue::try_from_string(raw, &p.data_type)
                    }
                    .map_err(|e| format!("{relative}: partition `{}`: {e}", p.name))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(super::file_list::ListedFile {
                object: o.clone(),
                partition_values,
                stated_rows: None,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let store_url = datafusion::execution::object_store::ObjectStoreUrl::parse(&files.store_url)
        .map_err(|e| e.to_string())?;
    let partition_fields = spec
        .partitioning
        .iter()
        .map(|p| datafusion::arrow::datatypes::Field::new(&p.name, p.data_type.clone(), true))
        .collect();
    let table = super::file_list::FileListTable::new(
        store_url,
        Arc::clone(&files.schema),
        partition_fields,
        listed,
        Arc::clone(&files.format),
    );
    Ok(Resolved {
        provider: Arc::new(table),
        facts,
    })
}
