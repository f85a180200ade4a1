//! The engine: resolves datasets, compiles every check into DataFusion plans (one fused
//! scan per dataset plus the few grouped passes and joins that need their own query), runs
//! them, and judges the results.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use datafusion::common::TableReference;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, and};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::unparser::plan_to_sql;

use crate::config::rules::{CheckSpec, DatasetSpec, Located, RuleSet, Severity};
use crate::error::DqError;
use crate::report::{CheckResult, DatasetResult, Status};
use crate::rules::reconciliation::Tolerance;
use crate::rules::{Compiled, FailingRows, Observed, Outcome};

pub mod blame;
pub mod cluster;
pub mod contain;
pub mod count_true;
pub mod dataset;
pub mod delta;
pub mod delta_table;
pub mod exact_sum;
pub mod file_list;
pub mod footers;
pub mod formats;
pub mod fused;
pub mod listing;
pub mod parquet_folder;
pub mod partitions;
pub mod plan;
pub mod row_checks;
pub mod samples;
pub mod sqlexpr;
pub mod store;
pub mod unique;
pub mod values;

use dataset::DatasetFacts;
use fused::FusedScan;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub project_root: PathBuf,
    pub lake: String,
    pub storage: BTreeMap<String, String>,
    pub layers: Vec<String>,
    pub datasets: Vec<String>,
    pub as_of: DateTime<Utc>,
    pub sample_failures: usize,
    pub memory_limit: Option<usize>,
    /// Read and decode every page of every column in scope, even where a check could be
    /// answered from the footers (`row_count`, `not_null` on a column proven NULL-free):
    /// a file whose data pages are damaged but whose footer is intact is then an error.
    pub verify_files: bool,
    /// Read Delta tables as of this instant instead of their newest version (`--snapshot-at`).
    pub snapshot_at: Option<DateTime<Utc>>,
    /// Where the queries run (`engine:` / `--engine`).
    pub engine: cluster::Engine,
}

impl RunOptions {
    /// Every dataset of a lake at `lake` (relative to `project_root`), judged now.
    pub fn new(project_root: impl Into<PathBuf>, lake: impl Into<String>) -> RunOptions {
        RunOptions {
            project_root: project_root.into(),
            lake: lake.into(),
            storage: BTreeMap::new(),
            layers: vec![],
            datasets: vec![],
            as_of: chrono::Utc::now(),
            sample_failures: 5,
            memory_limit: None,
            verify_files: false,
            snapshot_at: None,
            engine: cluster::Engine::Local,
        }
    }
}

/// A DataFusion error without the engine's internal prefixes.
pub fn clean_error(e: &datafusion::error::DataFusionError) -> String {
    let mut text = e.to_string();
    for prefix in [
        "Error during planning: ",
        "Schema error: ",
        "External error: ",
        "Execution error: ",
        "Arrow error: ",
        "Parquet error: ",
        "Object Store error: ",
        "SQL error: ",
    ] {
        while let Some(rest) = text.strip_prefix(prefix) {
            text = rest.to_string();
        }
    }
    store::scrub(&text)
}

/// dq's own aggregate functions. Plans name them, so every process that decodes a plan (a
/// cluster's scheduler and executors) registers them.
pub fn functions() -> Vec<datafusion::logical_expr::AggregateUDF> {
    vec![count_true::udaf()]
}

/// The stack of every thread that plans or runs queries: DataFusion's planners and
/// optimizers recurse over the plan, and a debug build's frames are large (tokio's
/// default of 2 MiB overflowed on a distribution check's plan); the main thread's 8 MiB.
pub const THREAD_STACK: usize = 8 << 20;

/// dq's own scalar functions, registered wherever [`functions`] are.
pub fn scalar_functions() -> Vec<datafusion::logical_expr::ScalarUDF> {
    vec![crate::rules::parseable::parses_udf()]
}

