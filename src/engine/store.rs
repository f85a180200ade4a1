//! Lake locations: turning a lake root and dataset path into a URL, and registering the
//! object store that serves it.

use std::collections::BTreeMap;
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

/// dq's own storage options (not passed to the object store).
const DQ_OPTIONS: &[&str] = &["max_retries", "retry_timeout"];

/// Bounded network behaviour unless the environment's `storage:` says otherwise: every
/// request times out, and retries stop well before a cron job would notice a hang.
const DEFAULT_CLIENT_OPTIONS: &[(&str, &str)] = &[("connect_timeout", "5s"), ("timeout", "30s")];

fn retry_config(options: &BTreeMap<String, String>) -> Result<object_store::RetryConfig, String> {
    let mut retry = object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(20),
        ..Default::default()
    };
    if let Some(v) = options.get("max_retries") {
        retry.max_retries = v
            .parse()
            .map_err(|_| format!("storage option max_retries: `{v}` is not a number"))?;
    }
    if let Some(v) = options.get("retry_timeout") {
        retry.retry_timeout = crate::duration::parse_duration(v)
            .map_err(|e| format!("storage option retry_timeout: {e}"))?;
    }
    Ok(retry)
}

/// Builds an object store from one of object_store's builders: defaults first, then the
/// environment's `storage:` options (keys as object_store names them: `region`,
/// `endpoint`, `allow_http`, `skip_signature`, `account_name`, …).
macro_rules! build_store {
    ($builder:expr, $options:expr) => {{
        let mut b = $builder.with_retry(retry_config($options)?);
        for (k, v) in DEFAULT_CLIENT_OPTIONS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(
                $options
                    .iter()
                    .filter(|(k, _)| !DQ_OPTIONS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone())),
            )
        {
            let key = k
                .parse()
                .map_err(|_| format!("unknown storage option `{k}`"))?;
            b = b.with_config(key, v);
        }
        Arc::new(b.build().map_err(|e| explain(&e.to_string()))?) as Arc<dyn ObjectStore>
    }};
}

/// Makes sure the session can reach `url`: local files are always served; `memory://`,
/// `s3://`, `gs://` and `az://` stores are built from the standard environment variables
/// of each cloud plus the environment's `storage` options.
pub fn ensure_store(
    session: &SessionContext,
    url: &Url,
    options: &BTreeMap<String, String>,
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
    let store = build_store(url, options)?;
    runtime.register_object_store(&base, store);
    Ok(())
}

/// The store for `url`'s bucket or container, from the standard environment variables of
/// its cloud plus `options` (an environment's `storage:`).
pub fn build_store(
    url: &Url,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn ObjectStore>, String> {
    Ok(match url.scheme() {
        "memory" => Arc::new(object_store::memory::InMemory::new()),
        "s3" | "s3a" => build_store!(
            object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str()),
            options
        ),
        "gs" | "gcs" => {
            build_store!(
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url.as_str()),
                options
            )
        }
        "az" | "azure" | "abfs" | "abfss" => {
            build_store!(
                object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url.as_str()),
                options
            )
        }
        other => {
            return Err(format!(
                "unsupported URL scheme `{other}://` (use a path, file://, memory://, s3://, gs:// or az://)"
            ));
        }
    })
}

/// Adds what to do to an object-store error, and removes anything secret from it.
pub fn explain(error: &str) -> String {
    let text = scrub(error);
    let lower = text.to_ascii_lowercase();
    let hint = if lower.contains("nosuchkey")
        || (lower.contains("not found")
            && !lower.contains("bucket")
            && !lower.contains("container"))
        || lower.contains("no such file")
    {
        Some(
            "an object vanished while dq was reading it (was the dataset rewritten during the run?)",
        )
    } else if lower.contains("nosuchbucket") || lower.contains("bucket does not exist") {
        Some("the bucket does not exist")
    } else if lower.contains("containernotfound") || lower.contains("container does not exist") {
        Some("the container does not exist")
    } else if lower.contains("accessdenied")
        || lower.contains("invalidaccesskeyid")
        || lower.contains("signaturedoesnotmatch")
        || lower.contains("authenticationfailed")
        || lower.contains("authorizationfailure")
        || lower.contains("forbidden")
    {
        Some(
            "access denied: check the credentials (AWS_*, AZURE_STORAGE_*, GOOGLE_* variables or the environment's storage options)",
        )
    } else if lower.contains("missing")
        && (lower.contains("credential") || lower.contains("account") || lower.contains("key"))
    {
        Some(
            "no credentials found: set the cloud's standard environment variables or the environment's storage options",
        )
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") {
        Some("TLS failure: check the endpoint's certificate (or allow_http for a test endpoint)")
    } else if lower.contains("connection refused")
        || lower.contains("error sending request")
        || lower.contains("tcp connect")
        || lower.contains("dns error")
        || lower.contains("timed out")
    {
        Some("the storage endpoint is unreachable")
    } else {
        None
    };
    match hint {
        Some(h) => format!("{h} ({text})"),
        None => text,
    }
}

/// Removes secrets from text: signed-URL parameters, and the values of the credential
/// variables set in this process.
/// Secrets dq was given in files (dq.yaml `storage:`, Kafka options), kept so that every
/// output channel can remove them; environment variables are looked up as they are.
static SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Whether a setting named `key` holds a secret (`aws_secret_access_key`, `sasl.password`,
/// `azure_storage_sas_token`, `ssl.key.password`, `google_service_account_key` …).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    !k.ends_with("_id")
        && !k.ends_with(".id")
        && [
            "secret",
            "password",
            "token",
            "sas",
            "credential",
            "private",
            "account_key",
            "service_account_key",
            "sasl.oauthbearer.config",
            "access_key",
        ]
        .iter()
        .any(|w| k.contains(w))
}

