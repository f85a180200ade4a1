//! Delta Lake tables: which files hold a table's rows at one version.
//!
//! The log (replayed by the `deltalake` crate through dq's own object store, so the same
//! credentials, endpoints and redaction apply) names the snapshot's files and their
//! partition values; dq then reads those files as it reads any Parquet (footers checked,
//! see [`super::footers`]). Files that the folder still holds but the log has removed
//! (after an overwrite, a DELETE, a MERGE or a compaction, until VACUUM) are never read.
//!
//! What dq cannot read exactly is refused, naming the table and the feature: deletion
//! vectors (rows hidden inside a file), column mapping (files whose column names differ
//! from the table's), and any reader feature this module does not know.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use deltalake_core::DeltaTableBuilder;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoArrow;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};
use url::Url;

use super::file_list::ListedFile;
use crate::config::rules::SnapshotPin;

/// Reader features whose tables dq reads exactly as plain Parquet files (given the checks
/// below for deletion vectors and column mapping).
const READABLE_FEATURES: &[&str] = &[
    "timestampNtz",
    "typeWidening",
    "typeWidening-preview",
    "v2Checkpoint",
    "vacuumProtocolCheck",
    "deletionVectors",
    "columnMapping",
    "checkpointProtection",
];

pub use crate::facts::DeltaVersion;

/// One snapshot of a Delta table, ready to scan.
#[derive(Debug)]
pub struct Snapshot {
    pub read: DeltaVersion,
    /// The table's columns that are stored in its files, in the log's order.
    pub data_schema: Schema,
    pub partition_fields: Vec<Field>,
    pub files: Vec<ListedFile>,
}

/// Reads a table's log through whatever store dq built for its scheme. The reader knows
/// only `file://` and `memory://` by itself (its cloud log stores live in other crates and
/// exist for concurrent writers; dq only reads), so the plain log store is registered for
/// every scheme dq's stores serve.
struct ReadOnlyLogStores;

impl deltalake_core::logstore::LogStoreFactory for ReadOnlyLogStores {
    fn with_options(
        &self,
        prefixed_store: deltalake_core::logstore::ObjectStoreRef,
        root_store: deltalake_core::logstore::ObjectStoreRef,
        location: &Url,
        options: &deltalake_core::logstore::StorageConfig,
    ) -> deltalake_core::DeltaResult<deltalake_core::logstore::LogStoreRef> {
        Ok(deltalake_core::logstore::default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

fn register_log_stores() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let registry = deltalake_core::logstore::logstore_factories();
        for scheme in [
            "s3", "s3a", "az", "abfs", "abfss", "azure", "adl", "gs", "http", "https",
        ] {
            if let Ok(url) = Url::parse(&format!("{scheme}://")) {
                if !registry.contains_key(&url) {
                    registry.insert(url, Arc::new(ReadOnlyLogStores));
                }
            }
        }
    });
}

/// Which version to read: a dataset's own pin wins over the run's `--snapshot-at`.
pub fn version_to_read(
    pin: Option<&SnapshotPin>,
    snapshot_at: Option<DateTime<Utc>>,
) -> Option<SnapshotPin> {
    pin.cloned()
        .or_else(|| snapshot_at.map(SnapshotPin::Timestamp))
}

