//! What text people give us may contain: no invisible formatting characters (bidirectional
//! controls that make `gift.exe` read `exe.tfig`, zero-width spaces that make two ids look the
//! same), and one encoding of each letter (Unicode NFC). The database checks the same rule for
//! campaign names and member ids (`migrations/…_visible_campaign_names.sql` and
//! `…_visible_member_ids.sql`, which list the same characters).

use unicode_normalization::UnicodeNormalization;

/// The zero-width joiner: invisible, but it is what holds emoji sequences such as 👩‍💻 together,
/// so it is allowed between two pictographs (the first perhaps followed by the emoji variation
/// selector), and nowhere else.
const ZERO_WIDTH_JOINER: char = '\u{200D}';

/// Invisible formatting characters other than the joiner: the soft hyphen, the Arabic letter
/// mark, the Mongolian vowel separator, zero-width space and non-joiner, the directional marks,
/// embeddings, overrides and isolates, the invisible operators, the byte-order mark, the
/// interlinear annotation marks, and the tag characters.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

fn is_pictograph(c: char) -> bool {
    matches!(c, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}')
}

/// The first invisible formatting character of `text` (a joiner outside an emoji sequence
/// included), if any.
pub fn invisible_formatting(text: &str) -> Option<char> {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().find_map(|(i, &c)| {
        if c == ZERO_WIDTH_JOINER {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let before = match before {
                Some('\u{FE0F}') => i.checked_sub(2).map(|j| chars[j]),
                other => other,
            };
            let joins = before.is_some_and(is_pictograph)
                && chars.get(i + 1).copied().is_some_and(is_pictograph);
            (!joins).then_some(c)
        } else {
            is_invisible_format(c).then_some(c)
        }
    })
}

/// Why `text` cannot be accepted as `field`, if it has an invisible formatting character.
pub fn refuse_invisible(field: &str, text: &str) -> Result<(), crate::validation::FieldError> {
    match invisible_formatting(text) {
        Some(c) => Err(crate::validation::FieldError::new(
            field,
            format!(
                "must not contain invisible formatting characters (found U+{:04X})",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// `text` in Unicode normalization form C.
pub fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// Whether `text` is in Unicode normalization form C already.
pub fn is_nfc(text: &str) -> bool {
    unicode_normalization::is_nfc(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidirectional_controls_and_zero_width_characters_are_found() {
        assert_eq!(
            invisible_formatting("gift\u{202E}exe.txt"),
            Some('\u{202E}')
        );
        assert_eq!(invisible_formatting("ad\u{200B}min"), Some('\u{200B}'));
        assert_eq!(invisible_formatting("\u{FEFF}member"), Some('\u{FEFF}'));
        assert_eq!(invisible_formatting("a\u{2066}b\u{2069}"), Some('\u{2066}'));
        assert_eq!(invisible_formatting("주말 특가 🎉 ünïcödé"), None);
    }

    #[test]
    fn the_joiner_is_allowed_inside_emoji_sequences_only() {
        assert_eq!(invisible_formatting("coder 👩\u{200D}💻"), None);
        assert_eq!(invisible_formatting("flag 🏳\u{FE0F}\u{200D}🌈"), None);
        assert_eq!(invisible_formatting("ad\u{200D}min"), Some('\u{200D}'));
        assert_eq!(invisible_formatting("👩\u{200D}"), Some('\u{200D}'));
    }

    #[test]
    fn decomposed_letters_are_composed() {
        let decomposed = "u\u{0308}";
        assert!(!is_nfc(decomposed));
        assert_eq!(nfc(decomposed), "ü");
        assert!(is_nfc("회원-ü"));
        // Hangul typed as separate jamo becomes the syllable.
        assert_eq!(nfc("\u{1112}\u{1161}\u{11AB}"), "한");
    }
}
