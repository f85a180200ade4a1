//! `dq profile` and `dq suggest`: from "here is my lake" to a reviewed rule set.
//!
//! A dataset is named as it is declared (`silver.orders`) or, before any rule exists, by
//! its path under the environment's lake (`silver/orders`) or a full URL. Both commands
//! run on this machine (the profile's aggregates are dq's own) and never write the lake.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::rules::{DatasetSpec, Located, TableFormat, to_identifier};
use crate::error::DqError;
use crate::profile::DatasetProfile;
use crate::run::Context;
use crate::suggest::{Declaration, Suggestion};

/// A dataset to profile: declared in the rules, or found by its path.
pub struct Target {
    pub spec: DatasetSpec,
    pub url: url::Url,
    /// Declared in `rules/` (otherwise named by a path).
    pub declared: bool,
}

fn copy_spec(d: &DatasetSpec) -> DatasetSpec {
    DatasetSpec {
        layer: d.layer.clone(),
        name: d.name.clone(),
        path: d.path.clone(),
        format: d.format.clone(),
        partitioning: d.partitioning.clone(),
        scope: d.scope.clone(),
        description: d.description.clone(),
        checks: vec![],
        at: d.at.clone(),
    }
}

/// The datasets named on the command line (declared names, paths or URLs) and the
/// datasets of the named layers. Names that are neither are a usage error (exit 2).
pub fn targets(cx: &Context, names: &[String], layers: &[String]) -> Result<Vec<Target>, DqError> {
    if names.is_empty() && layers.is_empty() {
        return Err(DqError::Usage(
            "name a dataset (`silver.orders`, or a path under the lake such as `silver/orders`) or a layer (`--layer silver`)".into(),
        ));
    }
    let o = &cx.options;
    let declared = |d: &DatasetSpec| -> Result<Target, DqError> {
        Ok(Target {
            spec: copy_spec(d),
            url: crate::engine::store::dataset_url(&o.project_root, &o.lake, &d.path)
                .map_err(DqError::Usage)?,
            declared: true,
        })
    };
    let mut out = Vec::new();
    for layer in layers {
        let in_layer: Vec<&DatasetSpec> = cx
            .rules
            .datasets
            .iter()
            .filter(|d| &d.layer == layer)
            .collect();
        if in_layer.is_empty() {
            return Err(DqError::Usage(format!(
                "no datasets are declared in layer `{layer}` (layers: {})",
                cx.rules.layers.join(", ")
            )));
        }
        for d in in_layer {
            out.push(declared(d)?);
        }
    }
    for name in names {
        if let Some(d) = cx.rules.dataset(name) {
            out.push(declared(d)?);
            continue;
        }
        let looks_like_path = name.contains('/') || name.contains("://");
        let url = crate::engine::store::dataset_url(&o.project_root, &o.lake, name).ok();
        let exists_locally = url
            .as_ref()
            .filter(|u| u.scheme() == "file")
            .and_then(|u| u.to_file_path().ok())
            .map(|p| p.exists());
        let usable = match exists_locally {
            Some(exists) => exists,
            None => looks_like_path && url.is_some(),
        };
        let Some(url) = url.filter(|_| usable) else {
            let declared: Vec<String> = cx.rules.datasets.iter().map(|d| d.qualified()).collect();
            let hint = crate::error::closest(name, declared.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(DqError::Usage(format!(
                "dataset `{name}` is not declared in rules/ and is not a path under the lake ({}); {hint}declared: {}",
                o.lake,
                declared.join(", ")
            )));
        };
        let segments: Vec<&str> = url
            .path()
            .split('/')
            .filter(|s| !s.is_empty() && !s.contains('='))
            .collect();
        let last = segments.last().copied().unwrap_or("dataset");
        let last = last.strip_suffix(".parquet").unwrap_or(last);
        let layer = if segments.len() >= 2 {
            segments[segments.len() - 2]
        } else {
            "lake"
        };
        let delta = url
            .to_file_path()
            .map(|p| p.join("_delta_log").is_dir())
            .unwrap_or(false);
        out.push(Target {
            spec: DatasetSpec {
                layer: to_identifier(layer),
                name: to_identifier(last),
                path: name.clone(),
                format: if delta {
                    TableFormat::Delta { snapshot: None }
                } else {
                    TableFormat::Parquet
                },
                partitioning: vec![],
                scope: None,
                description: None,
                checks: vec![],
                at: Located {
                    file: Arc::new(PathBuf::from("<command line>")),
                    line: 0,
                    column: 0,
                },
            },
            url,
            declared: false,
        });
    }
    Ok(out)
}

fn partition_type_name(t: &datafusion::arrow::datatypes::DataType) -> &'static str {
    use datafusion::arrow::datatypes::DataType as D;
    match t {
        D::Date32 => "date",
        D::Int64 => "int64",
        D::Int32 => "int32",
        _ => "string",
    }
}

/// Profiles every target on this machine, one scan each.
pub async fn profile_all(
    cx: &Context,
    targets: &mut [Target],
) -> Result<Vec<DatasetProfile>, DqError> {
    let mut out = Vec::new();
    for t in targets.iter_mut() {
        let session = crate::engine::session(cx.options.memory_limit)?;
        let read = crate::engine::dataset::ReadScope {
            scope: t.spec.scope.as_deref(),
            as_of: cx.options.as_of,
            snapshot_at: cx.options.snapshot_at,
            distributed: false,
        };
        if !t.declared && t.spec.format == TableFormat::Parquet {
            // Hive partition folders become columns of the dataset.
            t.spec.partitioning = crate::engine::parquet_folder::discover_partitions(
                &session,
                &t.url,
                &cx.options.storage,
            )
            .await
            .map_err(|e| DqError::Runtime(format!("dataset {}: {e}", t.spec.qualified())))?;
        }
        let p = crate::profile::profile(&session, &t.spec, &t.url, &cx.options.storage, read)
            .await
            .map_err(|e| DqError::Runtime(format!("dataset {}: {e}", t.spec.qualified())))?;
        out.push(p);
    }
    Ok(out)
}

