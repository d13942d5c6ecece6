-- Queued coupons PostgreSQL refused to record (a check or other constraint, a value it cannot
-- store): the sync moves each such entry here, in the transaction that records the rest of its
-- batch, before it trims the batch from the Redis queue. One refused row no longer stops its
-- campaign's sync, and what was refused, and why, stays in the record for an operator to fix
-- and replay (src/sync/set_aside.rs).
CREATE TABLE set_aside_coupons (
    id            BIGSERIAL   PRIMARY KEY,
    -- No foreign key: campaigns are never removed (their own trigger refuses it), and one
    -- would make TRUNCATE campaigns fail on the reference before that trigger names the rule.
    campaign_id   BIGINT      NOT NULL,
    -- The queue entry exactly as claim.lua wrote it (NUL characters spelled `\0`).
    entry         TEXT        NOT NULL,
    -- A replayed batch (a crash between this commit and the trim) sets its entries aside once.
    entry_digest  TEXT        NOT NULL GENERATED ALWAYS AS (md5(entry)) STORED,
    -- The member and number the sync tried to record (a renumbered coupon's new number).
    user_id       TEXT        NOT NULL,
    sequence      BIGINT      NOT NULL,
    code          TEXT        NOT NULL,
    -- PostgreSQL's message and its SQLSTATE (e.g. 23514, a check violation).
    reason        TEXT        NOT NULL,
    sqlstate      TEXT        NOT NULL,
    set_aside_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT set_aside_coupons_once UNIQUE (campaign_id, entry_digest)
);
