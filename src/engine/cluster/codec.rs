//! How a dataset travels to a Ballista cluster: as the explicit list of its files.
//!
//! A logical plan names its tables; Ballista serialises standard ones itself, and hands
//! any other table to this codec. dq's table on a cluster is always a
//! [`FileListTable`]: the store, the file schema, the partition columns, and for each file
//! its location, size, modification time and typed partition values. The scheduler and
//! the executors decode the same table, so they read exactly the files the client listed
//! and never list the folder themselves (which would bring back the hidden files,
//! temporary files and out-of-scope partitions dq's listing left out).

use std::sync::Arc;

use ballista_core::serde::BallistaLogicalExtensionCodec;
use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, ScalarValue, TableReference};
use datafusion::execution::TaskContext;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::protobuf;
use prost::Message;

use crate::engine::file_list::{FileListTable, ListedFile};

/// Marks a table encoded by this codec (Ballista's own encodings never start with it).
const MAGIC: &[u8] = b"dq-files/1\n";

#[derive(Clone, PartialEq, prost::Message)]
struct FileListProto {
    #[prost(string, tag = "1")]
    store_url: String,
    #[prost(message, optional, tag = "2")]
    file_schema: Option<protobuf::Schema>,
    /// The partition columns, as a schema of their own.
    #[prost(message, optional, tag = "3")]
    partition_schema: Option<protobuf::Schema>,
    #[prost(message, repeated, tag = "4")]
    files: Vec<FileProto>,
    /// Whether Parquet statistics may prune row groups (see `dataset::parquet_format`).
    #[prost(bool, tag = "5")]
    statistics_are_proof: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FileProto {
    #[prost(string, tag = "1")]
    location: String,
    #[prost(uint64, tag = "2")]
    size: u64,
    #[prost(int64, tag = "3")]
    last_modified_micros: i64,
    #[prost(string, optional, tag = "4")]
    e_tag: Option<String>,
    #[prost(string, optional, tag = "5")]
    version: Option<String>,
    #[prost(message, repeated, tag = "6")]
    partition_values: Vec<protobuf::ScalarValue>,
    #[prost(uint64, optional, tag = "7")]
    stated_rows: Option<u64>,
}

fn encode_error(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("dq: cannot encode a dataset for the cluster: {e}"))
}

fn decode_error(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("dq: cannot decode a dataset from the client: {e}"))
}

/// The bytes of `table` for the cluster.
pub fn encode(table: &FileListTable) -> Result<Vec<u8>> {
    let parts = table.parts();
    let partition_schema = Schema::new(
        parts
            .partition_fields
            .iter()
            .map(|f| f.as_ref().clone())
            .collect::<Vec<Field>>(),
    );
    let files = parts
        .files
        .iter()
        .map(|f| {
            Ok(FileProto {
                location: f.object.location.to_string(),
                size: f.object.size,
                last_modified_micros: f.object.last_modified.timestamp_micros(),
                e_tag: f.object.e_tag.clone(),
                version: f.object.version.clone(),
                partition_values: f
                    .partition_values
                    .iter()
                    .map(|v| protobuf::ScalarValue::try_from(v).map_err(encode_error))
                    .collect::<Result<_>>()?,
                stated_rows: f.stated_rows,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let proto = FileListProto {
        store_url: parts.store_url.as_str().to_string(),
        file_schema: Some(
            protobuf::Schema::try_from(parts.file_schema.as_ref()).map_err(encode_error)?,
        ),
        partition_schema: Some(
            protobuf::Schema::try_from(&partition_schema).map_err(encode_error)?,
        ),
        files,
        statistics_are_proof: parts.statistics_are_proof,
    };
    let mut buf = MAGIC.to_vec();
    proto.encode(&mut buf).map_err(encode_error)?;
    Ok(buf)
}

/// The table `encode` wrote, or None when `buf` is not one of dq's tables.
pub fn decode(buf: &[u8]) -> Result<Option<FileListTable>> {
    let Some(body) = buf.strip_prefix(MAGIC) else {
        return Ok(None);
    };
    let proto = FileListProto::decode(body).map_err(decode_error)?;
    let schema = |s: Option<protobuf::Schema>| -> Result<SchemaRef> {
        let s = s.ok_or_else(|| decode_error("a schema is missing"))?;
        Ok(Arc::new(Schema::try_from(&s).map_err(decode_error)?))
    };
    let file_schema = schema(proto.file_schema)?;
    let partition_schema = schema(proto.partition_schema)?;
    let files = proto
        .files
        .into_iter()
        .map(|f| {
            let last_modified = DateTime::<Utc>::from_timestamp_micros(f.last_modified_micros)
                .ok_or_else(|| decode_error("a file's modification time is out of range"))?;
            Ok(ListedFile {
                object: object_store::ObjectMeta {
                    location: object_store::path::Path::from(f.location),
                    last_modified,
                    size: f.size,
                    e_tag: f.e_tag,
                    version: f.version,
                },
                partition_values: f
                    .partition_values
                    .iter()
                    .map(|v| ScalarValue::try_from(v).map_err(decode_error))
                    .collect::<Result<_>>()?,
                stated_rows: f.stated_rows,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let store_url = ObjectStoreUrl::parse(&proto.store_url)?;
    Ok(Some(FileListTable::new(
        store_url,
        file_schema,
        partition_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect(),
        files,
        Arc::new(crate::engine::dataset::parquet_format(
            proto.statistics_are_proof,
        )),
    )))
}

/// Ballista's codec, with dq's tables.
#[derive(Debug, Default)]
pub struct DqLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for DqLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match decode(buf)? {
            Some(table) => Ok(Arc::new(table)),
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match node.downcast_ref::<FileListTable>() {
            Some(table) => {
                buf.extend(encode(table)?);
                Ok(())
            }
            None => Err(DataFusionError::NotImplemented(format!(
                "table {table_ref} cannot run on a Ballista cluster: dq sends only its own file-list tables"
            ))),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;

    #[test]
    fn a_file_list_round_trips_with_typed_partition_values() {
        let file = |name: &str, day: Option<i32>| ListedFile {
            object: object_store::ObjectMeta {
                location: object_store::path::Path::from(name),
                last_modified: DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_456)
                    .unwrap(),
                size: 1234,
                e_tag: Some("etag".into()),
                version: None,
            },
            partition_values: vec![
                ScalarValue::Date32(day),
                ScalarValue::Utf8(Some("eu".into())),
            ],
            stated_rows: Some(7),
        };
        let table = FileListTable::new(
            ObjectStoreUrl::parse("s3://bucket").unwrap(),
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
            vec![
                Field::new("day", DataType::Date32, true),
                Field::new("region", DataType::Utf8, true),
            ],
            vec![
                file("lake/a.parquet", Some(19000)),
                file("lake/b.parquet", None),
            ],
            Arc::new(crate::engine::dataset::parquet_format(false)),
        );
        let bytes = encode(&table).unwrap();
        let back = decode(&bytes).unwrap().expect("a dq table");
        assert_eq!(back.schema(), table.schema());
        let (a, b) = (table.parts(), back.parts());
        assert_eq!(a.store_url.as_str(), b.store_url.as_str());
        assert_eq!(a.statistics_are_proof, b.statistics_are_proof);
        assert_eq!(a.files.len(), b.files.len());
        for (x, y) in a.files.iter().zip(b.files) {
            assert_eq!(x.object, y.object);
            assert_eq!(x.partition_values, y.partition_values);
            assert_eq!(x.stated_rows, y.stated_rows);
        }
        assert!(decode(b"\x0a\x03abc").unwrap().is_none(), "not a dq table");
    }
}
