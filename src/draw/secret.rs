//! The draw's secret, its public commitment, and each entrant's place in the order.
//!
//! Commit-reveal: the server draws 32 random bytes when the campaign is created and publishes
//! their SHA-256 at once; the order is HMAC-SHA256 under those bytes of each member id, so it is
//! fixed before anyone enters and unknown to everyone but the server until the draw is completed,
//! when the bytes are published and anyone can check both the commitment and every digest.

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

/// Bytes of a draw's secret.
pub const SECRET_LEN: usize = 32;

/// An entrant's place in the draw: HMAC-SHA256(secret, member id). Lower comes first.
pub type Digest = [u8; 32];

/// A draw's secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct DrawSecret([u8; SECRET_LEN]);

// Never printed: a log line must not reveal the order before the draw.
impl std::fmt::Debug for DrawSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DrawSecret(..)")
    }
}

impl DrawSecret {
    /// A fresh secret from the same source as the coupon code key (`rand`'s thread-local
    /// generator, a CSPRNG seeded from the operating system).
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// The secret stored in PostgreSQL; `None` for bytes of the wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// The raw bytes (stored, and revealed after the draw).
    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// What is published before the draw: hex SHA-256 of the secret.
    pub fn commitment(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    /// The place of `member` in the draw.
    pub fn digest_of(&self, member: &str) -> Digest {
        // HMAC takes keys of any length; 32 bytes cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC accepts a key of any length");
        mac.update(member.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// A digest as the API shows it: 64 lowercase hex digits.
pub fn digest_hex(digest: &[u8]) -> String {
    hex::encode(digest)
}

/// A digest given as 64 hex digits (either case); `None` for anything else.
pub fn parse_digest(raw: &str) -> Option<Digest> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(raw, &mut digest).ok()?;
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_is_the_hex_sha256_of_the_secret() {
        let secret = DrawSecret::from_bytes(&[0u8; 32]).unwrap();
        // sha256 of 32 zero bytes.
        assert_eq!(
            secret.commitment(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn a_digest_is_hmac_sha256_of_the_member_id() {
        // Computed with Python: hmac.new(b"\x0b" * 32, b"member-1", "sha256").hexdigest()
        let secret = DrawSecret::from_bytes(&[0x0b; 32]).unwrap();
        let digest = secret.digest_of("member-1");
        assert_eq!(
            digest_hex(&digest),
            "886ebeeecbd118995327132122dbb0143c4c703c156cdea29ecc4894ae532c5c"
        );
        assert_eq!(digest, secret.digest_of("member-1"), "deterministic");
        assert_ne!(digest, secret.digest_of("member-2"));
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let digest = DrawSecret::generate().digest_of("김철수");
        assert_eq!(parse_digest(&digest_hex(&digest)), Some(digest));
        assert_eq!(parse_digest("abc"), None);
        assert_eq!(parse_digest(&"g".repeat(64)), None);
    }

    #[test]
    fn a_secret_of_the_wrong_length_is_refused() {
        assert!(DrawSecret::from_bytes(&[1; 31]).is_none());
        assert!(DrawSecret::from_bytes(&[1; 33]).is_none());
    }
}
