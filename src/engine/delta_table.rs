//! The Delta-table source: the files of one snapshot of a table's log (see [`super::delta`]),
//! scanned as an explicit file list with the partition values the log states.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use object_store::ObjectMeta;

use super::dataset::{
    DatasetFacts, DatasetStore, Files, ReadScope, Resolved, has_float, open_store, parquet_format,
};
use crate::engine::footers;
use crate::engine::listing::PartitionFilter;

/// Reads one snapshot of a Delta table: the files its log names (those whose partition
/// values the scope admits), their footers checked like any Parquet file's.
pub async fn resolve(
    session: &SessionContext,
    url: &url::Url,
    storage_options: &std::collections::BTreeMap<String, String>,
    pin: Option<&crate::config::rules::SnapshotPin>,
    read: ReadScope<'_>,
) -> Result<Resolved, String> {
    let DatasetStore {
        shown,
        store: object_store,
        store_url,
        root,
    } = open_store(session, url, storage_options)?;
    let state = session.state();
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
    Ok(Resolved {
        provider: Arc::new(table),
        facts,
    })
}
