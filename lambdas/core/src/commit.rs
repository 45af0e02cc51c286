//! Commit ids as deltaship accepts them: full, lowercase, hexadecimal object names.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A full git commit id: 40 (SHA-1) or 64 (SHA-256) hexadecimal digits, kept in lowercase.
///
/// Abbreviated ids are refused on purpose: a build must be pinned to exactly the pushed commit,
/// and an abbreviation can become ambiguous as a repository grows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitId(String);

/// Why a string is not a [`CommitId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a full commit id (expected 40 or 64 hexadecimal digits)")]
pub struct InvalidCommitId {
    /// The rejected text (shortened if very long, so that messages stay one readable line).
    pub value: String,
}

impl CommitId {
    /// Parses a full commit id; upper-case digits are accepted and normalised to lower case.
    pub fn parse(value: &str) -> Result<Self, InvalidCommitId> {
        let well_formed = matches!(value.len(), 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit());
        if well_formed { Ok(Self(value.to_ascii_lowercase())) } else { Err(InvalidCommitId { value: clip(value, 80) }) }
    }

    /// The full id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 digits, as shown to people (unambiguous in practice, like `git log --oneline`
    /// on a large repository).
    pub fn short(&self) -> &str {
        short(&self.0)
    }

    /// Whether this is git's null id (all zeros), which some tools send for "no commit".
    pub fn is_null(&self) -> bool {
        self.0.bytes().all(|b| b == b'0')
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CommitId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CommitId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Shortens `text` to at most `max` characters for an error message, marking the cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The first 12 digits of a commit id as text, as shown to people ([`CommitId::short`]); the text
/// as it is when shorter.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_full_ids_and_normalises_case() {
        let sha1 = "3E5983A1B2C3D4E5F60718293A4B5C6D7E8F9012";
        let id = CommitId::parse(sha1).unwrap();
        assert_eq!(id.as_str(), sha1.to_ascii_lowercase());
        assert_eq!(id.short(), "3e5983a1b2c3");
        let sha256 = "a".repeat(64);
        assert_eq!(CommitId::parse(&sha256).unwrap().as_str(), sha256);
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "3e5983",
            "3e5983DESTINATION",
            &"g".repeat(40),
            &"a".repeat(41),
            &"a".repeat(63),
            " 3e5983a1b2c3d4e5f60718293a4b5c6d7e8f901",
        ] {
            let err = CommitId::parse(bad).unwrap_err();
            assert!(err.to_string().contains("not a full commit id"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn null_id_is_recognised() {
        assert!(CommitId::parse(&"0".repeat(40)).unwrap().is_null());
        assert!(!CommitId::parse(&format!("{}1", "0".repeat(39))).unwrap().is_null());
    }

    #[test]
    fn clip_marks_long_text() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("ééééé", 2), "éé…");
    }
}
