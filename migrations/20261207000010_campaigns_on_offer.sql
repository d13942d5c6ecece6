-- The home page lists the campaigns on offer (not ended, claim window not over) to anonymous
-- visitors. Campaigns are never removed and most stay `active` after their window ends, so
-- without this index each page view would read every campaign ever created; with it, a view
-- reads the entries whose window is not over, which marketers bound by creating campaigns.
CREATE INDEX campaigns_on_offer ON campaigns (claim_ends_at) WHERE status <> 'ended';
