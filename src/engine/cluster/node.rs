//! `dq scheduler` and `dq executor`: Ballista's processes, with what every node of a dq
//! cluster needs to run dq's plans.
//!
//! - dq's plan codec ([`super::codec`]): datasets arrive as file lists.
//! - dq's aggregate functions, registered by name (plans refer to them by name).
//! - Object stores built on demand from the node's own environment (`AWS_*`, `AZURE_*`,
//!   `GOOGLE_*`, as for the CLI): credentials never travel inside a plan, and a node reads
//!   `s3://`, `az://`, `gs://` and local paths alike.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;
use object_store::ObjectStore;
use url::Url;

use crate::error::DqError;

/// Stores for whatever URLs a plan names, each built once from this process's environment.
#[derive(Debug, Default)]
pub struct EnvStores {
    defaults: DefaultObjectStoreRegistry,
    built: std::sync::Mutex<std::collections::HashMap<String, Arc<dyn ObjectStore>>>,
}

impl ObjectStoreRegistry for EnvStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.defaults.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> datafusion::common::Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.defaults.get_store(url) {
            return Ok(store);
        }
        let key = format!("{}://{}", url.scheme(), url.authority());
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = built.get(&key) {
            return Ok(Arc::clone(store));
        }
        let store = crate::engine::store::build_store(url, &Default::default()).map_err(|e| {
            datafusion::error::DataFusionError::Execution(format!(
                "cannot open {} on this node: {e}",
                crate::engine::store::redact(&key)
            ))
        })?;
        built.insert(key, Arc::clone(&store));
        Ok(store)
    }
}

/// A node's runtime: stores from its environment, spill files under `work_dir`.
fn runtime(
    stores: &Arc<EnvStores>,
    work_dir: Option<&str>,
) -> datafusion::common::Result<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::clone(stores) as Arc<dyn ObjectStoreRegistry>);
    if let Some(dir) = work_dir {
        builder = builder.with_temp_file_path(dir);
    }
    Ok(Arc::new(builder.build()?))
}

/// Ballista's functions and dq's.
fn functions() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in crate::engine::functions() {
        registry
            .aggregate_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    for f in crate::engine::scalar_functions() {
        registry
            .scalar_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    registry
}

/// The scheduler's session for a client's job: Ballista's, with dq's functions and stores.
fn scheduler_session(
    stores: Arc<EnvStores>,
) -> impl Fn(SessionConfig) -> datafusion::common::Result<datafusion::execution::SessionState> {
    move |config| {
        let state = ballista_core::utils::default_session_builder(config)?;
        let mut state = SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime(&stores, None)?)
            .build();
        for f in crate::engine::functions() {
            state.register_udaf(Arc::new(f))?;
        }
        for f in crate::engine::scalar_functions() {
            state.register_udf(Arc::new(f))?;
        }
        Ok(state)
    }
}

/// Runs a scheduler listening on `bind` until the process is stopped.
pub async fn run_scheduler(bind: SocketAddr, external_host: Option<String>) -> Result<(), DqError> {
    let stores = Arc::new(EnvStores::default());
    let mut config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: external_host.unwrap_or_else(|| bind.ip().to_string()),
        // Executors pull tasks; one that stops polling is declared dead quickly, so
        // its tasks are scheduled again instead of waited for.
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        ..SchedulerConfig::default()
    };
    config.executor_timeout_seconds = 15;
    config.expire_dead_executor_interval_seconds = 5;
    config.override_session_builder = Some(Arc::new(scheduler_session(stores)));
    config.override_logical_codec = Some(Arc::new(super::codec::DqLogicalCodec::default()));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| DqError::Runtime(format!("cannot start the scheduler: {e}")))?;
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(|e| DqError::Runtime(format!("scheduler on {bind}: {e}")))
}

/// Where an executor listens and whom it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub bind_host: String,
    /// Arrow Flight port: other executors and the client fetch results here.
    pub port: u16,
    /// gRPC port for the scheduler's calls.
    pub grpc_port: u16,
    /// The host name others reach this executor by (default: `bind_host`).
    pub external_host: Option<String>,
    /// Tasks run at once (default: the machine's cores).
    pub concurrent_tasks: Option<usize>,
    /// Where shuffle and spill files go (default: a temporary folder).
    pub work_dir: Option<String>,
    /// Memory for query operators, in bytes (default: Ballista's share of the machine).
    pub memory_limit: Option<u64>,
}

/// Runs an executor until the process is stopped or the scheduler tells it to stop.
pub async fn run_executor(options: ExecutorOptions) -> Result<(), DqError> {
    let stores = Arc::new(EnvStores::default());
    let work_dir = options.work_dir.clone();
    let mut config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.external_host.clone(),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        // Keep trying to reach the scheduler for a minute: executors and the scheduler
        // are usually started together.
        scheduler_connect_timeout_seconds: 60,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: options.work_dir.clone(),
        memory_pool_size: options.memory_limit,
        executor_heartbeat_interval_seconds: 5,
        print_thread_info: false,
        ..ExecutorProcessConfig::default()
    };
    if let Some(n) = options.concurrent_tasks {
        config.vcores = n.max(1);
    }
    config.override_function_registry = Some(Arc::new(functions()));
    config.override_logical_codec = Some(Arc::new(super::codec::DqLogicalCodec::default()));
    config.override_runtime_producer = Some(Arc::new(move |_: &SessionConfig| {
        runtime(&stores, work_dir.as_deref())
    }));
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| DqError::Runtime(format!("executor: {e}")))
}
