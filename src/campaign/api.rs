//! The engine's campaign calls: creating and reading campaigns.

use super::{Campaign, CampaignDraft, CampaignId, Opening};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::campaigns;
use chrono::Utc;

impl Engine {
    /// Validates `draft`, records the campaign in PostgreSQL (a fair draw with its secret), and
    /// loads its Redis state.
    ///
    /// Bad input writes nothing. If Redis is unreachable the campaign is still created (PostgreSQL
    /// is the record): its state is loaded before its first claim is answered.
    pub async fn create_campaign(&self, draft: &CampaignDraft) -> Result<Campaign, EngineError> {
        let new = draft.validate(Utc::now())?;
        let campaign = match new.opening {
            Opening::FirstCome => campaigns::insert(self.db(), &new).await?,
            // With its draw's secret, in one transaction (src/draw/).
            Opening::FairDraw { .. } => crate::draw::insert_with_draw(self.db(), &new).await?,
        };
        // Never changes: this instance needs no read of it for the campaign's claims.
        self.bot_checks()
            .remember(campaign.id, campaign.bot_check_bits);
        if let Err(error) = self.load_campaign(campaign.id).await {
            tracing::warn!(
                campaign = %campaign.id,
                %error,
                "campaign created but not loaded into Redis; it will be loaded on first claim"
            );
        }
        Ok(campaign)
    }

    /// The campaign with this id, from PostgreSQL.
    pub async fn campaign(&self, id: CampaignId) -> Result<Option<Campaign>, EngineError> {
        Ok(campaigns::find(self.db(), id).await?)
    }

    /// Every campaign, newest first.
    pub async fn campaigns(&self) -> Result<Vec<Campaign>, EngineError> {
        Ok(campaigns::list(self.db()).await?)
    }
}
