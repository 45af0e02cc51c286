//! Files read from a repository at a commit, and the problems found in them.
//!
//! Every file deltaship reads (service manifests, `deltaship.toml`) arrives as a [`SourceFile`]
//! and is parsed strictly: a problem is a [`ManifestError`] that names the file, the key and,
//! when the TOML itself is broken, the line.

use std::fmt;

use serde::Deserialize;

/// A file read from the repository at the commit being planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Repository-relative path with `/` separators, e.g. `services/api/service.toml`.
    pub path: String,
    /// The file's bytes.
    pub contents: Vec<u8>,
}

impl SourceFile {
    /// A file from its path and contents.
    pub fn new(path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        Self { path: path.into(), contents: contents.into() }
    }
}

/// A problem in one file, naming the file, the key (when there is one) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestError {
    /// Repository-relative path of the file.
    pub file: String,
    /// Where in the file: a line number when the TOML itself is broken.
    pub line: Option<usize>,
    /// The key, e.g. `deploy.cluster` or `watch[1]`, when the problem is with one.
    pub key: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl ManifestError {
    /// A problem in `file`, at `key` when there is one.
    pub(crate) fn new(file: &str, key: impl Into<Option<String>>, problem: impl Into<String>) -> Self {
        Self { file: file.to_owned(), line: None, key: key.into(), problem: problem.into() }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for ManifestError {}

/// Parses TOML into `T`, turning any problem into an error that names the key and line.
pub(crate) fn parse_toml<T: for<'de> Deserialize<'de>>(file: &SourceFile) -> Result<T, ManifestError> {
    let path = file.path.as_str();
    let text = std::str::from_utf8(&file.contents)
        .map_err(|error| ManifestError::new(path, None, format!("is not valid UTF-8 ({error})")))?;
    let line_of = |span: Option<std::ops::Range<usize>>| {
        span.map(|span| text.get(..span.start).unwrap_or(text).matches('\n').count() + 1)
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|error| ManifestError {
        line: line_of(error.span()),
        ..ManifestError::new(path, None, format!("is not valid TOML: {}", error.message().trim()))
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let key = error.path().to_string();
        ManifestError {
            line: line_of(error.inner().span()),
            ..ManifestError::new(path, (key != ".").then_some(key), error.inner().message().trim().to_owned())
        }
    })
}
