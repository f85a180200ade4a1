//! Lake locations: turning a lake root and dataset path into a URL, and registering the
//! object store that serves it.

use std::path::Path;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use object_store::ObjectStore;
use url::Url;

/// A dataset location, as a URL with a trailing `/` for directories.
pub fn dataset_url(project_root: &Path, lake: &str, path: &str) -> Result<Url, String> {
    let joined = if path.contains("://") {
        path.to_string()
    } else if lake.contains("://") {
        format!(
            "{}/{}",
            lake.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    } else {
        let lake_dir = project_root.join(lake);
        let full = lake_dir.join(path);
        let absolute =
            std::path::absolute(&full).map_err(|e| format!("{}: {e}", full.display()))?;
        let mut url = Url::from_file_path(&absolute)
            .map_err(|_| format!("{} is not a valid local path", absolute.display()))?;
        if absolute.is_dir() && !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        return Ok(url);
    };
    let mut url =
        Url::parse(&joined).map_err(|e| format!("invalid URL `{}`: {e}", redact(&joined)))?;
    if !url.path().ends_with('/') && !url.path().ends_with(".parquet") {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

/// Hides credentials embedded in a URL (`user:secret@`, `?sig=…`).
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("***");
                let _ = u.set_password(None);
            }
            if u.query().is_some() {
                u.set_query(Some("***"));
            }
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// Makes sure the session can reach `url`: local files are always served; `memory://`,
/// `s3://`, `gs://` and `az://` stores are built from the standard environment variables
/// of each cloud plus the environment's `storage` options.
pub fn ensure_store(
    session: &SessionContext,
    url: &Url,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<(), String> {
    let runtime = session.runtime_env();
    let base = Url::parse(&format!(
        "{}://{}",
        url.scheme(),
        url.host_str().unwrap_or("")
    ))
    .map_err(|e| e.to_string())?;
    let store_url = datafusion::execution::object_store::ObjectStoreUrl::parse(base.as_str())
        .map_err(|e| e.to_string())?;
    if runtime.object_store(&store_url).is_ok() {
        return Ok(());
    }
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "memory" => Arc::new(object_store::memory::InMemory::new()),
        "s3" | "s3a" => {
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str());
            for (k, v) in options {
                let key = k
                    .parse()
                    .map_err(|e| format!("storage option `{k}`: {e}"))?;
                b = b.with_config(key, v);
            }
            Arc::new(b.build().map_err(|e| e.to_string())?)
        }
        "gs" | "gcs" => {
            let mut b =
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url.as_str());
            for (k, v) in options {
                let key = k
                    .parse()
                    .map_err(|e| format!("storage option `{k}`: {e}"))?;
                b = b.with_config(key, v);
            }
            Arc::new(b.build().map_err(|e| e.to_string())?)
        }
        "az" | "azure" | "abfs" | "abfss" => {
            let mut b =
                object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            for (k, v) in options {
                let key = k
                    .parse()
                    .map_err(|e| format!("storage option `{k}`: {e}"))?;
                b = b.with_config(key, v);
            }
            Arc::new(b.build().map_err(|e| e.to_string())?)
        }
        other => return Err(format!("unsupported URL scheme `{other}://`")),
    };
    runtime.register_object_store(&base, store);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_for_paths_and_remote_lakes() {
        let u = dataset_url(Path::new("/tmp"), "s3://bucket/lake/", "silver/orders").unwrap();
        assert_eq!(u.as_str(), "s3://bucket/lake/silver/orders/");
        let u = dataset_url(Path::new("/tmp"), "./lake", "memory://x/y.parquet").unwrap();
        assert_eq!(u.as_str(), "memory://x/y.parquet");
        let u = dataset_url(Path::new("/proj"), "./lake", "silver/orders").unwrap();
        assert_eq!(u.scheme(), "file");
        assert!(u.path().ends_with("/proj/lake/silver/orders"), "{u}");
    }

    #[test]
    fn redacts_secrets() {
        assert_eq!(redact("s3://key:secret@bucket/x"), "s3://***@bucket/x");
        assert!(!redact("az://c/x?sig=abc").contains("abc"));
    }
}
