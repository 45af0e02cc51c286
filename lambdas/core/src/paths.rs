//! Which paths a pattern stands for: the one place for deltaship's path and glob rules, used by
//! manifests, `deltaship.toml` and the planner's matcher alike.
//!
//! An entry of `watch`, `ignore`, `depends_on` or `deploy_all` is a path or a glob written
//! relative to the folder of its file. [`resolve_pattern`] makes it repository-relative. Then:
//!
//! - **a path stands for itself and everything below it**: `docs` is `docs` and `docs/**`
//!   (`pattern_globs`, and the matcher's `Shape::AtOrBelow`);
//! - in globs `*` and `?` never cross a `/`; `**` does (`compile_glob`);
//! - a component is a glob when it has a wildcard ([`is_glob`]); everything before the first such
//!   component is a literal folder that the matcher looks up without a regex (`shape`).

use globset::GlobBuilder;

use crate::source::ManifestError;

/// Resolves every entry of a list of paths/globs, recording errors under `key[index]`.
pub(crate) fn resolve_list(
    file: &str,
    folder: &str,
    key: &str,
    entries: &[String],
    errors: &mut Vec<ManifestError>,
) -> Vec<String> {
    let mut resolved = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        match resolve_pattern(folder, entry).and_then(|pattern| {
            compile_globs(&pattern).map_err(|error| format!("`{entry}` is not a valid glob: {error}"))?;
            Ok(pattern)
        }) {
            Ok(pattern) => resolved.push(pattern),
            Err(problem) => errors.push(ManifestError::new(file, format!("{key}[{index}]"), problem)),
        }
    }
    resolved
}

