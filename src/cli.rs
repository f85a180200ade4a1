//! The command line: parsing, logging, output and exit codes. The work is done by the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::project::Project;
use crate::config::rules::Severity;
use crate::error::DqError;
use crate::report::{self, Format};
use crate::rules::{Placement, REGISTRY};
use crate::run::Context;

const EXAMPLES: &str = "\
Examples:
  dq validate                         validate every layer of the default environment
  dq validate --layer gold            only gold
  dq validate -d silver.orders        one dataset
  dq validate --format json -o -      the versioned JSON report on stdout
  dq validate --env ci --format junit --output dq-junit.xml
  dq readiness --env prod --output report.json --metrics-out /var/lib/node_exporter/dq.prom
  dq lint                             check rules against real schemas, scan nothing
  dq plan --layer silver              the SQL each check compiles to
  dq explain pattern                  parameters and examples of a rule kind

Exit codes: 0 passed · 1 a check failed · 2 usage, rules or config error (nothing scanned)
            3 runtime error (storage, corrupt file); the report keeps every check that ran";

#[derive(Debug, Parser)]
#[command(
    name = "dq",
    version,
    about = "Is this lake fit for production? Checks bronze/silver/gold Parquet datasets against YAML rules.",
    long_about = "dq checks a medallion lake (bronze, silver and gold Parquet datasets on local disk or \
object storage) against declarative YAML rules. Each dataset's checks compile to one fused \
Apache DataFusion scan; the answer is a report and an exit code.\n\nProject files: dq.yaml \
(environments) and rules/*.yaml (one layer per file), found in the current directory or a parent.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path to dq.yaml (default: found in the current directory or its parents).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Environment from dq.yaml (default: its `default_env`).
    #[arg(long, short = 'e', global = true, value_name = "ENV")]
    pub env: Option<String>,
    /// Log lines on stderr as text or JSON (one object per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checks and report (all layers unless --layer / --dataset).
    Validate(ValidateArgs),
    /// Run everything and decide: GO or NO-GO, with a decision matrix per layer and stream.
    Readiness(ValidateArgs),
    /// Run the Kafka stream checks: probe latency, live latency, consumer lag.
    Streams(ValidateArgs),
    /// Parse and type-check every rule against the datasets' schemas, without scanning data.
    Lint(SelectArgs),
    /// Print the SQL each check compiles to, grouped by the scan that answers it.
    Plan(SelectArgs),
    /// List the configured checks as JSON (from the rules alone; the lake is not read).
    /// Orchestrators use it to declare one asset check per dq check.
    Checks,
    /// List the rule kinds.
    Rules {
        /// Print the full documentation of every kind as Markdown (docs/RULES.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Explain one rule kind: what it checks, its parameters, an example.
    Explain {
        /// A rule kind, e.g. `pattern`.
        kind: String,
    },
    /// Show recorded metric history: a dataset's or a check's series over past runs.
    ///
    /// Every validate, readiness and streams run records its measurements (rows, files and
    /// bytes per dataset; observed value, failing rows and fraction per check; stream
    /// latencies and lag) in the environment's history (`history:` in dq.yaml, default
    /// .dq/history). SUBJECT is a dataset (`silver.orders`), a check id
    /// (`silver.orders.not_null(email)`) or a prefix of one; all subjects without it.
    History(HistoryArgs),
    /// Profile datasets: per column its type, NULLs, distinct values, min/max, mean, stddev
    /// and quantiles, string lengths, most frequent values and the named formats it matches.
    ///
    /// One aggregate scan per dataset, on this machine. DATASET is a declared dataset
    /// (`silver.orders`) or, before any rule is written, a path under the environment's lake
    /// (`silver/orders`) or a URL; Hive partition folders are found by themselves.
    /// A declared dataset's `scope` applies.
    #[command(
        after_help = "Examples:\n  dq profile silver.orders\n  dq profile --layer silver --format html -o profile.html\n  dq profile raw/clickstream --format json | jq '.datasets[0].columns[] | {name, nulls}'"
    )]
    Profile(ProfileArgs),
    /// Suggest a rules file from a profile: checks that pass on today's data, each with its
    /// evidence as a comment, for review.
    ///
    /// Suggests row_count, schema, not_null, unique (where every value is distinct),
    /// accepted_values (string columns of at most 20 distinct values), ranges widened by a
    /// margin, lengths and named formats. Every candidate is then validated on the same data
    /// and dropped if it fails, so `dq validate` passes right after. All datasets must be of
    /// one layer (a rules file holds one). Never overwrites a file without --force.
    #[command(
        after_help = "Examples:\n  dq suggest silver/orders --out rules/silver.yaml\n  dq suggest --layer gold            print the suggestions for every gold dataset"
    )]
    Suggest(SuggestArgs),
    /// Print the JSON Schema of rule files or of dq.yaml (schema/*.schema.json is this output).
    ///
    /// For editors: put `# yaml-language-server: $schema=../schema/rules.schema.json` at the top
    /// of a rule file, and a rule file is validated and completed as it is typed.
    Schema {
        /// Which file's schema.
        #[arg(value_enum, default_value_t = SchemaFile::Rules)]
        file: SchemaFile,
    },
    /// Turn another tool's description of the data into a dq rules file.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Run a Ballista scheduler for dq's cluster (`engine: { ballista: "df://HOST:50050" }`).
    ///
    /// The scheduler receives dq's queries from `dq validate --engine df://HOST:PORT` and
    /// hands their tasks to the executors that register with it. It needs no credentials
    /// for the lake's data, only the cloud environment variables to plan its files.
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor for dq's cluster, registered with a scheduler.
    ///
    /// Executors read the lake: give each the cloud credentials in its own environment
    /// (AWS_*, AZURE_STORAGE_*, GOOGLE_APPLICATION_CREDENTIALS, as for `dq validate`);
    /// plans never carry them. Two ports: `--bind-port` (Arrow Flight, where results are
    /// fetched) and `--bind-grpc-port` (the scheduler's calls).
    Executor(ExecutorArgs),
    /// Write the deterministic sample lake (or a larger one for benchmarks).
    SampleLake {
        /// Output directory.
        #[arg(long, default_value = "sample-data")]
        out: PathBuf,
        /// Silver orders to generate (customers are a tenth of it).
        #[arg(long, default_value_t = 5000)]
        rows: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Only silver orders, silver customers and gold (what the benchmark reads).
        #[arg(long)]
        core_only: bool,
        /// Add defects at realistic rates to silver orders (the failing benchmark's data).
        #[arg(long)]
        defects: bool,
    },
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:50050", value_name = "HOST:PORT")]
    pub bind: std::net::SocketAddr,
    /// The host name clients and executors reach this scheduler by.
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to register with, `df://HOST:PORT`.
    #[arg(long, default_value = "df://localhost:50050", value_name = "URL")]
    pub scheduler: String,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0", value_name = "HOST")]
    pub bind_host: String,
    /// Arrow Flight port (results and shuffle data are fetched here).
    #[arg(long, default_value_t = 50051, value_name = "PORT")]
    pub bind_port: u16,
    /// gRPC port for the scheduler's calls.
    #[arg(long, default_value_t = 50052, value_name = "PORT")]
    pub bind_grpc_port: u16,
    /// The host name the scheduler and other executors reach this executor by.
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Tasks run at once (default: the machine's cores).
    #[arg(long, value_name = "N")]
    pub concurrent_tasks: Option<usize>,
    /// Folder for shuffle and spill files (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<String>,
    /// Memory for query operators, e.g. `8GB` (default: a share of the machine's memory).
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A dataset, a check id, or a prefix of one.
    pub subject: Option<String>,
    /// Only this metric (`rows`, `bytes`, `files`, `observed`, `failed_fraction` …).
    #[arg(long, short = 'm')]
    pub metric: Option<String>,
    /// The last N runs of each series.
    #[arg(long, default_value_t = 30)]
    pub last: usize,
    /// `text` (a sparkline per series) or `json`.
    #[arg(long, short = 'f', value_enum, default_value_t = HistoryFormat::Text)]
    pub format: HistoryFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Datasets: `layer.name` as declared, or a path under the lake (`silver/orders`) or URL.
    #[arg(value_name = "DATASET")]
    pub datasets: Vec<String>,
    /// Every declared dataset of this layer (repeatable).
    #[arg(long = "layer", short = 'l', value_name = "LAYER")]
    pub layers: Vec<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ProfileFormat::Text)]
    pub format: ProfileFormat,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileFormat {
    Text,
    Json,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFile {
    /// rules/*.yaml
    Rules,
    /// dq.yaml
    Project,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// An Open Data Contract Standard (ODCS v3.0/v3.1) contract: its schema objects become
    /// datasets, their constraints and quality rules become checks.
    ///
    /// Mapped: required, unique, primaryKey, types, logicalTypeOptions (lengths, pattern,
    /// format, minimum/maximum, exclusive bounds, multipleOf), foreign-key relationships,
    /// the library metrics nullValues, missingValues, invalidValues, duplicateValues and
    /// rowCount with every operator dq can state exactly (rows or percent), and sql rules.
    /// Everything else (text and custom rules, bounds dq cannot state exactly) is listed on
    /// stderr and at the end of the file, never dropped silently.
    #[command(
        after_help = "Examples:\n  dq import odcs contracts/orders.odcs.yaml --layer silver --out rules/silver.yaml\n  dq import odcs orders.odcs.yaml | less"
    )]
    Odcs(OdcsArgs),
}

