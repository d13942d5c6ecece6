-- pgbench: the single-row conditional UPDATE a redemption is (src/store/redemptions.rs), on a
-- coupon drawn at random from :rows recorded ones of campaign :campaign. Without the history
-- row and the HTTP and JSON around it: the floor the JSON API line is measured against.
\set seq random(1, :rows)
UPDATE issued_coupons SET order_id = 'pgbench-' || :seq, order_amount = 20000, discount = 1000,
    held_until = NULL, redeemed_at = now()
WHERE campaign_id = :campaign AND sequence = :seq AND redeemed_at IS NULL
  AND (held_until IS NULL OR held_until <= now() OR order_id = 'pgbench-' || :seq)
  AND claimed_at + make_interval(days => 7) > now()
  AND code = 'pg-' || :seq AND (NULL::text IS NULL OR user_id = NULL::text);
