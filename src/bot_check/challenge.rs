//! A bot-check challenge: its encoding, its signature, and the proof of work that solves it.
//!
//! A challenge is base64url (no padding) of 64 bytes:
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | the campaign id, big-endian |
//! | 8..16 | when it expires, milliseconds since the Unix epoch, big-endian |
//! | 16..32 | random bytes, so that no two challenges are the same |
//! | 32..64 | HMAC-SHA256 under the deployment's [`BotCheckKey`] of bytes 0..32 |
//!
//! so 86 characters. A **solution** is a nonce, an unsigned 64-bit number written in decimal
//! without leading zeros, such that `SHA-256(challenge + ":" + nonce)` (the challenge as the
//! text it was handed out as) has at least the campaign's `bot_check_bits` leading zero bits.
//! Finding one takes about `2^bits` hashes; checking it takes one hash and one HMAC.

use crate::campaign::CampaignId;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

/// Bytes the tag signs: campaign, expiry, random.
const SIGNED_LEN: usize = 8 + 8 + 16;
/// Bytes of the tag.
pub const TAG_LEN: usize = 32;
/// Bytes of a whole challenge.
const CHALLENGE_LEN: usize = SIGNED_LEN + TAG_LEN;
/// Characters of a challenge: base64url of [`CHALLENGE_LEN`] bytes, no padding.
pub const CHALLENGE_CHARS: usize = (CHALLENGE_LEN * 8).div_ceil(6);
/// Most digits of a nonce: `u64::MAX` has 20.
const MOST_NONCE_DIGITS: usize = 20;

/// What the deployment's challenges are signed with. Derived from the coupon code key
/// ([`crate::code::CodeKey`], kept in PostgreSQL and read by every instance at start), so every
/// instance checks every other's challenges and no setting is needed; a separate derivation,
/// so that nothing about the code key can be learned from the tags.
#[derive(Clone)]
pub struct BotCheckKey([u8; 32]);

/// What the derivation mixes in: a change of it makes every challenge handed out before invalid.
const DERIVATION_LABEL: &[u8] = b"coupon bot-check challenge key v1";

// Never printed.
impl std::fmt::Debug for BotCheckKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotCheckKey(..)")
    }
}

/// Why a challenge or its solution was refused before the single-use check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsolved {
    /// Not a challenge of this deployment (malformed, another key, a changed byte), one for
    /// another campaign, a nonce that is no number, or a hash with too few zero bits.
    Failed,
    /// A genuine challenge whose time is over.
    Expired,
}

/// A challenge whose tag, campaign, expiry and proof of work were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solved {
    /// The tag: names the challenge for the single-use check.
    pub tag: [u8; TAG_LEN],
    /// When it expires, milliseconds since the epoch.
    pub expires_ms: i64,
}

impl BotCheckKey {
    /// The key derived from the code key's stored bytes: HMAC-SHA256(code key, label).
    pub fn derive(code_key: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(code_key)
            .expect("HMAC accepts a key of any length");
        mac.update(DERIVATION_LABEL);
        Self(mac.finalize().into_bytes().into())
    }