#[derive(Debug, Args)]
pub struct OdcsArgs {
    /// The contract (YAML).
    #[arg(value_name = "CONTRACT")]
    pub contract: PathBuf,
    /// The layer its datasets belong to.
    #[arg(long, short = 'l', default_value = "silver", value_name = "LAYER")]
    pub layer: String,
    /// Write the rules file here (default: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// Datasets of one layer: `layer.name` as declared, or a path under the lake or URL.
    #[arg(value_name = "DATASET")]
    pub datasets: Vec<String>,
    /// Every declared dataset of this layer.
    #[arg(long = "layer", short = 'l', value_name = "LAYER")]
    pub layers: Vec<String>,
    /// Write the rules file here (default: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Only datasets of this layer (repeatable).
    #[arg(long = "layer", short = 'l', value_name = "LAYER")]
    pub layers: Vec<String>,
    /// Only this dataset, `layer.name` or `name` (repeatable).
    #[arg(long = "dataset", short = 'd', value_name = "DATASET")]
    pub datasets: Vec<String>,
    /// Evaluation instant for freshness and time-relative scopes (default: the environment's
    /// `as_of`, else now). RFC 3339 or a date.
    #[arg(long, value_name = "TIMESTAMP")]
    pub as_of: Option<String>,
    /// Read every Delta table as it was at this instant (the newest version committed at or
    /// before it), to reproduce an earlier run; also the evaluation instant unless `--as-of`
    /// is given. A dataset's own `snapshot` pin wins. RFC 3339 or a date.
    #[arg(long, value_name = "TIMESTAMP")]
    pub snapshot_at: Option<String>,
    /// Where queries run: `local` (this process), `df://HOST:PORT` (a Ballista cluster's
    /// scheduler, see `dq scheduler` / `dq executor`) or `standalone` (a Ballista scheduler
    /// and executor inside this process). Default: the environment's `engine:`, else local.
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE (written atomically), or `-` for stdout (default).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<String>,
    /// Which severity makes the run fail (exit 1).
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Example failing rows kept per failed check (default 5; 0 for none).
    #[arg(long, value_name = "N")]
    pub sample_failures: Option<usize>,
    /// Engine memory limit, e.g. 512MB; beyond it sorts and aggregations spill to disk.
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Read every page of every column in scope, even where footers answer a check (a file
    /// with damaged data pages and an intact footer is then an error, exit 3).
    #[arg(long)]
    pub verify_files: bool,
    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Do not record this run in the metric history (history checks still read it).
    #[arg(long)]
    pub no_history: bool,
    /// Also write Prometheus metrics to FILE (atomically; for node_exporter's textfile collector).
    #[arg(long, value_name = "FILE")]
    pub metrics_out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warn,
}

fn init_logging(global: &GlobalArgs) {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DQ_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            // The Delta reader logs the errors it also returns; dq reports them once.
            "dq={level},warn,buoyant_kernel=off,buoyant_kernel_engine=off,deltalake_core=off"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::engine::store::Scrubbing(std::io::stderr()));
    let _ = match global.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}

