//! Reading a dataset's Parquet footers: each file's schema, checked against the others and
//! against itself, and what its statistics can prove.
//!
//! A footer is evidence, not truth. dq uses a statistic only when it is a proof: a null
//! count that is present (a footer may carry min/max and no null count; parquet-rs and
//! DataFusion then read "0 NULLs"), and never a float min/max (they leave NaN out). A footer
//! that contradicts itself (a file row count that is not the sum of its row groups', a flat
//! column chunk holding more or fewer values than its row group has rows) is a corrupt file,
//! named with its path: counts read from it would depend on which path answered them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::parquet::transform_schema_to_view;
use datafusion::execution::session_state::SessionState;
use datafusion::parquet::file::metadata::ParquetMetaData;
use futures::StreamExt;
use object_store::{ObjectMeta, ObjectStore};

/// Footers read at once.
const CONCURRENT_FOOTERS: usize = 32;

/// What a dataset's footers say, once every file has been checked.
#[derive(Debug, Clone)]
pub struct Footers {
    /// The merged schema of every file, every column nullable (see [`nullable`]).
    pub schema: SchemaRef,
    /// Columns that every file proves to hold no NULL: the column is in every file and is
    /// REQUIRED there, or every row group reports an exact null count of 0.
    pub null_free: Vec<String>,
    /// Whether every column chunk of every file has a null count: row-group pruning on
    /// statistics is sound only then.
    pub null_counts_complete: bool,
    /// Rows the footers hold (equal to the sum of their row groups', checked).
    pub rows: u64,
}

/// What one file contributes.
struct FileFooter {
    location: String,
    schema: Schema,
    metadata: Arc<ParquetMetaData>,
}