    /// A key of these bytes (tests).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn tag(&self, signed: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC accepts a key of any length");
        mac.update(signed);
        mac
    }

    /// A fresh challenge for `campaign`, expiring at `expires_ms` (milliseconds since the
    /// epoch).
    pub fn issue(&self, campaign: CampaignId, expires_ms: i64) -> String {
        let random: [u8; 16] = rand::random();
        self.issue_with(campaign, expires_ms, random)
    }

    fn issue_with(&self, campaign: CampaignId, expires_ms: i64, random: [u8; 16]) -> String {
        let mut bytes = [0u8; CHALLENGE_LEN];
        bytes[..8].copy_from_slice(&campaign.0.to_be_bytes());
        bytes[8..16].copy_from_slice(&expires_ms.to_be_bytes());
        bytes[16..SIGNED_LEN].copy_from_slice(&random);
        let tag = self.tag(&bytes[..SIGNED_LEN]).finalize().into_bytes();
        bytes[SIGNED_LEN..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks a solution: the challenge is this key's (tag compared in constant time), for
    /// `campaign`, not expired at `now_ms`, and `SHA-256(challenge:nonce)` has at least `bits`
    /// leading zero bits. No I/O: a few microseconds. Whether it was used before is the
    /// caller's to check (in Redis, by its tag).
    pub fn check(
        &self,
        challenge: &str,
        nonce: &str,
        campaign: CampaignId,
        bits: u8,
        now_ms: i64,
    ) -> Result<Solved, Unsolved> {
        let nonce = parse_nonce(nonce).ok_or(Unsolved::Failed)?;
        if challenge.len() != CHALLENGE_CHARS {
            return Err(Unsolved::Failed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(challenge)
            .map_err(|_| Unsolved::Failed)?;
        let bytes: [u8; CHALLENGE_LEN] = bytes.try_into().map_err(|_| Unsolved::Failed)?;
        let (signed, tag) = bytes.split_at(SIGNED_LEN);
        self.tag(signed)
            .verify_slice(tag)
            .map_err(|_| Unsolved::Failed)?;
        let for_campaign = i64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let expires_ms = i64::from_be_bytes(bytes[8..16].try_into().expect("8 bytes"));
        if for_campaign != campaign.0 {
            return Err(Unsolved::Failed);
        }
        if expires_ms <= now_ms {
            return Err(Unsolved::Expired);
        }
        if !solves(challenge, nonce, bits) {
            return Err(Unsolved::Failed);
        }
        Ok(Solved {
            tag: bytes[SIGNED_LEN..].try_into().expect("32 bytes"),
            expires_ms,
        })
    }
}

/// A nonce as sent: 1 to 20 decimal digits, no sign, no leading zero (but `0` itself), at most
/// `u64::MAX`; `None` for anything else.
pub fn parse_nonce(raw: &str) -> Option<u64> {
    let canonical = !raw.is_empty()
        && raw.len() <= MOST_NONCE_DIGITS
        && raw.bytes().all(|b| b.is_ascii_digit())
        && (raw == "0" || !raw.starts_with('0'));
    canonical.then(|| raw.parse().ok()).flatten()
}

/// SHA-256 of `challenge:nonce`, the nonce in decimal.
pub fn proof_hash(challenge: &str, nonce: u64) -> [u8; 32] {
    Sha256::new()
        .chain_update(challenge.as_bytes())
        .chain_update(b":")
        .chain_update(nonce.to_string().as_bytes())
        .finalize()
        .into()
}

/// Whether `nonce` solves `challenge` at `bits`.
pub fn solves(challenge: &str, nonce: u64, bits: u8) -> bool {
    leading_zero_bits(&proof_hash(challenge, nonce)) >= u32::from(bits)
}

/// The number of zero bits `bytes` starts with, most significant bit of the first byte first.
pub fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut zeros = 0;
    for byte in bytes {
        if *byte != 0 {
            return zeros + byte.leading_zeros();
        }
        zeros += 8;
    }
    zeros
}

/// The smallest nonce that solves `challenge` at `bits`, by trying 0, 1, 2, … (what a browser
/// does, in Rust: for tests and tools; about `2^bits` hashes).
pub fn solve(challenge: &str, bits: u8) -> u64 {
    (0..=u64::MAX)
        .find(|nonce| solves(challenge, *nonce, bits))
        .expect("some nonce solves any challenge of at most 28 bits")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn key() -> BotCheckKey {
        BotCheckKey::from_bytes([7; 32])
    }

    #[test]
    fn leading_zero_bits_count_whole_bytes_then_the_first_set_bit() {
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0x7f]), 1);
        assert_eq!(leading_zero_bits(&[0x01]), 7);
        assert_eq!(leading_zero_bits(&[0x00, 0xff]), 8);
        assert_eq!(leading_zero_bits(&[0x00, 0x00, 0x10]), 19);
        assert_eq!(leading_zero_bits(&[0x00, 0x00]), 16);
        assert_eq!(leading_zero_bits(&[]), 0);
    }

    #[test]
    fn the_proof_hash_is_sha256_of_the_challenge_a_colon_and_the_decimal_nonce() {
        // printf 'abc:42' | sha256sum
        assert_eq!(
            hex::encode(proof_hash("abc", 42)),
            "77fed3f4d816b7f45026b803d1110fd9e8495ff5884d55c08c605d1b68057163"
        );
        // A challenge solved at 8 bits: the hash starts with a zero byte.
        // Computed with Python: the first n with sha256(b"abc:%d" % n)[0] == 0.
        let nonce = solve("abc", 8);
        assert_eq!(nonce, 181);
        assert_eq!(proof_hash("abc", nonce)[0], 0);
        assert!((0..nonce).all(|smaller| !solves("abc", smaller, 8)));
    }

    #[test]
    fn a_challenge_is_86_base64url_characters_carrying_campaign_expiry_random_and_tag() {
        let challenge = key().issue_with(CampaignId(42), NOW, [0xab; 16]);
        assert_eq!(challenge.len(), CHALLENGE_CHARS);
        assert_eq!(CHALLENGE_CHARS, 86);
        assert!(
            challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{challenge}"
        );
        let bytes = URL_SAFE_NO_PAD.decode(&challenge).unwrap();
        assert_eq!(&bytes[..8], &42i64.to_be_bytes());
        assert_eq!(&bytes[8..16], &NOW.to_be_bytes());
        assert_eq!(&bytes[16..32], &[0xab; 16]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[7; 32]).unwrap();
        mac.update(&bytes[..32]);
        assert_eq!(&bytes[32..], mac.finalize().into_bytes().as_slice());
        assert_ne!(
            key().issue(CampaignId(42), NOW),
            key().issue(CampaignId(42), NOW),
            "random bytes make each one new"
        );
    }

    #[test]
    fn a_solved_challenge_passes_with_its_tag_and_expiry() {
        let challenge = key().issue(CampaignId(3), NOW + 60_000);
        let nonce = solve(&challenge, 8);
        let solved = key()
            .check(&challenge, &nonce.to_string(), CampaignId(3), 8, NOW)
            .unwrap();
        assert_eq!(solved.expires_ms, NOW + 60_000);
        let bytes = URL_SAFE_NO_PAD.decode(&challenge).unwrap();
        assert_eq!(&solved.tag[..], &bytes[32..]);
        // Zero bits: any nonce.
        assert!(key().check(&challenge, "0", CampaignId(3), 0, NOW).is_ok());
    }

    #[test]
    fn forged_foreign_expired_and_unsolved_challenges_are_refused() {
        let challenge = key().issue(CampaignId(3), NOW + 60_000);
        let nonce = solve(&challenge, 8).to_string();
        fn check(
            challenge: &str,
            nonce: &str,
            campaign: i64,
            now: i64,
        ) -> Result<Solved, Unsolved> {
            key().check(challenge, nonce, CampaignId(campaign), 8, now)
        }
        // A changed tag, and a changed campaign id re-encoded with the old tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&challenge).unwrap();
        bytes[63] ^= 1;
        let tampered_tag = URL_SAFE_NO_PAD.encode(&bytes);
        bytes[63] ^= 1;
        bytes[7] ^= 1;
        let tampered_campaign = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(check(&tampered_tag, &nonce, 3, NOW), Err(Unsolved::Failed));
        assert_eq!(
            check(&tampered_campaign, &nonce, 2, NOW),
            Err(Unsolved::Failed)
        );
        // Another key's.
        let foreign = BotCheckKey::from_bytes([8; 32]).issue(CampaignId(3), NOW + 60_000);
        let foreign_nonce = solve(&foreign, 8).to_string();
        assert_eq!(
            check(&foreign, &foreign_nonce, 3, NOW),
            Err(Unsolved::Failed)
        );
        // Another campaign's.
        assert_eq!(check(&challenge, &nonce, 4, NOW), Err(Unsolved::Failed));
        // Expired: at its expiry and after.
        assert_eq!(
            check(&challenge, &nonce, 3, NOW + 60_000),
            Err(Unsolved::Expired)
        );
        // A wrong nonce (one that does not solve it), and nonces that are no numbers.
        let wrong = (0u64..)
            .find(|n| !solves(&challenge, *n, 8))
            .unwrap()
            .to_string();
        let nonces = [
            wrong.as_str(),
            "",
            "-1",
            "01",
            "1e3",
            " 1",
            "18446744073709551616",
        ];
        for bad in nonces {
            let refused = check(&challenge, bad, 3, NOW);
            assert_eq!(refused, Err(Unsolved::Failed), "{bad:?}");
        }
        // Not a challenge at all.
        let padded = format!("{challenge}=");
        for bad in ["", "abc", &challenge[1..], padded.as_str()] {
            assert_eq!(check(bad, &nonce, 3, NOW), Err(Unsolved::Failed), "{bad:?}");
        }
    }

    #[test]
    fn nonces_are_canonical_decimal_numbers() {
        assert_eq!(parse_nonce("0"), Some(0));
        assert_eq!(parse_nonce("1234"), Some(1234));
        assert_eq!(parse_nonce("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "00", "007", "+1", "1.0", "٣", "18446744073709551616"] {
            assert_eq!(parse_nonce(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_key_is_derived_from_the_code_key_and_never_printed() {
        let derived = BotCheckKey::derive(&[1; 16]);
        assert_eq!(derived.0, BotCheckKey::derive(&[1; 16]).0, "deterministic");
        assert_ne!(derived.0, BotCheckKey::derive(&[2; 16]).0);
        assert_ne!(&derived.0[..16], &[1; 16]);
        assert_eq!(format!("{derived:?}"), "BotCheckKey(..)");
    }
}
