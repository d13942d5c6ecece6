-- Coupon codes are no longer drawn at random: a code is the campaign id and the claim's sequence
-- number under a keyed permutation (src/code/), so it is unique because (campaign_id, sequence)
-- is, and a code leads back to its row through issued_coupons_sequence_unique.
--
-- The unique index on the code goes: the sync updated it for every coupon it wrote (a B-tree
-- descent at a random place per row, about a third of PostgreSQL's work per row), and what it
-- guaranteed now follows from the sequence's own constraint. Codes recorded before this change
-- were random; they stay as recorded.
ALTER TABLE issued_coupons DROP CONSTRAINT issued_coupons_code_unique;

-- The deployment's key: one row, made by the first server that starts (src/store/code_key.rs).
-- Whoever can read this table can read the codes anyway, so it sits with them; backups carry
-- it along, which they must: a restored database with another key could not locate its codes.
CREATE TABLE coupon_code_key (
    only_row    BOOLEAN     PRIMARY KEY DEFAULT true
        CONSTRAINT coupon_code_key_one_row CHECK (only_row),
    key         BYTEA       NOT NULL
        CONSTRAINT coupon_code_key_length CHECK (octet_length(key) = 16),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Replacing the key would make every issued code unlocatable and let new codes repeat old ones.
CREATE FUNCTION coupon_code_key_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        CONSTRAINT = 'coupon_code_key_is_permanent',
        TABLE = 'coupon_code_key',
        MESSAGE = 'the coupon code key is made once and never changed or removed';
END
$$;

CREATE TRIGGER coupon_code_key_is_never_changed
    BEFORE UPDATE OR DELETE ON coupon_code_key
    FOR EACH STATEMENT EXECUTE FUNCTION coupon_code_key_refuse_change();

CREATE TRIGGER coupon_code_key_is_never_truncated
    BEFORE TRUNCATE ON coupon_code_key
    FOR EACH STATEMENT EXECUTE FUNCTION coupon_code_key_refuse_change();
