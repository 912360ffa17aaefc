//! Names as written in the language: bare words, and double-quoted strings with JSON escapes.
//!
//! Reading and writing live side by side so the printer's choice between bare and quoted is
//! always one the reader accepts, which is what makes printing round-trip.

/// Words that start a block or a statement; they must be quoted to be used as names.
///
/// Mirrors the grammar's `reserved` rule.
pub(crate) const RESERVED: [&str; 5] = ["agent", "defaults", "allow", "deny", "limits"];

/// A problem with one escape or character inside a quoted name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EscapeError {
    /// Byte offset of the problem within the quoted text (after the opening quote).
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: &'static str,
}

const ESCAPES_HINT: &str = "the escapes are `\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` and `\\uXXXX`";

/// Decodes the text between the quotes of a quoted name.
///
/// Every problem is collected (with its offset) rather than stopping at the first; the decoded
/// text skips what could not be decoded, so parsing can go on and report the rest of the file.
pub(crate) fn unescape(raw: &str) -> (String, Vec<EscapeError>) {
    let mut out = String::with_capacity(raw.len());
    let mut errors = Vec::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            if c.is_control() {
                errors.push(EscapeError {
                    offset: at,
                    message: format!("control character U+{:04X} in a quoted name", u32::from(c)),
                    hint: "write it as an escape such as `\\t` or `\\u0007`",
                });
            } else {
                out.push(c);
            }
            continue;
        }
        let Some((_, e)) = chars.next() else {
            // The grammar never lets a quoted name end in a lone backslash, but be total anyway.
            errors.push(EscapeError { offset: at, message: "unfinished escape `\\`".to_owned(), hint: ESCAPES_HINT });
            break;
        };
        let simple = match e {
            '"' => Some('"'),
            '\\' => Some('\\'),
            '/' => Some('/'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        if e != 'u' {
            let shown: String = e.escape_debug().collect();
            errors.push(EscapeError { offset: at, message: format!("invalid escape `\\{shown}`"), hint: ESCAPES_HINT });
            continue;
        }
        match unicode_escape(raw, at) {
            Ok((c, len)) => {
                out.push(c);
                // Skip what the escape used beyond `\u`.
                let end = at + len;
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
            }
            Err(message) => {
                errors.push(EscapeError { offset: at, message, hint: ESCAPES_HINT });
            }
        }
    }
    (out, errors)
}

/// Decodes `\uXXXX` (or a `\uD8XX\uDCXX` surrogate pair) at byte `at` of `raw`; returns the
/// character and the byte length of the escape.
fn unicode_escape(raw: &str, at: usize) -> Result<(char, usize), String> {
    let hex4 = |from: usize| -> Option<u32> {
        let digits = raw.get(from..from + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    let Some(first) = hex4(at + 2) else {
        let shown: String = raw.get(at..).unwrap_or("").chars().take(6).collect();
        return Err(format!("invalid unicode escape `{shown}`, expected four hex digits after `\\u`"));
    };
    let shown = raw.get(at..at + 6).unwrap_or("");
    match first {
        0xD800..=0xDBFF => {
            let low = if raw.get(at + 6..at + 8) == Some("\\u") { hex4(at + 8) } else { None };
            match low {
                Some(low @ 0xDC00..=0xDFFF) => {
                    let code = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(code).map(|c| (c, 12)).ok_or_else(|| format!("invalid unicode escape `{shown}`"))
                }
                _ => Err(format!("unpaired surrogate `{shown}`, expected a `\\uDC00`-`\\uDFFF` escape after it")),
            }
        }
        0xDC00..=0xDFFF => Err(format!("unpaired surrogate `{shown}`")),
        code => char::from_u32(code).map(|c| (c, 6)).ok_or_else(|| format!("invalid unicode escape `{shown}`")),
    }
}

/// Whether `text` can be written without quotes: a non-empty run of `[A-Za-z0-9_.*-]` that is
/// not a reserved word.
pub(crate) fn is_bare(text: &str) -> bool {
    !text.is_empty() && text.chars().all(super::source::is_name_char) && !RESERVED.contains(&text)
}

/// Writes a name bare when it can be, and quoted otherwise.
///
/// Quoted names escape every character outside printable ASCII (`\u00e9`, not `é`): a reviewer
/// must be able to tell `postgres` from `pоstgres` with a Cyrillic `о`, and invisible or
/// direction-changing characters must not hide in a policy diff.
pub(crate) fn write_name(out: &mut String, text: &str) {
    if is_bare(text) {
        out.push_str(text);
        return;
    }
    crate::policy::json::print::write_escaped(out, text, true);
}

/// [`write_name`] into a fresh string.
pub(crate) fn name(text: &str) -> String {
    let mut out = String::new();
    write_name(&mut out, text);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn decodes_json_escapes() {
        let (s, e) = unescape(r#"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"#);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(s, "a\"b\\c/d\u{8}\u{c}\n\r\té😀");
    }

    #[test]
    fn reports_every_bad_escape_with_its_offset() {
        let (_, e) = unescape(r#"a\xb\u12g4c\ud800d\udc00"#);
        let found: Vec<_> = e.iter().map(|e| (e.offset, e.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (1, "invalid escape `\\x`"),
                (4, "invalid unicode escape `\\u12g4`, expected four hex digits after `\\u`"),
                (11, "unpaired surrogate `\\ud800`, expected a `\\uDC00`-`\\uDFFF` escape after it"),
                (18, "unpaired surrogate `\\udc00`"),
            ]
        );
    }

    #[test]
    fn refuses_raw_control_characters() {
        let (s, e) = unescape("a\tb\u{7}");
        assert_eq!(s, "ab");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].message, "control character U+0009 in a quoted name");
        assert_eq!(e[1].offset, 3);
    }

    #[test]
    fn short_or_truncated_unicode_escapes_do_not_panic() {
        for raw in ["\\u", "\\u1", "\\ud83d", "\\ud83d\\u", "\\ud83d\\uzzzz", "\\ué", "\\u00é"] {
            let (_, e) = unescape(raw);
            assert!(!e.is_empty(), "{raw}");
        }
    }

    #[test]
    fn writes_bare_only_when_the_reader_takes_it_bare() {
        assert_eq!(name("list_*"), "list_*");
        assert_eq!(name("backend.db-1"), "backend.db-1");
        assert_eq!(name(""), "\"\"");
        assert_eq!(name("allow"), "\"allow\"");
        assert_eq!(name("allowed"), "allowed");
        assert_eq!(name("a b"), "\"a b\"");
        assert_eq!(name("a:b#c"), "\"a:b#c\"");
        assert_eq!(name("q\"\\\n"), "\"q\\\"\\\\\\n\"");
        assert_eq!(name("é😀\u{7f}"), "\"\\u00e9\\ud83d\\ude00\\u007f\"");
    }

    #[test]
    fn written_names_decode_back() {
        for text in ["", "a b", "é😀", "\u{0}\u{1f}\u{7f}\u{202e}", "\"\\/", "allow"] {
            let quoted = name(text);
            let inner = &quoted[1..quoted.len() - 1];
            assert_eq!(unescape(inner), (text.to_owned(), vec![]));
        }
    }
}
