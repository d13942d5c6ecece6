//! Password hashes: argon2id with a random salt, in the PHC string format the `admins` table
//! keeps. Deliberately slow; callers run these on the blocking pool.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::OnceLock;

/// Verified against when the email is unknown, so that a wrong email costs as much time as a
/// wrong password and does not reveal which accounts exist.
const DECOY_PASSWORD: &str = "decoy password, never matches a real account";

/// The hash of `password`, to store.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the `stored` hash; a hash that cannot be read matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password a client types matches, made the first time it is needed (on the
/// blocking pool, like every other hash) and kept by its owner: the queue of password checks.
#[derive(Default)]
pub struct Decoy(OnceLock<String>);

impl Decoy {
    /// The decoy hash, made now if it was not yet.
    pub fn hash(&self) -> &str {
        self.0
            .get_or_init(|| hash(DECOY_PASSWORD).unwrap_or_default())
    }
}
