-- The highest sequence number a campaign's Redis state may have handed out, kept in PostgreSQL
-- so that a rebuild after Redis lost its data continues above every number the lost state could
-- have used, not merely above the highest one recorded. A coupon's code is made from its
-- sequence number (src/code/), so a number handed out twice would be a code handed out twice:
-- once to a member whose unsynced claim was lost, once to the next member.
--
-- A table of its own rather than a column of campaigns: it is raised on a connection of its
-- own, committed before Redis may use the numbers, while the caller holds the campaign's row.
CREATE TABLE campaign_sequence_ceilings (
    campaign_id  BIGINT PRIMARY KEY,
    ceiling      BIGINT NOT NULL
        CONSTRAINT campaign_sequence_ceilings_not_negative CHECK (ceiling >= 0)
);

-- Campaigns loaded before this migration: since their last load, Redis handed out numbers
-- above the highest recorded at that load, at most as many as the quantity.
INSERT INTO campaign_sequence_ceilings (campaign_id, ceiling)
SELECT c.id, coalesce(max(i.sequence), 0) + c.quantity
FROM campaigns c LEFT JOIN issued_coupons i ON i.campaign_id = c.id
GROUP BY c.id, c.quantity;
