-- A cancelled order never consumes its coupon again: each coupon remembers the orders that gave
-- it back, on its own row, so the conditional UPDATE of a late hold or redemption sees a release
-- committed while it waited for the row lock (a subquery over coupon_events would be read with
-- the statement's older snapshot and miss it).
ALTER TABLE issued_coupons
    ADD COLUMN released_orders TEXT[] NOT NULL DEFAULT '{}';

-- Releases recorded before this column existed.
UPDATE issued_coupons i SET released_orders = r.orders
FROM (
    SELECT campaign_id, sequence, array_agg(DISTINCT order_id) AS orders
    FROM coupon_events WHERE kind = 'released'
    GROUP BY campaign_id, sequence
) r
WHERE i.campaign_id = r.campaign_id AND i.sequence = r.sequence;