/// Resolves a path or glob written in `folder` (repository-relative; empty for the root) into a
/// repository-relative pattern: `.` and `..` are applied, empty components dropped.
///
/// Errors: an empty entry, an absolute path, a backslash, `..` after a wildcard component (it
/// would not mean "the parent"), and anything that leaves the repository.
pub fn resolve_pattern(folder: &str, entry: &str) -> Result<String, String> {
    if entry.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    if entry.starts_with('/') {
        return Err(format!("`{entry}` is absolute; write it relative to the folder of this file"));
    }
    if entry.contains('\\') {
        return Err(format!("`{entry}` contains a backslash; separate folders with '/'"));
    }
    let mut parts: Vec<&str> = folder.split('/').filter(|part| !part.is_empty()).collect();
    for part in entry.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.pop() {
                Some(parent) if is_glob(parent) => {
                    return Err(format!("`{entry}` has `..` after a wildcard; write the path without it"));
                }
                Some(_) => {}
                None => return Err(format!("`{entry}` leaves the repository")),
            },
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// Whether `text` (a pattern, or one component of it) has a wildcard or an escape, and so is not
/// a literal path.
pub fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// The globs a resolved pattern stands for: itself, and everything below it.
pub(crate) fn pattern_globs(pattern: &str) -> Vec<String> {
    if pattern.is_empty() || pattern == "**" {
        vec!["**".to_owned()]
    } else if pattern.ends_with("/**") {
        vec![pattern.to_owned()]
    } else {
        vec![pattern.to_owned(), format!("{pattern}/**")]
    }
}

/// Compiles a resolved pattern's globs with the matching rules deltaship uses everywhere.
pub(crate) fn compile_globs(pattern: &str) -> Result<Vec<globset::Glob>, globset::Error> {
    pattern_globs(pattern).iter().map(|glob| compile_glob(glob)).collect()
}

pub(crate) fn compile_glob(glob: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(glob).literal_separator(true).backslash_escape(true).build()
}

/// A resolved pattern split into a literal folder and the rest: how the planner's matcher keeps
/// it (see the matcher's module docs for what each shape costs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape<'p> {
    /// A literal path: itself and everything below.
    AtOrBelow(&'p str),
    /// Everything below a literal folder (`""` is the root: every path).
    Below(&'p str),
    /// Below a literal folder, where a component below it matches a one-component glob.
    Scoped {
        /// The literal folder (`""` for the root).
        folder: &'p str,
        /// The one-component glob.
        component: &'p str,
        /// Whether the file name itself may match (`F/**/C`), or only a folder (`F/**/C/**`).
        file: bool,
    },
    /// Anything else: a glob whose matches all lie below the literal folder.
    General {
        /// The literal folder before the first wildcard component (`""` for the root).
        folder: &'p str,
    },
}

/// Splits a resolved pattern (as [`resolve_pattern`] gives it) into its shape.
pub(crate) fn shape(pattern: &str) -> Shape<'_> {
    if pattern.is_empty() || pattern == "**" {
        return Shape::Below("");
    }
    if !is_glob(pattern) {
        return Shape::AtOrBelow(pattern);
    }
    if let Some(folder) = pattern.strip_suffix("/**")
        && !is_glob(folder)
    {
        return Shape::Below(folder);
    }
    // `F/**/rest` or `**/rest`, with `F` literal and `rest` `C` or `C/**`.
    let split = match pattern.strip_prefix("**/") {
        Some(rest) => Some(("", rest)),
        None => pattern.split_once("/**/").filter(|(folder, _)| !is_glob(folder)),
    };
    if let Some((folder, rest)) = split {
        let (component, file) = match rest.strip_suffix("/**") {
            Some(component) => (component, false),
            None => (rest, true),
        };
        if !component.is_empty() && !component.contains('/') && !component.contains("**") {
            return Shape::Scoped { folder, component, file };
        }
    }
    let literal_end = pattern
        .split('/')
        .take_while(|part| !is_glob(part))
        .map(|part| part.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    Shape::General { folder: pattern.get(..literal_end).unwrap_or("") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_pattern_table() {
        let table = [
            ("services/a", ".", Ok("services/a")),
            ("services/a", "src", Ok("services/a/src")),
            ("services/a", "./src//lib/", Ok("services/a/src/lib")),
            ("services/a", "../common", Ok("services/common")),
            ("services/a", "../../Cargo.lock", Ok("Cargo.lock")),
            ("services/a", "../..", Ok("")),
            ("services/a", "**/*.md", Ok("services/a/**/*.md")),
            ("services/a", "src/../docs", Ok("services/a/docs")),
            ("", "docs", Ok("docs")),
            ("", "..", Err("leaves the repository")),
            ("services/a", "../../..", Err("leaves the repository")),
            ("services/a", "../../../x", Err("leaves the repository")),
            ("services/a", "*/..", Err("after a wildcard")),
            ("services/a", "/abs", Err("is absolute")),
            ("services/a", "", Err("must not be empty")),
        ];
        for (folder, entry, expected) in table {
            let got = resolve_pattern(folder, entry);
            match expected {
                Ok(pattern) => assert_eq!(got.as_deref(), Ok(pattern), "{folder} + {entry}"),
                Err(problem) => {
                    assert!(got.as_ref().is_err_and(|p| p.contains(problem)), "{folder} + {entry}: {got:?}");
                }
            }
        }
    }

    #[test]
    fn pattern_globs_cover_the_path_and_below() {
        assert_eq!(pattern_globs("docs"), ["docs", "docs/**"]);
        assert_eq!(pattern_globs("docs/**"), ["docs/**"]);
        assert_eq!(pattern_globs(""), ["**"]);
    }

    #[test]
    fn shapes() {
        let table = [
            ("", Shape::Below("")),
            ("**", Shape::Below("")),
            ("docs", Shape::AtOrBelow("docs")),
            ("services/a/Cargo.toml", Shape::AtOrBelow("services/a/Cargo.toml")),
            ("services/a/**", Shape::Below("services/a")),
            ("services/a/**/*.md", Shape::Scoped { folder: "services/a", component: "*.md", file: true }),
            ("**/*.md", Shape::Scoped { folder: "", component: "*.md", file: true }),
            ("**/target/**", Shape::Scoped { folder: "", component: "target", file: false }),
            ("a/**/b/**", Shape::Scoped { folder: "a", component: "b", file: false }),
            ("services/a/src/*.rs", Shape::General { folder: "services/a/src" }),
            ("services/*/x", Shape::General { folder: "services" }),
            ("*.md", Shape::General { folder: "" }),
            ("a/**/b/c", Shape::General { folder: "a" }),
            ("a/**/**", Shape::General { folder: "a" }),
            ("a/**/b**c", Shape::General { folder: "a" }),
            ("a/{b,c}/**", Shape::General { folder: "a" }),
            ("a*/**/x", Shape::General { folder: "" }),
            ("a/b\\*c", Shape::General { folder: "a" }),
        ];
        for (pattern, expected) in table {
            assert_eq!(shape(pattern), expected, "{pattern}");
        }
    }

    #[test]
    fn one_rule_for_what_is_a_glob() {
        for literal in ["docs", "services/a/Cargo.toml", "a.b-c_d", ""] {
            assert!(!is_glob(literal), "{literal}");
        }
        for glob in ["*.md", "**", "a?", "[ab]", "{a,b}", "a\\*"] {
            assert!(is_glob(glob), "{glob}");
        }
    }
}
