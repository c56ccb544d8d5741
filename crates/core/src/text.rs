//! Human-visible text: one rule for every name, title, label and description
//! a person types and others see (display names, e-mail addresses, sale
//! titles and descriptions, venue, section, row and seat names, token labels).
//!
//! Text is put in Unicode NFC first, so `"가"` typed as one syllable and as
//! three jamo is the same name. Then it must not carry characters that draw
//! nothing or change how *other* text is drawn: controls (NUL, ESC; a line
//! break only where the field is multi-line), format characters (bidi
//! overrides such as U+202E, zero-width spaces, the BOM), private-use,
//! unassigned and noncharacter code points (U+FFFF). A zero-width joiner or
//! non-joiner is kept where it joins two visible characters (emoji sequences,
//! Persian and Indic scripts). Finally a name must show something: text made
//! only of spaces, combining marks and blank-looking letters (the Hangul
//! fillers) is refused.
//!
//! Pure functions; the store and the server call them at their edges, the
//! venue rules call [`check_line`].

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a piece of text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextError {
    /// Required, but empty or showing nothing (only spaces, marks or blank letters).
    Blank,
    /// Longer than the field allows (counted in characters after NFC).
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// A character that has no place in the field (a control, format, bidi,
    /// private-use or unassigned character).
    Forbidden {
        /// The offending character.
        ch: char,
    },
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextError::Blank => f.write_str("must show at least one visible character"),
            TextError::TooLong { max } => write!(f, "must be at most {max} characters"),
            TextError::Forbidden { ch } => {
                write!(
                    f,
                    "must not contain U+{:04X} (an invisible, control or direction-changing character)",
                    *ch as u32
                )
            }
        }
    }
}

impl std::error::Error for TextError {}

/// Letters that are assigned and printable by category but draw nothing.
/// Each is a known way to make a name that looks empty.
fn is_blank_letter(c: char) -> bool {
    matches!(
        c,
        '\u{115F}' // HANGUL CHOSEONG FILLER
            | '\u{1160}' // HANGUL JUNGSEONG FILLER
            | '\u{3164}' // HANGUL FILLER
            | '\u{FFA0}' // HALFWIDTH HANGUL FILLER
            | '\u{2800}' // BRAILLE PATTERN BLANK
            | '\u{034F}' // COMBINING GRAPHEME JOINER
    )
}

/// Draws something by itself: not a space, mark, format character or blank letter.
fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !is_blank_letter(c)
        && !matches!(
            c.general_category(),
            GeneralCategory::NonspacingMark
                | GeneralCategory::EnclosingMark
                | GeneralCategory::Format
                | GeneralCategory::Control
                | GeneralCategory::Unassigned
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
        )
}

/// Whether `c` may stand in a field; `multi_line` admits `\n` (and only that).
/// `prev` and `next` are its neighbours, for the joiners.
fn allowed(c: char, prev: Option<char>, next: Option<char>, multi_line: bool) -> bool {
    if c == '\n' {
        return multi_line;
    }
    match c.general_category() {
        GeneralCategory::Control
        | GeneralCategory::PrivateUse
        | GeneralCategory::Unassigned
        | GeneralCategory::Surrogate
        | GeneralCategory::LineSeparator
        | GeneralCategory::ParagraphSeparator => false,
        // ZWNJ and ZWJ shape the characters on both sides; alone they only hide.
        GeneralCategory::Format => {
            matches!(c, '\u{200C}' | '\u{200D}') && prev.is_some_and(is_visible) && next.is_some_and(is_visible)
        }
        _ => true,
    }
}

fn first_forbidden(text: &str, multi_line: bool) -> Option<char> {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).find_map(|i| {
        let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        let c = chars[i];
        (!allowed(c, prev, next, multi_line)).then_some(c)
    })
}

fn check(text: &str, max_chars: usize, required: bool, multi_line: bool) -> Result<(), TextError> {
    if let Some(ch) = first_forbidden(text, multi_line) {
        return Err(TextError::Forbidden { ch });
    }
    if text.chars().count() > max_chars {
        return Err(TextError::TooLong { max: max_chars });
    }
    if required && !text.chars().any(is_visible) {
        return Err(TextError::Blank);
    }
    Ok(())
}

/// A one-line field (a name, a title, a label): NFC, trimmed, no line breaks,
/// at most `max_chars` characters; `required` text must show something.
pub fn clean_line(raw: &str, max_chars: usize, required: bool) -> Result<String, TextError> {
    let text: String = raw.nfc().collect();
    let text = text.trim();
    check(text, max_chars, required, false)?;
    Ok(text.to_owned())
}

