//! Admin accounts: argon2id password hashes in PostgreSQL. Hashing is deliberately slow, so it
//! runs on the blocking pool, never on the async workers that serve claims.

use super::session::AdminIdentity;
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use sqlx::PgPool;

/// Verified against when the email is unknown, so that a wrong email costs as much time as a
/// wrong password and does not reveal which accounts exist.
const DECOY_PASSWORD: &str = "decoy password, never matches a real account";

/// Checks an email and password; the admin if they match an account.
pub async fn authenticate(
    db: &PgPool,
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
        Some(found) => (Some(found.0), found.1),
        None => (None, decoy_hash()),
    };
    let password = password.to_owned();
    let matches = tokio_blocking(move || verify(&password, &stored)).await;
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
    let hash = tokio_blocking(move || hash(&password)).await?;
    sqlx::query("INSERT INTO admins (email, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(&email)
        .bind(&hash)
        .execute(db)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

fn decoy_hash() -> String {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| hash(DECOY_PASSWORD).unwrap_or_default())
        .clone()
}

/// Password hashes computed at once, at most: each takes ~19 MiB and a core for a moment, so a
/// flood of sign-ins waits here instead of exhausting memory and the blocking pool.
const MOST_HASHES_AT_ONCE: usize = 4;

static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MOST_HASHES_AT_ONCE);

/// Runs CPU-heavy work on the blocking pool, a few at a time.
async fn tokio_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    // The semaphore is never closed, so acquiring only waits.
    let _turn = HASHING.acquire().await.ok();
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}