/// Parses the command line, runs the command, and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(&cli.global);
    let json_logs = cli.global.log_format == LogFormat::Json;
    // A panic is caught where it happens (a dataset's error) or here (exit 3); either way the
    // user gets one clear line instead of Rust's panic message.
    std::panic::set_hook(Box::new(|info| {
        tracing::debug!("panic: {info}\n{}", std::backtrace::Backtrace::capture());
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli)))
        .unwrap_or_else(|payload| {
            Err(DqError::Runtime(format!(
                "internal error: {} (please report this with the input that caused it)",
                crate::engine::contain::panic_message(payload.as_ref())
            )))
        });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            if json_logs {
                tracing::error!(exit_code = code, "{e}");
            } else {
                eprintln!("{}", render_error(&e));
            }
            code
        }
    }
}

fn render_error(e: &DqError) -> String {
    crate::engine::store::scrub(&match e {
        DqError::Config(_) => e.to_string(),
        other => format!("error: {other}"),
    })
}

fn load_project(global: &GlobalArgs) -> Result<Project, DqError> {
    match &global.config {
        Some(path) => Project::load(path),
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| DqError::Usage(format!("current directory: {e}")))?;
            Project::discover(&cwd)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, DqError> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(crate::engine::THREAD_STACK)
        .enable_all()
        .build()
        .map_err(|e| DqError::Runtime(format!("cannot start the runtime: {e}")))
}