/// Replays the log of the table at `url` (whose store is `store`, rooted at the bucket or
/// at `/` for local files) and lists the snapshot's files. `shown` names the table in errors.
pub async fn load(
    store: Arc<dyn ObjectStore>,
    url: &Url,
    pin: Option<&SnapshotPin>,
    shown: &str,
) -> Result<Snapshot, String> {
    register_log_stores();
    let table_url = with_trailing_slash(url);
    let builder = DeltaTableBuilder::from_url(table_url.clone())
        .map_err(|e| format!("Delta table {shown}: {e}"))?
        .with_storage_backend(store, table_url.clone());
    let builder = match pin {
        None => builder,
        Some(SnapshotPin::Version(v)) => builder.with_version(*v),
        Some(SnapshotPin::Timestamp(t)) => builder.with_timestamp(*t),
    };
    let table = builder.load().await.map_err(|e| {
        let from_store = matches!(e, deltalake_core::DeltaTableError::ObjectStore { .. });
        let text = explain(&e.to_string(), from_store);
        match pin {
            Some(SnapshotPin::Timestamp(t)) => {
                format!("Delta table {shown} as of {}: {text}", t.to_rfc3339())
            }
            Some(SnapshotPin::Version(v)) => format!("Delta table {shown} version {v}: {text}"),
            None => format!("Delta table {shown}: {text}"),
        }
    })?;
    let state = table
        .snapshot()
        .map_err(|e| format!("Delta table {shown}: {e}"))?;
    let version = state.version();
    refuse_unreadable(state, shown)?;

    let logical: Schema = state
        .schema()
        .as_ref()
        .try_into_arrow()
        .map_err(|e| format!("Delta table {shown}: schema: {e}"))?;
    let partition_names: Vec<String> = state.metadata().partition_columns().to_vec();
    let mut data_fields = Vec::new();
    let mut partition_fields = Vec::new();
    for f in logical.fields() {
        let field = f.as_ref().clone().with_nullable(true);
        if partition_names.contains(f.name()) {
            partition_fields.push(field);
        } else {
            data_fields.push(field);
        }
    }
    // Partition columns in the log's order (the metadata lists them so).
    partition_fields.sort_by_key(|f| partition_names.iter().position(|p| p == f.name()));

    let base =
        Path::from_url_path(table_url.path()).map_err(|e| format!("Delta table {shown}: {e}"))?;
    let mut files = Vec::new();
    for file in state.log_data().iter() {
        if file.deletion_vector_descriptor().is_some() {
            return Err(format!(
                "Delta table {shown} version {version}: file {} has a deletion vector (rows deleted inside the file); dq cannot read deletion vectors yet and will not count those rows — run OPTIMIZE/PURGE on the table or read an older version",
                file.path()
            ));
        }
        let location = file_location(&file.path(), &table_url, &base)
            .map_err(|e| format!("Delta table {shown}: {e}"))?;
        let raw = file.partition_values_map();
        let mut values = Vec::with_capacity(partition_fields.len());
        for p in &partition_fields {
            values.push(
                partition_value(raw.get(p.name()).cloned().flatten(), p)
                    .map_err(|e| format!("Delta table {shown}: file {}: {e}", file.path()))?,
            );
        }
        files.push(ListedFile {
            object: ObjectMeta {
                location,
                last_modified: file
                    .modification_datetime()
                    .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
                size: u64::try_from(file.size()).unwrap_or(0),
                e_tag: None,
                version: None,
            },
            partition_values: values,
            stated_rows: file.num_records().map(|n| n as u64),
        });
    }
    // Log order depends on checkpoints and replay; path order is stable.
    files.sort_by(|a, b| a.object.location.cmp(&b.object.location));
    let committed_at = state
        .version_timestamp(version)
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    // The reader answers an instant before the first commit with the first version; the
    // table did not exist then, and its first version's counts would be a wrong answer.
    if let (Some(SnapshotPin::Timestamp(at)), Some(committed)) = (pin, committed_at) {
        if committed > *at {
            return Err(format!(
                "Delta table {shown} has no version as of {}: its first version still in the log (version {version}) was committed at {}",
                at.to_rfc3339(),
                committed.to_rfc3339()
            ));
        }
    }
    Ok(Snapshot {
        read: DeltaVersion {
            version,
            committed_at,
            snapshot_files: files.len(),
        },
        data_schema: Schema::new(data_fields),
        partition_fields,
        files,
    })
}

/// Refuses a table whose files do not hold its rows and columns as plain Parquet does.
fn refuse_unreadable(
    state: &deltalake_core::table::state::DeltaTableState,
    shown: &str,
) -> Result<(), String> {
    let protocol = serde_json::to_value(state.protocol()).unwrap_or_default();
    let reader_version = protocol["minReaderVersion"].as_i64().unwrap_or(1);
    if reader_version > 3 {
        return Err(format!(
            "Delta table {shown} needs reader version {reader_version}; dq reads up to 3"
        ));
    }
    if let Some(features) = protocol["readerFeatures"].as_array() {
        for feature in features.iter().filter_map(|f| f.as_str()) {
            if !READABLE_FEATURES.contains(&feature) {
                return Err(format!(
                    "Delta table {shown} uses reader feature `{feature}`, which dq cannot read yet"
                ));
            }
        }
    }
    let mode = state
        .metadata()
        .configuration()
        .get("delta.columnMapping.mode")
        .cloned()
        .unwrap_or_else(|| "none".into());
    if mode != "none" {
        return Err(format!(
            "Delta table {shown} uses column mapping (mode `{mode}`: its files name columns differently from the table); dq cannot read column-mapped tables yet"
        ));
    }
    Ok(())
}

