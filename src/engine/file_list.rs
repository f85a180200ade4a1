//! A table over an explicit list of Parquet files, each with its own partition values.
//!
//! A Delta table's rows are the files its log names, not the files its folder holds, and
//! their partition values are the ones the log states (a path need not carry them). So
//! the scan is given the files and the typed values; nothing is listed or parsed from
//! paths.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use object_store::ObjectMeta;

/// One data file and the values of the table's partition columns for its rows.
#[derive(Debug, Clone)]
pub struct ListedFile {
    pub object: ObjectMeta,
    pub partition_values: Vec<ScalarValue>,
    /// Rows the table's metadata states the file holds, when it says.
    pub stated_rows: Option<u64>,
}

#[derive(Debug)]
pub struct FileListTable {
    store_url: ObjectStoreUrl,
    /// The columns stored in the files (the table's, without partition columns).
    file_schema: SchemaRef,
    partition_fields: Vec<FieldRef>,
    schema: SchemaRef,
    files: Vec<ListedFile>,
    format: Arc<ParquetFormat>,
}

impl FileListTable {
    pub fn new(
        store_url: ObjectStoreUrl,
        file_schema: SchemaRef,
        partition_fields: Vec<Field>,
        files: Vec<ListedFile>,
        format: Arc<ParquetFormat>,
    ) -> FileListTable {
        let partition_fields: Vec<FieldRef> = partition_fields.into_iter().map(Arc::new).collect();
        let mut all: Vec<FieldRef> = file_schema.fields().iter().cloned().collect();
        all.extend(partition_fields.iter().cloned());
        FileListTable {
            store_url,
            file_schema,
            partition_fields,
            schema: Arc::new(Schema::new(all)),
            files,
            format,
        }
    }
}

/// What a [`FileListTable`] is made of (for sending it to a cluster).
pub struct FileListParts<'a> {
    pub store_url: &'a ObjectStoreUrl,
    pub file_schema: &'a SchemaRef,
    pub partition_fields: &'a [FieldRef],
    pub files: &'a [ListedFile],
    pub statistics_are_proof: bool,
}

impl FileListTable {
    pub fn parts(&self) -> FileListParts<'_> {
        FileListParts {
            store_url: &self.store_url,
            file_schema: &self.file_schema,
            partition_fields: &self.partition_fields,
            files: &self.files,
            statistics_are_proof: self.format.options().global.pruning,
        }
    }
}

#[async_trait]
impl datafusion::catalog::TableProvider for FileListTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.files.is_empty() {
            let projected = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        // Files spread over as many groups as the session runs partitions, in log order.
        let groups = state
            .config()
            .target_partitions()
            .max(1)
            .min(self.files.len());
        let mut file_groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups];
        for (i, f) in self.files.iter().enumerate() {
            file_groups[i % groups].push(
                PartitionedFile::new_from_meta(f.object.clone())
                    .with_partition_values(f.partition_values.clone()),
            );
        }
        let table_schema = TableSchema::builder(Arc::clone(&self.file_schema))
            .with_table_partition_cols(self.partition_fields.clone())
            .build();
        let source = self.format.file_source(table_schema);
        let config = FileScanConfigBuilder::new(self.store_url.clone(), source)
            .with_file_groups(file_groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        self.format.create_physical_plan(state, config).await
    }
}