fn run(cli: Cli) -> Result<i32, DqError> {
    match cli.command {
        Command::Rules { markdown } => {
            print!(
                "{}",
                if markdown {
                    rules_markdown()
                } else {
                    rules_table()
                }
            );
            Ok(0)
        }
        Command::Explain { kind } => {
            let Some(k) = crate::rules::kind(&kind) else {
                let names: Vec<&str> = REGISTRY.iter().map(|k| k.name).collect();
                let hint = crate::error::closest(&kind, names.iter().copied())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                return Err(DqError::Usage(format!(
                    "unknown rule kind `{kind}`; {hint}kinds: {}",
                    names.join(", ")
                )));
            };
            println!("{}\n\n{}", k.name, k.doc());
            Ok(0)
        }
        Command::SampleLake {
            out,
            rows,
            seed,
            core_only,
            defects,
        } => {
            let started = std::time::Instant::now();
            let g = crate::sample::generate_with(&out, rows, seed, !core_only, defects)
                .map_err(DqError::Runtime)?;
            if !cli.global.quiet {
                eprintln!(
                    "wrote {} orders, {} customers: {} files, {} under {} in {:.1} s",
                    g.orders,
                    g.customers,
                    g.files,
                    report::text::human_bytes(g.bytes),
                    out.display(),
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(0)
        }
        Command::Validate(args) => validate(&cli.global, args, "validate"),
        Command::Readiness(args) => validate(&cli.global, args, "readiness"),
        Command::Streams(args) => validate(&cli.global, args, "streams"),
        Command::Lint(select) => lint(&cli.global, select),
        Command::Scheduler(args) => {
            runtime()?.block_on(crate::engine::cluster::node::run_scheduler(
                args.bind,
                args.external_host,
            ))?;
            Ok(0)
        }
        Command::Executor(args) => {
            let (scheduler_host, scheduler_port) = match crate::engine::cluster::Engine::parse(
                &args.scheduler,
                std::time::Duration::from_secs(60),
            )
            .map_err(|e| DqError::Usage(format!("--scheduler: {e}")))?
            {
                crate::engine::cluster::Engine::Ballista { host, port, .. } => (host, port),
                _ => {
                    return Err(DqError::Usage(
                        "--scheduler: give the scheduler's address, df://HOST:PORT".into(),
                    ));
                }
            };
            let memory_limit = match &args.memory_limit {
                Some(text) => Some(crate::run::parse_size(text).map_err(DqError::Usage)? as u64),
                None => None,
            };
            runtime()?.block_on(crate::engine::cluster::node::run_executor(
                crate::engine::cluster::node::ExecutorOptions {
                    scheduler_host,
                    scheduler_port,
                    bind_host: args.bind_host,
                    port: args.bind_port,
                    grpc_port: args.bind_grpc_port,
                    external_host: args.external_host,
                    concurrent_tasks: args.concurrent_tasks,
                    work_dir: args.work_dir,
                    memory_limit,
                },
            ))?;
            Ok(0)
        }
        Command::History(args) => history(&cli.global, args),
        Command::Profile(args) => profile(&cli.global, args),
        Command::Schema { file } => {
            let schema = match file {
                SchemaFile::Rules => crate::config::schema::rules(),
                SchemaFile::Project => crate::config::schema::project(),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            );
            Ok(0)
        }
        Command::Import(ImportCommand::Odcs(args)) => import_odcs(&cli.global, args),
        Command::Suggest(args) => suggest(&cli.global, args),
        Command::Plan(select) => plan(&cli.global, select),
        Command::Checks => {
            let project = load_project(&cli.global)?;
            let rules =
                crate::config::rules::load_dir(&project.rules_dir()).map_err(DqError::Config)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&list_checks(&rules)).unwrap_or_default()
            );
            Ok(0)
        }
    }
}

