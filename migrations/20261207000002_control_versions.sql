-- Controls are fenced writes: every change of a campaign's status or quantity takes a number from
-- this sequence while it holds the campaign's row, the record keeps the latest, and Redis keeps
-- the one it last applied (meta field `control`); a change carrying a number not above Redis's is
-- refused there. A sequence, not a per-row counter, because its numbers are never handed out
-- twice: a change whose commit failed after it reached Redis cannot share its number with the
-- next one (see src/reconcile/fence.rs).
CREATE SEQUENCE campaign_control_versions;

ALTER TABLE campaigns
    ADD COLUMN control_version BIGINT NOT NULL DEFAULT 0;
