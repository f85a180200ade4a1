//! Listing a dataset's objects. By default one recursive, paginated LIST of the dataset's
//! prefix (no per-file HEAD). When the dataset's `scope` constrains its Hive partition
//! columns (`date >= current_date - 7`), the listing instead descends level by level and
//! lists only the partition directories the scope can match, so a year of daily partitions
//! costs seven LISTs, not a listing of the whole year.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr as SqlExpr};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

/// Directories listed at once while descending partition levels.
const CONCURRENT_LISTS: usize = 16;

/// The parts of a scope that read only partition columns, ready to judge a directory.
#[derive(Debug)]
pub struct PartitionFilter {
    columns: Vec<(String, DataType)>,
    schema: SchemaRef,
    /// Each conjunct with the deepest partition level it reads.
    conjuncts: Vec<(usize, Arc<dyn PhysicalExpr>)>,
}

impl PartitionFilter {
    /// The conjuncts of `scope` (split at top-level AND) that read nothing but partition
    /// columns; None when there are none. Conjuncts that read other columns are left to the
    /// scan, which applies the whole scope anyway.
    pub fn from_scope(
        session: &SessionContext,
        scope: &str,
        columns: &[(String, DataType)],
        as_of: DateTime<Utc>,
    ) -> Option<PartitionFilter> {
        if columns.is_empty() {
            return None;
        }
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, t)| Field::new(name, t.clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).ok()?;
        let state = session.state();
        let parsed = Parser::new(&GenericDialect {})
            .try_with_sql(scope)
            .ok()?
            .parse_expr()
            .ok()?;
        let mut parts = Vec::new();
        split_and(parsed, &mut parts);
        let conjuncts: Vec<(usize, Arc<dyn PhysicalExpr>)> = parts
            .iter()
            .filter_map(|part| {
                let expr =
                    super::sqlexpr::parse(session, &part.to_string(), &df_schema, as_of).ok()?;
                let expr = super::sqlexpr::simplify(&state, &df_schema, expr).ok()?;
                let physical = state.create_physical_expr(expr, &df_schema).ok()?;
                let deepest = collect_columns(&physical).iter().map(|c| c.index()).max()?;
                Some((deepest, physical))
            })
            .collect();
        (!conjuncts.is_empty()).then(|| PartitionFilter {
            columns: columns.to_vec(),
            schema,
            conjuncts,
        })
    }

    /// Whether a directory with these values for the first `values.len()` partition
    /// columns may hold rows in scope. Anything that cannot be evaluated is admitted.
    pub fn admits(&self, values: &[ScalarValue]) -> bool {
        let known = values.len();
        let columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| match values.get(i) {
                Some(v) => v
                    .to_array_of_size(1)
                    .unwrap_or_else(|_| new_null_array(t, 1)),
                None => new_null_array(t, 1),
            })
            .collect();
        let Ok(batch) = RecordBatch::try_new(Arc::clone(&self.schema), columns) else {
            return true;
        };
        self.conjuncts
            .iter()
            .filter(|(deepest, _)| *deepest < known)
            .all(
                |(_, expr)| match expr.evaluate(&batch).and_then(|v| v.into_array(1)) {
                    Ok(a) => match a.as_boolean_opt() {
                        Some(b) => b.is_valid(0) && b.value(0),
                        None => true,
                    },
                    Err(_) => true,
                },
            )
    }
}

fn split_and(expr: SqlExpr, out: &mut Vec<SqlExpr>) {
    match expr {
        SqlExpr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(*left, out);
            split_and(*right, out);
        }
        SqlExpr::Nested(inner)
            if matches!(
                *inner,
                SqlExpr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            split_and(*inner, out)
        }
        other => out.push(other),
    }
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<ObjectMeta>,
    /// The prefixes listed: one for a plain listing, one per directory visited otherwise.
    pub listed: Vec<Path>,
    /// Whether partition directories were skipped by the scope.
    pub pruned: bool,
    /// Whether the folder holds a `_delta_log/`: it is a Delta table's folder.
    pub delta_log: bool,
}

