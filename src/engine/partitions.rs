//! Hive partition columns with their declared types, where Spark's and Hive's
//! `__HIVE_DEFAULT_PARTITION__` is NULL.
//!
//! DataFusion parses a partition directory's value straight into the column's type, so the
//! NULL partition is read as that string (a text column) or fails the whole scan with a cast
//! error that names no file (a typed one). Here the files are listed with text partition
//! values and this table types them in the scan: the table's schema, and the SQL dq shows,
//! are the declared ones (`FROM silver.orders`), not a view's derived table.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    Expr, TableProviderFilterPushDown, TableType, case, cast, col, lit,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;

use crate::config::rules::PartitionColumn;

/// Spark and Hive write a NULL partition value as this directory value.
pub const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// `inner` (a listing whose partition columns are text) with the partitions typed.
#[derive(Debug)]
pub struct TypedPartitions {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    /// For each column of the schema: the partition's declared type, if it is one.
    partition_types: Vec<Option<DataType>>,
}

impl TypedPartitions {
    pub fn new(inner: Arc<dyn TableProvider>, partitions: &[PartitionColumn]) -> TypedPartitions {
        let raw = inner.schema();
        let mut partition_types = Vec::new();
        let fields: Vec<Field> = raw
            .fields()
            .iter()
            .map(|f| match partitions.iter().find(|p| &p.name == f.name()) {
                Some(p) => {
                    partition_types.push(Some(p.data_type.clone()));
                    Field::new(f.name(), p.data_type.clone(), true)
                }
                None => {
                    partition_types.push(None);
                    f.as_ref().clone()
                }
            })
            .collect();
        TypedPartitions {
            inner,
            schema: Arc::new(Schema::new_with_metadata(fields, raw.metadata().clone())),
            partition_types,
        }
    }

    /// Whether `expr` reads a partition column (it must then be judged on typed values,
    /// above the scan).
    fn reads_partitions(&self, expr: &Expr) -> bool {
        expr.column_refs().iter().any(|c| {
            self.schema
                .index_of(c.name())
                .is_ok_and(|i| self.partition_types[i].is_some())
        })
    }
}

#[async_trait]
impl TableProvider for TypedPartitions {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Filters on file columns go to the Parquet scan for pruning (inexactly: DataFusion
        // still applies them); filters on partitions stay above, on the typed values (dq
        // has already pruned the listing by them).
        Ok(filters
            .iter()
            .map(|f| {
                if self.reads_partitions(f) {
                    TableProviderFilterPushDown::Unsupported
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let pushed: Vec<Expr> = filters
            .iter()
            .filter(|f| !self.reads_partitions(f))
            .cloned()
            .collect();
        let plan = self.inner.scan(state, projection, &pushed, limit).await?;
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        if columns.iter().all(|&i| self.partition_types[i].is_none()) {
            return Ok(plan);
        }
        let input = DFSchema::try_from(plan.schema().as_ref().clone())?;
        let exprs = columns
            .iter()
            .enumerate()
            .map(|(position, &i)| {
                let field = plan.schema().field(position).clone();
                let raw = col(datafusion::common::Column::from_name(field.name()));
                let typed = match &self.partition_types[i] {
                    None => raw,
                    Some(t) => {
                        let value = if t == &DataType::Utf8 {
                            raw.clone()
                        } else {
                            cast(raw.clone(), t.clone())
                        };
                        case(raw.eq(lit(HIVE_NULL)))
                            .when(lit(true), lit(ScalarValue::try_new_null(t)?))
                            .otherwise(value)?
                    }
                };
                let physical = state.create_physical_expr(typed, &input)?;
                Ok((physical, field.name().clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
    }
}
