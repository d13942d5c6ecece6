-- Which Redis state coupons may be recorded from: for each campaign, the version of the last
-- verification that set out to write its Redis state (src/reconcile/). The version is a control
-- version (`campaign_control_versions`, taken under the campaign's row lock), and repair.lua
-- stamps it into the state it writes (meta field `verified`). The sync and a checkout record
-- queued coupons only from a state carrying the version this table holds (src/sync/drainer.rs,
-- src/store/redemptions.rs): a batch read from a primary that was deposed since (reached by an
-- instance whose link has not followed the failover yet) is not recorded behind the back of the
-- state verified after it, which would lack its members and issue to them again.
--
-- A table of its own rather than a column of campaigns: it is raised on a connection of its
-- own and committed before repair.lua writes the stamp, while the verification holds the
-- campaign's row FOR UPDATE (a write to that row from another connection would wait for the
-- lock forever). A campaign without a row here reads as 0, as a state without `verified` does:
-- the states and records of the release before this one agree.
CREATE TABLE campaign_verifications (
    -- No foreign key, as campaign_sequence_ceilings: campaigns are never removed.
    campaign_id  BIGINT PRIMARY KEY,
    version      BIGINT NOT NULL
);