/// What `dq suggest` wrote, for the summary line.
pub struct Suggested {
    pub text: String,
    pub kept: usize,
    pub dropped: Vec<String>,
}

fn declaration(t: &Target) -> Declaration {
    let default_path = format!("{}/{}", t.spec.layer, t.spec.name);
    Declaration {
        layer: t.spec.layer.clone(),
        name: t.spec.name.clone(),
        path: (t.spec.path != default_path).then(|| t.spec.path.clone()),
        format: match &t.spec.format {
            TableFormat::Delta { .. } => Some("delta".into()),
            TableFormat::Parquet => None,
        },
        scope: t.spec.scope.clone(),
        partitioning: t
            .spec
            .partitioning
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    partition_type_name(&p.data_type).to_string(),
                )
            })
            .collect(),
    }
}

/// Suggests rules for targets of one layer, validates them on the same data, and keeps
/// those that pass (a format a few rows miss is kept with the fraction it needs, as a
/// warning).
pub async fn suggest(
    cx: &mut Context,
    targets: &mut [Target],
    file_name: &Path,
) -> Result<Suggested, DqError> {
    let layers: std::collections::BTreeSet<&str> =
        targets.iter().map(|t| t.spec.layer.as_str()).collect();
    if layers.len() > 1 {
        return Err(DqError::Usage(format!(
            "a rules file holds one layer; these datasets are in {}: suggest one layer at a time",
            layers.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let layer = targets[0].spec.layer.clone();
    let profiles = profile_all(cx, targets).await?;
    let mut datasets: Vec<(Declaration, Vec<Suggestion>)> = targets
        .iter()
        .zip(&profiles)
        .map(|(t, p)| {
            let parts: Vec<String> = t.spec.partitioning.iter().map(|p| p.name.clone()).collect();
            (declaration(t), crate::suggest::candidates(p, &parts))
        })
        .collect();
    let header = format!(
        "Suggested by `dq suggest` from the data as of {}: review before relying on it.\n\
         Each check passed on that data; the comment above it is its evidence.",
        cx.options.as_of.format("%Y-%m-%d %H:%M UTC")
    );
    let (text, lines) = crate::suggest::layer_file(&header, &layer, &datasets);
    // Validate the candidates on the same data.
    let set = crate::config::rules::load_sources(&[(file_name.to_path_buf(), text.clone())])
        .map_err(|d| {
            DqError::Runtime(format!(
                "suggested rules do not parse (a dq bug): {}",
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
    let ids: Vec<String> = set.datasets.iter().map(|d| d.qualified()).collect();
    cx.rules = set;
    cx.options.layers = vec![];
    cx.options.datasets = ids;
    cx.options.sample_failures = 0;
    cx.record_history = false;
    cx.show_progress = false;
    let report = cx.validate("suggest").await?;
    let mut dropped = Vec::new();
    let mut kept = 0;
    for ((_, suggestions), at) in datasets.iter_mut().zip(&lines) {
        let mut keep = Vec::new();
        for (s, line) in suggestions.drain(..).zip(at) {
            let result = report.checks.iter().find(|c| {
                c.source
                    .rsplit(':')
                    .nth(1)
                    .and_then(|l| l.parse::<u64>().ok())
                    == Some(*line)
            });
            match result {
                Some(r) if r.status == crate::report::Status::Pass => keep.push(s),
                Some(r) if s.kind == "pattern" && r.failed_fraction.is_some_and(|f| f < 0.01) => {
                    let f = r.failed_fraction.unwrap_or(0.0);
                    let allowed = nice_fraction(f * 2.0);
                    let mut s = s;
                    s.check = format!(
                        "{}, max_failed_fraction: {allowed}, severity: warn }}",
                        s.check.trim_end_matches(" }").trim_end_matches('}')
                    );
                    s.evidence = format!(
                        "{} of {} rows do not match today ({:.4} %); all sampled values matched",
                        r.failed_rows.unwrap_or(0),
                        r.rows_checked.unwrap_or(0),
                        f * 100.0
                    );
                    keep.push(s);
                }
                Some(r) => dropped.push(format!(
                    "{}: {} ({})",
                    r.id,
                    s.check,
                    r.message
                        .clone()
                        .unwrap_or_else(|| format!("{:?}", r.status).to_lowercase())
                )),
                None => dropped.push(format!("{} (no result)", s.check)),
            }
        }
        kept += keep.len();
        *suggestions = keep;
    }
    let (text, _) = crate::suggest::layer_file(&header, &layer, &datasets);
    Ok(Suggested {
        text,
        kept,
        dropped,
    })
}

/// A fraction rounded up to one significant digit (0.00023 → 0.0003).
fn nice_fraction(f: f64) -> String {
    if f <= 0.0 {
        return "0".into();
    }
    let magnitude = 10f64.powf(f.log10().floor());
    let v = (f / magnitude).ceil() * magnitude;
    let digits = (-magnitude.log10()).max(0.0) as usize;
    format!("{v:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_round_up() {
        assert_eq!(nice_fraction(0.00023), "0.0003");
        assert_eq!(nice_fraction(0.004), "0.004");
        assert_eq!(to_identifier("Order Events"), "order_events");
        assert_eq!(to_identifier("2024"), "_2024");
    }
}
