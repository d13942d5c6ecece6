-- Marketers who may sign in to the admin pages. Passwords are stored as argon2id PHC strings.
CREATE TABLE admins (
    id             BIGSERIAL   PRIMARY KEY,
    -- Stored lower-cased, so sign-in is case-insensitive on the address.
    email          TEXT        NOT NULL
        CONSTRAINT admins_email_format CHECK (email = lower(email) AND email LIKE '%_@_%'),
    password_hash  TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT admins_email_unique UNIQUE (email)
);
