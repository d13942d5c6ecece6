//! The kinds of action the audit log records, and their names (`campaign.paused`): the names are
//! what PostgreSQL stores (its CHECK lists them), what the JSON API answers and filters by.

use crate::campaign::CampaignStatus;

/// One kind of admin action. Names are `<subject>.<what happened>`; kinds still to come (webhook
/// endpoints, accounts and roles) add a variant here, its name, and a migration that widens
/// `audit_events_action_known`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A campaign was created (admin form or JSON API).
    CampaignCreated,
    /// A campaign was paused.
    CampaignPaused,
    /// A campaign was resumed.
    CampaignResumed,
    /// A campaign was ended.
    CampaignEnded,
    /// A campaign's total quantity was changed.
    CampaignQuantityChanged,
    /// An admin signed in.
    AdminSignedIn,
    /// Someone tried to sign in as an admin with a wrong email or password.
    AdminSignInFailed,
    /// An admin downloaded an export (coupons, a fairness report, the audit log).
    ExportDownloaded,
}

impl AuditAction {
    /// Every kind, in the order the admin page offers them.
    pub const ALL: [Self; 8] = [
        Self::CampaignCreated,
        Self::CampaignPaused,
        Self::CampaignResumed,
        Self::CampaignEnded,
        Self::CampaignQuantityChanged,
        Self::AdminSignedIn,
        Self::AdminSignInFailed,
        Self::ExportDownloaded,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CampaignCreated => "campaign.created",
            Self::CampaignPaused => "campaign.paused",
            Self::CampaignResumed => "campaign.resumed",
            Self::CampaignEnded => "campaign.ended",
            Self::CampaignQuantityChanged => "campaign.quantity_changed",
            Self::AdminSignedIn => "admin.signed_in",
            Self::AdminSignInFailed => "admin.sign_in_failed",
            Self::ExportDownloaded => "export.downloaded",
        }
    }

    /// The kind with this name, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == name)
    }

    /// What setting a campaign to `status` is called (resuming makes it active again).
    pub fn of_status(status: CampaignStatus) -> Self {
        match status {
            CampaignStatus::Active => Self::CampaignResumed,
            CampaignStatus::Paused => Self::CampaignPaused,
            CampaignStatus::Ended => Self::CampaignEnded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_its_kind() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("campaign.deleted"), None);
        assert_eq!(AuditAction::parse("Campaign.Paused"), None);
    }
}
