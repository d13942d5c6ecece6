-- Redemption at checkout: the campaign's rules for using a coupon, each coupon's state, and the
-- history of every hold, redemption and release.

ALTER TABLE campaigns
    -- Smallest order (won) the coupon applies to; NULL: any order.
    ADD COLUMN min_order_amount BIGINT
        CONSTRAINT campaigns_min_order_amount_range
        CHECK (min_order_amount BETWEEN 0 AND 100000000000),
    -- Largest discount (won) a percentage coupon grants; NULL: no cap.
    ADD COLUMN max_discount_amount BIGINT
        CONSTRAINT campaigns_max_discount_amount_range
        CHECK (max_discount_amount BETWEEN 1 AND 10000000),
    ADD CONSTRAINT campaigns_discount_cap_only_for_percentages
        CHECK (max_discount_amount IS NULL OR discount_kind = 'percentage');

-- A coupon's state lives in its own row, so holding or redeeming it is one conditional UPDATE
-- (the row lock orders concurrent attempts; the loser's WHERE no longer matches). No order:
-- available. An order with `held_until`: held for it until then (afterwards available again by
-- itself). An order with `redeemed_at`: redeemed. Expiry is not stored: it follows from
-- `claimed_at` and the campaign's `valid_days`.
ALTER TABLE issued_coupons
    ADD COLUMN order_id TEXT
        CONSTRAINT issued_coupons_order_id_length CHECK (char_length(order_id) BETWEEN 1 AND 128),
    ADD COLUMN order_amount BIGINT
        CONSTRAINT issued_coupons_order_amount_not_negative CHECK (order_amount >= 0),
    ADD COLUMN discount BIGINT
        CONSTRAINT issued_coupons_discount_within_order CHECK (discount BETWEEN 0 AND order_amount),
    ADD COLUMN held_until TIMESTAMPTZ,
    ADD COLUMN redeemed_at TIMESTAMPTZ,
    ADD CONSTRAINT issued_coupons_redemption_shape CHECK (
        (order_id IS NULL AND order_amount IS NULL AND discount IS NULL
            AND held_until IS NULL AND redeemed_at IS NULL)
        OR (order_id IS NOT NULL AND order_amount IS NOT NULL AND discount IS NOT NULL
            AND (held_until IS NULL) <> (redeemed_at IS NULL)));

-- The live numbers of a campaign page read these; the sync's rows match neither predicate, so
-- the sync does not maintain them.
CREATE INDEX issued_coupons_redeemed ON issued_coupons (campaign_id) INCLUDE (discount)
    WHERE redeemed_at IS NOT NULL;
CREATE INDEX issued_coupons_held ON issued_coupons (campaign_id, held_until)
    WHERE held_until IS NOT NULL;

-- Codes recorded before codes were derived from (campaign, sequence) were random: they are
-- found by their text, through an index of those rows only (all synced before that change).
-- The instant is kept so that a lookup can name the index's predicate.
CREATE TABLE random_codes_recorded_before (
    only_row  BOOLEAN     PRIMARY KEY DEFAULT true
        CONSTRAINT random_codes_recorded_before_one_row CHECK (only_row),
    instant   TIMESTAMPTZ NOT NULL
);
INSERT INTO random_codes_recorded_before (instant)
SELECT coalesce(
    (SELECT installed_on FROM _sqlx_migrations WHERE version = 20261126000003), now());
DO $$
BEGIN
    EXECUTE format(
        'CREATE INDEX issued_coupons_random_codes ON issued_coupons (code) WHERE synced_at < %L',
        (SELECT instant FROM random_codes_recorded_before));
END
$$;

-- Every hold, redemption and release, as it happened; never changed afterwards.
CREATE TABLE coupon_events (
    id            BIGSERIAL   PRIMARY KEY,
    campaign_id   BIGINT      NOT NULL,
    sequence      BIGINT      NOT NULL,
    kind          TEXT        NOT NULL
        CONSTRAINT coupon_events_kind CHECK (kind IN ('held', 'redeemed', 'released')),
    -- The coupon's holder.
    user_id       TEXT        NOT NULL,
    order_id      TEXT        NOT NULL,
    order_amount  BIGINT,
    discount      BIGINT,
    at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT coupon_events_of_an_issued_coupon FOREIGN KEY (campaign_id, sequence)
        REFERENCES issued_coupons (campaign_id, sequence)
);
CREATE INDEX coupon_events_of_a_coupon ON coupon_events (campaign_id, sequence, id);

CREATE FUNCTION coupon_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        CONSTRAINT = 'coupon_events_are_history',
        TABLE = 'coupon_events',
        MESSAGE = 'coupon history is only ever added to';
END
$$;

CREATE TRIGGER coupon_events_are_never_changed
    BEFORE UPDATE OR DELETE ON coupon_events
    FOR EACH STATEMENT EXECUTE FUNCTION coupon_events_refuse_change();

CREATE TRIGGER coupon_events_are_never_truncated
    BEFORE TRUNCATE ON coupon_events
    FOR EACH STATEMENT EXECUTE FUNCTION coupon_events_refuse_change();
