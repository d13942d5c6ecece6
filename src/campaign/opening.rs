//! How a campaign opens: first come, first served, or a fair draw among the members who entered
//! before the claim window (src/draw/).

use super::fields::storable;
use crate::validation::FieldError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kind of opening, as the API and PostgreSQL name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpeningKind {
    /// Claims are decided in the order they reach Redis (the default).
    #[default]
    FirstCome,
    /// Claims before the window are entries; the window opens with a draw among them.
    FairDraw,
}

impl OpeningKind {
    /// The name used in the API and in PostgreSQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstCome => "first_come",
            Self::FairDraw => "fair_draw",
        }
    }

    /// Accepts `first_come` or `fair_draw`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw {
            "first_come" => Ok(Self::FirstCome),
            "fair_draw" => Ok(Self::FairDraw),
            _ => Err(FieldError::new(
                "opening",
                "must be \"first_come\" or \"fair_draw\"",
            )),
        }
    }
}

/// A validated opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// First come, first served.
    FirstCome,
    /// Entries from `entries_open_at` until the window starts, then the draw.
    FairDraw {
        /// When entries are first accepted; before the window's start.
        entries_open_at: DateTime<Utc>,
    },
}

impl Opening {
    /// Checks the opening against the window's start: a fair draw needs `entries_open_at`, before
    /// `claim_starts_at`; a first-come campaign takes none (a field that would do nothing is
    /// refused, not dropped). `claim_starts_at` is `None` when that field was refused itself.
    pub fn parse(
        kind: Option<&str>,
        entries_open_at: Option<DateTime<Utc>>,
        claim_starts_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldError> {
        let kind = kind.map_or(Ok(OpeningKind::FirstCome), OpeningKind::parse)?;
        let field = "entries_open_at";
        match (kind, entries_open_at) {
            (OpeningKind::FirstCome, None) => Ok(Self::FirstCome),
            (OpeningKind::FirstCome, Some(_)) => Err(FieldError::new(
                field,
                "applies only to a \"fair_draw\" opening",
            )),
            (OpeningKind::FairDraw, None) => Err(FieldError::new(
                field,
                "is required for a \"fair_draw\" opening",
            )),
            (OpeningKind::FairDraw, Some(at)) => {
                storable(field, at)?;
                if claim_starts_at.is_some_and(|starts_at| at >= starts_at) {
                    return Err(FieldError::new(field, "must be before claim_starts_at"));
                }
                // A draw whose start has passed would have had no entries at all.
                if claim_starts_at.is_some_and(|starts_at| starts_at <= now) {
                    return Err(FieldError::new(
                        "claim_starts_at",
                        "must be in the future for a \"fair_draw\" opening",
                    ));
                }
                Ok(Self::FairDraw {
                    entries_open_at: at,
                })
            }
        }
    }

    /// The kind of this opening.
    pub fn kind(self) -> OpeningKind {
        match self {
            Self::FirstCome => OpeningKind::FirstCome,
            Self::FairDraw { .. } => OpeningKind::FairDraw,
        }
    }

    /// When entries open, for a fair draw.
    pub fn entries_open_at(self) -> Option<DateTime<Utc>> {
        match self {
            Self::FirstCome => None,
            Self::FairDraw { entries_open_at } => Some(entries_open_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn no_opening_is_first_come() {
        assert_eq!(
            Opening::parse(None, None, None, Utc::now()),
            Ok(Opening::FirstCome)
        );
        assert_eq!(
            Opening::parse(Some("first_come"), None, None, Utc::now()),
            Ok(Opening::FirstCome)
        );
    }

    #[test]
    fn an_unknown_opening_is_refused_by_name() {
        let err = Opening::parse(Some("lottery"), None, None, Utc::now()).unwrap_err();
        assert_eq!(err.field, "opening");
    }

    #[test]
    fn a_fair_draw_needs_entries_opening_before_the_window() {
        let start = Utc::now() + Duration::hours(1);
        let missing = Opening::parse(Some("fair_draw"), None, Some(start), Utc::now()).unwrap_err();
        assert_eq!(missing.field, "entries_open_at");
        for at in [start, start + Duration::seconds(1)] {
            let late =
                Opening::parse(Some("fair_draw"), Some(at), Some(start), Utc::now()).unwrap_err();
            assert_eq!(late.field, "entries_open_at");
            assert_eq!(late.reason, "must be before claim_starts_at");
        }
        let before = start - Duration::minutes(10);
        assert_eq!(
            Opening::parse(Some("fair_draw"), Some(before), Some(start), Utc::now()),
            Ok(Opening::FairDraw {
                entries_open_at: before
            })
        );
    }

    #[test]
    fn entries_for_a_first_come_campaign_are_refused() {
        let err = Opening::parse(None, Some(Utc::now()), None, Utc::now()).unwrap_err();
        assert_eq!(err.field, "entries_open_at");
    }
}
