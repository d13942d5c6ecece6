-- Campaigns and the coupons issued from them. PostgreSQL is the record: every rule that must
-- always hold is a constraint here, so no code path (and no manual fix-up) can break it.

CREATE TABLE campaigns (
    id               BIGSERIAL   PRIMARY KEY,
    name             TEXT        NOT NULL
        CONSTRAINT campaigns_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    discount_kind    TEXT        NOT NULL
        CONSTRAINT campaigns_discount_kind CHECK (discount_kind IN ('fixed_amount', 'percentage')),
    -- Won for fixed_amount, percent for percentage.
    discount_amount  BIGINT      NOT NULL
        CONSTRAINT campaigns_discount_positive CHECK (discount_amount > 0),
    quantity         BIGINT      NOT NULL
        CONSTRAINT campaigns_quantity_positive CHECK (quantity > 0),
    claim_starts_at  TIMESTAMPTZ NOT NULL,
    claim_ends_at    TIMESTAMPTZ NOT NULL,
    -- How long a coupon stays usable after it was claimed.
    valid_days       INTEGER     NOT NULL
        CONSTRAINT campaigns_valid_days_positive CHECK (valid_days > 0),
    status           TEXT        NOT NULL DEFAULT 'active'
        CONSTRAINT campaigns_status CHECK (status IN ('active', 'paused', 'ended')),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set by the sync once the claim window is over and the Redis queue is empty: from then on
    -- the sync loop no longer looks at the campaign.
    drained_at       TIMESTAMPTZ,
    CONSTRAINT campaigns_percentage_at_most_100
        CHECK (discount_kind <> 'percentage' OR discount_amount <= 100),
    CONSTRAINT campaigns_window_order CHECK (claim_ends_at > claim_starts_at)
);

-- The sync loop lists the campaigns it still has to watch.
CREATE INDEX campaigns_not_drained ON campaigns (id) WHERE drained_at IS NULL;

CREATE TABLE issued_coupons (
    campaign_id  BIGINT      NOT NULL REFERENCES campaigns (id),
    user_id      TEXT        NOT NULL
        CONSTRAINT issued_coupons_user_id_length CHECK (char_length(user_id) BETWEEN 1 AND 128),
    code         TEXT        NOT NULL,
    -- Order of the claim within its campaign, assigned atomically by the claim script.
    sequence     BIGINT      NOT NULL
        CONSTRAINT issued_coupons_sequence_positive CHECK (sequence > 0),
    claimed_at   TIMESTAMPTZ NOT NULL,
    synced_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Invariant 2: one coupon per (campaign, user). The sync's ON CONFLICT targets exactly this.
    CONSTRAINT issued_coupons_one_per_user PRIMARY KEY (campaign_id, user_id),
    CONSTRAINT issued_coupons_code_unique UNIQUE (code),
    CONSTRAINT issued_coupons_sequence_unique UNIQUE (campaign_id, sequence)
);
