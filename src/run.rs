//! One validation run, from loaded config to a finished report.

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::config::project::Project;
use crate::config::rules::{RuleSet, Severity};
use crate::engine::{self, Prepared, RunOptions};
use crate::error::{DqError, Result};
use crate::report::{REPORT_VERSION, Report, RunOutcome, Summary, Tool};

/// The progress line on stderr: datasets checked and, on a cluster, the run's jobs.
struct ProgressLine {
    show: bool,
    state: std::sync::Mutex<(String, Option<String>)>,
}

impl ProgressLine {
    fn new(show: bool) -> ProgressLine {
        ProgressLine {
            show,
            state: std::sync::Mutex::new((String::new(), None)),
        }
    }

    fn datasets(&self, done: usize, total: usize, dataset: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 = format!("[{done}/{total}] datasets checked · {dataset}");
        self.draw(&state);
    }

    fn cluster(&self, jobs: Option<String>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.1 = jobs;
        self.draw(&state);
    }

    fn draw(&self, (datasets, jobs): &(String, Option<String>)) {
        if !self.show {
            return;
        }
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let text = match (datasets.is_empty(), jobs) {
            (_, None) => datasets.clone(),
            (true, Some(j)) => format!("cluster: {j}"),
            (false, Some(j)) => format!("{datasets} · cluster: {j}"),
        };
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.show {
            use std::io::Write;
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// Everything a command needs, resolved from the command line and the project.
pub struct Context {
    pub project: Project,
    pub env_name: String,
    pub rules: RuleSet,
    pub options: RunOptions,
    pub fail_on: Severity,
    /// Show a progress line on stderr (only when it is a terminal and not quiet).
    pub show_progress: bool,
    /// The environment's Kafka settings, for stream checks.
    pub kafka: Option<crate::config::project::KafkaSettings>,
    /// Where this environment's run metrics are kept.
    pub history: crate::config::project::HistorySettings,
    /// Record this run's metrics (off with `--no-history` or `history: { record: false }`).
    pub record_history: bool,
    /// The environment's `engine:`, for `--engine` to override.
    pub engine_setting: Option<crate::config::project::EngineSetting>,
}

impl Context {
    /// Loads the project's environment and rules; config errors are exit 2.
    pub fn load(project: Project, env: Option<&str>, as_of: Option<&str>) -> Result<Context> {
        Context::load_with(project, env, as_of, false)
    }

    /// Like [`Context::load`], but a project without rule files yet (a lake being
    /// onboarded with `dq profile` / `dq suggest`) has an empty rule set.
    pub fn load_with(
        project: Project,
        env: Option<&str>,
        as_of: Option<&str>,
        rules_optional: bool,
    ) -> Result<Context> {
        let (env_name, environment) = project.environment(env)?;
        let environment = environment.clone();
        if let Some(text) = &environment.history.retention {
            if crate::duration::parse_duration(text).is_err() {
                return Err(DqError::Config(vec![crate::error::Diagnostic::new(
                    &project.file,
                    0,
                    0,
                    format!(
                        "environment `{env_name}`: history.retention `{text}` is not a duration (e.g. 400d)"
                    ),
                )]));
            }
        }
        // `${VAR}`s are expanded when streams run, so `dq validate` does not need them.
        let kafka = environment.kafka.clone();
        // Kafka secrets are registered once expanded, when streams run.
        crate::engine::store::register_secrets(&environment.storage);
        let as_of: DateTime<Utc> = match as_of.or(environment.as_of.as_deref()) {
            Some(text) => crate::time::parse_instant(text)
                .map_err(|e| DqError::Usage(format!("--as-of: {e}")))?,
            None => Utc::now(),
        };
        let rules_dir = project.rules_dir();
        let no_rule_files = std::fs::read_dir(&rules_dir)
            .map(|entries| {
                !entries.filter_map(|e| e.ok()).any(|e| {
                    e.path()
                        .extension()
                        .is_some_and(|x| x == "yaml" || x == "yml")
                })
            })
            .unwrap_or(true);
        let rules = if rules_optional && no_rule_files {
            RuleSet::default()
        } else {
            crate::config::rules::load_dir(&rules_dir).map_err(DqError::Config)?
        };
        if let Some(blocking) = project
            .config
            .readiness
            .as_ref()
            .and_then(|r| r.blocking.as_ref())
            .filter(|_| !rules.datasets.is_empty() || !rules.layers.is_empty())
        {
            let problems: Vec<crate::error::Diagnostic> = blocking
                .iter()
                .filter(|b| !rules.layers.contains(b) && rules.dataset(b).is_none())
                .map(|b| {
                    crate::error::Diagnostic::new(
                        &project.file,
                        0,
                        0,
                        format!("readiness.blocking: `{b}` is neither a layer nor a dataset (layer.name)"),
                    )
                })
                .collect();
            if !problems.is_empty() {
                return Err(DqError::Config(problems));
            }
        }
        let defaults = &project.config.defaults;
        let fail_on = match defaults.fail_on.as_deref() {
            Some("warn") => Severity::Warn,
            _ => Severity::Error,
        };
        let memory_limit = match &defaults.memory_limit {
            Some(text) => Some(parse_size(text).map_err(DqError::Usage)?),
            None => None,
        };
        let engine =
            crate::config::project::EngineSetting::resolve(environment.engine.as_ref(), None)
                .map_err(|e| {
                    DqError::Config(vec![crate::error::Diagnostic::new(
                        &project.file,
                        0,
                        0,
                        format!("environment `{env_name}`: {e}"),
                    )])
                })?;
        let options = RunOptions {
            project_root: project.root.clone(),
            lake: environment.lake.clone(),
            storage: environment.storage.clone(),
            layers: vec![],
            datasets: vec![],
            as_of,
            sample_failures: defaults.sample_failures.unwrap_or(5),
            memory_limit,
            verify_files: false,
            snapshot_at: None,
            engine,
        };
        Ok(Context {
            engine_setting: environment.engine.clone(),
            project,
            env_name,
            rules,
            options,
            fail_on,
            show_progress: false,
            kafka,
            record_history: environment.history.record,
            history: environment.history.clone(),
        })
    }

    /// The environment's history store. It must not lie inside a dataset dq validates (a
    /// run would then read its own records as data).
    pub fn history_store(
        &self,
    ) -> std::result::Result<crate::history::store::HistoryStore, String> {
        let h = &self.history;
        let retention = match &h.retention {
            Some(text) => Some(
                crate::duration::parse_duration(text)
                    .ok()
                    .and_then(|d| chrono::Duration::from_std(d).ok())
                    .ok_or_else(|| {
                        format!("history.retention: `{text}` is not a duration (e.g. 400d)")
                    })?,
            ),
            None => None,
        };
        let location = if h.path.contains("://") {
            h.path.clone()
        } else {
            let abs =
                std::path::absolute(self.project.root.join(&h.path)).map_err(|e| e.to_string())?;
            url::Url::from_directory_path(&abs)
                .map(|u| u.to_string())
                .unwrap_or_else(|_| abs.display().to_string())
        };
        for d in &self.rules.datasets {
            if let Ok(dataset) =
                engine::store::dataset_url(&self.options.project_root, &self.options.lake, &d.path)
            {
                let dataset = dataset.as_str().trim_end_matches('/').to_string() + "/";
                if location.starts_with(&dataset) {
                    return Err(format!(
                        "history path {} is inside dataset {}; history is never kept inside a dataset dq reads",
                        engine::store::redact(&location),
                        d.qualified()
                    ));
                }
            }
        }
        crate::history::store::HistoryStore::open(
            &self.project.root,
            &location,
            &self.options.storage,
            retention,
        )
    }

    /// `--engine`: run on another engine than the environment names.
    pub fn use_engine(&mut self, text: &str) -> Result<()> {
        self.options.engine = crate::config::project::EngineSetting::resolve(
            self.engine_setting.as_ref(),
            Some(text),
        )
        .map_err(|e| DqError::Usage(format!("--engine: {e}")))?;
        Ok(())
    }

    /// A session on the run's engine; a cluster that does not answer is exit 3.
    pub async fn session(&self) -> Result<datafusion::prelude::SessionContext> {
        engine::cluster::session(&self.options.engine, self.options.memory_limit).await
    }

    pub async fn prepare(&self, session: &datafusion::prelude::SessionContext) -> Result<Prepared> {
        engine::prepare(session, &self.rules, &self.options).await
    }

    /// Runs the selected checks and builds the report.
    pub async fn validate(&self, command: &str) -> Result<Report> {
        self.run(Mode::Validate, command).await
    }

    /// Validation, stream checks, or both and the verdict.
    pub async fn run(&self, mode: Mode, command: &str) -> Result<Report> {
        let started_at = Utc::now();
        let clock = Instant::now();
        let filtered = !self.options.layers.is_empty() || !self.options.datasets.is_empty();
        let want_streams = mode == Mode::Streams || (mode == Mode::Readiness && !filtered);
        if mode == Mode::Streams && self.rules.streams.is_empty() {
            return Err(DqError::Usage(
                "no streams are configured (add `streams:` to a file under rules/)".into(),
            ));
        }
        let expanded = match (&self.kafka, want_streams && !self.rules.streams.is_empty()) {
            (Some(k), true) => Some(
                k.clone()
                    .expanded()
                    .inspect(|k| crate::engine::store::register_secrets(&k.options))
                    .map_err(|e| {
                        DqError::Config(vec![crate::error::Diagnostic::new(
                            &self.project.file,
                            0,
                            0,
                            format!("environment `{}`: {e}", self.env_name),
                        )])
                    })?,
            ),
            _ => None,
        };
        let kafka = match (&expanded, want_streams && !self.rules.streams.is_empty()) {
            (Some(k), true) => Some(k),
            (None, true) if mode == Mode::Streams => {
                return Err(DqError::Usage(format!(
                    "environment `{}` has no `kafka:` settings (brokers) for the stream checks",
                    self.env_name
                )));
            }
            _ => None,
        };
        let session = self.session().await?;
        let prepared = if mode == Mode::Streams {
            None
        } else {
            Some(self.prepare(&session).await?)
        };
        if let Some(p) = &prepared {
            tracing::info!(
                checks = p.check_count(),
                datasets = p.datasets.len(),
                "validating"
            );
        }
        let line = ProgressLine::new(self.show_progress);
        let progress =
            |done: usize, total: usize, dataset: &str| line.datasets(done, total, dataset);
        // On a cluster, the line also follows the run's jobs: stages and tasks done; and a
        // watchdog ends the run if the cluster stalls after losing an executor.
        let scheduler = match &self.options.engine {
            crate::engine::cluster::Engine::Ballista {
                host,
                port,
                stall_timeout,
                ..
            } if prepared.is_some() => Some((host.clone(), *port, *stall_timeout)),
            _ => None,
        };
        let watchdog = async {
            match scheduler.clone() {
                Some((host, port, stall)) => {
                    let name = crate::engine::cluster::job_name();
                    crate::engine::cluster::watchdog::lost_executor(host, port, name, stall).await
                }
                None => futures::future::pending::<String>().await,
            }
        };
        let cluster_progress = async {
            let Some((host, port, _)) = scheduler.clone().filter(|_| self.show_progress) else {
                return futures::future::pending::<()>().await;
            };
            let name = crate::engine::cluster::job_name();
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(700)).await;
                let jobs =
                    crate::engine::cluster::progress::jobs_progress(&host, port, &name).await;
                line.cluster(jobs.and_then(|j| j.describe()));
            }
        };
        let data = async {
            match prepared {
                Some(p) => engine::execute_with_progress(&session, p, &progress).await,
                None => (vec![], vec![]),
            }
        };
        let streams = async {
            match kafka {
                Some(k) => {
                    tracing::info!(streams = self.rules.streams.len(), "sampling streams");
                    crate::streams::run(k, &self.rules.streams).await
                }
                None => (vec![], vec![]),
            }
        };
        let work = async { tokio::join!(data, streams) };
        let ((datasets, mut checks), (stream_results, stream_checks)) = tokio::select! {
            done = work => done,
            _ = cluster_progress => unreachable!("the progress loop never ends"),
            lost = watchdog => {
                line.clear();
                return Err(DqError::Runtime(lost));
            }
        };
        line.clear();
        checks.extend(stream_checks);
        let mut report = Report {
            report_version: REPORT_VERSION,
            tool: Tool {
                name: "dq",
                version: env!("CARGO_PKG_VERSION"),
            },
            command: command.to_string(),
            environment: self.env_name.clone(),
            lake: engine::store::redact(&self.options.lake),
            as_of: self
                .options
                .as_of
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_ms: clock.elapsed().as_millis() as u64,
            fail_on: self.fail_on,
            outcome: RunOutcome::Pass,
            exit_code: 0,
            summary: Summary::default(),
            datasets,
            checks,
            streams: stream_results,
            errors: vec![],
            trends: vec![],
            warnings: vec![],
            readiness: None,
        };
        report.finish();
        let history = self.history_store();
        if let Err(e) = &history {
            report.warnings.push(e.clone());
        }
        let loaded = match &history {
            Ok(h) => h
                .load()
                .await
                .unwrap_or_else(|e| crate::history::store::Loaded {
                    points: vec![],
                    warnings: vec![e],
                }),
            Err(_) => Default::default(),
        };
        report.warnings.extend(loaded.warnings);
        if crate::history::checks::any(&self.rules) {
            crate::history::checks::judge_all(&mut report, &self.rules, &loaded.points);
        }
        crate::history::checks::attach_previous(&mut report, &loaded.points);
        if mode == Mode::Readiness {
            let policy = self.project.config.readiness.clone().unwrap_or_default();
            // Judge the layers this run covered: all of them, or those selected.
            let layers: Vec<String> = if !self.options.layers.is_empty() {
                self.rules
                    .layers
                    .iter()
                    .filter(|l| self.options.layers.contains(l))
                    .cloned()
                    .collect()
            } else if !self.options.datasets.is_empty() {
                self.rules
                    .layers
                    .iter()
                    .filter(|l| report.checks.iter().any(|c| &c.layer == *l))
                    .cloned()
                    .collect()
            } else {
                self.rules.layers.clone()
            };
            let not_run: Vec<(String, String)> = if filtered {
                vec![]
            } else if kafka.is_none() {
                self.rules
                    .streams
                    .iter()
                    .map(|s| {
                        (
                            s.name.clone(),
                            format!(
                                "not run: environment `{}` has no kafka settings",
                                self.env_name
                            ),
                        )
                    })
                    .collect()
            } else {
                vec![]
            };
            let readiness = crate::readiness::decide(&report, &policy, &layers, &not_run);
            report.set_readiness(readiness);
        }
        if let (Ok(h), true) = (&history, self.record_history) {
            let points = crate::history::points_of(&report, &crate::history::store::new_run_id());
            if let Err(e) = h.record(&points).await {
                report.warnings.push(e);
            }
        }
        for w in &report.warnings {
            tracing::warn!("{w}");
        }
        tracing::info!(outcome = ?report.outcome, passed = report.summary.passed, failed = report.summary.failed, "done");
        Ok(report)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Validate,
    Streams,
    Readiness,
}

/// Parses a memory size: `512MB`, `2GB`, `1.5GiB`, or bytes.
pub fn parse_size(text: &str) -> std::result::Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let number: f64 = t[..split]
        .parse()
        .map_err(|_| format!("invalid memory size `{text}`"))?;
    let unit = t[split..].trim().to_ascii_lowercase();
    let factor: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024f64.powi(4),
        _ => {
            return Err(format!(
                "invalid memory size `{text}` (use e.g. 512MB or 2GB)"
            ));
        }
    };
    Ok((number * factor) as usize)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("256MB").unwrap(), 256 << 20);
        assert_eq!(super::parse_size("2gb").unwrap(), 2 << 30);
        assert!(super::parse_size("lots").is_err());
    }
}
