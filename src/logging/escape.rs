//! Showing untrusted text on one line, bounded.

use std::fmt;

/// The most characters of an untrusted name, id or URI that the gateway echoes into an
/// error, a log line or an audit record. A 50 MiB tool name once made a 157 MB reply.
pub const MAX_ECHO_CHARS: usize = 128;

/// Untrusted text for a log line or a message: control characters, bidi controls and other
/// invisible format characters are written as escapes (`\n`, `\u{1b}`), a backslash as `\\`,
/// and text past [`MAX_ECHO_CHARS`] is cut, saying how long it was.
#[derive(Clone, Copy)]
pub struct Escaped<'a> {
    text: &'a str,
    limit: usize,
}

impl<'a> Escaped<'a> {
    /// `text` escaped and cut at [`MAX_ECHO_CHARS`].
    pub fn new(text: &'a str) -> Self {
        Escaped { text, limit: MAX_ECHO_CHARS }
    }

    /// `text` escaped but not cut, for text that is bounded already (a stderr line).
    pub fn whole(text: &'a str) -> Self {
        Escaped { text, limit: usize::MAX }
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.text.chars().enumerate() {
            if i == self.limit {
                return write!(f, "…({} bytes in all)", self.text.len());
            }
            write_escaped(f, c)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Whether `c` must not appear raw in a log line: a control character, or an invisible
/// format character that reorders or hides text (bidi controls, zero-width characters, the
/// byte order mark, tag characters).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
        || matches!(c, '\u{E0000}'..='\u{E007F}')
}

fn write_escaped(f: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\\' => f.write_str("\\\\"),
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        c if is_hidden(c) => write!(f, "\\u{{{:x}}}", c as u32),
        c => f.write_char(c),
    }
}

/// `text` cut to [`MAX_ECHO_CHARS`] for an error message or an audit record, with its whole
/// length noted when it was cut. Unlike [`Escaped`] it keeps the characters as they are (the
/// JSON encoding of a message escapes what needs it).
pub fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        None => std::borrow::Cow::Borrowed(text),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…({} bytes in all)", &text[..cut], text.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_line_and_bounds_the_length() {
        let forged = "alice\n2026-12-03T00:00:00Z ERROR mcpgw: FORGED\x1b[31m\u{202E}";
        let shown = Escaped::new(forged).to_string();
        assert_eq!(shown, "alice\\n2026-12-03T00:00:00Z ERROR mcpgw: FORGED\\u{1b}[31m\\u{202e}");
        assert_eq!(Escaped::new("a\\b").to_string(), "a\\\\b");
        let long = "x".repeat(1000);
        assert_eq!(Escaped::new(&long).to_string(), format!("{}…(1000 bytes in all)", "x".repeat(128)));
        assert_eq!(bounded(&long), format!("{}…(1000 bytes in all)", "x".repeat(128)));
        assert_eq!(bounded("short"), "short");
        let wide = "é".repeat(200);
        assert!(bounded(&wide).starts_with(&"é".repeat(128)));
    }
}