/// Reads and checks the footer of every object; the error names the first bad file.
/// `root` is prefixed to object paths in messages (`/` for local files, `s3://bucket/`).
/// With `merge_schemas` the files' schemas must merge into the dataset's (a folder of
/// Parquet); without, the schema comes from elsewhere (a table's log) and files are cast
/// to it when read, so `schema` is left empty.
pub async fn read(
    state: &SessionState,
    format: &ParquetFormat,
    store: &Arc<dyn ObjectStore>,
    objects: &[ObjectMeta],
    root: &str,
    merge_schemas: bool,
) -> Result<Footers, String> {
    let mut files: Vec<FileFooter> =
        futures::stream::iter(objects.iter().map(|object| async move {
            let what = format!("the footer of {root}{}", object.location);
            super::contain::contain(&what, read_one(state, format, store, object, root)).await
        }))
        .buffer_unordered(CONCURRENT_FOOTERS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, String>>()?;
    // Merge in path order, so the schema (and any conflict reported) does not depend on
    // the order the store answered in.
    files.sort_by(|a, b| a.location.cmp(&b.location));
    let mut merged: Option<Schema> = None;
    for f in files.iter().filter(|_| merge_schemas) {
        let schema = transform_schema_to_view(&plain_strings(&f.schema));
        merged = Some(match merged {
            None => schema,
            Some(m) => Schema::try_merge([m, schema]).map_err(|e| {
                format!(
                    "Parquet file {} does not fit the schema of the files before it: {}",
                    f.location,
                    crate::engine::clean_error(&e.into())
                )
            })?,
        });
    }
    let schema = nullable(&merged.unwrap_or_else(Schema::empty));
    let mut null_counts_complete = true;
    let mut null_free: BTreeSet<String> = files
        .iter()
        .flat_map(|f| f.schema.fields().iter().map(|c| c.name().clone()))
        .collect();
    let mut rows = 0u64;
    for f in &files {
        let facts = inspect(&f.metadata)
            .map_err(|e| format!("corrupt Parquet file {}: {e}", f.location))?;
        rows += facts.rows;
        null_counts_complete &= facts.null_counts_complete;
        null_free.retain(|c| facts.null_free.contains(c));
    }
    Ok(Footers {
        schema: Arc::new(schema),
        null_free: null_free.into_iter().collect(),
        null_counts_complete,
        rows,
    })
}

async fn read_one(
    state: &SessionState,
    format: &ParquetFormat,
    store: &Arc<dyn ObjectStore>,
    object: &ObjectMeta,
    root: &str,
) -> Result<FileFooter, String> {
    let location = format!("{root}{}", object.location);
    let bad = |e: datafusion::error::DataFusionError| {
        format!(
            "corrupt Parquet file {location}: {}",
            super::store::explain(&crate::engine::clean_error(&e))
        )
    };
    if object.size == 0 {
        return Err(format!(
            "corrupt Parquet file {location}: the file is empty (0 bytes)"
        ));
    }
    // The schema as DataFusion infers it (INT96, view types and the rest of the format's
    // options), one file at a time so that a bad file is named.
    let schema = format
        .infer_schema(state, store, std::slice::from_ref(object))
        .await
        .map_err(bad)?;
    // The footer was just read and is cached: this costs no I/O.
    let metadata = DFParquetMetadata::new(store.as_ref(), object)
        .with_file_metadata_cache(Some(
            state.runtime_env().cache_manager.get_file_metadata_cache(),
        ))
        .fetch_metadata()
        .await
        .map_err(bad)?;
    Ok(FileFooter {
        location,
        schema: schema.as_ref().clone(),
        metadata,
    })
}

/// One file's facts, or why its footer contradicts itself.
#[derive(Debug, PartialEq)]
struct FileFacts {
    rows: u64,
    null_free: BTreeSet<String>,
    null_counts_complete: bool,
}

fn inspect(metadata: &ParquetMetaData) -> Result<FileFacts, String> {
    let declared = metadata.file_metadata().num_rows();
    let descr = metadata.file_metadata().schema_descr();
    let mut held: i64 = 0;
    let mut null_counts_complete = true;
    // Top-level flat columns: name -> (REQUIRED, every row group's null count is exactly 0).
    let mut flat: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for column in descr.columns() {
        let path = column.path().parts();
        if path.len() == 1 && column.max_rep_level() == 0 {
            flat.insert(path[0].clone(), (column.max_def_level() == 0, true));
        }
    }
    for (g, group) in metadata.row_groups().iter().enumerate() {
        let rows = group.num_rows();
        if rows < 0 {
            return Err(format!("row group {g} claims {rows} rows"));
        }
        held = held
            .checked_add(rows)
            .ok_or_else(|| format!("row group {g}: row counts overflow"))?;
        for (c, chunk) in group.columns().iter().enumerate() {
            let column = descr.column(c);
            let path = column.path().parts();
            let null_count = chunk.statistics().and_then(|s| s.null_count_opt());
            if null_count.is_none() && column.max_def_level() > 0 {
                null_counts_complete = false;
            }
            if column.max_rep_level() == 0 && chunk.num_values() != rows {
                return Err(format!(
                    "row group {g} has {rows} rows but its column `{}` holds {} values",
                    path.join("."),
                    chunk.num_values()
                ));
            }
            if path.len() == 1 {
                if let Some((_, zero)) = flat.get_mut(&path[0]) {
                    *zero &= null_count == Some(0);
                }
            }
        }
    }
    if held != declared {
        return Err(format!(
            "the footer says the file holds {declared} rows but its row groups hold {held}"
        ));
    }
    Ok(FileFacts {
        rows: held as u64,
        null_free: flat
            .into_iter()
            .filter(|(_, (required, zero))| *required || *zero)
            .map(|(name, _)| name)
            .collect(),
        null_counts_complete,
    })
}

/// A dictionary-encoded string column is a string column: files of one dataset may store a
/// column with and without a dictionary (pyarrow keeps the type it was given; Spark never
/// uses one), and the schemas must still merge.
fn plain_strings(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, value) => {
                f.as_ref().clone().with_data_type(value.as_ref().clone())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// Every column nullable. What a file declares is not a proof (a writer may declare a
/// column required and store NULLs in it, or embed an Arrow schema that says so); dq
/// proves the absence of NULLs itself ([`Footers::null_free`]), and a column declared
/// non-nullable would let the optimizer fold `x IS NULL` to false without reading `x`.
pub fn nullable(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use datafusion::parquet::file::metadata::{
        FileMetaData, ParquetMetaDataBuilder, ParquetMetaDataReader,
    };

    fn metadata(values: Vec<Option<i64>>) -> ParquetMetaData {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        let batch =
            RecordBatch::try_from_iter(vec![("x", Arc::new(Int64Array::from(values)) as ArrayRef)])
                .unwrap();
        crate::sample::write_parquet(&path, &[batch]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .unwrap()
    }

    fn with_file_rows(m: ParquetMetaData, rows: i64) -> ParquetMetaData {
        let f = m.file_metadata();
        let file = FileMetaData::new(f.version(), rows, None, None, f.schema_descr_ptr(), None);
        ParquetMetaDataBuilder::new(file)
            .set_row_groups(m.row_groups().to_vec())
            .build()
    }

    #[test]
    fn file_and_row_group_counts_must_agree() {
        let m = metadata(vec![Some(1), None, Some(3)]);
        let facts = inspect(&m).unwrap();
        assert_eq!(facts.rows, 3);
        assert!(facts.null_counts_complete);
        assert!(facts.null_free.is_empty(), "x holds a NULL");
        for lie in [0, 2, 1000] {
            let e = inspect(&with_file_rows(m.clone(), lie)).unwrap_err();
            assert!(
                e.contains(&format!(
                    "says the file holds {lie} rows but its row groups hold 3"
                )),
                "{e}"
            );
        }
        let facts = inspect(&metadata(vec![Some(1), Some(2)])).unwrap();
        assert!(facts.null_free.contains("x"));
    }
}
