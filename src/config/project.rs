//! `dq.yaml`: environments, defaults, and where the rules live.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::yaml;
use crate::error::{Diagnostic, DqError, Result, closest};

pub const PROJECT_FILE: &str = "dq.yaml";

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// The environment used when `--env` is not given.
    pub default_env: Option<String>,
    /// Directory holding the rule files, relative to dq.yaml (default `rules`).
    #[serde(default = "default_rules_dir")]
    pub rules_dir: String,
    pub environments: BTreeMap<String, Environment>,
    #[serde(default)]
    pub defaults: Defaults,
    /// What `dq readiness` requires for GO.
    pub readiness: Option<ReadinessPolicy>,
}

fn default_rules_dir() -> String {
    "rules".into()
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Lake root: a local path (relative to dq.yaml) or a URL (`file://`, `memory://`, `s3://`, …).
    pub lake: String,
    /// Evaluation instant for freshness and time-relative scopes (RFC 3339 or a date);
    /// a committed sample lake sets it so its results stay reproducible.
    pub as_of: Option<String>,
    pub description: Option<String>,
    /// Kafka connection settings for stream checks.
    pub kafka: Option<KafkaSettings>,
    /// Object-store options (region, endpoint, …) passed to the store of the lake.
    #[serde(default)]
    pub storage: BTreeMap<String, String>,
    /// Where run metrics are recorded (see `dq history`).
    #[serde(default)]
    pub history: HistorySettings,
    /// Where queries run: `local` (default) or `{ ballista: "df://scheduler:50050" }`.
    pub engine: Option<EngineSetting>,
}

/// `engine:` of an environment.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum EngineSetting {
    /// `local` or `standalone`.
    Name(String),
    Ballista(BallistaSetting),
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BallistaSetting {
    /// The scheduler, `df://host:port` (`${VAR}` expanded).
    pub ballista: String,
    /// How long the scheduler may take to accept a connection (default `10s`).
    pub connect_timeout: Option<String>,
    /// After an executor is lost, how long the run may go without any job progress before
    /// it ends with exit 3 naming the executor (default `60s`).
    pub stall_timeout: Option<String>,
}

impl EngineSetting {
    /// The engine this setting names; `override_with` (`--engine`) wins.
    pub fn resolve(
        setting: Option<&EngineSetting>,
        override_with: Option<&str>,
    ) -> std::result::Result<crate::engine::cluster::Engine, String> {
        let timeout_text = match setting {
            Some(EngineSetting::Ballista(b)) => b.connect_timeout.as_deref(),
            _ => None,
        };
        let timeout = match timeout_text {
            Some(t) => crate::duration::parse_duration(t)
                .map_err(|e| format!("engine.connect_timeout: {e}"))?,
            None => std::time::Duration::from_secs(10),
        };
        let text = match (override_with, setting) {
            (Some(text), _) => text.to_string(),
            (None, None) => "local".to_string(),
            (None, Some(EngineSetting::Name(name))) => name.clone(),
            (None, Some(EngineSetting::Ballista(b))) => {
                expand_env(&b.ballista).map_err(|e| format!("engine.ballista: {e}"))?
            }
        };
        let stall = match setting {
            Some(EngineSetting::Ballista(BallistaSetting {
                stall_timeout: Some(t),
                ..
            })) => crate::duration::parse_duration(t)
                .map_err(|e| format!("engine.stall_timeout: {e}"))?,
            _ => crate::engine::cluster::DEFAULT_STALL_TIMEOUT,
        };
        Ok(crate::engine::cluster::Engine::parse(&text, timeout)?.with_stall_timeout(stall))
    }
}

/// `history:` of an environment.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistorySettings {
    /// A folder (relative to dq.yaml) or an object-store URL (`s3://bucket/dq-history/`),
    /// so that runs on several machines share one history. Default `.dq/history`.
    #[serde(default = "default_history_path")]
    pub path: String,
    /// Runs evaluated longer than this before a recording run are deleted by it (e.g.
    /// `400d`; a backfill of old dates never deletes the runs after it).
    pub retention: Option<String>,
    /// `false` records nothing (history checks still read what exists).
    #[serde(default = "yes")]
    pub record: bool,
}

fn default_history_path() -> String {
    ".dq/history".into()
}