fn context(global: &GlobalArgs, select: &SelectArgs) -> Result<Context, DqError> {
    let project = load_project(global)?;
    let mut cx = Context::load(project, global.env.as_deref(), select.as_of.as_deref())?;
    cx.options.layers = select.layers.clone();
    cx.options.datasets = select.datasets.clone();
    if let Some(text) = &select.snapshot_at {
        let at = crate::time::parse_instant(text)
            .map_err(|e| DqError::Usage(format!("--snapshot-at: {e}")))?;
        cx.options.snapshot_at = Some(at);
        if select.as_of.is_none() {
            cx.options.as_of = at;
        }
    }
    if let Some(engine) = &select.engine {
        cx.use_engine(engine)?;
    }
    Ok(cx)
}

fn validate(global: &GlobalArgs, args: ValidateArgs, verb: &str) -> Result<i32, DqError> {
    let mut cx = context(global, &args.select)?;
    cx.show_progress = !global.quiet && std::io::stderr().is_terminal();
    if let Some(n) = args.sample_failures {
        cx.options.sample_failures = n;
    }
    cx.options.verify_files = args.verify_files;
    if args.no_history {
        cx.record_history = false;
    }
    if let Some(limit) = &args.memory_limit {
        cx.options.memory_limit = Some(crate::run::parse_size(limit).map_err(DqError::Usage)?);
    }
    if let Some(f) = args.fail_on {
        cx.fail_on = match f {
            FailOn::Error => Severity::Error,
            FailOn::Warn => Severity::Warn,
        };
    }
    let mut command = String::from(verb);
    for l in &args.select.layers {
        command.push_str(&format!(" --layer {l}"));
    }
    for d in &args.select.datasets {
        command.push_str(&format!(" --dataset {d}"));
    }
    let mode = match verb {
        "readiness" => crate::run::Mode::Readiness,
        "streams" => crate::run::Mode::Streams,
        _ => crate::run::Mode::Validate,
    };
    let report = runtime()?.block_on(cx.run(mode, &command))?;
    let to_stdout = args.output.as_deref().is_none_or(|o| o == "-");
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            to_stdout && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    if let Some(path) = &args.metrics_out {
        let metrics = crate::engine::store::scrub(&report::metrics::render(&report));
        write_atomically(path, metrics.as_bytes())
            .map_err(|e| DqError::Runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    // Every report channel is scrubbed, whatever a message or a sample row may hold.
    let rendered = crate::engine::store::scrub(&report::render(&report, args.format, color));
    match args.output.as_deref() {
        None | Some("-") => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(rendered.as_bytes());
            let _ = out.flush();
        }
        Some(path) => {
            write_atomically(Path::new(path), rendered.as_bytes())
                .map_err(|e| DqError::Runtime(format!("cannot write {path}: {e}")))?;
            if !global.quiet {
                let s = &report.summary;
                eprintln!(
                    "{} checks: {} passed, {} warnings, {} failed, {} errors — report written to {path}",
                    s.total, s.passed, s.warned, s.failed, s.errored
                );
            }
        }
    }
    Ok(report.exit_code)
}

/// Writes a report. A regular file (or a path that does not exist yet) is written through
/// a temporary file beside it, flushed, then renamed over it, so readers never see half a
/// report. Anything else — `/dev/null`, `/dev/stdout`, a FIFO — is written directly: a
/// rename would replace the device with a regular file. A directory is refused before
/// anything is written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(std::io::Error::other("it is a directory"));
        }
        Ok(meta) if !meta.is_file() => {
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            return f.write_all(bytes).and_then(|_| f.flush());
        }
        _ => {}
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn history(global: &GlobalArgs, args: HistoryArgs) -> Result<i32, DqError> {
    let cx = context(
        global,
        &SelectArgs {
            layers: vec![],
            datasets: vec![],
            as_of: None,
            snapshot_at: None,
            engine: None,
        },
    )?;
    let store = cx.history_store().map_err(DqError::Runtime)?;
    let rt = runtime()?;
    let loaded = rt.block_on(store.load()).map_err(DqError::Runtime)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let series = crate::history::series(
        &loaded.points,
        &cx.env_name,
        args.subject.as_deref(),
        args.metric.as_deref(),
        args.last,
    );
    match args.format {
        HistoryFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&series).map_err(|e| DqError::Runtime(e.to_string()))?
        ),
        HistoryFormat::Text => {
            if series.is_empty() {
                let why = if cx.record_history {
                    "runs record it as they go"
                } else {
                    "this environment records none (`history: { record: false }`)"
                };
                eprintln!(
                    "no history{} in {} (environment {}): {why}",
                    args.subject
                        .map(|s| format!(" for `{s}`"))
                        .unwrap_or_default(),
                    store.shown,
                    cx.env_name
                );
                return Ok(0);
            }
            print!("{}", crate::history::render_text(&series));
        }
    }
    Ok(0)
}

