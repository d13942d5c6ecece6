-- The bot check (issue 29, item 5): a campaign may require the web's claims and entries to carry
-- a solved proof-of-work challenge (src/bot_check/). `bot_check_bits` is the number of leading
-- zero bits the proof's SHA-256 must have; 0 turns the check off (every campaign before this
-- one). Fixed at creation, like the opening. The JSON API with the API key is exempt.

ALTER TABLE campaigns
    ADD COLUMN bot_check_bits SMALLINT NOT NULL DEFAULT 0
        -- The rule CampaignDraft::validate checks (src/campaign/fields.rs), repeated for every
        -- writer.
        CONSTRAINT campaigns_bot_check_bits CHECK (bot_check_bits BETWEEN 0 AND 28);