pub fn session(memory_limit: Option<usize>) -> Result<SessionContext, DqError> {
    let mut config = SessionConfig::new()
        .with_information_schema(false)
        .with_batch_size(8192);
    // DataFusion's own statistics shortcuts (answering min/max/count from footers,
    // replacing a column whose min equals its max by a constant) take a footer's word for
    // things it does not prove: a missing null count reads as 0, float min/max leave NaN
    // out. dq proves what it uses from footers itself (see `footers`).
    config.options_mut().execution.collect_statistics = false;
    // Every file below a dataset's path is read, in any subfolder (hidden and temporary
    // names excepted; see `dataset::skip_reason`).
    config
        .options_mut()
        .execution
        .listing_table_ignore_subdirectory = false;
    // dq lists each dataset once and hands the listing to the scan through this cache;
    // DataFusion's default 1 MiB holds only a few thousand objects.
    let mut runtime = RuntimeEnvBuilder::new().with_cache_manager(
        datafusion::execution::cache::cache_manager::CacheManagerConfig::default()
            .with_list_files_cache_limit(256 << 20),
    );
    if let Some(limit) = memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let runtime = runtime
        .build_arc()
        .map_err(|e| DqError::Runtime(e.to_string()))?;
    let session = SessionContext::new_with_config_rt(config, runtime);
    for f in functions() {
        session.register_udaf(f);
    }
    for f in scalar_functions() {
        session.register_udf(f);
    }
    Ok(session)
}

/// Identity and documentation of a check, carried into its result.
#[derive(Debug, Clone)]
pub struct CheckMeta {
    pub id: String,
    pub layer: String,
    pub dataset: Option<String>,
    pub name: String,
    pub kind: String,
    pub severity: Severity,
    pub description: Option<String>,
    pub source: String,
}

impl CheckMeta {
    fn of(spec: &CheckSpec, d: &DatasetSpec) -> CheckMeta {
        CheckMeta {
            id: format!("{}.{}.{}", d.layer, d.name, spec.name),
            layer: d.layer.clone(),
            dataset: Some(d.qualified()),
            name: spec.name.clone(),
            kind: spec.kind.name.to_string(),
            severity: spec.severity,
            description: spec.description.clone(),
            source: source_of(&spec.at),
        }
    }

    fn error(&self, message: String, sql: String) -> CheckResult {
        self.result(Status::Error, None, Some(message), sql, 0)
    }

    fn result(
        &self,
        status: Status,
        outcome: Option<&Outcome>,
        message: Option<String>,
        sql: String,
        ms: u64,
    ) -> CheckResult {
        let failed_fraction = outcome.and_then(|o| match (o.failed_rows, o.rows_checked) {
            (Some(f), Some(n)) => Some(crate::rules::fraction(f, n)),
            _ => None,
        });
        CheckResult {
            id: self.id.clone(),
            layer: self.layer.clone(),
            dataset: self.dataset.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            severity: self.severity,
            status,
            observed: outcome.map(|o| o.observed.clone()).unwrap_or_default(),
            threshold: outcome.map(|o| o.threshold.clone()).unwrap_or_default(),
            failed_rows: outcome.and_then(|o| o.failed_rows),
            rows_checked: outcome.and_then(|o| o.rows_checked),
            failed_fraction,
            message: message.or_else(|| outcome.and_then(|o| o.message.clone())),
            description: self.description.clone(),
            sample_failures: vec![],
            sql,
            duration_ms: ms,
            source: self.source.clone(),
            previous: None,
        }
    }
}

fn source_of(at: &Located) -> String {
    format!("{}:{}:{}", at.file.display(), at.line, at.column)
}

/// A compiled check, ready to run.
pub struct PreparedCheck {
    pub meta: CheckMeta,
    pub compiled: Compiled,
    /// Output columns of the fused scan holding this check's measures.
    pub slots: Vec<usize>,
    pub filter: Option<Expr>,
    pub sql: String,
}

pub struct PreparedDataset {
    pub qualified: String,
    pub layer: String,
    pub name: String,
    pub facts: DatasetFacts,
    pub scoped: LogicalPlan,
    pub fused: FusedScan,
    /// Slot of the rows-in-scope count in the fused scan.
    pub rows_slot: Option<usize>,
    pub checks: Vec<PreparedCheck>,
    /// False when the dataset is only read for another dataset's reconciliation.
    pub reported: bool,
}

pub struct PreparedReconciliation {
    pub meta: CheckMeta,
    pub left: (String, usize),
    pub right: (String, usize),
    pub tolerance: Tolerance,
    pub sql: String,
}

