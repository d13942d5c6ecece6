-- The fairness report of a fair draw (issue 29, item 6) says how many attempts to enter were
-- refused before they reached the draw: by the rate limits (per member, per client address),
-- and later by a bot check. The limits live in Redis per member and per address, not per
-- campaign, so each instance counts the refusals of campaigns whose entries are open in memory
-- and adds them here about once a second (src/draw/refusals.rs): one statement a second per
-- instance, whatever the rate of refusals, never a write per refused attempt.

CREATE TABLE draw_refusals (
    -- No foreign key, as for draw_entries: only campaigns with a draw row are written (the
    -- statement checks it), and campaigns are never removed.
    campaign_id  BIGINT NOT NULL,
    reason       TEXT   NOT NULL
        CONSTRAINT draw_refusals_reason CHECK (reason IN ('rate_limited', 'bot_check')),
    -- Attempts refused (not members: one member refused ten times counts ten).
    count        BIGINT NOT NULL
        CONSTRAINT draw_refusals_count_not_negative CHECK (count >= 0),
    CONSTRAINT draw_refusals_one_per_reason PRIMARY KEY (campaign_id, reason)
);
