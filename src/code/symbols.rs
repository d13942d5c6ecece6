//! Writing an 80-bit number as sixteen symbols of Crockford's base 32, and reading it back.

/// Crockford's base-32 alphabet: no I, L, O or U, so codes read aloud or typed are unambiguous.
pub(super) const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 16 symbols × 5 bits = 80 bits.
const SYMBOLS: usize = 16;
const GROUP: usize = 4;

/// `value`'s low 80 bits as `XXXX-XXXX-XXXX-XXXX`.
pub(super) fn encode(value: u128) -> String {
    group((0..SYMBOLS).map(|i| {
        let shift = 5 * (SYMBOLS - 1 - i);
        char::from(ALPHABET[((value >> shift) & 0x1f) as usize])
    }))
}

/// The number a typed code stands for: dashes are skipped, case is ignored, and I, L (for 1)
/// and O (for 0) are read as Crockford's spec reads them. `None` unless exactly sixteen symbols.
pub(super) fn decode(code: &str) -> Option<u128> {
    let mut value = 0u128;
    let mut count = 0;
    for byte in code.bytes().filter(|&b| b != b'-') {
        let symbol = match byte.to_ascii_uppercase() {
            b'I' | b'L' => b'1',
            b'O' => b'0',
            other => other,
        };
        let digit = ALPHABET.iter().position(|&a| a == symbol)?;
        value = (value << 5) | digit as u128;
        count += 1;
        if count > SYMBOLS {
            return None;
        }
    }
    (count == SYMBOLS).then_some(value)
}

/// A compact code (as queued by releases that stored random codes) in the grouped form.
pub fn grouped(compact: &str) -> String {
    group(compact.chars())
}

/// `symbols` in groups of four joined by dashes.
fn group(symbols: impl Iterator<Item = char>) -> String {
    let mut code = String::with_capacity(SYMBOLS + SYMBOLS / GROUP);
    for (i, symbol) in symbols.enumerate() {
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

    #[test]
    fn a_number_reads_back_from_its_symbols() {
        for value in [0, 1, 31, 32, (1 << 80) - 1, 0xdead_beef_cafe_f00d_1234] {
            assert_eq!(decode(&encode(value)), Some(value), "{value:x}");
        }
        assert_eq!(encode(0), "0000-0000-0000-0000");
        assert_eq!(encode(31), "0000-0000-0000-000Z");
    }

    #[test]
    fn only_sixteen_symbols_of_the_alphabet_decode() {
        for text in [
            "",
            "000",
            "0000-0000-0000-000",
            "0000-0000-0000-0000-0",
            "000U-0000-0000-0000",
        ] {
            assert_eq!(decode(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_grouped_form_joins_groups_of_four_with_dashes() {
        assert_eq!(grouped("ABCDEFGH"), "ABCD-EFGH");
        assert_eq!(grouped("7K3MQ9ZDT2XHB8NC"), "7K3M-Q9ZD-T2XH-B8NC");
    }
}
