//! Typed errors of the library. The CLI turns them into messages and exit codes.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// A problem in a configuration or rules file, pointing at the place it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem concerns the file as a whole.
    pub line: u64,
    pub column: u64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        file: impl Into<PathBuf>,
        line: u64,
        column: u64,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            column,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?;
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Errors that stop dq before any data is scanned (exit code 2) or while it runs (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum DqError {
    /// Configuration or rules are invalid; every problem found is listed.
    #[error("{}", render_diagnostics(.0))]
    Config(Vec<Diagnostic>),
    /// The command line asks for something that does not exist (unknown env, layer, dataset).
    #[error("{0}")]
    Usage(String),
    /// Storage, engine or I/O failure outside any single check.
    #[error("{0}")]
    Runtime(String),
}

impl DqError {
    /// The documented process exit code for this error (SPEC §6).
    pub fn exit_code(&self) -> i32 {
        match self {
            DqError::Config(_) | DqError::Usage(_) => 2,
            DqError::Runtime(_) => 3,
        }
    }
}

fn render_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("error: {d}"));
    }
    let n = diagnostics.len();
    out.push_str(&format!(
        "\n{n} problem{} found; nothing was scanned",
        if n == 1 { "" } else { "s" }
    ));
    out
}

/// The closest valid name to `given`, if one is close enough to be a likely typo.
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(given, candidate)
            .max(strsim::normalized_damerau_levenshtein(given, candidate));
        if score >= 0.6 && best.is_none_or(|(_, s)| score > s) {
            best = Some((candidate, score));
        }
    }
    best.map(|(c, _)| c)
}

pub type Result<T, E = DqError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_typos_only() {
        assert_eq!(closest("not_nul", ["not_null", "unique"]), Some("not_null"));
        assert_eq!(closest("zzz", ["not_null", "unique"]), None);
    }

    #[test]
    fn diagnostic_renders_file_line_column() {
        let d = Diagnostic::new("rules/x.yaml", 3, 7, "bad").with_help(Some("fix it".into()));
        assert_eq!(d.to_string(), "rules/x.yaml:3:7: bad\n  help: fix it");
    }
}
