-- Member ids under the rule campaign names follow since the previous migration (UserId::parse
-- refuses a member id with invisible formatting characters or decomposed letters, rather than
-- changing it: a changed id would be another member). Coupons claimed before this release, plus a
-- day for the switch-over, are exempt: a coupon an earlier release queued must still be
-- recorded under exactly the id its member was told, and a refused insert would stop the
-- campaign's sync.
DO $migration$
BEGIN
    EXECUTE format(
        'ALTER TABLE issued_coupons ADD CONSTRAINT issued_coupons_user_id_visible CHECK ('
        || 'claimed_at < %L OR (user_id IS NFC NORMALIZED'
        || $rule$ AND user_id !~ '[\u00AD\u061C\u180E\u200B\u200C\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\U000E0000-\U000E007F]'$rule$
        || $rule$ AND user_id !~ '(?<![\U0001F000-\U0001FAFF\u2600-\u27BF]|[\U0001F000-\U0001FAFF\u2600-\u27BF]\uFE0F)\u200D'$rule$
        || $rule$ AND user_id !~ '\u200D(?![\U0001F000-\U0001FAFF\u2600-\u27BF])'$rule$
        || '))',
        now() + interval '1 day');
END
$migration$;
