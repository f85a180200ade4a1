//! Where history lives: a local folder or an object-store prefix, one Parquet file per run.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::Point;

/// The history folder of an environment.
pub struct HistoryStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// The location as a person reads it (credentials redacted).
    pub shown: String,
    /// Runs evaluated longer than this before a recording run are deleted by it.
    retention: Option<chrono::Duration>,
    /// For a local folder: its path (the store is opened on it when used).
    local: Option<std::path::PathBuf>,
}

/// What loading found: the points, and the files that could not be read (as warnings).
#[derive(Debug, Default)]
pub struct Loaded {
    pub points: Vec<Point>,
    pub warnings: Vec<String>,
}

impl HistoryStore {
    /// `location` is a local path (relative to `project_root`) or a URL; `storage` holds
    /// the environment's object-store options.
    pub fn open(
        project_root: &std::path::Path,
        location: &str,
        storage: &BTreeMap<String, String>,
        retention: Option<chrono::Duration>,
    ) -> Result<HistoryStore, String> {
        if location.contains("://") && !location.starts_with("file://") {
            let url = url::Url::parse(location).map_err(|e| {
                format!("history `{}`: {e}", crate::engine::store::redact(location))
            })?;
            let session = datafusion::prelude::SessionContext::new();
            crate::engine::store::ensure_store(&session, &url, storage)?;
            let store = session
                .runtime_env()
                .object_store(
                    datafusion::execution::object_store::ObjectStoreUrl::parse(format!(
                        "{}://{}",
                        url.scheme(),
                        url.host_str().unwrap_or_default()
                    ))
                    .map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?;
            let prefix = Path::from_url_path(url.path()).map_err(|e| e.to_string())?;
            return Ok(HistoryStore {
                store,
                prefix,
                shown: crate::engine::store::redact(location),
                retention,
                local: None,
            });
        }
        let path = match url::Url::parse(location)
            .ok()
            .filter(|u| u.scheme() == "file")
        {
            Some(u) => u
                .to_file_path()
                .map_err(|_| format!("history `{location}` is not a local path"))?,
            None => project_root.join(location),
        };
        // The folder is made when the first run records, not by a run that only reads.
        Ok(HistoryStore {
            store: Arc::new(object_store::memory::InMemory::new()),
            prefix: Path::from(""),
            shown: path.display().to_string(),
            retention,
            local: Some(path),
        })
    }

    /// The store to use; a local folder is made first when `create`, and is None when it
    /// does not exist (nothing recorded yet).
    fn backend(&self, create: bool) -> Result<Option<Arc<dyn ObjectStore>>, String> {
        let Some(path) = &self.local else {
            return Ok(Some(Arc::clone(&self.store)));
        };
        if create {
            std::fs::create_dir_all(path)
                .map_err(|e| format!("history folder {}: {e}", path.display()))?;
        } else if !path.is_dir() {
            return Ok(None);
        }
        let store = object_store::local::LocalFileSystem::new_with_prefix(path)
            .map_err(|e| format!("history folder {}: {e}", path.display()))?;
        Ok(Some(Arc::new(store)))
    }

    /// Writes one run's points as one new file; returns its name. With a retention, runs
    /// evaluated more than that before this one are then deleted.
    pub async fn record(&self, points: &[Point]) -> Result<String, String> {
        let Some(first) = points.first() else {
            return Ok(String::new());
        };
        let batch = super::to_batch(points)?;
        let mut buf = Vec::new();
        {
            let mut writer =
                ArrowWriter::try_new(&mut buf, batch.schema(), None).map_err(|e| e.to_string())?;
            writer.write(&batch).map_err(|e| e.to_string())?;
            writer.close().map_err(|e| e.to_string())?;
        }
        // Sorted by evaluation instant, then start: a listing is the series in order.
        let name = format!(
            "{}_{}_{}.parquet",
            first.as_of.format("%Y%m%dT%H%M%SZ"),
            first.started_at.format("%Y%m%dT%H%M%S%3fZ"),
            first.run_id
        );
        let path = self.prefix.clone().join(name.as_str());
        let store = self.backend(true)?.expect("created");
        store.put(&path, PutPayload::from(buf)).await.map_err(|e| {
            format!(
                "cannot record history in {}: {}",
                self.shown,
                crate::engine::store::explain(&e.to_string())
            )
        })?;
        if let Some(keep) = self.retention {
            self.prune(store.as_ref(), first.as_of - keep).await;
        }
        Ok(name)
    }

    /// Deletes the runs evaluated before `cutoff` (best effort: history is not the lake).
    async fn prune(&self, store: &dyn ObjectStore, cutoff: DateTime<Utc>) {
        let Ok(objects) = store.list(Some(&self.prefix)).try_collect::<Vec<_>>().await else {
            return;
        };
        for o in objects {
            let Some(name) = o.location.filename() else {
                continue;
            };
            let Some(stamp) = name.split('_').next() else {
                continue;
            };
            let Ok(at) = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ") else {
                continue;
            };
            if at.and_utc() < cutoff {
                let _ = store.delete(&o.location).await;
            }
        }
    }

    /// Every recorded point. Files that cannot be read are skipped with a warning naming
    /// them; nothing is ever rewritten.
    pub async fn load(&self) -> Result<Loaded, String> {
        let Some(store) = self.backend(false)? else {
            return Ok(Loaded::default());
        };
        let store = store.as_ref();
        let objects: Vec<_> = store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|e| {
                format!(
                    "cannot list history {}: {}",
                    self.shown,
                    crate::engine::store::explain(&e.to_string())
                )
            })?;
        let mut loaded = Loaded::default();
        let mut names: Vec<_> = objects
            .into_iter()
            .filter(|o| {
                o.location
                    .filename()
                    .is_some_and(|n| n.ends_with(".parquet"))
            })
            .collect();
        names.sort_by(|a, b| a.location.cmp(&b.location));
        // Fetch concurrently, then decode on every core (a year of nightly runs is 365 files).
        let fetched: Vec<(String, Result<_, String>)> =
            futures::stream::iter(names.into_iter().map(|o| async move {
                let name = o.location.filename().unwrap_or_default().to_string();
                let bytes = match store.get(&o.location).await {
                    Ok(r) => r.bytes().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                (name, bytes)
            }))
            .buffered(16)
            .collect()
            .await;
        use rayon::prelude::*;
        let reads: Vec<Result<Vec<Point>, String>> = fetched
            .into_par_iter()
            .map(|(name, bytes)| {
                let decode = || -> Result<Vec<Point>, String> {
                    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes?)
                        .and_then(|b| b.build())
                        .map_err(|e| e.to_string())?;
                    let mut points = Vec::new();
                    for batch in reader {
                        points.extend(super::from_batch(&batch.map_err(|e| e.to_string())?)?);
                    }
                    Ok(points)
                };
                decode().map_err(|e| {
                    format!(
                        "history file {}/{name} cannot be read and is left out: {e}",
                        self.shown.trim_end_matches('/')
                    )
                })
            })
            .collect();
        for r in reads {
            match r {
                Ok(points) => loaded.points.extend(points),
                Err(w) => loaded.warnings.push(w),
            }
        }
        Ok(loaded)
    }
}

/// A fresh run identifier: random, so two runs started at once never share one.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
