//! What a run learns about a dataset before checking it: its location, files, skipped
//! objects, the Delta version read. Reports show these facts and checks may be judged on
//! them (`freshness` without a column is judged on `newest_object`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use object_store::ObjectMeta;
use serde::Serialize;

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
    pub delta: Option<DeltaVersion>,
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

impl DatasetFacts {
    pub fn skipped_files(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// The version a run read, for the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeltaVersion {
    pub version: u64,
    /// When that version was committed (None if the log does not say).
    pub committed_at: Option<DateTime<Utc>>,
    /// Files in the snapshot (the dataset's `files` counts those in scope).
    pub snapshot_files: usize,
}