/// A multi-line field (a description): like [`clean_line`], but `\n` is
/// allowed, and `\r\n` is read as `\n`.
pub fn clean_paragraphs(raw: &str, max_chars: usize, required: bool) -> Result<String, TextError> {
    let text: String = raw.replace("\r\n", "\n").nfc().collect();
    let text = text.trim();
    check(text, max_chars, required, true)?;
    Ok(text.to_owned())
}

/// Checks a one-line value that is already stored as it is (a venue's names,
/// which are part of its JSON): the rules of [`clean_line`] without changing
/// the text, so a value that needed trimming or NFC is not refused, only one
/// that carries a forbidden character or shows nothing. Length is the
/// caller's rule.
pub fn check_line(text: &str) -> Result<(), TextError> {
    check(text, usize::MAX, true, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_trims() {
        // U+1100 U+1161 (two jamo) compose to U+AC00 (가).
        assert_eq!(clean_line(" \u{1100}\u{1161}나 ", 10, true).as_deref(), Ok("가나"));
        assert_eq!(clean_line("e\u{301}", 1, true).as_deref(), Ok("é"));
        assert_eq!(clean_paragraphs("a\r\nb", 10, true).as_deref(), Ok("a\nb"));
    }

    #[test]
    fn refuses_invisible_and_controlling_characters() {
        for bad in [
            "a\u{202E}b",  // right-to-left override
            "a\u{2066}b",  // left-to-right isolate
            "a\u{200E}b",  // left-to-right mark
            "\u{FEFF}abc", // BOM
            "a\u{200B}b",  // zero-width space
            "a\u{FFFF}",   // noncharacter
            "a\u{E000}",   // private use
            "a\u{0}b",     // NUL
            "a\u{1B}[31m", // ESC
            "a\nb",        // a line break in a one-line field
            "a\u{2028}b",  // line separator
            "a\u{AD}b",    // soft hyphen
        ] {
            assert!(matches!(clean_line(bad, 64, true), Err(TextError::Forbidden { .. })), "{bad:?} should be refused");
        }
        assert!(matches!(clean_paragraphs("a\u{0}b", 64, true), Err(TextError::Forbidden { ch: '\u{0}' })));
        assert!(matches!(clean_paragraphs("a\tb", 64, true), Err(TextError::Forbidden { ch: '\t' })));
    }

    #[test]
    fn refuses_names_that_show_nothing() {
        for blank in ["", "   ", "\u{3164}", "\u{115F}\u{1160}", "\u{2800}", "\u{301}\u{301}", "\u{3000}"] {
            assert_eq!(clean_line(blank, 64, true), Err(TextError::Blank), "{blank:?}");
        }
        // zero-width only: refused as a forbidden character, before "blank"
        assert!(clean_line("\u{200B}\u{200B}", 64, true).is_err());
        assert_eq!(clean_line("", 64, false).as_deref(), Ok(""));
    }

    #[test]
    fn keeps_real_text() {
        for good in [
            "김민수",
            "Kim Min-su",
            "O'Brien",
            "Zoë",
            "👨\u{200D}👩\u{200D}👧 family",
            "می\u{200C}خواهم",
            "❤\u{FE0F}",
            "سلام",
            "Floor A-1 (VIP)",
        ] {
            assert_eq!(clean_line(good, 64, true).as_deref(), Ok(good), "{good:?}");
        }
        // a joiner at an edge joins nothing
        assert!(clean_line("\u{200D}a", 64, true).is_err());
        assert!(clean_line("a\u{200D}", 64, true).is_err());
    }

    #[test]
    fn counts_characters_after_normalising() {
        assert!(clean_line(&"김".repeat(64), 64, true).is_ok());
        assert_eq!(clean_line(&"김".repeat(65), 64, true), Err(TextError::TooLong { max: 64 }));
        // 64 syllables typed as 128 jamo are 64 characters once composed
        assert!(clean_line(&"\u{1100}\u{1161}".repeat(64), 64, true).is_ok());
    }

    #[test]
    fn check_line_does_not_rewrite() {
        assert!(check_line("Floor").is_ok());
        assert!(check_line(" Floor ").is_ok());
        assert!(check_line("Fl\u{202E}oor").is_err());
        assert!(check_line("\u{3164}").is_err());
    }
}