/// Remembers `value` as a secret to scrub from every output from now on.
pub fn register_secret(value: &str) {
    if value.len() < 4 {
        return;
    }
    // As written, and as it appears inside a JSON string (a report) if that differs.
    let escaped = serde_json::to_string(value).unwrap_or_default();
    let escaped = escaped.trim_matches('"').to_string();
    if let Ok(mut secrets) = SECRETS.write() {
        if escaped != value && !secrets.contains(&escaped) {
            secrets.push(escaped);
        }
        if !secrets.iter().any(|s| s == value) {
            secrets.push(value.to_string());
            // Longest first, so that a secret containing another is removed whole.
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
}

/// Registers every secret-looking value of `options` (see [`is_secret_key`]).
pub fn register_secrets<'a>(options: impl IntoIterator<Item = (&'a String, &'a String)>) {
    for (k, v) in options {
        if is_secret_key(k) {
            register_secret(v);
        }
    }
}

/// `text` without secrets: signed-URL parameters, the values of the credential variables
/// of each cloud, and every secret registered from dq's configuration.
pub fn scrub(text: &str) -> String {
    static SIGNED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = SIGNED.get_or_init(|| {
        regex::Regex::new(r"(?i)\b(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|token|secret|password|sv|se|sp|skoid|sktid)=([^&\s\x22']+)")
            .expect("valid regex")
    });
    let mut out = re.replace_all(text, "$1=***").into_owned();
    for var in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_STORAGE_SAS_KEY",
        "AZURE_STORAGE_TOKEN",
        "AZURE_CLIENT_SECRET",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
    ] {
        if let Ok(secret) = std::env::var(var) {
            if secret.len() >= 4 {
                out = out.replace(&secret, "***");
            }
        }
    }
    if let Ok(secrets) = SECRETS.read() {
        for secret in secrets.iter() {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// A writer that scrubs secrets from what passes through it, line by line (for logs).
pub struct Scrubbing<W: std::io::Write>(pub W);

impl<W: std::io::Write> std::io::Write for Scrubbing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
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
    fn registered_secrets_are_scrubbed() {
        assert!(is_secret_key("aws_secret_access_key"));
        assert!(is_secret_key("sasl.password"));
        assert!(is_secret_key("azure_storage_sas_token"));
        assert!(!is_secret_key("aws_access_key_id"));
        assert!(!is_secret_key("region"));
        let options: BTreeMap<String, String> = [
            (
                "aws_secret_access_key".to_string(),
                "s3cr3t-from-yaml".to_string(),
            ),
            ("region".to_string(), "eu-west-1".to_string()),
        ]
        .into();
        register_secrets(&options);
        let out = scrub("failed with key s3cr3t-from-yaml in eu-west-1");
        assert_eq!(out, "failed with key *** in eu-west-1");
    }

    #[test]
    fn redacts_secrets() {
        assert_eq!(redact("s3://key:secret@bucket/x"), "s3://***@bucket/x");
        assert!(!redact("az://c/x?sig=abc").contains("abc"));
        let scrubbed = scrub("GET https://a.blob.core.windows.net/c?sv=2021&sig=AbC%2Fxyz failed");
        assert!(!scrubbed.contains("AbC"), "{scrubbed}");
    }

    #[test]
    fn explains_common_failures() {
        assert!(explain("Generic S3 error: NoSuchBucket").starts_with("the bucket does not exist"));
        assert!(
            explain("error sending request: tcp connect error: Connection refused")
                .starts_with("the storage endpoint is unreachable")
        );
        assert!(explain("Client error with status 403 Forbidden").starts_with("access denied"));
        // A port number is not a status code, and every retry message mentions retry_timeout.
        let refused = "Error performing GET http://127.0.0.1:44037/b?list-type=2 in 442ms, after 3 retries, max_retries: 3, retry_timeout: 20s - HTTP error: error sending request";
        assert!(
            explain(refused).starts_with("the storage endpoint is unreachable"),
            "{}",
            explain(refused)
        );
    }

    #[test]
    fn builds_cloud_stores_from_options_without_network() {
        let session = datafusion::prelude::SessionContext::new();
        let mut options = BTreeMap::new();
        options.insert("region".to_string(), "eu-west-1".to_string());
        options.insert("skip_signature".to_string(), "true".to_string());
        ensure_store(
            &session,
            &Url::parse("s3://bucket/lake/").unwrap(),
            &options,
        )
        .unwrap();
        let mut gcs = BTreeMap::new();
        gcs.insert("skip_signature".to_string(), "true".to_string());
        ensure_store(&session, &Url::parse("gs://bucket/lake/").unwrap(), &gcs).unwrap();
        let bad: BTreeMap<String, String> = [("regoin".to_string(), "x".to_string())].into();
        let e = ensure_store(&session, &Url::parse("s3://other/lake/").unwrap(), &bad).unwrap_err();
        assert!(e.contains("unknown storage option `regoin`"), "{e}");
        let e = ensure_store(
            &session,
            &Url::parse("ftp://x/y/").unwrap(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(e.contains("unsupported URL scheme"), "{e}");
    }
}
