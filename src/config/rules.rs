//! Rule files (`rules/*.yaml`): one layer per file, its datasets and their checks, and
//! reconciliations. Every problem in every file is collected before anything runs.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::yaml;
use crate::error::{Diagnostic, closest};
use crate::rules::reconciliation::ReconciliationSpec;
use crate::rules::{self, Placement, Rule, RuleKind, Thresholds};

pub use crate::rules::Severity;

/// Where something was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: Arc<PathBuf>,
    pub line: u64,
    pub column: u64,
}

impl Located {
    pub fn diagnostic(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.file.as_ref(), self.line, self.column, message)
    }
}

/// One configured check of a dataset.
#[derive(Debug)]
pub struct CheckSpec {
    pub kind: &'static RuleKind,
    pub rule: Box<dyn Rule>,
    pub name: String,
    pub severity: Severity,
    /// The check's own `where`.
    pub filter: Option<String>,
    pub description: Option<String>,
    pub thresholds: Thresholds,
    pub at: Located,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionColumn {
    pub name: String,
    pub data_type: DataType,
}

/// How a dataset's rows are stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TableFormat {
    /// A folder of Parquet files (Hive partition folders allowed): every file is read.
    #[default]
    Parquet,
    /// A Delta Lake table: the files of one snapshot of its log are read.
    Delta {
        /// The snapshot to read; None is the newest (or the run's `--snapshot-at`).
        snapshot: Option<SnapshotPin>,
    },
}

/// A Delta table version pinned in the rules.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotPin {
    Version(u64),
    /// The newest version committed at or before this instant.
    Timestamp(chrono::DateTime<chrono::Utc>),
}

#[derive(Debug)]
pub struct DatasetSpec {
    pub layer: String,
    pub name: String,
    /// Relative to the lake root, or a full URL.
    pub path: String,
    pub format: TableFormat,
    pub partitioning: Vec<PartitionColumn>,
    pub scope: Option<String>,
    pub description: Option<String>,
    pub checks: Vec<CheckSpec>,
    pub at: Located,
}

impl DatasetSpec {
    /// `layer.name`, the dataset's table name in SQL.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.layer, self.name)
    }
}

#[derive(Debug)]
pub struct Reconciliation {
    pub layer: String,
    pub spec: ReconciliationSpec,
    pub at: Located,
}

/// Everything under `rules/`.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub files: Vec<PathBuf>,
    pub layers: Vec<String>,
    pub datasets: Vec<DatasetSpec>,
    pub reconciliations: Vec<Reconciliation>,
    /// Kafka streams and their checks (`streams:` files).
    pub streams: Vec<crate::config::streams::StreamSpec>,
}

impl RuleSet {
    pub fn dataset(&self, qualified: &str) -> Option<&DatasetSpec> {
        self.datasets.iter().find(|d| d.qualified() == qualified)
    }

