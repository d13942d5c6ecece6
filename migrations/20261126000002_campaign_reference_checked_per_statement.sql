-- Every issued coupon belongs to a campaign that exists, checked once per statement instead of
-- once per row.
--
-- A foreign key checks each inserted row on its own (a lookup and a row lock in `campaigns` per
-- coupon): a third of the sync's cost per row when it moves a backlog of a million claims
-- (measured: 93k rows/s with the key, 126k without). The sync inserts thousands of coupons of
-- one campaign per statement, so the check below looks at the statement's new rows as a set:
-- one anti-join, whatever the batch size. What the foreign key also did on the other side, keep
-- a campaign from disappearing under its coupons, is done by refusing to delete campaigns at all:
-- a campaign is part of the record (it is ended, never removed), and its id never changes. Together they keep the rule the
-- key kept, for every writer, including manual fix-ups.
ALTER TABLE issued_coupons DROP CONSTRAINT issued_coupons_campaign_id_fkey;

CREATE FUNCTION issued_coupons_refuse_unknown_campaigns() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM written_rows w
        WHERE NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = w.campaign_id)
    ) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            CONSTRAINT = 'issued_coupons_campaign_exists',
            TABLE = 'issued_coupons',
            MESSAGE = 'an issued coupon must belong to an existing campaign';
    END IF;
    RETURN NULL;
END
$$;

-- Transition tables cannot be combined with a column list, so updates of any column are checked.
CREATE TRIGGER issued_coupons_campaign_exists_on_insert
    AFTER INSERT ON issued_coupons
    REFERENCING NEW TABLE AS written_rows
    FOR EACH STATEMENT EXECUTE FUNCTION issued_coupons_refuse_unknown_campaigns();

CREATE TRIGGER issued_coupons_campaign_exists_on_update
    AFTER UPDATE ON issued_coupons
    REFERENCING NEW TABLE AS written_rows
    FOR EACH STATEMENT EXECUTE FUNCTION issued_coupons_refuse_unknown_campaigns();

CREATE FUNCTION campaigns_refuse_removal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        CONSTRAINT = 'campaigns_are_never_removed',
        TABLE = 'campaigns',
        MESSAGE = 'campaigns are part of the record: they are ended, never removed or renumbered';
END
$$;

CREATE TRIGGER campaigns_are_never_deleted
    BEFORE DELETE ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION campaigns_refuse_removal();

CREATE TRIGGER campaigns_are_never_truncated
    BEFORE TRUNCATE ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION campaigns_refuse_removal();

CREATE TRIGGER campaigns_ids_never_change
    BEFORE UPDATE OF id ON campaigns
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION campaigns_refuse_removal();
