//! Coupon codes: what the end user types or shows at checkout.

use rand::RngCore;

/// Crockford's base32 alphabet: no I, L, O or U, so codes read aloud or typed are unambiguous.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 16 symbols × 5 bits = 80 random bits: unguessable, and a collision among a billion codes has
/// a probability below 1e-6 (the database's unique constraint catches even that).
const SYMBOLS: usize = 16;
const GROUP: usize = 4;

/// A fresh random coupon code in the form people see, such as `7K3M-Q9ZD-T2XH-B8NC`.
pub fn generate() -> String {
    grouped(&generate_compact())
}

/// A fresh random coupon code in its compact form, such as `7K3MQ9ZDT2XHB8NC`: what the claim
/// script stores in the queue (three bytes a coupon fewer than the grouped form).
///
/// Drawn from the thread-local CSPRNG before the claim script runs, so the user sees the code
/// in the same answer that tells them they won; a code that is not issued is simply dropped.
pub fn generate_compact() -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    let bits = bytes
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    (0..SYMBOLS)
        .map(|i| {
            let shift = 5 * (SYMBOLS - 1 - i);
            char::from(ALPHABET[((bits >> shift) & 0x1f) as usize])
        })
        .collect()
}

/// The form people see and PostgreSQL records: groups of four joined by dashes.
pub fn grouped(compact: &str) -> String {
    let mut code = String::with_capacity(compact.len() + compact.len() / GROUP);
    for (i, symbol) in compact.chars().enumerate() {
        if i > 0 && i % GROUP == 0 {
            code.push('-');
        }
        code.push(symbol);
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_code_is_four_groups_of_four_unambiguous_symbols() {
        let code = generate();
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 4, "{code}");
        for group in groups {
            assert_eq!(group.len(), 4, "{code}");
            assert!(group.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        }
    }

    #[test]
    fn the_compact_form_is_the_grouped_one_without_dashes() {
        let compact = generate_compact();
        assert_eq!(compact.len(), SYMBOLS);
        assert_eq!(grouped(&compact).replace('-', ""), compact);
        assert_eq!(grouped("ABCDEFGH"), "ABCD-EFGH");
    }

    #[test]
    fn a_hundred_thousand_codes_are_all_different() {
        let codes: HashSet<String> = (0..100_000).map(|_| generate()).collect();
        assert_eq!(codes.len(), 100_000);
    }
}