/// A reader error as a person reads it: without the backtrace the kernel appends, its
/// internal prefixes, or the debug dump of a log path.
fn explain(error: &str, from_store: bool) -> String {
    let first: Vec<&str> = error
        .lines()
        .take_while(|l| {
            let t = l.trim_start();
            !(t.split_once(':')
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
        })
        .collect();
    let mut text = first.join(" ");
    for prefix in [
        "Kernel error: ",
        "Generic delta kernel error: ",
        "Generic error: ",
    ] {
        text = text.replace(prefix, "");
    }
    if text.contains("Expected contiguous commit files") {
        return "its log is missing a commit file (the versions in _delta_log/ are not contiguous)"
            .into();
    }
    if text.contains("No files in log segment") {
        return "no commits in _delta_log/ (is this a Delta table? `format: parquet` reads a folder of Parquet files)".into();
    }
    if let Some(json) = text.strip_prefix("Json error: ") {
        return format!("a commit in _delta_log/ is not valid JSON: {json}");
    }
    // Object-store failures get the store's hints (access denied, unreachable …); the
    // reader's own messages are only scrubbed of secrets.
    let text = if from_store {
        super::store::explain(&text)
    } else {
        super::store::scrub(&text)
    };
    if text.chars().count() > 400 {
        format!("{}…", text.chars().take(400).collect::<String>())
    } else {
        text
    }
}

/// `url` as a directory URL (the table's root).
fn with_trailing_slash(url: &Url) -> Url {
    let mut url = url.clone();
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    url
}

/// Where a file the log names is, in the table's store. Paths are relative to the table
/// (percent-decoded already), or absolute URLs that must lie in the same store.
fn file_location(path: &str, table_url: &Url, base: &Path) -> Result<Path, String> {
    if let Ok(absolute) = Url::parse(path) {
        if absolute.scheme() != table_url.scheme() || absolute.host() != table_url.host() {
            return Err(format!(
                "file {path} lies outside the table's store; dq reads files of one store per table"
            ));
        }
        return Path::from_url_path(absolute.path()).map_err(|e| format!("file {path}: {e}"));
    }
    let mut location = base.clone();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if part == ".." || part == "." {
            return Err(format!("file {path} is not inside the table"));
        }
        location = location.join(part);
    }
    Ok(location)
}

/// A partition value from the log (text, or None for NULL) as its column's type. Delta
/// writes an empty string for a NULL partition value of a non-string column.
fn partition_value(raw: Option<String>, field: &Field) -> Result<ScalarValue, String> {
    let null = ScalarValue::try_from(field.data_type()).map_err(|e| e.to_string())?;
    let Some(text) = raw else {
        return Ok(null);
    };
    // An empty value is NULL, except for text and bytes (as the Delta kernel reads it).
    let textual = matches!(
        field.data_type(),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Binary
    );
    if text.is_empty() && !textual {
        return Ok(null);
    }
    ScalarValue::try_from_string(text.clone(), field.data_type()).map_err(|_| {
        format!(
            "partition value `{text}` is not a valid {} for column `{}`",
            field.data_type(),
            field.name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_errors_lose_backtraces_and_internals() {
        let e = explain(
            "Kernel error: Json error: Encountered unexpected 'b'\n   0: buoyant_kernel::error::Error::with_backtrace\n   1: x",
            false,
        );
        assert_eq!(
            e,
            "a commit in _delta_log/ is not valid JSON: Encountered unexpected 'b'"
        );
        let e = explain(
            "Kernel error: Generic delta kernel error: Expected contiguous commit files, but found gap: ParsedLogPath { location: FileMeta { .. } }",
            false,
        );
        assert!(e.contains("missing a commit file"), "{e}");
    }

    #[test]
    fn partition_values_are_typed_and_null_is_null() {
        let date = Field::new("day", DataType::Date32, true);
        assert_eq!(
            partition_value(Some("2026-11-30".into()), &date).unwrap(),
            ScalarValue::Date32(Some(20787))
        );
        assert_eq!(
            partition_value(None, &date).unwrap(),
            ScalarValue::Date32(None)
        );
        assert_eq!(
            partition_value(Some(String::new()), &date).unwrap(),
            ScalarValue::Date32(None)
        );
        let e = partition_value(Some("yesterday".into()), &date).unwrap_err();
        assert!(e.contains("not a valid Date32 for column `day`"), "{e}");
        let text = Field::new("country", DataType::Utf8, true);
        assert_eq!(
            partition_value(Some(String::new()), &text).unwrap(),
            ScalarValue::Utf8(Some(String::new()))
        );
    }

    #[test]
    fn file_paths_stay_inside_the_table() {
        let url = Url::parse("s3://bucket/lake/orders/").unwrap();
        let base = Path::from("lake/orders");
        assert_eq!(
            file_location("day=2026-11-30/part 0.parquet", &url, &base).unwrap(),
            Path::from("lake/orders/day=2026-11-30/part 0.parquet")
        );
        assert_eq!(
            file_location("s3://bucket/elsewhere/x.parquet", &url, &base).unwrap(),
            Path::from("elsewhere/x.parquet")
        );
        assert!(file_location("s3://other/x.parquet", &url, &base).is_err());
        assert!(file_location("../x.parquet", &url, &base).is_err());
    }
}
