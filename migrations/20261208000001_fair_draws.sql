-- Fair draws (issue 29): a campaign opens either first come, first served (as before) or with a
-- draw. In a draw, claims between `entries_open_at` and `claim_starts_at` are entries; at
-- `claim_starts_at` the entrants are put in the order of HMAC-SHA256(secret, member id) and the
-- first `quantity` of them are issued coupons in that order (src/draw/).

ALTER TABLE campaigns
    ADD COLUMN opening TEXT NOT NULL DEFAULT 'first_come'
        CONSTRAINT campaigns_opening CHECK (opening IN ('first_come', 'fair_draw')),
    ADD COLUMN entries_open_at TIMESTAMPTZ,
    -- The rules CampaignDraft::validate checks, repeated for every writer.
    ADD CONSTRAINT campaigns_entries_window CHECK (
        (opening = 'first_come' AND entries_open_at IS NULL)
        OR (opening = 'fair_draw' AND entries_open_at IS NOT NULL
            AND entries_open_at < claim_starts_at)
    );

-- One row per fair-draw campaign, written with the campaign (same transaction). The secret is
-- drawn by the server at creation and revealed only once the draw is completed; its SHA-256
-- (`commitment`) is public from the start, so nobody, the operator included, can choose the
-- order after seeing the entrants.
--
-- The row is also the draw's lock: every batch of entries holds it FOR SHARE from before its
-- check that the draw has not happened until its commit, and the draw takes it FOR UPDATE
-- before it reads the entrants. So an entry acknowledged (committed) is always among the
-- entrants the draw reads, and an entry arriving after the draw is refused.
CREATE TABLE campaign_draws (
    -- No foreign key: campaigns are never removed (their own trigger refuses it), and one would
    -- make TRUNCATE campaigns fail on the reference before that trigger names the rule.
    campaign_id   BIGINT      PRIMARY KEY,
    secret        BYTEA       NOT NULL
        CONSTRAINT campaign_draws_secret_length CHECK (octet_length(secret) = 32),
    -- Hex SHA-256 of the secret.
    commitment    TEXT        NOT NULL
        CONSTRAINT campaign_draws_commitment_hex CHECK (commitment ~ '^[0-9a-f]{64}$'),
    -- Set when the winners were chosen (ranks written, entries closed).
    drawn_at      TIMESTAMPTZ,
    -- Entrants and winners at the draw, and the digest of the last winner (NULL: no winner).
    entrants      BIGINT,
    winners       BIGINT,
    cutoff        BYTEA,
    -- Set once every winner's coupon is in the record: from then on the secret is public and
    -- claims and lookups of the campaign take the ordinary path.
    completed_at  TIMESTAMPTZ,
    CONSTRAINT campaign_draws_completed_after_drawn
        CHECK (completed_at IS NULL OR drawn_at IS NOT NULL)
);

-- The draw runner lists the draws still to finish.
CREATE INDEX campaign_draws_pending ON campaign_draws (campaign_id) WHERE completed_at IS NULL;

-- Every acknowledged entry. No foreign key: entries are written only by the statement that
-- holds their campaign's draw row (src/store/draws.rs), and a key would add a lookup and a row
-- lock per entry to a path that takes thousands a second.
CREATE TABLE draw_entries (
    campaign_id  BIGINT      NOT NULL,
    user_id      TEXT        NOT NULL
        CONSTRAINT draw_entries_user_id_length CHECK (char_length(user_id) BETWEEN 1 AND 128),
    -- HMAC-SHA256(key = the draw's secret, message = user_id as UTF-8): the entrant's place.
    digest       BYTEA       NOT NULL
        CONSTRAINT draw_entries_digest_length CHECK (octet_length(digest) = 32),
    entered_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- 1 = first winner; NULL for everyone not drawn (and for everyone before the draw).
    drawn_rank   BIGINT
        CONSTRAINT draw_entries_rank_positive CHECK (drawn_rank IS NULL OR drawn_rank > 0),
    CONSTRAINT draw_entries_one_per_user PRIMARY KEY (campaign_id, user_id)
);

-- The draw order (bytea compares byte by byte), read by the draw and the published list.
CREATE INDEX draw_entries_order ON draw_entries (campaign_id, digest);
-- The winners in rank order, read page by page as they are issued.
CREATE UNIQUE INDEX draw_entries_ranks ON draw_entries (campaign_id, drawn_rank)
    WHERE drawn_rank IS NOT NULL;