/// Everything compiled, nothing scanned yet.
pub struct Prepared {
    pub datasets: Vec<PreparedDataset>,
    pub reconciliations: Vec<PreparedReconciliation>,
    /// Checks that cannot run because their dataset could not be read.
    pub errored: Vec<CheckResult>,
    pub failed_datasets: Vec<DatasetResult>,
    pub as_of: DateTime<Utc>,
    pub sample_failures: usize,
    /// Queries run on a cluster: only plans it can run, nothing streamed to this process.
    pub distributed: bool,
}

impl Prepared {
    pub fn check_count(&self) -> usize {
        self.datasets.iter().map(|d| d.checks.len()).sum::<usize>()
            + self.reconciliations.len()
            + self.errored.len()
    }
}

fn df_err(e: datafusion::error::DataFusionError) -> String {
    clean_error(&e)
}

/// SQL text for a plan, falling back to the plan's own display if it cannot be unparsed.
pub fn sql_of(plan: &LogicalPlan) -> String {
    match plan_to_sql(plan) {
        Ok(stmt) => stmt.to_string(),
        Err(_) => plan.display_indent().to_string(),
    }
}

/// Which datasets and reconciliations a run covers.
fn select<'a>(
    rules: &'a RuleSet,
    options: &RunOptions,
) -> Result<(Vec<&'a DatasetSpec>, Vec<usize>), DqError> {
    for layer in &options.layers {
        if !rules.layers.contains(layer) {
            let hint = crate::error::closest(layer, rules.layers.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(DqError::Usage(format!(
                "unknown layer `{layer}`; {hint}layers: {}",
                rules.layers.join(", ")
            )));
        }
    }
    let mut wanted = BTreeSet::new();
    for name in &options.datasets {
        let found: Vec<&DatasetSpec> = rules
            .datasets
            .iter()
            .filter(|d| d.qualified() == *name || d.name == *name)
            .collect();
        if found.is_empty() {
            let names: Vec<String> = rules.datasets.iter().map(|d| d.qualified()).collect();
            let hint = crate::error::closest(name, names.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(DqError::Usage(format!(
                "unknown dataset `{name}`; {hint}datasets: {}",
                names.join(", ")
            )));
        }
        wanted.extend(found.iter().map(|d| d.qualified()));
    }
    let layer_ok =
        |layer: &str| options.layers.is_empty() || options.layers.iter().any(|l| l == layer);
    let datasets: Vec<&DatasetSpec> = rules
        .datasets
        .iter()
        .filter(|d| layer_ok(&d.layer) && (wanted.is_empty() || wanted.contains(&d.qualified())))
        .collect();
    let reconciliations = rules
        .reconciliations
        .iter()
        .enumerate()
        .filter(|(_, r)| layer_ok(&r.layer))
        .filter(|(_, r)| {
            wanted.is_empty()
                || [&r.spec.left.dataset, &r.spec.right.dataset]
                    .iter()
                    .any(|d| {
                        rules
                            .resolve_name(d, &r.layer)
                            .is_ok_and(|q| wanted.contains(&q))
                    })
        })
        .map(|(i, _)| i)
        .collect();
    Ok((datasets, reconciliations))
}

/// Resolves and compiles; returns rules errors (exit 2) before anything is scanned.
pub async fn prepare(
    session: &SessionContext,
    rules: &RuleSet,
    options: &RunOptions,
) -> Result<Prepared, DqError> {
    let (selected, reconciliations) = select(rules, options)?;
    // Every dataset this run reads: the selected ones and whatever their checks reference.
    let mut needed: BTreeSet<String> = selected.iter().map(|d| d.qualified()).collect();
    for d in &selected {
        for c in &d.checks {
            for dep in c.rule.depends_on() {
                if let Ok(q) = rules.resolve_name(&dep, &d.layer) {
                    needed.insert(q);
                }
            }
        }
    }
    for &i in &reconciliations {
        let r = &rules.reconciliations[i];
        for side in [&r.spec.left, &r.spec.right] {
            if let Ok(q) = rules.resolve_name(&side.dataset, &r.layer) {
                needed.insert(q);
            }
        }
    }
    let catalog = session
        .catalog("datafusion")
        .ok_or_else(|| DqError::Runtime("the default catalog is missing".into()))?;
    for layer in &rules.layers {
        if catalog.schema(layer).is_none() {
            catalog
                .register_schema(
                    layer,
                    Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
                )
                .map_err(|e| DqError::Runtime(e.to_string()))?;
        }
    }
    // Datasets another check reads whole (a foreign key's parent, a table in custom SQL)
    // are listed whole; the others only within their scope's partitions.
    let mut read_whole: BTreeSet<String> = BTreeSet::new();
    for d in &selected {
        for c in &d.checks {
            for dep in c.rule.depends_on() {
                if let Ok(q) = rules.resolve_name(&dep, &d.layer) {
                    read_whole.insert(q);
                }
            }
        }
    }
    // Resolve all needed datasets concurrently: listing and Parquet footers only.
    let resolutions = futures::future::join_all(needed.iter().map(|q| {
        let read_whole = &read_whole;
        async move {
            let spec = rules.dataset(q).expect("needed datasets are declared");
            let read = dataset::ReadScope {
                scope: spec.scope.as_deref().filter(|_| !read_whole.contains(q)),
                as_of: options.as_of,
                snapshot_at: options.snapshot_at,
                distributed: options.engine.is_distributed(),
            };
            let url = store::dataset_url(&options.project_root, &options.lake, &spec.path);
            let result = match url {
                Ok(url) => {
                    contain::contain(
                        &format!("the files of {q}"),
                        dataset::register(session, spec, &url, &options.storage, read),
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            (q.clone(), result)
        }
    }))
    .await;
    let facts: HashMap<String, Result<DatasetFacts, String>> = resolutions.into_iter().collect();

    plan::plan(
        session,
        rules,
        options,
        &plan::Selection {
            datasets: selected,
            reconciliations,
            needed,
        },
        facts,
    )
}

fn table_plan(session: &SessionContext, qualified: &str) -> Result<LogicalPlan, String> {
    let (layer, name) = qualified.split_once('.').unwrap_or(("", qualified));
    let reference = TableReference::partial(layer, name);
    let provider = futures::executor::block_on(session.table_provider(reference.clone()))
        .map_err(|e| format!("dataset {qualified} is not available: {}", clean_error(&e)))?;
    LogicalPlanBuilder::scan(
        reference,
        datafusion::datasource::provider_as_source(provider),
        None,
    )
    .and_then(|b| b.build())
    .map_err(df_err)
}

fn scoped_plan(
    session: &SessionContext,
    spec: &DatasetSpec,
    as_of: DateTime<Utc>,
) -> Result<LogicalPlan, String> {
    let plan = table_plan(session, &spec.qualified())?;
    match &spec.scope {
        None => Ok(plan),
        Some(scope) => {
            let expr = sqlexpr::parse(session, scope, plan.schema(), as_of)?;
            LogicalPlanBuilder::from(plan)
                .filter(expr)
                .and_then(|b| b.build())
                .map_err(df_err)
        }
    }
}

/// Plans a user's SQL query, refusing anything but a read-only query.
pub(crate) fn plan_read_only_sql(
    session: &SessionContext,
    sql: &str,
    as_of: DateTime<Utc>,
) -> Result<LogicalPlan, String> {
    let state = session.state();
    let plan = futures::executor::block_on(state.create_logical_plan(sql))
        .map_err(|e| format!("invalid query: {}", clean_error(&e)))?;
    datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|e| {
            format!(
                "invalid query: only read-only SELECT queries are allowed ({})",
                clean_error(&e)
            )
        })?;
    // now() and current_date in custom SQL mean the evaluation instant too.
    plan.transform_up_with_subqueries(|p| {
        p.map_expressions(|e| {
            sqlexpr::pin_clock(e, as_of).map(datafusion::common::tree_node::Transformed::yes)
        })
    })
    .map(|t| t.data)
    .map_err(|e| format!("invalid query: {}", clean_error(&e)))
}

/// The SQL shown for a check: its measures as one aggregate over the scoped dataset,
/// and its own query if it has one.
fn check_sql(compiled: &Compiled, filter: Option<&Expr>, scoped: &LogicalPlan) -> String {
    let mut parts = Vec::new();
    if !compiled.measures.is_empty() {
        let mut one = FusedScan::plain();
        for m in &compiled.measures {
            let _ = one.add(m.clone(), filter);
        }
        if let Ok(plan) = one.aggregate_plan(scoped) {
            parts.push(sql_of(&plan));
        }
    }
    if let Some(q) = &compiled.query {
        parts.push(sql_of(q));
    }
    if parts.is_empty() {
        "-- no query: judged on the dataset's schema and file listing".into()
    } else {
        parts.join(";\n")
    }
}

/// Executes a prepared run; datasets run concurrently. Returns results in rule order.
pub async fn execute(
    session: &SessionContext,
    prepared: Prepared,
) -> (Vec<DatasetResult>, Vec<CheckResult>) {
    execute_with_progress(session, prepared, &|_, _, _| {}).await
}

/// Like [`execute`], calling `progress(done, total, dataset)` as each dataset finishes.
pub async fn execute_with_progress(
    session: &SessionContext,
    prepared: Prepared,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> (Vec<DatasetResult>, Vec<CheckResult>) {
    let Prepared {
        datasets,
        reconciliations,
        errored,
        failed_datasets,
        as_of,
        sample_failures,
        distributed,
    } = prepared;
    let total = datasets.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let runs = futures::future::join_all(datasets.iter().map(|d| {
        let done = &done;
        async move {
            let run = contained_run(session, d, as_of, sample_failures, distributed).await;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            progress(n, total, &d.qualified);
            run
        }
    }))
    .await;
    let mut dataset_results = Vec::new();
    let mut checks = Vec::new();
    let mut fused_values: HashMap<String, Result<Vec<datafusion::common::ScalarValue>, String>> =
        HashMap::new();
    for (d, (result, values, check_results)) in datasets.iter().zip(runs) {
        if d.reported {
            dataset_results.push(result);
        }
        checks.extend(check_results);
        fused_values.insert(d.qualified.clone(), values);
    }
    dataset_results.extend(failed_datasets);
    checks.extend(errored);
    for r in reconciliations {
        let side = |(q, slot): &(String, usize)| -> Result<Option<f64>, String> {
            match fused_values.get(q) {
                Some(Ok(v)) => Ok(crate::rules::as_f64(v.get(*slot))),
                Some(Err(e)) => Err(format!("dataset {q}: {e}")),
                None => Err(format!("dataset {q} was not scanned")),
            }
        };
        let result = match (side(&r.left), side(&r.right)) {
            (Ok(l), Ok(rv)) => {
                let outcome = crate::rules::reconciliation::judge(l, rv, r.tolerance);
                let status = status_of(&outcome, r.meta.severity);
                r.meta
                    .result(status, Some(&outcome), None, r.sql.clone(), 0)
            }
            (Err(e), _) | (_, Err(e)) => r.meta.error(e, r.sql.clone()),
        };
        checks.push(result);
    }
    (dataset_results, checks)
}

/// A judged check's status: pass, or fail / warn by its severity.
pub fn status_of(outcome: &Outcome, severity: Severity) -> Status {
    match (outcome.passed, severity) {
        (true, _) => Status::Pass,
        (false, Severity::Warn) => Status::Warn,
        (false, Severity::Error) => Status::Fail,
    }
}

async fn collect(
    session: &SessionContext,
    plan: LogicalPlan,
) -> Result<Vec<datafusion::arrow::array::RecordBatch>, String> {
    let started = Instant::now();
    let state = session.state();
    let optimized = state.optimize(&plan).map_err(df_err)?;
    let optimized_at = started.elapsed();
    let physical = state
        .query_planner()
        .create_physical_plan(&optimized, &state)
        .await
        .map_err(df_err)?;
    let planned_at = started.elapsed();
    let batches = datafusion::physical_plan::collect(physical, session.task_ctx())
        .await
        .map_err(df_err)?;
    tracing::debug!(
        optimize_ms = optimized_at.as_secs_f64() * 1e3,
        physical_plan_ms = (planned_at - optimized_at).as_secs_f64() * 1e3,
        execute_ms = (started.elapsed() - planned_at).as_secs_f64() * 1e3,
        "query"
    );
    Ok(batches)
}

type DatasetRun = (
    DatasetResult,
    Result<Vec<datafusion::common::ScalarValue>, String>,
    Vec<CheckResult>,
);

/// [`run_dataset`], with a panic inside it reported as the dataset's error and every check
/// of the dataset as an error (exit 3); other datasets are unaffected.
async fn contained_run(
    session: &SessionContext,
    d: &PreparedDataset,
    as_of: DateTime<Utc>,
    sample_failures: usize,
    distributed: bool,
) -> DatasetRun {
    let what = format!("dataset {}", d.qualified);
    match contain::contain(&what, async {
        Ok(run_dataset(session, d, as_of, sample_failures, distributed).await)
    })
    .await
    {
        Ok(run) => run,
        Err(message) => {
            let checks = d
                .checks
                .iter()
                .map(|c| c.meta.error(message.clone(), c.sql.clone()))
                .collect();
            let result = DatasetResult {
                id: d.qualified.clone(),
                layer: d.layer.clone(),
                name: d.name.clone(),
                facts: d.facts.clone(),
                rows_in_scope: None,
                scan_ms: None,
                error: Some(message.clone()),
            };
            (result, Err(message), checks)
        }
    }
}

/// A scan error that names the file it came from, found by reading the files one by one
/// (DataFusion's errors about data name no file). Storage errors are left as they are.
async fn name_the_file(
    session: &SessionContext,
    d: &PreparedDataset,
    error: String,
    distributed: bool,
) -> String {
    // On a cluster the executor's error is shown as it is: reading the files one by one
    // here would pull the dataset through this process.
    let Some(files) = d.facts.read.as_ref().filter(|_| !distributed) else {
        return error;
    };
    if error.contains("/")
        && files
            .objects
            .iter()
            .any(|o| error.contains(o.location.as_ref()))
    {
        return error;
    }
    match blame::find_bad_file(session, files).await {
        Some((file, e)) => format!("corrupt Parquet file {file}: {e}"),
        None => error,
    }
}

async fn run_dataset(
    session: &SessionContext,
    d: &PreparedDataset,
    as_of: DateTime<Utc>,
    sample_failures: usize,
    distributed: bool,
) -> DatasetRun {
    let started = Instant::now();
    // Failing-row examples the fused scan kept while counting (see `samples`).
    let mut examples: Option<Arc<samples::SampleCollector>> = None;
    let fused_values: Result<Vec<datafusion::common::ScalarValue>, String> = if d.fused.is_empty() {
        Ok(vec![])
    } else {
        match d.fused.plan(
            &session.state(),
            &d.scoped,
            &d.facts.null_free_columns,
            sample_failures,
            !distributed,
        ) {
            Ok((plan, found)) => {
                examples = found;
                match collect(session, plan).await {
                    Ok(batches) => values::first_row(&batches).map(|r| r.unwrap_or_default()),
                    Err(e) => Err(name_the_file(session, d, e, distributed).await),
                }
            }
            Err(e) => Err(df_err(e)),
        }
    };
    let scan_ms = started.elapsed().as_millis() as u64;
    // A cluster keeps no examples in its scan: they are queried, with the columns the
    // in-process scan would have kept.
    let example_columns = if distributed && sample_failures > 0 {
        d.fused
            .example_columns(&session.state(), &d.scoped, &d.facts.null_free_columns)
    } else {
        None
    };
    let mut results = Vec::new();
    for c in &d.checks {
        let check_started = Instant::now();
        let measures: Vec<datafusion::common::ScalarValue> = match &fused_values {
            Ok(v) => c
                .slots
                .iter()
                .map(|s| {
                    v.get(*s)
                        .cloned()
                        .unwrap_or(datafusion::common::ScalarValue::Null)
                })
                .collect(),
            Err(e) if !c.slots.is_empty() => {
                results.push(c.meta.error(
                    format!("scan of {} failed: {}", d.qualified, store::explain(e)),
                    c.sql.clone(),
                ));
                continue;
            }
            Err(_) => vec![],
        };
        // Uniqueness: a hashing pass proves distinct keys, or finds the duplicates among
        // the few rows whose hash repeats, without grouping every key.
        // On a cluster the grouped query decides: the passes stream every key to this process.
        let proven_unique = match c.compiled.distinct_keys.as_ref().filter(|_| !distributed) {
            Some(plan) => match unique::distinct_rows(session, plan.clone(), sample_failures).await
            {
                Ok(found) => found,
                Err(e) => {
                    results.push(c.meta.error(
                        format!("query on {} failed: {}", d.qualified, store::explain(&e)),
                        c.sql.clone(),
                    ));
                    continue;
                }
            },
            None => None,
        };
        let mut key_examples = None;
        // Failing rows that the query only counts: counted and sampled in one pass.
        let counted = match &c.compiled.failing_rows {
            Some(FailingRows::CountedPlan(rows)) if sample_failures > 0 && !distributed => {
                match count_and_sample(session, rows.clone(), sample_failures).await {
                    Ok((n, kept)) => {
                        key_examples = kept;
                        Some(n)
                    }
                    Err(e) => {
                        results.push(c.meta.error(
                            format!("query on {} failed: {}", d.qualified, store::explain(&e)),
                            c.sql.clone(),
                        ));
                        continue;
                    }
                }
            }
            _ => None,
        };
        let query_row = match &c.compiled.query {
            _ if counted.is_some() => {
                vec![datafusion::common::ScalarValue::Int64(Some(
                    counted.expect("checked") as i64,
                ))]
            }
            _ if proven_unique.is_some() => {
                let (rows, failed, keys) = match proven_unique.expect("checked") {
                    unique::Keys::Distinct(rows) => (rows, 0, 0),
                    unique::Keys::Duplicates {
                        rows,
                        failed,
                        keys,
                        examples,
                    } => {
                        key_examples = Some(examples);
                        (rows, failed, keys)
                    }
                };
                [rows, failed, keys]
                    .into_iter()
                    .map(|v| datafusion::common::ScalarValue::Int64(Some(v as i64)))
                    .collect()
            }
            None => vec![],
            Some(plan) => match collect(session, plan.clone()).await {
                Ok(batches) => {
                    let n = values::row_count(&batches);
                    if n > 1 {
                        results.push(c.meta.error(
                            format!("the check's query returned {n} rows; it must return one"),
                            c.sql.clone(),
                        ));
                        continue;
                    }
                    match values::first_row(&batches) {
                        Ok(row) => row.unwrap_or_default(),
                        Err(e) => {
                            results.push(c.meta.error(e, c.sql.clone()));
                            continue;
                        }
                    }
                }
                Err(e) => {
                    results.push(c.meta.error(
                        format!("query on {} failed: {}", d.qualified, store::explain(&e)),
                        c.sql.clone(),
                    ));
                    continue;
                }
            },
        };
        let outcome = (c.compiled.judge)(&Observed {
            measures: &measures,
            query: &query_row,
            facts: &d.facts,
            as_of,
        });
        let status = status_of(&outcome, c.meta.severity);
        let own_ms = check_started.elapsed().as_millis() as u64;
        let ms = own_ms + if c.slots.is_empty() { 0 } else { scan_ms };
        let mut result = c
            .meta
            .result(status, Some(&outcome), None, c.sql.clone(), ms);
        if status != Status::Pass && sample_failures > 0 {
            let kept = match (&c.compiled.failing_rows, &examples) {
                _ if key_examples.is_some() => key_examples.take(),
                (Some(FailingRows::Predicate(p)), Some(found)) => d
                    .fused
                    .predicate_of(c.filter.as_ref(), p)
                    .and_then(|k| found.take(k)),
                _ => None,
            };
            if let Some(rows) = kept {
                match values::rows_as_json(&rows) {
                    Ok(rows) => result.sample_failures = checked_columns_first(rows, c),
                    Err(e) => {
                        tracing::warn!(check = %c.meta.id, "could not show failing rows: {e}")
                    }
                }
            } else if let Some(rows) = &c.compiled.failing_rows {
                match query_samples(
                    session,
                    d,
                    c,
                    rows,
                    sample_failures,
                    example_columns.as_deref(),
                )
                .await
                {
                    Ok(rows) => result.sample_failures = rows,
                    Err(e) => {
                        tracing::warn!(check = %c.meta.id, "could not fetch failing rows: {e}")
                    }
                }
            }
        }
        results.push(result);
    }
    let rows_in_scope = match (&fused_values, d.rows_slot) {
        (Ok(v), Some(slot)) => v.get(slot).map(|s| crate::rules::as_u64(Some(s))),
        _ => None,
    };
    let dataset_result = DatasetResult {
        id: d.qualified.clone(),
        layer: d.layer.clone(),
        name: d.name.clone(),
        facts: d.facts.clone(),
        rows_in_scope,
        scan_ms: (!d.fused.is_empty()).then_some(scan_ms),
        error: fused_values.as_ref().err().cloned(),
    };
    (dataset_result, fused_values, results)
}

/// Failing rows of a check found by a query of their own: for checks the fused scan does
/// not count (a join, a grouped pass), or whose predicates it could not compile.
/// The rows of `plan`, counted, and the first `limit` of them in the examples' order (as
/// the fused scan keeps them): None when there are none.
async fn count_and_sample(
    session: &SessionContext,
    plan: LogicalPlan,
    limit: usize,
) -> Result<(u64, Option<Vec<datafusion::arrow::array::RecordBatch>>), String> {
    let frame = session.execute_logical_plan(plan).await.map_err(df_err)?;
    let collector =
        samples::SampleCollector::new(frame.schema().inner().clone(), limit).map_err(df_err)?;
    let mut stream = frame.execute_stream().await.map_err(df_err)?;
    let mut rows = 0u64;
    while let Some(batch) = futures::StreamExt::next(&mut stream).await {
        let batch = batch.map_err(df_err)?;
        rows += batch.num_rows() as u64;
        collector.offer(0, &batch).map_err(df_err)?;
    }
    Ok((rows, collector.take(0)))
}

async fn query_samples(
    session: &SessionContext,
    d: &PreparedDataset,
    c: &PreparedCheck,
    rows: &FailingRows,
    limit: usize,
    columns: Option<&[String]>,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    let failing = match rows {
        FailingRows::Predicate(p) => {
            let predicate = match &c.filter {
                Some(f) => and(f.clone(), p.clone()),
                None => p.clone(),
            };
            let filtered = LogicalPlanBuilder::from(d.scoped.clone()).filter(predicate);
            match columns {
                Some(names) => filtered.and_then(|b| {
                    b.project(
                        names
                            .iter()
                            .map(|n| Expr::Column(datafusion::common::Column::from_name(n))),
                    )
                }),
                None => filtered,
            }
        }
        FailingRows::Plan(plan) | FailingRows::CountedPlan(plan) => {
            Ok(LogicalPlanBuilder::from(plan.clone()))
        }
    }
    .map_err(df_err)?;
    // The first rows in the order of their values, so that the same lake gives the same
    // examples on every run and every store (scan order depends on threads and I/O).
    let order: Vec<_> = failing
        .schema()
        .iter()
        .filter(|(_, f)| {
            let t = f.data_type();
            use datafusion::arrow::datatypes::DataType as T;
            t.is_primitive()
                || t.is_temporal()
                || matches!(t, T::Utf8 | T::LargeUtf8 | T::Utf8View | T::Boolean)
        })
        .map(|(q, f)| {
            let column = Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()));
            use datafusion::arrow::datatypes::DataType as T;
            // -0.0 orders as 0.0, as the examples collected in the scan order it.
            let key = match f.data_type() {
                T::Float16 | T::Float32 | T::Float64 => datafusion::logical_expr::when(
                    column.clone().eq(datafusion::logical_expr::lit(0.0)),
                    datafusion::logical_expr::lit(0.0),
                )
                .otherwise(column)
                .unwrap_or_else(|_| {
                    Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()))
                }),
                _ => column,
            };
            key.sort(true, false)
        })
        .collect();
    let plan = failing
        .sort(order)
        .and_then(|b| b.limit(0, Some(limit)))
        .and_then(|b| b.build())
        .map_err(df_err)?;
    let batches = collect(session, plan).await?;
    Ok(checked_columns_first(values::rows_as_json(&batches)?, c))
}

/// Example rows with the columns the check looks at first: they explain the failure.
fn checked_columns_first(
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
    c: &PreparedCheck,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut first: Vec<String> = match &c.compiled.failing_rows {
        Some(FailingRows::Predicate(p)) => p
            .column_refs()
            .into_iter()
            .map(|c| c.name.clone())
            .collect(),
        _ => vec![],
    };
    first.sort();
    rows.into_iter()
        .map(|row| {
            let mut ordered = serde_json::Map::new();
            for key in &first {
                if let Some(v) = row.get(key) {
                    ordered.insert(key.clone(), v.clone());
                }
            }
            for (k, v) in row {
                if !ordered.contains_key(&k) {
                    ordered.insert(k, v);
                }
            }
            ordered
        })
        .collect()
}
