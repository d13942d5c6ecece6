//! Coupon codes: what the end user types or shows at checkout, such as `7K3M-Q9ZD-T2XH-B8NC`.
//!
//! A code is the campaign id and the claim's sequence number, encrypted under the deployment's
//! secret [`CodeKey`] by a keyed 80-bit permutation (`permutation.rs`) and written as sixteen
//! Crockford base-32 symbols (`symbols.rs`).
//!
//! Why not random codes: a random code has to be remembered next to the claim until the sync
//! has recorded it (16 bytes of every queued coupon in Redis) and kept unique by a unique index
//! that the sync updates for every row (one of the three B-trees it maintains). A code derived
//! from (campaign, sequence) is unique because that pair is (PostgreSQL's
//! `issued_coupons_sequence_unique`), needs nothing stored to be recomputed, and leads back to
//! its row through that same index ([`CodeKey::locate`]). Without the key the codes are as
//! unguessable as random ones: the permutation is a pseudo-random one, so the codes a member
//! sees say nothing about anyone else's.

mod permutation;
mod symbols;

use crate::campaign::CampaignId;
use permutation::{HALF_BITS, Permutation};

pub use symbols::grouped;

/// The largest campaign id and sequence number a code can carry (40 bits each): a trillion
/// campaigns of a trillion coupons.
pub const MOST: i64 = (1 << HALF_BITS) - 1;

/// The secret that turns (campaign, sequence) into codes. One per deployment, made once and kept
/// in PostgreSQL with the coupons (see [`crate::store::code_key`]): whoever can read it can read
/// the codes anyway.
#[derive(Clone)]
pub struct CodeKey(Permutation);

impl CodeKey {
    /// Length of a key in bytes.
    pub const LEN: usize = 16;

    /// A key from its stored bytes; `None` unless there are exactly [`CodeKey::LEN`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; Self::LEN] = bytes.try_into().ok()?;
        Some(Self(Permutation::new(bytes)))
    }

    /// Fresh key bytes from the operating system's CSPRNG (through `rand`'s thread RNG).
    pub fn generate() -> [u8; Self::LEN] {
        rand::random()
    }

    /// The code of the `sequence`th coupon of `campaign`, in the grouped form people see;
    /// `None` when either is not in 1..=[`MOST`].
    pub fn code_of(&self, campaign: CampaignId, sequence: i64) -> Option<String> {
        let in_range = |n: i64| (1..=MOST).contains(&n);
        if !in_range(campaign.0) || !in_range(sequence) {
            return None;
        }
        let plain = ((campaign.0 as u128) << HALF_BITS) | sequence as u128;
        Some(symbols::encode(self.0.forward(plain)))
    }

    /// The campaign and sequence a code was made from; `None` for anything that is not a code
    /// made with this key. Case, dashes and the look-alikes I, L (1) and O (0) are forgiven, as
    /// people type codes. A code that decodes still has to be looked up: a mistyped one decodes
    /// too, to a pair that almost certainly does not exist.
    pub fn locate(&self, code: &str) -> Option<(CampaignId, i64)> {
        let plain = self.0.backward(symbols::decode(code)?);
        let campaign = i64::try_from(plain >> HALF_BITS).ok()?;
        let sequence = i64::try_from(plain & u128::from(MOST as u64)).ok()?;
        (campaign > 0 && sequence > 0).then_some((CampaignId(campaign), sequence))
    }
}

/// A typed code in the grouped form codes are recorded in (case, dashes and look-alikes
/// forgiven); `None` for text that is not sixteen code symbols at all.
pub fn canonical(code: &str) -> Option<String> {
    symbols::decode(code).map(symbols::encode)
}

impl std::fmt::Debug for CodeKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(seed: u8) -> CodeKey {
        CodeKey::from_bytes(&[seed; CodeKey::LEN]).unwrap()
    }

    #[test]
    fn a_code_is_four_groups_of_four_unambiguous_symbols() {
        let code = key(1).code_of(CampaignId(42), 7).unwrap();
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 4, "{code}");
        for group in groups {
            assert_eq!(group.len(), 4, "{code}");
            assert!(
                group.bytes().all(|b| symbols::ALPHABET.contains(&b)),
                "{code}"
            );
        }
    }

    #[test]
    fn every_code_leads_back_to_its_campaign_and_sequence() {
        let key = key(2);
        for (campaign, sequence) in [(1, 1), (42, 7), (MOST, MOST), (3, MOST), (MOST, 1)] {
            let code = key.code_of(CampaignId(campaign), sequence).unwrap();
            assert_eq!(
                key.locate(&code),
                Some((CampaignId(campaign), sequence)),
                "{code}"
            );
        }
    }

    #[test]
    fn the_codes_of_a_campaign_are_all_different_and_show_no_order() {
        let key = key(3);
        let codes: Vec<String> = (1..=100_000)
            .map(|sequence| key.code_of(CampaignId(9), sequence).unwrap())
            .collect();
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), codes.len());
        // Neighbours share no prefix more often than chance would have them (1 in 32 a symbol).
        let shared_first_symbol = codes
            .windows(2)
            .filter(|pair| pair[0].as_bytes()[0] == pair[1].as_bytes()[0])
            .count();
        assert!(shared_first_symbol < 100_000 / 16, "{shared_first_symbol}");
    }

    #[test]
    fn another_key_makes_other_codes_and_cannot_read_them() {
        let code = key(4).code_of(CampaignId(5), 6).unwrap();
        assert_ne!(key(5).code_of(CampaignId(5), 6).unwrap(), code);
        assert_ne!(key(5).locate(&code), Some((CampaignId(5), 6)));
    }

    #[test]
    fn codes_are_forgiving_of_how_people_type_them() {
        let key = key(6);
        let code = key.code_of(CampaignId(8), 1234).unwrap();
        let typed = code.replace('-', "").replace('1', "l").replace('0', "o");
        assert_eq!(
            key.locate(&typed.to_lowercase()),
            Some((CampaignId(8), 1234))
        );
    }

    #[test]
    fn what_is_no_code_locates_nothing_and_out_of_range_pairs_have_no_code() {
        let key = key(7);
        for text in [
            "",
            "ABCD",
            "ABCD-EFGH-JKMN-PQRU",
            "ABCD-EFGH-JKMN-PQRS-T",
            "é",
        ] {
            assert_eq!(key.locate(text), None, "{text:?}");
        }
        assert_eq!(key.code_of(CampaignId(0), 1), None);
        assert_eq!(key.code_of(CampaignId(1), 0), None);
        assert_eq!(key.code_of(CampaignId(MOST + 1), 1), None);
        assert_eq!(key.code_of(CampaignId(1), MOST + 1), None);
    }

    #[test]
    fn a_key_is_exactly_sixteen_bytes_and_never_printed() {
        assert!(CodeKey::from_bytes(&[0; 15]).is_none());
        assert!(CodeKey::from_bytes(&[0; 17]).is_none());
        assert_eq!(format!("{:?}", key(8)), "CodeKey(..)");
        assert_ne!(CodeKey::generate(), CodeKey::generate());
    }
}
