//! A keyed permutation of 80-bit numbers: a balanced Feistel network over two 40-bit halves,
//! with SipHash-2-4 under the key as the round function.
//!
//! Why this construction: a Feistel network is a permutation whatever its round function, so
//! distinct inputs always give distinct outputs (the codes' uniqueness rests on that alone), and
//! it is undone by running the rounds backwards. With a pseudo-random round function, four
//! rounds already make a pseudo-random permutation (Luby–Rackoff); eight leave a margin. SipHash
//! is a pseudo-random function built for short inputs, and cheap on them (docs/benchmark.md).

use siphasher::sip::SipHasher24;
use std::hash::Hasher;

/// Bits in each half; the permutation works on numbers below 2^(2 × HALF_BITS).
pub(super) const HALF_BITS: u32 = 40;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const ROUNDS: u8 = 8;

#[derive(Clone)]
pub(super) struct Permutation {
    k0: u64,
    k1: u64,
}

impl Permutation {
    pub(super) fn new(key: [u8; 16]) -> Self {
        let key = u128::from_le_bytes(key);
        Self {
            k0: key as u64,
            k1: (key >> 64) as u64,
        }
    }

    /// The image of `input` (only its low 80 bits are used).
    pub(super) fn forward(&self, input: u128) -> u128 {
        let (mut left, mut right) = halves(input);
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(round, right));
        }
        joined(left, right)
    }

    /// The input whose image is `output`: `backward(forward(x)) == x`.
    pub(super) fn backward(&self, output: u128) -> u128 {
        let (mut left, mut right) = halves(output);
        for round in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(round, left), left);
        }
        joined(left, right)
    }

    /// The round function: 40 pseudo-random bits of (round number, half). The bytes are spelled
    /// out little-endian so that every machine makes the same codes.
    fn round(&self, round: u8, half: u64) -> u64 {
        let mut sip = SipHasher24::new_with_keys(self.k0, self.k1);
        sip.write(&[round]);
        sip.write(&half.to_le_bytes()[..5]);
        sip.finish() & HALF_MASK
    }
}

fn halves(value: u128) -> (u64, u64) {
    let high = (value >> HALF_BITS) as u64 & HALF_MASK;
    let low = value as u64 & HALF_MASK;
    (high, low)
}

fn joined(high: u64, low: u64) -> u128 {
    (u128::from(high) << HALF_BITS) | u128::from(low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn backward_undoes_forward() {
        let permutation = Permutation::new(*b"sixteen byte key");
        for input in [0, 1, 2, (1 << 80) - 1, 0x1234_5678_9abc_def0_1234] {
            let output = permutation.forward(input);
            assert!(output < 1 << 80, "{output:x}");
            assert_eq!(permutation.backward(output), input, "{input:x}");
        }
    }

    #[test]
    fn a_small_domain_maps_to_distinct_numbers() {
        let permutation = Permutation::new([9; 16]);
        let images: HashSet<u128> = (0..50_000).map(|n| permutation.forward(n)).collect();
        assert_eq!(images.len(), 50_000);
    }

    #[test]
    fn the_image_is_fixed_by_the_key_alone() {
        // Pinned: the same key must give the same codes on every machine and in every release,
        // or a code could no longer be located after an upgrade.
        let permutation = Permutation::new(*b"sixteen byte key");
        assert_eq!(permutation.forward(1), PINNED_IMAGE_OF_ONE);
    }

    const PINNED_IMAGE_OF_ONE: u128 = 820_432_567_560_312_078_328_171;
}