fn is_delta_log(path: &Path, base: &Path) -> bool {
    path.prefix_match(base)
        .and_then(|mut parts| parts.next())
        .is_some_and(|first| first.as_ref() == "_delta_log")
}

/// Lists everything under `base`, descending only into partition directories `filter`
/// admits when there is one.
pub async fn list(
    store: &dyn ObjectStore,
    base: &Path,
    filter: Option<&PartitionFilter>,
) -> object_store::Result<Listing> {
    let Some(filter) = filter else {
        let objects: Vec<ObjectMeta> = store.list(Some(base)).try_collect().await?;
        let delta_log = objects.iter().any(|o| is_delta_log(&o.location, base));
        return Ok(Listing {
            objects,
            listed: vec![base.clone()],
            pruned: false,
            delta_log,
        });
    };
    let mut listing = Listing::default();
    // Directories to visit, with the partition values their path gives (None once a value
    // did not parse: such a directory is admitted, as the scan will judge its rows).
    let mut frontier: Vec<(Path, Option<Vec<ScalarValue>>)> = vec![(base.clone(), Some(vec![]))];
    for (name, data_type) in &filter.columns {
        let results: Vec<_> =
            futures::stream::iter(frontier.iter().map(|(dir, values)| async move {
                store
                    .list_with_delimiter(Some(dir))
                    .await
                    .map(|r| (r, values.clone()))
            }))
            .buffer_unordered(CONCURRENT_LISTS)
            .try_collect()
            .await?;
        listing
            .listed
            .extend(frontier.iter().map(|(dir, _)| dir.clone()));
        let mut next = Vec::new();
        for (result, values) in results {
            listing.delta_log |= result
                .common_prefixes
                .iter()
                .any(|dir| is_delta_log(dir, base));
            // Objects above the partition depth are not part of the table (DataFusion
            // ignores files whose path lacks the partition directories).
            for dir in result.common_prefixes {
                let Some(value) = partition_value(&dir, name, data_type) else {
                    continue;
                };
                let values = match (values.clone(), value) {
                    (Some(mut known), Some(v)) => {
                        known.push(v);
                        Some(known)
                    }
                    _ => None,
                };
                match &values {
                    Some(known) if !filter.admits(known) => listing.pruned = true,
                    _ => next.push((dir, values)),
                }
            }
        }
        frontier = next;
        if frontier.is_empty() {
            break;
        }
    }
    let leaves: Vec<Vec<ObjectMeta>> = futures::stream::iter(
        frontier
            .iter()
            .map(|(dir, _)| store.list(Some(dir)).try_collect::<Vec<_>>()),
    )
    .buffer_unordered(CONCURRENT_LISTS)
    .try_collect()
    .await?;
    listing
        .listed
        .extend(frontier.into_iter().map(|(dir, _)| dir));
    listing.objects = leaves.into_iter().flatten().collect();
    listing.objects.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(listing)
}