fn profile(global: &GlobalArgs, args: ProfileArgs) -> Result<i32, DqError> {
    let project = load_project(global)?;
    let cx = Context::load_with(project, global.env.as_deref(), None, true)?;
    let mut targets = crate::onboarding::targets(&cx, &args.datasets, &args.layers)?;
    let profiles = runtime()?.block_on(crate::onboarding::profile_all(&cx, &mut targets))?;
    let text = match args.format {
        ProfileFormat::Text => crate::profile::render::text(&profiles),
        ProfileFormat::Json => crate::profile::render::json(&profiles),
        ProfileFormat::Html => crate::profile::render::html(&profiles),
    };
    match &args.output {
        Some(path) => write_atomically(path, text.as_bytes())
            .map_err(|e| DqError::Usage(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(0)
}

fn import_odcs(global: &GlobalArgs, args: OdcsArgs) -> Result<i32, DqError> {
    if let Some(out) = &args.out {
        if out.exists() && !args.force {
            return Err(DqError::Usage(format!(
                "{} exists; pass --force to replace it, or choose another --out",
                out.display()
            )));
        }
    }
    if !args
        .layer
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(DqError::Usage(format!(
            "--layer `{}` must be an identifier (letters, digits, _)",
            args.layer
        )));
    }
    let text = crate::config::read_text(&args.contract)
        .map_err(|e| DqError::Usage(format!("{}: {e}", args.contract.display())))?;
    let imported =
        crate::odcs::import(&args.contract, &text, &args.layer).map_err(DqError::Usage)?;
    match &args.out {
        Some(path) => write_atomically(path, imported.text.as_bytes())
            .map_err(|e| DqError::Usage(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{}", imported.text),
    }
    if !global.quiet {
        eprintln!(
            "{} checks for {} dataset(s) imported from {}{}",
            imported.checks,
            imported.datasets,
            args.contract.display(),
            args.out
                .as_ref()
                .map(|p| format!(" into {}", p.display()))
                .unwrap_or_default()
        );
        if !imported.not_mapped.is_empty() {
            eprintln!(
                "not mapped ({}), review by hand:",
                imported.not_mapped.len()
            );
            for n in &imported.not_mapped {
                eprintln!("  - {n}");
            }
        }
    }
    Ok(0)
}

fn suggest(global: &GlobalArgs, args: SuggestArgs) -> Result<i32, DqError> {
    if let Some(out) = &args.out {
        if out.exists() && !args.force {
            return Err(DqError::Usage(format!(
                "{} exists; pass --force to replace it, or choose another --out",
                out.display()
            )));
        }
    }
    let project = load_project(global)?;
    let mut cx = Context::load_with(project, global.env.as_deref(), None, true)?;
    let mut targets = crate::onboarding::targets(&cx, &args.datasets, &args.layers)?;
    let file_name = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("<suggested rules>"));
    let suggested = runtime()?.block_on(crate::onboarding::suggest(
        &mut cx,
        &mut targets,
        &file_name,
    ))?;
    match &args.out {
        Some(path) => write_atomically(path, suggested.text.as_bytes())
            .map_err(|e| DqError::Usage(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{}", suggested.text),
    }
    if !global.quiet {
        eprintln!(
            "{} checks suggested for {} dataset(s){}; each passed on today's data",
            suggested.kept,
            targets.len(),
            args.out
                .as_ref()
                .map(|p| format!(" in {}", p.display()))
                .unwrap_or_default()
        );
        for d in &suggested.dropped {
            eprintln!("  dropped (fails today): {d}");
        }
    }
    Ok(0)
}

fn lint(global: &GlobalArgs, select: SelectArgs) -> Result<i32, DqError> {
    let cx = context(global, &select)?;
    let rt = runtime()?;
    // Nothing is scanned: the plans are made here, for the engine that would run them.
    let prepared = rt.block_on(async {
        let session = crate::engine::session(cx.options.memory_limit)?;
        cx.prepare(&session).await
    })?;
    let mut code = 0;
    for d in &prepared.failed_datasets {
        eprintln!(
            "error: dataset {}: {}",
            d.id,
            d.error.clone().unwrap_or_default()
        );
        code = 3;
    }
    for d in &prepared.datasets {
        for w in &d.facts.warnings {
            eprintln!("warning: dataset {}: {w}", d.qualified);
        }
    }
    let checked: usize = prepared
        .datasets
        .iter()
        .map(|d| d.checks.len())
        .sum::<usize>()
        + prepared.reconciliations.len();
    if !global.quiet {
        println!(
            "{} checks in {} datasets compile against their schemas ({} rule files){}",
            checked,
            prepared.datasets.iter().filter(|d| d.reported).count(),
            cx.rules.files.len(),
            if code == 0 {
                ""
            } else {
                "; some datasets could not be read"
            }
        );
    }
    Ok(code)
}

fn plan(global: &GlobalArgs, select: SelectArgs) -> Result<i32, DqError> {
    let cx = context(global, &select)?;
    let rt = runtime()?;
    // Nothing is scanned: the plans are made here, for the engine that would run them.
    let prepared = rt.block_on(async {
        let session = crate::engine::session(cx.options.memory_limit)?;
        cx.prepare(&session).await
    })?;
    let distributed = cx.options.engine.is_distributed();
    let mut out = format!("-- engine: {}\n", cx.options.engine.describe());
    if distributed {
        out.push_str(
            "-- this process lists each dataset and reads its footers; every query below runs on the\n\
             -- cluster, which reads exactly the files listed here; failing-row examples come from a\n\
             -- limited query per failed check\n",
        );
    }
    out.push('\n');
    for d in &prepared.datasets {
        let fused_checks = d.checks.iter().filter(|c| !c.slots.is_empty()).count();
        let own: Vec<_> = d
            .checks
            .iter()
            .filter(|c| c.compiled.query.is_some())
            .collect();
        out.push_str(&format!(
            "-- {} · {} · {} file(s)\n-- fused scan: {} aggregate(s) answer {} check(s){}; {} check(s) with a query of their own\n",
            d.qualified,
            d.facts.url,
            d.facts.files,
            d.fused.aggregate_count(),
            fused_checks,
            if d.reported { "" } else { " (read for reconciliations)" },
            own.len()
        ));
        if d.fused.has_row_predicates() && distributed {
            out.push_str(
                "-- dq_count_true(p0, …) counts the rows where each row-level predicate holds, on every\n\
                 -- executor, and the counts are summed\n",
            );
        } else if d.fused.has_row_predicates() {
            out.push_str(
                "-- dq_count_true(p0, …) counts the rows where each row-level predicate holds; per batch, a\n\
                 -- predicate is skipped when column min/max and null counts rule it out, and evaluated once\n\
                 -- per distinct value when it reads one low-cardinality string column\n",
            );
        }
        if !d.fused.is_empty() {
            if let Ok(p) = d.fused.aggregate_plan(&d.scoped) {
                out.push_str(&format!("{};\n", crate::engine::sql_of(&p)));
            }
        }
        for c in &own {
            if let Some(q) = &c.compiled.query {
                let note = if c.compiled.distinct_keys.is_some() && distributed {
                    " (a grouped count on the executors: no key reaches this process)"
                } else if c.compiled.distinct_keys.is_some() {
                    " (first an ordered or hashing pass over the key; this grouped query runs only if a key repeats)"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "-- {}{note}\n{};\n",
                    c.meta.name,
                    crate::engine::sql_of(q)
                ));
            }
        }
        let is_history = |c: &&crate::engine::PreparedCheck| {
            matches!(c.meta.kind.as_str(), "change" | "anomaly")
        };
        let meta: Vec<&str> = d
            .checks
            .iter()
            .filter(|c| c.slots.is_empty() && c.compiled.query.is_none() && !is_history(c))
            .map(|c| c.meta.name.as_str())
            .collect();
        if !meta.is_empty() {
            out.push_str(&format!(
                "-- no scan (schema / listing): {}\n",
                meta.join(", ")
            ));
        }
        let history: Vec<&str> = d
            .checks
            .iter()
            .filter(is_history)
            .map(|c| c.meta.name.as_str())
            .collect();
        if !history.is_empty() {
            out.push_str(&format!(
                "-- against the metric history, after the run: {}\n",
                history.join(", ")
            ));
        }
        out.push('\n');
    }
    for r in &prepared.reconciliations {
        out.push_str(&format!(
            "-- reconciliation {}: {} vs {} (answered by the fused scans above)\n",
            r.meta.name, r.left.0, r.right.0
        ));
    }
    for d in &prepared.failed_datasets {
        out.push_str(&format!(
            "-- {}: cannot be read: {}\n",
            d.id,
            d.error.clone().unwrap_or_default()
        ));
    }
    print!("{}", crate::engine::store::scrub(&out));
    Ok(if prepared.failed_datasets.is_empty() {
        0
    } else {
        3
    })
}

/// Every configured check, with the same ids the report uses.
pub fn list_checks(rules: &crate::config::rules::RuleSet) -> serde_json::Value {
    let mut out = Vec::new();
    for d in &rules.datasets {
        for c in &d.checks {
            out.push(serde_json::json!({
                "id": format!("{}.{}.{}", d.layer, d.name, c.name),
                "layer": d.layer,
                "dataset": d.qualified(),
                "name": c.name,
                "kind": c.kind.name,
                "severity": c.severity.as_str(),
                "description": c.description,
            }));
        }
    }
    for r in &rules.reconciliations {
        let left = rules.resolve_name(&r.spec.left.dataset, &r.layer).ok();
        let right = rules.resolve_name(&r.spec.right.dataset, &r.layer).ok();
        out.push(serde_json::json!({
            "id": format!("{}.reconciliation.{}", r.layer, r.spec.name),
            "layer": r.layer,
            "dataset": null,
            "datasets": [left, right],
            "name": r.spec.name,
            "kind": "reconciliation",
            "severity": r.spec.severity.as_str(),
            "description": r.spec.description,
        }));
    }
    serde_json::Value::Array(out)
}

fn rules_table() -> String {
    let mut out = String::from("Rule kinds (dq explain KIND for parameters and examples):\n\n");
    for k in REGISTRY {
        let marker = match (k.placement, k.row_level) {
            (Placement::Reconciliation, _) => "across datasets",
            (_, true) => "row-level",
            _ => "aggregate",
        };
        out.push_str(&format!(
            "  {:<16} {:<16} {}\n",
            k.name,
            marker,
            k.summary()
        ));
    }
    out.push_str(
        "\nEvery check accepts: name, severity (error|warn), where, description; row-level checks\nalso max_failed and max_failed_fraction (default: no failing row allowed).\n",
    );
    out
}

/// The rule catalogue as Markdown; `docs/RULES.md` is this output.
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "# Rule kinds\n\nGenerated by `dq rules --markdown` from the rule modules' own documentation.\n\n\
Every check accepts `name`, `severity` (`error` | `warn`), `where` (a SQL filter for this check only)\n\
and `description`; row-level checks also accept `max_failed` and `max_failed_fraction`\n\
(default: no failing row allowed).\n\n",
    );
    for k in REGISTRY {
        out.push_str(&format!("## {}\n\n{}\n\n", k.name, k.doc()));
    }
    out
}

#[cfg(test)]
mod output_tests {
    use super::write_atomically;

    #[test]
    fn regular_files_are_replaced_and_special_files_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.json");
        write_atomically(&file, b"one").unwrap();
        write_atomically(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        // A directory: refused, and nothing left behind.
        let e = write_atomically(dir.path(), b"x").unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(write_atomically(&sub, b"x").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
        // /dev/null stays a device.
        write_atomically(std::path::Path::new("/dev/null"), b"x").unwrap();
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(!meta.is_file(), "/dev/null became a regular file");
    }
}
