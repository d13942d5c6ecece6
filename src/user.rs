//! The identity of the person claiming a coupon.

use crate::validation::{FieldError, check_identifier};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest accepted user id, in characters (matches the database constraint).
pub const USER_ID_MAX_CHARS: usize = 128;

/// A member id from the shop's own identity system, validated once at the edge.
///
/// Control characters are refused so that an id can never break the tab-separated queue
/// entries or a log line; invisible formatting characters and decomposed letters, so that two
/// ids that look the same are the same (`crate::text`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Accepts 1–128 characters with no control characters and no surrounding whitespace.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let field = "user_id";
        check_identifier(field, raw, USER_ID_MAX_CHARS)?;
        // Refused rather than composed: a member who claimed under the decomposed spelling
        // would otherwise become another member, with a coupon of their own.
        if !crate::text::is_nfc(raw) {
            return Err(FieldError::new(
                field,
                "must be in Unicode normalization form C (NFC): compose accented letters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = FieldError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_member_id_is_accepted() {
        assert_eq!(UserId::parse("member-42").unwrap().as_str(), "member-42");
    }

    #[test]
    fn korean_and_emoji_ids_are_accepted() {
        assert!(UserId::parse("회원🎟️42").is_ok());
    }

    #[test]
    fn an_empty_or_blank_id_is_refused() {
        assert_eq!(UserId::parse("").unwrap_err().reason, "must not be empty");
        assert_eq!(
            UserId::parse("   ").unwrap_err().reason,
            "must not be empty"
        );
    }

    #[test]
    fn an_id_of_129_characters_is_refused_and_128_accepted() {
        assert!(UserId::parse(&"가".repeat(128)).is_ok());
        let err = UserId::parse(&"가".repeat(129)).unwrap_err();
        assert_eq!(err.field, "user_id");
        assert!(err.reason.contains("at most 128"));
    }

    #[test]
    fn ids_with_tabs_newlines_or_nul_are_refused() {
        for raw in ["a\tb", "a\nb", "a\0b"] {
            assert!(UserId::parse(raw).unwrap_err().reason.contains("control"));
        }
    }

    #[test]
    fn ids_with_surrounding_whitespace_are_refused() {
        assert!(UserId::parse(" a").is_err());
        assert!(UserId::parse("a ").is_err());
    }
}