/// The value of partition column `name` in directory `dir` (`…/name=value`), parsed as
/// DataFusion parses it: None if the directory is not a partition of that column,
/// Some(None) if its value does not parse.
fn partition_value(dir: &Path, name: &str, data_type: &DataType) -> Option<Option<ScalarValue>> {
    let last = dir.filename()?;
    let (key, raw) = last.split_once('=')?;
    if key != name {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .unwrap_or(Cow::Borrowed(raw));
    if decoded == super::partitions::HIVE_NULL {
        return Some(ScalarValue::try_new_null(data_type).ok());
    }
    Some(ScalarValue::try_from_string(decoded.into_owned(), data_type).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::local::LocalFileSystem;

    fn as_of() -> DateTime<Utc> {
        "2026-11-21T00:00:00Z".parse().unwrap()
    }

    fn date_columns() -> Vec<(String, DataType)> {
        vec![("date".into(), DataType::Date32)]
    }

    /// A lake directory `region=…/date=…/part-0.parquet` (listing reads no contents).
    fn lake(regions: &[&str], days: std::ops::RangeInclusive<u32>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for region in regions {
            for day in days.clone() {
                let mut path = dir.path().to_path_buf();
                if !region.is_empty() {
                    path.push(format!("region={region}"));
                }
                path.push(format!("date=2026-11-{day:02}"));
                std::fs::create_dir_all(&path).unwrap();
                std::fs::write(path.join("part-0.parquet"), b"x").unwrap();
            }
        }
        dir
    }

    async fn list_scoped(
        dir: &tempfile::TempDir,
        scope: &str,
        columns: &[(String, DataType)],
    ) -> (Listing, bool) {
        let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let filter = PartitionFilter::from_scope(&SessionContext::new(), scope, columns, as_of());
        let found = filter.is_some();
        let listing = list(&store, &Path::from(""), filter.as_ref())
            .await
            .unwrap();
        (listing, found)
    }

    fn names(listing: &Listing) -> Vec<String> {
        listing
            .objects
            .iter()
            .map(|o| o.location.to_string())
            .collect()
    }

    #[tokio::test]
    async fn a_range_scope_lists_only_matching_partitions() {
        let dir = lake(&[""], 1..=20);
        let (listing, found) = list_scoped(
            &dir,
            "date >= current_date - interval '7 days'",
            &date_columns(),
        )
        .await;
        assert!(found);
        assert!(listing.pruned);
        let days: Vec<String> = (14..=20)
            .map(|d| format!("date=2026-11-{d}/part-0.parquet"))
            .collect();
        assert_eq!(names(&listing), days);
        // The base, then one LIST per admitted partition: none of the other 13.
        assert_eq!(listing.listed.len(), 1 + 7);
        assert!(
            listing
                .listed
                .iter()
                .all(|p| p.as_ref().is_empty() || p.as_ref() >= "date=2026-11-14"),
            "{:?}",
            listing.listed
        );
    }

    #[tokio::test]
    async fn conjuncts_on_other_columns_are_left_to_the_scan() {
        let dir = lake(&[""], 1..=20);
        let scope =
            "status <> 'test' AND (date BETWEEN '2026-11-03' AND '2026-11-04') AND amount > 0";
        let (listing, found) = list_scoped(&dir, scope, &date_columns()).await;
        assert!(found);
        assert_eq!(names(&listing).len(), 2);
        // No conjunct on partition columns: one plain recursive listing.
        let (listing, found) = list_scoped(
            &dir,
            "status <> 'test' OR date > '2026-11-03'",
            &date_columns(),
        )
        .await;
        assert!(!found);
        assert_eq!(listing.objects.len(), 20);
        assert_eq!(listing.listed.len(), 1);
    }

    #[tokio::test]
    async fn nested_partitions_are_pruned_level_by_level() {
        let dir = lake(&["eu", "us", "apac"], 1..=10);
        let columns = vec![
            ("region".to_string(), DataType::Utf8),
            ("date".to_string(), DataType::Date32),
        ];
        let (listing, _) = list_scoped(
            &dir,
            "region IN ('eu', 'us') AND date = '2026-11-05'",
            &columns,
        )
        .await;
        assert_eq!(
            names(&listing),
            vec![
                "region=eu/date=2026-11-05/part-0.parquet",
                "region=us/date=2026-11-05/part-0.parquet"
            ]
        );
        assert!(!listing.listed.iter().any(|p| p.as_ref().contains("apac")));
        // A scope on the inner column alone still prunes the inner level.
        let (listing, _) = list_scoped(&dir, "date > '2026-11-08'", &columns).await;
        assert_eq!(names(&listing).len(), 3 * 2);
    }

    #[tokio::test]
    async fn unparseable_partition_values_are_kept_for_the_scan() {
        let dir = lake(&[""], 1..=3);
        std::fs::create_dir_all(dir.path().join("date=unknown")).unwrap();
        std::fs::write(dir.path().join("date=unknown/part-0.parquet"), b"x").unwrap();
        let (listing, _) = list_scoped(&dir, "date >= '2026-11-03'", &date_columns()).await;
        assert_eq!(
            names(&listing),
            vec![
                "date=2026-11-03/part-0.parquet",
                "date=unknown/part-0.parquet"
            ]
        );
    }
}
