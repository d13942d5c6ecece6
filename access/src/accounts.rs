//! Admin accounts: argon2id password hashes in PostgreSQL (the `admins` table). Hashing is
//! deliberately slow, so it runs on the blocking pool, never on the async workers that serve
//! claims; sign-ins wait for it in a bounded queue ([`PasswordChecks`]), so that a burst of them
//! is refused instead of lining up minutes of hashing in front of the real admin.
//!
//! [`PasswordChecks`]: crate::password_checks::PasswordChecks

use crate::password_checks::{Turn, on_blocking_pool};
use crate::passwords;
use crate::session::AdminIdentity;
use sqlx::PgPool;

/// The longest email a sign-in accepts, in bytes (RFC 5321's longest path, less its angle
/// brackets). The email becomes part of the sign-in limits' Redis keys, so a longer one is
/// refused before anything is counted or checked.
pub const MOST_EMAIL_BYTES: usize = 254;

/// Checks an email and password in the place `turn` holds in the queue of password checks; the
/// admin if they match an account.
pub async fn authenticate(
    db: &PgPool,
    turn: Turn,
    email: &str,
    password: &str,
) -> Result<Option<AdminIdentity>, sqlx::Error> {
    let email = email.trim().to_lowercase();
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM admins WHERE email = $1")
            .bind(&email)
            .fetch_optional(db)
            .await?;
    let (id, stored) = match row {
        Some((id, stored)) => (Some(id), Some(stored)),
        None => (None, None),
    };
    let password = password.to_owned();
    // The decoy is hashed the first time on the blocking pool too, not on an async worker.
    let matches = turn
        .run(move |decoy| {
            let stored = stored.as_deref().unwrap_or_else(|| decoy.hash());
            passwords::verify(&password, stored)
        })
        .await;
    Ok(match (id, matches) {
        (Some(id), true) => Some(AdminIdentity { id, email }),
        _ => None,
    })
}

/// Creates the first admin from the start-up configuration, unless an admin exists already.
/// Returns whether it created one.
pub async fn ensure_first_admin(db: &PgPool, email: &str, password: &str) -> Result<bool, String> {
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM admins")
        .fetch_one(db)
        .await
        .map_err(|e| e.to_string())?;
    if existing > 0 {
        return Ok(false);
    }
    if password.chars().count() < 8 {
        return Err("ADMIN_PASSWORD must be at least 8 characters".into());
    }
    if !email.contains('@') {
        return Err("ADMIN_EMAIL must be an email address".into());
    }
    create_admin(db, email, password).await?;
    Ok(true)
}

/// Adds an admin account (an existing email is left as it is).
pub async fn create_admin(db: &PgPool, email: &str, password: &str) -> Result<(), String> {
    let email = email.trim().to_lowercase();
    let password = password.to_owned();
    // An operator's action (start-up, tests), not a client's: no queue.
    let hash = on_blocking_pool(move || passwords::hash(&password)).await?;
    sqlx::query("INSERT INTO admins (email, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(&email)
        .bind(&hash)
        .execute(db)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
