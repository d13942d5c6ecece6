-- The audit log (issue 30, item 7): every admin action, who did it, from which address, what,
-- the values before and after, and when. Written by the engine in the same transaction as the
-- change it describes where there is one (src/audit/), and on its own for actions that change
-- nothing else (sign-ins, downloads). Like the coupon history it is only ever added to: a
-- trigger refuses UPDATE, DELETE and TRUNCATE, so an entry stays as it was written.

CREATE TABLE audit_events (
    id           BIGSERIAL   PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The admin's email, `api` for the JSON API's key, or for a failed sign-in the email typed
    -- (lower-cased; the sign-in form refuses more than 254 bytes before anything is recorded).
    actor        TEXT        NOT NULL
        CONSTRAINT audit_events_actor_length CHECK (char_length(actor) <= 320),
    -- The client's address as the rate limits see it (access/src/client_address.rs); NULL
    -- when the request had none.
    address      TEXT
        CONSTRAINT audit_events_address_length CHECK (char_length(address) BETWEEN 1 AND 64),
    -- The names of src/audit/action.rs, repeated for every writer. A new kind of action
    -- (`webhook_endpoint.*`, `account.*`) is a variant there and a migration replacing this
    -- constraint.
    action       TEXT        NOT NULL
        CONSTRAINT audit_events_action_known CHECK (action IN (
            'campaign.created',
            'campaign.paused',
            'campaign.resumed',
            'campaign.ended',
            'campaign.quantity_changed',
            'admin.signed_in',
            'admin.sign_in_failed',
            'export.downloaded'
        )),
    -- No foreign key: campaigns are never removed (their own trigger refuses it), and a key
    -- would make TRUNCATE campaigns fail on the reference before that trigger names the rule.
    campaign_id  BIGINT,
    before       JSONB
        CONSTRAINT audit_events_before_object CHECK (jsonb_typeof(before) = 'object'),
    after        JSONB
        CONSTRAINT audit_events_after_object CHECK (jsonb_typeof(after) = 'object')
);

-- The filters of /admin/audit and GET /api/v1/audit-events, each read newest first.
CREATE INDEX audit_events_of_a_campaign ON audit_events (campaign_id, id DESC);
CREATE INDEX audit_events_of_an_actor ON audit_events (actor, id DESC);
CREATE INDEX audit_events_of_an_action ON audit_events (action, id DESC);

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        CONSTRAINT = 'audit_events_are_history',
        TABLE = 'audit_events',
        MESSAGE = 'the audit log is only ever added to';
END
$$;

CREATE TRIGGER audit_events_are_never_changed
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

CREATE TRIGGER audit_events_are_never_truncated
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
