//! Project names, as they appear in `/ws/projects/{project}`.

use std::fmt;

/// The longest project name accepted.
pub const MAX_LEN: usize = 64;

/// A validated project name: 1–64 characters of `A–Z a–z 0–9 . _ -`, not `.` or `..`.
///
/// Names end up in payloads and logs, so anything that could smuggle a path or
/// markup is refused at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectName(String);

/// Why a project name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProjectName {
    /// The name was empty.
    #[error("project name is empty")]
    Empty,
    /// The name was longer than [`MAX_LEN`].
    #[error("project name is longer than {MAX_LEN} characters")]
    TooLong,
    /// The name was `.` or `..`.
    #[error("project name may not be `.` or `..`")]
    Dots,
    /// The name held a character outside the allowed set.
    #[error("project name may only hold letters, digits, `.`, `_` and `-`")]
    BadCharacter,
}

impl ProjectName {
    /// Checks `name` against the allowed charset and length.
    pub fn parse(name: &str) -> Result<Self, InvalidProjectName> {
        if name.is_empty() {
            return Err(InvalidProjectName::Empty);
        }
        if name.len() > MAX_LEN {
            return Err(InvalidProjectName::TooLong);
        }
        if name == "." || name == ".." {
            return Err(InvalidProjectName::Dots);
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(InvalidProjectName::BadCharacter);
        }
        Ok(ProjectName(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in ["demo", "my-project", "a.b_c-1", "X", &"a".repeat(MAX_LEN)] {
            assert_eq!(ProjectName::parse(name).map(|p| p.to_string()), Ok(name.to_string()));
        }
    }

    #[test]
    fn refuses_what_could_be_a_path_or_markup() {
        assert_eq!(ProjectName::parse(""), Err(InvalidProjectName::Empty));
        assert_eq!(ProjectName::parse("."), Err(InvalidProjectName::Dots));
        assert_eq!(ProjectName::parse(".."), Err(InvalidProjectName::Dots));
        assert_eq!(ProjectName::parse(&"a".repeat(MAX_LEN + 1)), Err(InvalidProjectName::TooLong));
        for bad in ["a/b", "a b", "<script>", "é", "a\\b", "a%2F"] {
            assert_eq!(ProjectName::parse(bad), Err(InvalidProjectName::BadCharacter), "{bad}");
        }
    }
}
