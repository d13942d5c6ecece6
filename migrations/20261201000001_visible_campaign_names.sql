-- Campaign names in one encoding (NFC) and without invisible formatting characters, the rule
-- CampaignName::parse applies (src/text.rs lists the same characters): a name shown to members
-- must read as it is. The zero-width joiner is allowed between two pictographs (emoji sequences
-- such as a woman technologist), the first perhaps followed by the emoji variation selector.
--
-- Names saved by earlier releases are cleaned first (the characters removed, the text composed),
-- so the constraint holds for every row, and changing an old campaign's status still works (a
-- name that was nothing but such characters becomes "campaign <id>").
-- Member ids: see the next migration.

UPDATE campaigns
SET name = coalesce(nullif(btrim(normalize(
    regexp_replace(
        regexp_replace(
            name,
            '[\u00AD\u061C\u180E\u200B\u200C\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\U000E0000-\U000E007F]',
            '', 'g'),
        '(?<![\U0001F000-\U0001FAFF\u2600-\u27BF]|[\U0001F000-\U0001FAFF\u2600-\u27BF]\uFE0F)\u200D|\u200D(?![\U0001F000-\U0001FAFF\u2600-\u27BF])',
        '', 'g'),
    NFC)), ''), 'campaign ' || id)
WHERE name !~ '^[^\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\U000E0000-\U000E007F]*$'
   OR name IS NOT NFC NORMALIZED;

ALTER TABLE campaigns
    ADD CONSTRAINT campaigns_name_nfc CHECK (name IS NFC NORMALIZED),
    ADD CONSTRAINT campaigns_name_no_invisible_formatting CHECK (
        name !~ '[\u00AD\u061C\u180E\u200B\u200C\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\U000E0000-\U000E007F]'
        AND name !~ '(?<![\U0001F000-\U0001FAFF\u2600-\u27BF]|[\U0001F000-\U0001FAFF\u2600-\u27BF]\uFE0F)\u200D'
        AND name !~ '\u200D(?![\U0001F000-\U0001FAFF\u2600-\u27BF])'
    );