fn yes() -> bool {
    true
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings {
            path: default_history_path(),
            retention: None,
            record: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    pub brokers: String,
    pub client_id: Option<String>,
    /// Upper bound for every broker call, e.g. `5s`.
    pub timeout: Option<String>,
    /// Extra librdkafka properties (security.protocol, sasl.*, …).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl KafkaSettings {
    /// Expands `${VAR}` and `${VAR:-default}` in the broker list and the options, so one
    /// dq.yaml can point at brokers chosen by the environment and keep secrets out of it.
    /// A variable that is not set and has no default is an error that names it.
    pub fn expanded(mut self) -> std::result::Result<KafkaSettings, String> {
        self.brokers = expand_env(&self.brokers).map_err(|e| format!("kafka.brokers: {e}"))?;
        for (k, v) in self.options.iter_mut() {
            *v = expand_env(v).map_err(|e| format!("kafka.options.{k}: {e}"))?;
        }
        Ok(self)
    }
}

/// `text` with `${VAR}` and `${VAR:-default}` replaced by the environment's values.
pub fn expand_env(text: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return Err(format!("unclosed `${{` in `{text}`"));
        };
        let inner = &rest[start + 2..start + end];
        let value = match inner.split_once(":-") {
            Some((name, default)) => std::env::var(name).unwrap_or_else(|_| default.to_string()),
            None => std::env::var(inner).map_err(|_| {
                format!(
                    "environment variable `{inner}` is not set (write `${{{inner}:-default}}` for a default)"
                )
            })?,
        };
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `readiness:` in dq.yaml. The defaults are what a careful team would choose: every layer
/// blocks, a layer without checks or a dataset without rows in scope is NO-GO, warnings are
/// reported but do not block.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadinessPolicy {
    /// Layers (`silver`) or datasets (`silver.orders`) whose failures block. Default: all.
    pub blocking: Option<Vec<String>>,
    /// More warnings than this is NO-GO. Default: no limit.
    pub max_warnings: Option<usize>,
    /// A blocking layer needs at least this score (0..1). Default: none.
    pub min_score: Option<f64>,
    /// A layer with no checks is NO-GO.
    #[serde(default = "yes")]
    pub require_checks: bool,
    /// A dataset with no rows in scope is NO-GO.
    #[serde(default = "yes")]
    pub require_rows: bool,
    /// Stream checks must have run (and passed) for GO.
    #[serde(default)]
    pub require_streams: bool,
    /// A `change` or `anomaly` check without enough history is NO-GO (default: it is
    /// reported and does not block).
    #[serde(default)]
    pub require_history: bool,
}