    /// Resolves `layer.name`, or `name` relative to `layer`, to a declared dataset's
    /// qualified name; Err with a suggestion otherwise.
    pub fn resolve_name(&self, reference: &str, layer: &str) -> Result<String, String> {
        let qualified = if reference.contains('.') {
            reference.to_string()
        } else {
            format!("{layer}.{reference}")
        };
        if self.dataset(&qualified).is_some() {
            return Ok(qualified);
        }
        let names: Vec<String> = self.datasets.iter().map(|d| d.qualified()).collect();
        let hint = closest(&qualified, names.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`? "))
            .unwrap_or_default();
        Err(format!(
            "unknown dataset `{reference}`; {hint}datasets: {}",
            names.join(", ")
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFileRaw {
    layer: Option<Spanned<String>>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    datasets: Vec<Spanned<DatasetRaw>>,
    #[serde(default)]
    reconciliations: Vec<Spanned<serde_json::Value>>,
    #[serde(default)]
    streams: Vec<Spanned<serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetRaw {
    name: String,
    path: Option<String>,
    #[serde(default = "parquet")]
    format: String,
    /// Delta only: `{ version: N }` or `{ timestamp: "…" }`.
    snapshot: Option<SnapshotRaw>,
    #[serde(default)]
    partitioning: Vec<PartitionRaw>,
    scope: Option<String>,
    description: Option<String>,
    #[serde(default)]
    checks: Vec<Spanned<serde_json::Value>>,
}

fn parquet() -> String {
    "parquet".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotRaw {
    version: Option<u64>,
    timestamp: Option<String>,
}

/// The dataset's `format` and `snapshot`, checked together.
fn table_format(
    format: &str,
    snapshot: Option<SnapshotRaw>,
    partitioned: bool,
) -> Result<TableFormat, String> {
    match format {
        "parquet" => match snapshot {
            Some(_) => Err("`snapshot` pins a Delta table version; this dataset is `format: parquet`".into()),
            None => Ok(TableFormat::Parquet),
        },
        "delta" => {
            if partitioned {
                return Err("a Delta table's partition columns come from its log; remove `partitioning`".into());
            }
            let snapshot = match snapshot {
                None => None,
                Some(SnapshotRaw { version: Some(v), timestamp: None }) => Some(SnapshotPin::Version(v)),
                Some(SnapshotRaw { version: None, timestamp: Some(t) }) => Some(SnapshotPin::Timestamp(
                    crate::time::parse_instant(&t).map_err(|e| format!("snapshot timestamp: {e}"))?,
                )),
                Some(_) => return Err("`snapshot` takes one of `version` or `timestamp`".into()),
            };
            Ok(TableFormat::Delta { snapshot })
        }
        "iceberg" => Err("format `iceberg` is not supported yet: no Iceberg reader for dq's DataFusion version exists; supported: parquet, delta".into()),
        other => Err(format!("unknown format `{other}`; supported: parquet, delta")),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PartitionRaw {
    Name(String),
    Typed {
        name: String,
        #[serde(rename = "type")]
        data_type: String,
    },
}

/// Keys every check accepts besides its kind's own parameters.
pub const COMMON_FIELDS: &[&str] = &[
    "name",
    "severity",
    "where",
    "description",
    "max_failed",
    "max_failed_fraction",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CommonRaw {
    name: Option<String>,
    #[serde(default)]
    severity: Severity,
    #[serde(rename = "where")]
    filter: Option<String>,
    description: Option<String>,
    max_failed: Option<u64>,
    max_failed_fraction: Option<f64>,
}

/// `s` made a dataset or layer identifier: lowercase letters, digits and `_`, not starting
/// with a digit (`Order Events` → `order_events`).
pub fn to_identifier(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads every `*.yaml` / `*.yml` under `dir` (sorted), collecting all problems.
pub fn load_dir(dir: &Path) -> Result<RuleSet, Vec<Diagnostic>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return Err(vec![Diagnostic::new(
                dir,
                0,
                0,
                format!("cannot read rules directory: {e}"),
            )]);
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(vec![Diagnostic::new(
            dir,
            0,
            0,
            "no rule files (*.yaml) in the rules directory: nothing would be checked",
        )]);
    }
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match super::read_text(&file) {
            Ok(text) => sources.push((file, text)),
            Err(e) => problems.push(Diagnostic::new(&file, 0, 0, format!("cannot read: {e}"))),
        }
    }
    match load_sources(&sources) {
        Ok(set) if problems.is_empty() => Ok(set),
        Ok(_) => Err(problems),
        Err(mut more) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

/// Parses rule files given as (path, text) pairs.
pub fn load_sources(sources: &[(PathBuf, String)]) -> Result<RuleSet, Vec<Diagnostic>> {
    let mut set = RuleSet::default();
    let mut problems = Vec::new();
    let mut layer_files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, text) in sources {
        set.files.push(path.clone());
        let file = Arc::new(path.clone());
        let raw: RulesFileRaw = match yaml::parse(path, text) {
            Ok(raw) => raw,
            Err(d) => {
                problems.push(d);
                continue;
            }
        };
        let at = |line: u64, column: u64| Located {
            file: file.clone(),
            line,
            column,
        };
        for stream in raw.streams {
            let (line, column) = yaml::position(&stream);
            match crate::config::streams::parse(stream.value, &at(line, column)) {
                Ok(spec) => {
                    if set.streams.iter().any(|s| s.name == spec.name) {
                        problems.push(
                            at(line, column)
                                .diagnostic(format!("stream `{}` is defined twice", spec.name)),
                        );
                    } else {
                        set.streams.push(spec);
                    }
                }
                Err(d) => problems.push(d),
            }
        }
        let Some(layer) = raw.layer else {
            if !raw.datasets.is_empty() || !raw.reconciliations.is_empty() {
                problems.push(Diagnostic::new(
                    path,
                    1,
                    1,
                    "missing `layer:` (e.g. `layer: silver`)",
                ));
            } else if !text.contains("streams:") {
                problems.push(Diagnostic::new(
                    path,
                    1,
                    1,
                    "a rules file needs `layer:` and `datasets:`, or `streams:`",
                ));
            }
            continue;
        };
        let (line, column) = yaml::position(&layer);
        let layer_name = layer.value.clone();
        if !is_identifier(&layer_name) {
            problems.push(at(line, column).diagnostic(format!(
                "layer name `{layer_name}` must be an identifier (letters, digits, _)"
            )));
            continue;
        }
        if let Some(other) = layer_files.insert(layer_name.clone(), path.clone()) {
            problems.push(at(line, column).diagnostic(format!(
                "layer `{layer_name}` is already defined in {}; one file per layer",
                other.display()
            )));
            continue;
        }
        set.layers.push(layer_name.clone());
        let mut seen_datasets = HashSet::new();
        for dataset in raw.datasets {
            let (line, column) = yaml::position(&dataset);
            let d = dataset.value;
            let here = at(line, column);
            if !is_identifier(&d.name) {
                problems.push(here.diagnostic(format!(
                    "dataset name `{}` must be an identifier (letters, digits, _)",
                    d.name
                )));
                continue;
            }
            if !seen_datasets.insert(d.name.clone()) {
                problems.push(here.diagnostic(format!(
                    "dataset `{}` is defined twice in layer {layer_name}",
                    d.name
                )));
                continue;
            }
            let format = match table_format(&d.format, d.snapshot, !d.partitioning.is_empty()) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(here.diagnostic(format!("dataset `{}`: {e}", d.name)));
                    TableFormat::Parquet
                }
            };
            let mut partitioning = Vec::new();
            for p in d.partitioning {
                match p {
                    PartitionRaw::Name(name) => partitioning.push(PartitionColumn {
                        name,
                        data_type: DataType::Utf8,
                    }),
                    PartitionRaw::Typed { name, data_type } => match partition_type(&data_type) {
                        Ok(t) => partitioning.push(PartitionColumn { name, data_type: t }),
                        Err(e) => problems
                            .push(here.diagnostic(format!("partition column `{name}`: {e}"))),
                    },
                }
            }
            let mut checks = Vec::new();
            let mut names = HashSet::new();
            for check in d.checks {
                let (line, column) = yaml::position(&check);
                let here = at(line, column);
                match parse_check(check.value, &here, text) {
                    Ok(c) => {
                        if !names.insert(c.name.clone()) {
                            problems.push(here.diagnostic(format!(
                                "two checks of dataset {}.{} are named `{}`; give one a distinct `name`",
                                layer_name, d.name, c.name
                            )));
                        }
                        checks.push(c);
                    }
                    Err(diag) => problems.push(diag),
                }
            }
            set.datasets.push(DatasetSpec {
                path: d.path.unwrap_or_else(|| format!("{layer_name}/{}", d.name)),
                format,
                layer: layer_name.clone(),
                name: d.name,
                partitioning,
                scope: d.scope,
                description: d.description,
                checks,
                at: here,
            });
        }
        for rec in raw.reconciliations {
            let (line, column) = yaml::position(&rec);
            let here = at(line, column);
            match serde_json::from_value::<ReconciliationSpec>(rec.value) {
                Ok(spec) if spec.tolerance.problem().is_some() => {
                    problems.push(here.diagnostic(format!(
                        "reconciliation `{}`: {}",
                        spec.name,
                        spec.tolerance.problem().unwrap_or_default()
                    )))
                }
                Ok(spec) => set.reconciliations.push(Reconciliation {
                    layer: layer_name.clone(),
                    spec,
                    at: here,
                }),
                Err(e) => problems.push(located_serde_error(&e.to_string(), &here, text, &[])),
            }
        }
    }
    // Medallion order first (bronze, silver, gold), then any other layer by name.
    let rank = |layer: &str| match layer {
        "bronze" => 0,
        "silver" => 1,
        "gold" => 2,
        _ => 3,
    };
    set.layers.sort_by_key(|l| (rank(l), l.clone()));
    set.datasets.sort_by_key(|d| rank(&d.layer));
    set.reconciliations.sort_by_key(|r| rank(&r.layer));
    // Names resolve only once every file is read.
    for rec in &set.reconciliations {
        for side in [&rec.spec.left, &rec.spec.right] {
            if let Err(e) = set.resolve_name(&side.dataset, &rec.layer) {
                problems.push(
                    rec.at
                        .diagnostic(format!("reconciliation `{}`: {e}", rec.spec.name)),
                );
            }
        }
    }
    for d in &set.datasets {
        for c in &d.checks {
            for dep in c.rule.depends_on() {
                if rules::kind("sql").is_some_and(|k| std::ptr::eq(k, c.kind)) {
                    continue; // sql queries are resolved when planned
                }
                if let Err(e) = set.resolve_name(&dep, &d.layer) {
                    problems.push(c.at.diagnostic(format!("{}: {e}", c.name)));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(problems)
    }
}

fn partition_type(name: &str) -> Result<DataType, String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "string" | "utf8" => DataType::Utf8,
        "date" => DataType::Date32,
        "int" | "int32" => DataType::Int32,
        "int64" | "bigint" => DataType::Int64,
        other => {
            return Err(format!(
                "unsupported partition type `{other}` (string, date, int32, int64)"
            ));
        }
    })
}

/// A serde error message inside a node starting at `at`, pointed at the offending key.
fn located_serde_error(message: &str, at: &Located, text: &str, extra: &[&str]) -> Diagnostic {
    let (message, help) = yaml::explain_serde_message(message, extra);
    let mut place = (at.line, at.column);
    let key = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.strip_suffix('`'))
        .or_else(|| message.strip_prefix('`').and_then(|r| r.split('`').next()))
        .map(|k| k.rsplit('.').next().unwrap_or(k));
    if let Some(key) = key {
        if let Some(found) = yaml::locate_key(text, at.line, key) {
            place = found;
        }
    }
    Diagnostic::new(at.file.as_ref(), place.0, place.1, message).with_help(help)
}

fn parse_check(
    value: serde_json::Value,
    at: &Located,
    text: &str,
) -> Result<CheckSpec, Diagnostic> {
    let serde_json::Value::Object(map) = value else {
        return Err(at.diagnostic(
            "a check is a map with one key, its kind, e.g. `- not_null: { columns: [id] }`",
        ));
    };
    if map.len() != 1 {
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        return Err(at.diagnostic(format!(
            "a check has exactly one kind key; found {} ({}) — put parameters inside the kind's map",
            keys.len(),
            keys.join(", ")
        )));
    }
    let (kind_name, params) = map.into_iter().next().expect("map has one entry");
    let kind_names = rules::dataset_kind_names();
    let kind = match rules::kind(&kind_name) {
        Some(k) if k.placement == Placement::Dataset => k,
        Some(_) => {
            return Err(at.diagnostic(format!(
                "`{kind_name}` is not a dataset check; write it under the file's `reconciliations:`"
            )));
        }
        None => {
            let help = match closest(&kind_name, kind_names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? kinds: {}", kind_names.join(", ")),
                None => format!("kinds: {}", kind_names.join(", ")),
            };
            let place = yaml::locate_key(text, at.line, &kind_name).unwrap_or((at.line, at.column));
            return Err(Diagnostic::new(
                at.file.as_ref(),
                place.0,
                place.1,
                format!("unknown check kind `{kind_name}`"),
            )
            .with_help(Some(help)));
        }
    };
    let mut params = match params {
        serde_json::Value::Object(m) => m,
        serde_json::Value::Null => Default::default(),
        other => {
            return Err(at.diagnostic(format!(
                "parameters of `{kind_name}` must be a map, not {other}"
            )));
        }
    };
    let mut common_map = serde_json::Map::new();
    for key in COMMON_FIELDS {
        if let Some(v) = params.remove(*key) {
            common_map.insert(key.to_string(), v);
        }
    }
    let common: CommonRaw = serde_json::from_value(serde_json::Value::Object(common_map))
        .map_err(|e| located_serde_error(&format!("{kind_name}: {e}"), at, text, &[]))?;
    let rule = (kind.parse)(serde_json::Value::Object(params)).map_err(|e| {
        let mut d = located_serde_error(&e, at, text, COMMON_FIELDS);
        d.message = format!("{kind_name}: {}", d.message);
        d
    })?;
    let thresholds = Thresholds {
        max_failed: common.max_failed,
        max_failed_fraction: common.max_failed_fraction,
    };
    if !kind.row_level && thresholds != Thresholds::default() {
        return Err(at.diagnostic(format!(
            "`{kind_name}` is not a row-level check: `max_failed` / `max_failed_fraction` do not apply"
        )));
    }
    if let Some(f) = thresholds.max_failed_fraction {
        if !(0.0..=1.0).contains(&f) {
            return Err(at.diagnostic(format!("max_failed_fraction must be within 0..1, not {f}")));
        }
    }
    Ok(CheckSpec {
        name: common.name.unwrap_or_else(|| rule.default_name()),
        kind,
        rule,
        severity: common.severity,
        filter: common.filter,
        description: common.description,
        thresholds,
        at: at.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<RuleSet, Vec<Diagnostic>> {
        load_sources(&[(PathBuf::from("rules/silver.yaml"), text.to_string())])
    }

    #[test]
    fn parses_a_layer() {
        let set = load(
            "layer: silver\ndatasets:\n  - name: orders\n    partitioning: [date]\n    checks:\n      - row_count: { min: 1 }\n      - not_null: { columns: [id], severity: warn }\n",
        )
        .unwrap();
        assert_eq!(set.datasets.len(), 1);
        let d = &set.datasets[0];
        assert_eq!(d.path, "silver/orders");
        assert_eq!(d.checks[1].name, "not_null(id)");
        assert_eq!(d.checks[1].severity, Severity::Warn);
        assert_eq!(d.checks[1].at.line, 7);
    }

    #[test]
    fn collects_every_problem_with_positions() {
        let problems = load(
            "layer: silver\ndatasets:\n  - name: orders\n    checks:\n      - not_nul: { columns: [id] }\n      - range: { column: a, mni: 1 }\n      - row_count: { min: 1, max_failed: 3 }\n",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!((problems[0].line, problems[0].column), (5, 9));
        assert!(
            problems[0]
                .help
                .as_ref()
                .unwrap()
                .contains("did you mean `not_null`")
        );
        assert_eq!(problems[1].line, 6);
        assert!(problems[1].message.contains("unknown field `mni`"));
        assert!(
            problems[1]
                .help
                .as_ref()
                .unwrap()
                .contains("did you mean `min`")
        );
        assert!(problems[2].message.contains("not a row-level check"));
    }

    #[test]
    fn delta_format_and_snapshot_pins() {
        let set = load(
            "layer: silver\ndatasets:\n  - name: a\n    format: delta\n  - name: b\n    format: delta\n    snapshot: { version: 7 }\n  - name: c\n    format: delta\n    snapshot: { timestamp: \"2026-11-30\" }\n",
        )
        .unwrap();
        assert_eq!(
            set.datasets[0].format,
            TableFormat::Delta { snapshot: None }
        );
        assert_eq!(
            set.datasets[1].format,
            TableFormat::Delta {
                snapshot: Some(SnapshotPin::Version(7))
            }
        );
        assert!(matches!(
            set.datasets[2].format,
            TableFormat::Delta {
                snapshot: Some(SnapshotPin::Timestamp(_))
            }
        ));
        for (text, expected) in [
            (
                "    format: parquet\n    snapshot: { version: 1 }\n",
                "this dataset is `format: parquet`",
            ),
            (
                "    format: delta\n    partitioning: [day]\n",
                "come from its log",
            ),
            (
                "    format: delta\n    snapshot: { version: 1, timestamp: \"2026-01-01\" }\n",
                "one of `version` or `timestamp`",
            ),
            (
                "    format: delta\n    snapshot: { timestamp: yesterday }\n",
                "snapshot timestamp",
            ),
            ("    format: iceberg\n", "no Iceberg reader"),
            ("    format: csv\n", "unknown format `csv`"),
        ] {
            let problems =
                load(&format!("layer: silver\ndatasets:\n  - name: a\n{text}")).unwrap_err();
            assert!(
                problems[0].message.contains(expected),
                "{text}: {problems:?}"
            );
            assert_eq!(problems[0].line, 3, "{problems:?}");
        }
    }

    #[test]
    fn syntax_errors_have_positions() {
        let problems = load("layer: silver\ndatasets:\n  - name: [orders\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].line >= 3, "{problems:?}");
    }

    #[test]
    fn unknown_dataset_fields_are_rejected() {
        let problems =
            load("layer: silver\ndatasets:\n  - name: orders\n    pathh: x\n").unwrap_err();
        assert!(
            problems[0].message.contains("unknown field `pathh`"),
            "{problems:?}"
        );
        assert!(
            problems[0]
                .help
                .as_ref()
                .unwrap()
                .contains("did you mean `path`")
        );
    }
}
