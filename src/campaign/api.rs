//! The engine's campaign calls: creating and reading campaigns.

use super::{Campaign, CampaignDraft, CampaignId, Opening};
use crate::audit::{self, Actor, AuditEvent};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::campaigns;
use chrono::Utc;

impl Engine {
    /// Validates `draft`, records the campaign in PostgreSQL (a fair draw with its secret), and
    /// loads its Redis state. Records no audit entry: for tools and tests, where no person acts
    /// (the web layer calls [`Engine::create_campaign_by`]).
    ///
    /// Bad input writes nothing. If Redis is unreachable the campaign is still created (PostgreSQL
    /// is the record): its state is loaded before its first claim is answered.
    pub async fn create_campaign(&self, draft: &CampaignDraft) -> Result<Campaign, EngineError> {
        self.create_recorded(draft, None).await
    }

    /// [`Engine::create_campaign`] by `by`, with its `campaign.created` entry in the audit log
    /// written in the same transaction as the campaign.
    pub async fn create_campaign_by(
        &self,
        draft: &CampaignDraft,
        by: &Actor,
    ) -> Result<Campaign, EngineError> {
        self.create_recorded(draft, Some(by)).await
    }

    async fn create_recorded(
        &self,
        draft: &CampaignDraft,
        by: Option<&Actor>,
    ) -> Result<Campaign, EngineError> {
        let new = draft.validate(Utc::now())?;
        // One transaction: the campaign, a fair draw's secret (src/draw/) and the audit entry
        // are recorded together or not at all.
        let mut tx = self.db().begin().await?;
        let campaign = campaigns::insert(&mut *tx, &new).await?;
        if let Opening::FairDraw { .. } = new.opening {
            crate::draw::insert_draw(&mut tx, campaign.id).await?;
        }
        audit::record_in(&mut tx, by, &AuditEvent::campaign_created(&campaign)).await?;
        tx.commit().await?;
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