impl Default for ReadinessPolicy {
    fn default() -> Self {
        ReadinessPolicy {
            blocking: None,
            max_warnings: None,
            min_score: None,
            require_checks: true,
            require_rows: true,
            require_streams: false,
            require_history: false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn expands_variables_with_defaults() {
        assert_eq!(
            super::expand_env("${DQ_SURELY_UNSET_VAR:-127.0.0.1:9092}").unwrap(),
            "127.0.0.1:9092"
        );
        assert_eq!(
            super::expand_env("a-${DQ_SURELY_UNSET_VAR:-}-b").unwrap(),
            "a--b"
        );
        assert_eq!(super::expand_env("plain").unwrap(), "plain");
    }

    #[test]
    fn engine_timeouts_are_read_and_checked() {
        use super::{BallistaSetting, EngineSetting};
        let setting = |stall: &str| {
            EngineSetting::Ballista(BallistaSetting {
                ballista: "df://scheduler:50050".into(),
                connect_timeout: Some("3s".into()),
                stall_timeout: Some(stall.into()),
            })
        };
        match EngineSetting::resolve(Some(&setting("90s")), None).unwrap() {
            crate::engine::cluster::Engine::Ballista {
                connect_timeout,
                stall_timeout,
                ..
            } => {
                assert_eq!(connect_timeout, std::time::Duration::from_secs(3));
                assert_eq!(stall_timeout, std::time::Duration::from_secs(90));
            }
            other => panic!("{other:?}"),
        }
        // `--engine` names another scheduler; the environment's timeouts still hold.
        match EngineSetting::resolve(Some(&setting("5s")), Some("df://other:1")).unwrap() {
            crate::engine::cluster::Engine::Ballista {
                host,
                stall_timeout,
                ..
            } => {
                assert_eq!(host, "other");
                assert_eq!(stall_timeout, std::time::Duration::from_secs(5));
            }
            other => panic!("{other:?}"),
        }
        let e = EngineSetting::resolve(Some(&setting("soon")), None).unwrap_err();
        assert!(e.contains("engine.stall_timeout"), "{e}");
    }

    #[test]
    fn an_unset_variable_is_an_error_naming_it() {
        let e = super::expand_env("a-${DQ_SURELY_UNSET_VAR}-b").unwrap_err();
        assert!(e.contains("`DQ_SURELY_UNSET_VAR` is not set"), "{e}");
        assert!(super::expand_env("${DQ_SURELY_UNSET_VAR").is_err());
    }
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Example failing rows kept per failed check.
    pub sample_failures: Option<usize>,
    /// `error` (default) or `warn`: which severity makes the run fail.
    pub fail_on: Option<String>,
    /// Memory limit for the engine, e.g. `2GB`; beyond it operators spill to disk.
    pub memory_limit: Option<String>,
}

/// A loaded project: the parsed dq.yaml and the directory it lives in.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub file: PathBuf,
    pub config: ProjectFile,
}

impl Project {
    /// Finds dq.yaml in `start` or its parents, as cargo finds Cargo.toml.
    pub fn discover(start: &Path) -> Result<Project> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            let candidate = d.join(PROJECT_FILE);
            if candidate.is_file() {
                return Project::load(&candidate);
            }
            dir = d.parent();
        }
        Err(DqError::Usage(format!(
            "no {PROJECT_FILE} found in {} or any parent directory (use --config PATH)",
            start.display()
        )))
    }

    pub fn load(file: &Path) -> Result<Project> {
        let text = super::read_text(file)
            .map_err(|e| DqError::Usage(format!("cannot read config {}: {e}", file.display())))?;
        let config: ProjectFile = yaml::parse(file, &text).map_err(|d| DqError::Config(vec![d]))?;
        let root = file
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let project = Project {
            root,
            file: file.to_path_buf(),
            config,
        };
        project.check(&text)?;
        Ok(project)
    }

    fn check(&self, text: &str) -> Result<()> {
        let mut problems = Vec::new();
        if self.config.environments.is_empty() {
            problems.push(Diagnostic::new(&self.file, 0, 0, "no environments defined"));
        }
        if let Some(default) = &self.config.default_env {
            if !self.config.environments.contains_key(default) {
                let (line, col) = yaml::locate_key(text, 1, "default_env").unwrap_or((0, 0));
                problems.push(
                    Diagnostic::new(
                        &self.file,
                        line,
                        col,
                        format!("default_env `{default}` is not among the environments"),
                    )
                    .with_help(self.env_help(default)),
                );
            }
        }
        if let Some(fail_on) = &self.config.defaults.fail_on {
            if fail_on != "error" && fail_on != "warn" {
                let (line, col) = yaml::locate_key(text, 1, "fail_on").unwrap_or((0, 0));
                problems.push(Diagnostic::new(
                    &self.file,
                    line,
                    col,
                    format!("fail_on must be `error` or `warn`, not `{fail_on}`"),
                ));
            }
        }
        if let Some(min) = self.config.readiness.as_ref().and_then(|r| r.min_score) {
            if !(0.0..=1.0).contains(&min) {
                let (line, col) = yaml::locate_key(text, 1, "min_score").unwrap_or((0, 0));
                problems.push(Diagnostic::new(
                    &self.file,
                    line,
                    col,
                    format!("min_score must be within 0..1, not {min}"),
                ));
            }
        }
        for (name, env) in &self.config.environments {
            if let Some(as_of) = &env.as_of {
                if let Err(e) = crate::time::parse_instant(as_of) {
                    let (line, col) = yaml::locate_key(text, 1, "as_of").unwrap_or((0, 0));
                    problems.push(Diagnostic::new(
                        &self.file,
                        line,
                        col,
                        format!("environment `{name}`: {e}"),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DqError::Config(problems))
        }
    }

    fn env_help(&self, given: &str) -> Option<String> {
        let names: Vec<&str> = self
            .config
            .environments
            .keys()
            .map(String::as_str)
            .collect();
        Some(match closest(given, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? environments: {}", names.join(", ")),
            None => format!("environments: {}", names.join(", ")),
        })
    }

    /// The environment named `name`, or the default one.
    pub fn environment(&self, name: Option<&str>) -> Result<(String, &Environment)> {
        let name = match name.or(self.config.default_env.as_deref()) {
            Some(n) => n.to_string(),
            None if self.config.environments.len() == 1 => self
                .config
                .environments
                .keys()
                .next()
                .cloned()
                .unwrap_or_default(),
            None => {
                return Err(DqError::Usage(format!(
                    "several environments and no default_env in {}: pass --env",
                    self.file.display()
                )));
            }
        };
        match self.config.environments.get(&name) {
            Some(env) => Ok((name, env)),
            None => Err(DqError::Usage(format!(
                "unknown environment `{name}`{}",
                self.env_help(&name)
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default()
            ))),
        }
    }

    pub fn rules_dir(&self) -> PathBuf {
        self.root.join(&self.config.rules_dir)
    }
}
